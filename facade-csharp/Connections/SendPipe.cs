using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using HybridProtocol.Core.Wire;
using HybridProtocol.Diagnostics;
using HybridProtocol.Net;

namespace HybridProtocol.Connections;

/// <summary>
/// The send direction of a <see cref="SecureConnection"/>: its lock, the engine's send half (core-fsharp/Wire/Traffic.fs),
/// the view of a span a synchronous send pinned, and the Close a failed receive left for the sender. The engine
/// decides what every record holds and when the direction is closed; this class seals through it under the lock and
/// writes what it sealed. Failures go to the connection, which holds the one failure state of both directions.
/// </summary>
internal sealed class SendPipe : Direction
{
    // Room for one write: every record of a message when that fits in 256 KiB, else as many whole records as fit.
    private const int MaxSendBuffer = 256 * 1024;

    private const int NoReply = -1;

    private readonly SecureConnection connection;
    private readonly Stream stream;
    private readonly WireErrorContext context;
    private readonly Telemetry.Instruments instruments;

    // The engine's send half (under the lock): each seal returns the next one.
    private SendHalf half;

    /// <summary>
    /// The Close the engine chose after a failure (a <see cref="CloseReason"/>, or <see cref="NoReply"/>), until it is
    /// written: at once when the send side is free, else by the send in progress before its next record (PROTOCOL.md
    /// §7.1: the reply is always sent, as the reference driver, which has no concurrent send, sends it at once).
    /// </summary>
    private int pendingReply = NoReply;

    internal SendPipe(SecureConnection connection, Stream stream, WireErrorContext context, Telemetry.Instruments instruments, SendHalf half)
        : base(connection)
    {
        this.connection = connection;
        this.stream = stream;
        this.context = context;
        this.instruments = instruments;
        this.half = half;
    }

    /// <summary>Sends one message (see <see cref="SecureConnection.SendAsync"/>), under the lock unless <paramref name="lockHeld"/>.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask SendAsync<TAdapter>(TAdapter adapter, ReadOnlyMemory<byte> message, bool lockHeld, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        connection.ThrowIfExceptional();
        if (!lockHeld)
        {
            await adapter.LockAsync(Lock, cancellationToken).ConfigureAwait(false);
        }

        byte[]? buffer = null;
        var started = false;
        var done = false;
        try
        {
            connection.ThrowIfExceptional();
            var whole = SendHalfModule.MessageLength(half, message.Length);
            buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(whole, Math.Max(MaxSendBuffer, SendHalfModule.RecordRoom(half, message.Length))));
            var offset = 0;
            while (true)
            {
                // A receive failed while this send held the lock: its Close goes out before any further record.
                await WritePendingReplyAsync(adapter, cancellationToken).ConfigureAwait(false);
                connection.ThrowIfExceptional();
                var outcome = SendHalfModule.Message(half, message.Span, offset, buffer);
                if (outcome.IsSendFailed)
                {
                    // The message broke part-way: the engine fails the connection and names the Close to send.
                    var failed = connection.Fail(outcome.Error);
                    if (outcome.Reply.IsValueSome)
                    {
                        Volatile.Write(ref pendingReply, (int)outcome.Reply.Value);
                        await WritePendingReplyAsync(adapter, cancellationToken).ConfigureAwait(false);
                    }

                    throw connection.Failure ?? failed;
                }

                if (outcome.IsSendRefused)
                {
                    // Refused before anything was sealed: the connection is unchanged (a message over the peer's limit, a send after Close).
                    throw started ? connection.Fail(outcome.Refusal) : WireErrors.ToException(outcome.Refusal, context, inHandshake: false);
                }

                if (outcome.IsNeedRoom)
                {
                    throw connection.Fail(WireError.NewBufferTooSmall(outcome.Needed));
                }

                half = outcome.Half;
                started = true;
                offset = outcome.Consumed;
                connection.Retire(outcome.Retired, sending: true);
                await adapter.WriteAsync(buffer.AsMemory(0, outcome.Written), cancellationToken).ConfigureAwait(false);
                instruments.Sent(outcome.Written, !context.IsClient);
                connection.Touch();
                if (outcome.Finished)
                {
                    break;
                }
            }

