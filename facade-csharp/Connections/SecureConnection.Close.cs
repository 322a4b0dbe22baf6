using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using HybridProtocol.Core.Wire;
using HybridProtocol.Diagnostics;
using HybridProtocol.Net;

namespace HybridProtocol;

/// <summary>How a connection ends: the close exchange (bounded by the close timeout), disposal, and the courtesy close after a failure.</summary>
public sealed partial class SecureConnection
{
    /// <summary>
    /// Ends the connection cleanly: sends the authenticated close (after every message already sent), then waits until
    /// the peer's close arrives; messages that arrive meanwhile are discarded (use <see cref="ShutdownAsync"/> to read
    /// them). Both steps together are bounded by <see cref="SecureConnectionOptions.CloseTimeout"/> and
    /// <paramref name="cancellationToken"/>. The peer's receive then returns its end-of-stream value. Dispose afterwards.
    /// Closing twice is harmless.
    /// </summary>
    /// <returns>What happened: both closes crossed, ours was sent but the peer's did not arrive in time, or ours could not be written in time (a peer that does not read; the stream was closed).</returns>
    /// <exception cref="HybridProtocolException">The connection had failed (its code), or TransportFailed.</exception>
    public async Task<CloseResult> CloseAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfExceptional();
        using var bounded = BoundedByCloseTimeout(cancellationToken);
        var adapter = new AsyncReadWriteAdapter(stream, peekSocket);
        if (await SendOwnCloseAsync(adapter, bounded.Token, cancellationToken).ConfigureAwait(false) is not null)
        {
            return CloseResult.CloseNotSent;
        }

