using System.Net.Sockets;
using HybridProtocol.Connections;
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
            await send.SendCloseAsync(adapter, CloseReason.Normal, bounded).ConfigureAwait(false);
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
            send.TrySendCloseNow(CloseReason.Normal);
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
                await send.SendCloseAsync(new AsyncReadWriteAdapter(stream, peekSocket), CloseReason.Normal, bounded.Token).ConfigureAwait(false);
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
    /// (<see cref="Direction.Exit"/>), and the keys are erased when both are released.
    /// (Waiting here blocked the disposing thread on the continuation of the read that the closed stream ends, which
    /// needs a thread-pool thread: disposing many connections at once starved the pool for seconds.)
    /// </summary>
    private void Release()
    {
        Telemetry.ConnectionClosed(instruments, !context.IsClient, logger, context.Peer, (failure is null ? null : HybridErrors.CodeOf(failure).ToString()) ?? (receive.PeerClosedCleanly ? "ClosedByPeer" : "Closed"));
        idle?.Dispose();
        failure ??= new HybridObjectDisposedException(nameof(SecureConnection), "The connection has been disposed.");
        stream.Dispose();
        send.Release();
        receive.Release();
    }

    /// <summary>Erases the keys once neither direction can use them (each calls this once, when released after Dispose).</summary>
    internal void HalfReleased()
    {
        if (Interlocked.Increment(ref halvesReleased) == 2)
        {
            keys.Dispose();
        }
    }
}

/// <summary>What <see cref="SecureConnection.CloseAsync"/> achieved within <see cref="SecureConnectionOptions.CloseTimeout"/>.</summary>
public enum CloseResult
{
    /// <summary>Both authenticated closes crossed: the peer received everything sent, and this end everything the peer sent.</summary>
    Closed = 0,

    /// <summary>This end's close was sent, but the peer's did not arrive in time (or a receive in progress will see it).</summary>
    CloseSent = 1,

    /// <summary>This end's close could not be written in time (the peer does not read); the stream was closed and the connection failed.</summary>
    CloseNotSent = 2,
}