            await adapter.FlushAsync(cancellationToken).ConfigureAwait(false);
            done = true;
        }
        catch (OperationCanceledException e) when (started)
        {
            connection.Fail(new HybridProtocolException(HybridErrorCode.TransportFailed, "A send was cancelled part-way through a message; the stream is out of step and the connection cannot be used again.", e));
            throw;
        }
        catch (Exception e) when (e is not IHybridProtocolError and not OperationCanceledException)
        {
            throw connection.TransportFailure(e);
        }
        finally
        {
            // After a completed send the buffer holds only ciphertext (records are sealed in place); else it may hold plaintext.
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer, clearArray: !done);
            }

            if (!lockHeld)
            {
                Exit();
                TrySendPendingReply();
            }
        }
    }

    /// <summary>
    /// Seals and writes this end's Close (unless already sealed), under the lock. A stream that fails the write
    /// fails the connection (TransportFailed), unless the Close is only the answer to the peer's (<paramref name="answering"/>):
    /// the peer has ended cleanly and may be gone already, so that write's failure changes nothing.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    internal async ValueTask SendCloseAsync<TAdapter>(TAdapter adapter, CloseReason reason, CancellationToken cancellationToken, bool answering = false)
        where TAdapter : IReadWriteAdapter
    {
        await adapter.LockAsync(Lock, cancellationToken).ConfigureAwait(false);
        try
        {
            await WriteCloseAsync(adapter, reason, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not IHybridProtocolError and not OperationCanceledException)
        {
            if (!answering)
            {
                throw connection.TransportFailure(e);
            }
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>The peer's close arrived: send the answer the engine chose (unless this end closed already), so both ends end cleanly.</summary>
    internal async ValueTask AnswerCloseAsync<TAdapter>(TAdapter adapter, CloseReason answer, CancellationToken cancellationToken)
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

    /// <summary>
    /// In Dispose or at the idle timeout, tells the peer with an authenticated close when the send side is free; it
    /// never waits (the reply to a failure the engine chose goes through <see cref="ReplyAsync"/>).
    /// </summary>
    internal void TrySendCloseNow(CloseReason reason)
    {
        if (!Lock.Wait(0))
        {
            return;
        }

        try
        {
            SecureConnection.Wait(WriteCloseAsync(new SyncReadWriteAdapter(stream, null), reason, default));
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or IHybridProtocolError or NotSupportedException)
        {
            // A courtesy: the peer will otherwise see a truncated stream.
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>
    /// The engine failed the receive direction and chose a Close to send (PROTOCOL.md §7.1 [P12]): it goes out before the
    /// failure is reported, so an application that disposes the connection as soon as its receive fails does not cut
    /// it off. Now when the send side is free; else the send in progress writes it (before its next record, or as it
    /// ends), and this waits for that, at most <see cref="ReplyWait"/>: a send held longer is stuck on a peer that does
    /// not read, and still writes the reply if it gets further.
    /// </summary>
    internal async ValueTask ReplyAsync<TAdapter>(TAdapter adapter, CloseReason reason, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        Volatile.Write(ref pendingReply, (int)reason);
        if (!Lock.Wait(0))
        {
            using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bounded.CancelAfter(ReplyWait);
            try
            {
                await adapter.LockAsync(Lock, bounded.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }

        try
        {
            await WritePendingReplyAsync(adapter, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>How long a failed receive waits for a send in progress to write the reply.</summary>
    internal static readonly TimeSpan ReplyWait = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Writes the pending reply now if the send side is free; otherwise the send holding it writes the reply before
    /// its next record, or right after it releases the lock (it checks again then, so the reply is never lost).
    /// </summary>
    private void TrySendPendingReply()
    {
        if (Volatile.Read(ref pendingReply) == NoReply || !Lock.Wait(0))
        {
            return;
        }

        try
        {
            SecureConnection.Wait(WritePendingReplyAsync(new SyncReadWriteAdapter(stream, null), default));
        }
        finally
        {
            Exit();
        }
    }

    /// <summary>Seals this end's Close and writes it, unless it has been sealed already (with the lock held).</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask WriteCloseAsync<TAdapter>(TAdapter adapter, CloseReason reason, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        if (half.Closed || connection.IsDisposed)
        {
            return;
        }

        var buffer = ArrayPool<byte>.Shared.Rent(SendHalfModule.ControlLength(half));
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
        var outcome = SendHalfModule.Close(half, reason, destination);
        if (!outcome.IsWrote)
        {
            throw connection.Fail(outcome.IsSendRefused ? outcome.Refusal : WireError.NewBufferTooSmall(outcome.Needed));
        }

        half = outcome.Half;
        return outcome.Written;
    }

    /// <summary>
    /// Writes the Close a failed receive left for the sender (<see cref="pendingReply"/>), once, with the lock
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

    /// <summary>The send direction holds no buffer between sends (each send returns the one it rented).</summary>
    protected override void ReleaseHeld()
    {
    }
}