        try
        {
            // false: a receive in progress will see the peer's close.
            return await DrainAsync(adapter, bounded.Token).ConfigureAwait(false) ? CloseResult.Closed : CloseResult.CloseSent;
        }
        catch (Exception e) when (e is OperationCanceledException or IHybridProtocolError && !cancellationToken.IsCancellationRequested)
        {
            // The peer did not answer in time or broke off: our close has been sent.
            return CloseResult.CloseSent;
        }
    }

    /// <summary>
    /// Ends this end's sending, as <see cref="System.Net.Security.SslStream.ShutdownAsync"/> does: sends the
    /// authenticated close after every message already sent, bounded by <see cref="SecureConnectionOptions.CloseTimeout"/>
    /// and <paramref name="cancellationToken"/>, and returns. Receiving goes on: the messages the peer sent before our
    /// close reached it still arrive through ReceiveAsync, which then returns its end-of-stream value at the peer's
    /// answering close (specs/PROTOCOL.md §6: the peer answers a Normal close with its own and sends nothing after it).
    /// So nothing in flight is lost, unlike <see cref="CloseAsync"/>. Sending afterwards fails with InvalidState.
    /// Shutting down twice, or after CloseAsync, is harmless.
    /// </summary>
    /// <exception cref="HybridProtocolException">The connection had failed (its code); TransportFailed when the close could not be written in time (a peer that does not read; the stream was closed).</exception>
    public async Task ShutdownAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfExceptional();
        using var bounded = BoundedByCloseTimeout(cancellationToken);
        if (await SendOwnCloseAsync(new AsyncReadWriteAdapter(stream, peekSocket), bounded.Token, cancellationToken).ConfigureAwait(false) is { } notSent)
        {
            throw notSent;
        }
    }

    private CancellationTokenSource BoundedByCloseTimeout(CancellationToken cancellationToken)
    {
        var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (closeTimeout != Timeout.InfiniteTimeSpan)
        {
            bounded.CancelAfter(closeTimeout);
        }

        return bounded;
    }

    /// <summary>Sends this end's Normal close within <paramref name="bounded"/>: null, or the failure when it could not be written in time (the connection failed and its stream was closed).</summary>
    private async ValueTask<HybridProtocolException?> SendOwnCloseAsync(AsyncReadWriteAdapter adapter, CancellationToken bounded, CancellationToken cancellationToken)
    {
        try
        {
            await SendCloseAsync(adapter, CloseReason.Normal, bounded).ConfigureAwait(false);
            return null;
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            var notSent = new HybridProtocolException(HybridErrorCode.TransportFailed, $"The close could not be sent to {context.Peer} within {closeTimeout.TotalSeconds:0.###} s (it is not reading); the stream was closed.", e);
            Fail(notSent);
            stream.Dispose();
            return notSent;
        }
    }

    /// <summary>
    /// For a host that learns first that the transport has ended (Kestrel's ConnectionClosed fires at the client's FIN
    /// or reset and cancels the application's read): runs what the transport still holds through the engine, so that
    /// the connection ends as the protocol says (the peer's close, or truncated without it, specs/PROTOCOL.md §6) and
    /// not as a close that could no longer be sent. Bounded by the close timeout; does nothing once the connection has
    /// ended or while a receive is in progress.
    /// </summary>
    internal async Task ReadToTransportEndAsync()
    {
        if (failure is not null || Volatile.Read(ref disposed) != 0)
        {
            return;
        }

        using var bounded = new CancellationTokenSource(closeTimeout == Timeout.InfiniteTimeSpan ? TimeSpan.FromSeconds(2) : closeTimeout);
        try
        {
            await DrainAsync(new AsyncReadWriteAdapter(stream, peekSocket), bounded.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or IHybridProtocolError or OperationCanceledException)
        {
            // The engine has recorded how the connection ended (truncated, failed); the messages nobody reads are dropped.
        }
    }

    /// <summary>Reads and discards messages until the peer's close (true); false at once when a receive is in progress.</summary>
    private async ValueTask<bool> DrainAsync(AsyncReadWriteAdapter adapter, CancellationToken cancellationToken)
    {
        if (!receiveLock.Wait(0))
        {
            return false;
        }

        try
        {
            while (await NextMessageAsync(adapter, cancellationToken).ConfigureAwait(false))
            {
                Consumed();
            }

            return true;
        }
        finally
        {
            ExitReceive();
        }
    }

    /// <summary>
    /// Sends the authenticated close if it has not been sent (best effort, without waiting for the peer; use
    /// <see cref="CloseAsync"/> for a graceful end), closes the stream, and erases every key.
    /// </summary>
    public void Dispose()
    {
        if (Volatile.Read(ref disposed) != 0)
        {
            return;
        }

        if (failure is null)
        {
            TrySendCloseNow(CloseReason.Normal);
        }

        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            Release();
        }
    }

    /// <summary>As <see cref="Dispose"/>, with the close sent asynchronously.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref disposed) == 0 && failure is null)
        {
            try
            {
                using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await SendCloseAsync(new AsyncReadWriteAdapter(stream, peekSocket), CloseReason.Normal, bounded.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or IHybridProtocolError or OperationCanceledException)
            {
                // Best effort, as in Dispose.
            }
        }

        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            Release();
        }
    }

    /// <summary>
    /// Closes the stream (which ends a pending read or write), then returns the buffers and erases the keys. It never
    /// waits for an operation in progress: a half whose lock is held is released by that operation as it leaves
    /// (<see cref="ExitSend"/>, <see cref="ExitReceive"/>), and the keys are erased when both halves are released.
    /// (Waiting here blocked the disposing thread on the continuation of the read that the closed stream ends, which
    /// needs a thread-pool thread: disposing many connections at once starved the pool for seconds.)
    /// </summary>
    private void Release()
    {
        // A connection disposed before its traffic started holds a default receive half (no End yet).
        Telemetry.ConnectionClosed(instruments, !context.IsClient, logger, context.Peer, (failure is null ? null : HybridErrors.CodeOf(failure).ToString()) ?? (receive.End is { IsPeerClosedCleanly: true } ? "ClosedByPeer" : "Closed"));
        idle?.Dispose();
        failure ??= new HybridObjectDisposedException(nameof(SecureConnection), "The connection has been disposed.");
        stream.Dispose();
        ReleaseSendHalf();
        ReleaseReceiveHalf();
    }

    /// <summary>Leaves the send lock; after Dispose, the last operation out releases the send half.</summary>
    private void ExitSend()
    {
        sendLock.Release();
        if (Volatile.Read(ref disposed) != 0)
        {
            ReleaseSendHalf();
        }
    }

    /// <summary>Leaves the receive lock; after Dispose, the last operation out releases the receive half.</summary>
    private void ExitReceive()
    {
        receiveLock.Release();
        if (Volatile.Read(ref disposed) != 0)
        {
            ReleaseReceiveHalf();
        }
    }

    private void ReleaseSendHalf()
    {
        if (Volatile.Read(ref sendReleased) != 0 || !sendLock.Wait(0))
        {
            return;
        }

        try
        {
            if (Interlocked.Exchange(ref sendReleased, 1) == 0)
            {
                HalfReleased();
            }
        }
        finally
        {
            sendLock.Release();
        }
    }

    private void ReleaseReceiveHalf()
    {
        if (Volatile.Read(ref receiveReleased) != 0 || !receiveLock.Wait(0))
        {
            return;
        }

        try
        {
            if (Interlocked.Exchange(ref receiveReleased, 1) == 0)
            {
                input.Release();
                ReturnAssembly();
                HalfReleased();
            }
        }
        finally
        {
            receiveLock.Release();
        }
    }

    /// <summary>Erases the keys once neither half can use them.</summary>
    private void HalfReleased()
    {
        if (Interlocked.Increment(ref halvesReleased) == 2)
        {
            keys.Dispose();
        }
    }

    /// <summary>
    /// In Dispose or at the idle timeout, tells the peer with an authenticated close when the send side is free; it
    /// never waits (the reply to a failure the engine chose goes through <see cref="FailAndReply"/>, which a send in
    /// progress completes).
    /// </summary>
    private void TrySendCloseNow(CloseReason reason)
    {
        if (!sendLock.Wait(0))
        {
            return;
        }

        try
        {
            Wait(WriteCloseAsync(new SyncReadWriteAdapter(stream, null), reason, default));
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or IHybridProtocolError or NotSupportedException)
        {
            // A courtesy: the peer will otherwise see a truncated stream.
        }
        finally
        {
            ExitSend();
        }
    }

    /// <summary>
    /// Seals and writes this end's Close (unless already sealed), under the send lock. A stream that fails the write
    /// fails the connection (TransportFailed), unless the Close is only the answer to the peer's (<paramref name="answering"/>):
    /// the peer has ended cleanly and may be gone already, so that write's failure changes nothing.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendCloseAsync<TAdapter>(TAdapter adapter, CloseReason reason, CancellationToken cancellationToken, bool answering = false)
        where TAdapter : IReadWriteAdapter
    {
        await adapter.LockAsync(sendLock, cancellationToken).ConfigureAwait(false);
        try
        {
            await WriteCloseAsync(adapter, reason, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not IHybridProtocolError and not OperationCanceledException)
        {
            if (!answering)
            {
                throw TransportFailure(e);
            }
        }
        finally
        {
            ExitSend();
        }
    }

    /// <summary>Seals this end's Close and writes it, unless it has been sealed already (with the send lock held).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteCloseAsync<TAdapter>(TAdapter adapter, CloseReason reason, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        if (endedAtStart || send.Closed || Volatile.Read(ref disposed) != 0)
        {
            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(SendHalfModule.ControlLength(send));
        try
        {
            var n = SealClose(reason, buffer);
            await adapter.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            instruments.Sent(n, !context.IsClient);
            await adapter.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private int SealClose(CloseReason reason, Span<byte> destination)
    {
        var outcome = SendHalfModule.Close(send, reason, destination);
        if (!outcome.IsWrote)
        {
            throw Fail(outcome.IsSendRefused ? outcome.Refusal : WireError.NewBufferTooSmall(outcome.Needed));
        }

        send = outcome.Half;
        return outcome.Written;
    }

    /// <summary>
    /// Writes the Close a failed receive left for the sender (<see cref="pendingReply"/>), once, with the send lock
    /// held; a failure to write it changes nothing (the connection has failed already).
    /// </summary>
    private async ValueTask WritePendingReplyAsync<TAdapter>(TAdapter adapter, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        var reply = Interlocked.Exchange(ref pendingReply, NoReply);
        if (reply == NoReply)
        {
            return;
        }

        try
        {
            await WriteCloseAsync(adapter, (CloseReason)reply, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or System.Net.Sockets.SocketException or IHybridProtocolError or NotSupportedException or OperationCanceledException)
        {
            // A courtesy: the peer will otherwise see a truncated stream.
        }
    }

    /// <summary>The peer's close arrived: send the answer the engine chose (unless this end closed already), so both ends end cleanly.</summary>
    private async ValueTask AnswerCloseAsync<TAdapter>(TAdapter adapter, CloseReason answer, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        try
        {
            await SendCloseAsync(adapter, answer, cancellationToken, answering: true).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IHybridProtocolError)
        {
            // The connection failed earlier (its failure stands); the peer's close arrived, so this end's receive has ended.
        }
    }
}
