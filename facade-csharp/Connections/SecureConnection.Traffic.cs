using System.Buffers;
using System.Runtime.CompilerServices;
using HybridProtocol.Connections;
using HybridProtocol.Core.Wire;
using HybridProtocol.Diagnostics;
using HybridProtocol.Net;

namespace HybridProtocol;

/// <summary>
/// The data path: one implementation for sync and async calls (over <see cref="IReadWriteAdapter"/>), driving the
/// core's transport engine (core-fsharp/Wire/Traffic.fs). The engine decides what every record means, when a message
/// ends, when the connection is closed, truncated or failed, and which Close reason to send; this file only moves
/// bytes between the stream, pooled buffers and the caller's buffers, and acts on the engine's answers.
/// </summary>
public sealed partial class SecureConnection
{
    // Room for one write: every record of a message when that fits in 256 KiB, else as many whole records as fit.
    private const int MaxSendBuffer = 256 * 1024;

    /// <summary>Result of <see cref="ReceiveCoreAsync"/> when the message was reassembled in the assembly buffer (it is current now).</summary>
    private const int Assembled = -2;

    /// <summary>Result of <see cref="ReceiveCoreAsync"/> at the peer's clean close.</summary>
    private const int PeerClosed = -1;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendCoreAsync<TAdapter>(TAdapter adapter, ReadOnlyMemory<byte> message, bool lockHeld, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        ThrowIfExceptional();
        if (!lockHeld)
        {
            await adapter.LockAsync(sendLock, cancellationToken).ConfigureAwait(false);
        }

        byte[]? buffer = null;
        var started = false;
        var done = false;
        try
        {
            ThrowIfExceptional();
            if (endedAtStart)
            {
                throw WireErrors.ToException(WireError.ConnectionClosed, context, inHandshake: false);
            }

            var whole = SendHalfModule.MessageLength(send, message.Length);
            buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(whole, Math.Max(MaxSendBuffer, SendHalfModule.RecordRoom(send, message.Length))));
            var offset = 0;
            while (true)
            {
                // A receive failed while this send held the lock: its Close goes out before any further record.
                await WritePendingReplyAsync(adapter, cancellationToken).ConfigureAwait(false);
                ThrowIfExceptional();
                var outcome = SendHalfModule.Message(send, message.Span, offset, buffer);
                if (outcome.IsSendFailed)
                {
                    // The message broke part-way: the engine fails the connection and names the Close to send.
                    var failed = Fail(outcome.Error);
                    if (outcome.Reply.IsValueSome)
                    {
                        Volatile.Write(ref pendingReply, (int)outcome.Reply.Value);
                        await WritePendingReplyAsync(adapter, cancellationToken).ConfigureAwait(false);
                    }

                    throw failure ?? failed;
                }

                if (outcome.IsSendRefused)
                {
                    // Refused before anything was sealed: the connection is unchanged (a message over the peer's limit, a send after Close).
                    throw started ? Fail(outcome.Refusal) : WireErrors.ToException(outcome.Refusal, context, inHandshake: false);
                }

                if (outcome.IsNeedRoom)
                {
                    throw Fail(WireError.NewBufferTooSmall(outcome.Needed));
                }

                send = outcome.Half;
                started = true;
                offset = outcome.Consumed;
                Retire(outcome.Retired, sending: true);
                await adapter.WriteAsync(buffer.AsMemory(0, outcome.Written), cancellationToken).ConfigureAwait(false);
                instruments.Sent(outcome.Written, !context.IsClient);
                Touch();
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
            Fail(new HybridProtocolException(HybridErrorCode.TransportFailed, "A send was cancelled part-way through a message; the stream is out of step and the connection cannot be used again.", e));
            throw;
        }
        catch (Exception e) when (e is not IHybridProtocolError and not OperationCanceledException)
        {
            throw TransportFailure(e);
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
                ExitSend();
                TrySendPendingReply();
            }
        }
    }

    /// <summary>
    /// Receives the next message (under the receive lock, with no message current). Into <paramref name="target"/>
    /// when it fits (returns its length; each record is decrypted straight into it), else into the assembly buffer
    /// (returns <see cref="Assembled"/>; the message is current). <see cref="PeerClosed"/> at the peer's clean close.
    /// A receive that stops part-way (cancelled) keeps what arrived in the assembly buffer.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReceiveCoreAsync<TAdapter>(TAdapter adapter, Memory<byte> target, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        ThrowIfExceptional();
        if (endedAtStart)
        {
            return PeerClosed;
        }

        var direct = assemblyLength == 0 && !target.IsEmpty;
        var filled = direct ? 0 : assemblyLength;
        var completed = false;
        if (!direct)
        {
            EnsureAssembly(16);
        }

        try
        {
            while (true)
            {
                var r = ReceiveHalfModule.Receive(receive, input.Data, direct ? target.Span : assembly.AsSpan(), filled);
                receive = r.Half;
                input.Consume(r.Consumed);
                filled = r.Written;
                if (!direct)
                {
                    assemblyLength = filled;
                }

                if (r.Consumed > 0)
                {
                    Touch();
                }

                var ev = r.Event;
                if (ev.IsNeedData)
                {
                    int n;
                    try
                    {
                        n = await input.FillAsync(adapter, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not IHybridProtocolError and not OperationCanceledException)
                    {
                        throw TransportFailure(e);
                    }

                    if (n > 0)
                    {
                        continue;
                    }

                    var end = ReceiveHalfModule.EndOfInput(receive);
                    receive = end.Half;
                    ev = end.Event;
                }

                switch (ev.Tag)
                {
                    case ReceiveEvent.Tags.NeedSpace:
                        if (direct)
                        {
                            // The message is larger than the caller's buffer: assemble it instead, so it is kept.
                            Append(target.Span[..filled]);
                            target.Span[..filled].Clear();
                            direct = false;
                        }

                        EnsureAssembly(ev.Needed);
                        break;
                    case ReceiveEvent.Tags.MessageEnd:
                        completed = true;
                        if (direct)
                        {
                            return filled;
                        }

                        current = assembly;
                        currentStart = 0;
                        currentEnd = assemblyLength;
                        return Assembled;
                    case ReceiveEvent.Tags.KeyRetired:
                        Retire(ev.Key, sending: false);
                        break;
                    case ReceiveEvent.Tags.PeerClosed:
                        completed = true;
                        await AnswerCloseAsync(adapter, ev.Answer, cancellationToken).ConfigureAwait(false);
                        return PeerClosed;
                    case ReceiveEvent.Tags.Fatal:
                        throw FailAndReply(ev.Error!, ev.Reply);
                }
            }
        }
        finally
        {
            if (!completed && direct && filled > 0)
            {
                if (failure is null)
                {
                    Append(target.Span[..filled]);
                }

                target.Span[..filled].Clear();
            }

            input.ReleaseIfEmpty();
        }
    }

    /// <summary>Makes the next message current (from the handshake's early messages, or received); false at the peer's close.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> NextMessageAsync<TAdapter>(TAdapter adapter, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        // A message that was complete before a failure is delivered first, as the engine delivered it.
        if (current is not null || TryEarly())
        {
            return true;
        }

        ThrowIfExceptional();

        return await ReceiveCoreAsync(adapter, Memory<byte>.Empty, cancellationToken).ConfigureAwait(false) == Assembled;
    }

    /// <summary>The next message into <paramref name="buffer"/>: its length, or -1 at the peer's close.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReceiveIntoAsync<TAdapter>(TAdapter adapter, Memory<byte> buffer, bool lockHeld, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        if (!lockHeld)
        {
            await adapter.LockAsync(receiveLock, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            if (current is not null || TryEarly())
            {
                return CopyCurrent(buffer.Span);
            }

            ThrowIfExceptional();

            var n = await ReceiveCoreAsync(adapter, buffer, cancellationToken).ConfigureAwait(false);
            return n == Assembled ? CopyCurrent(buffer.Span) : n;
        }
        finally
        {
            if (!lockHeld)
            {
                ExitReceive();
            }
        }
    }

    /// <summary>The next message as a new array, or null at the peer's close.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<byte[]?> ReceiveArrayAsync<TAdapter>(TAdapter adapter, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        await adapter.LockAsync(receiveLock, cancellationToken).ConfigureAwait(false);
        try
        {
            return await NextMessageAsync(adapter, cancellationToken).ConfigureAwait(false) ? TakeCurrent() : null;
        }
        finally
        {
            ExitReceive();
        }
    }

    /// <summary>Up to <paramref name="destination"/>'s length of the current message, for the stream view; 0 at the peer's close.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadSomeAsync<TAdapter>(TAdapter adapter, Memory<byte> destination, bool lockHeld, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        if (!lockHeld)
        {
            await adapter.LockAsync(receiveLock, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            while (await NextMessageAsync(adapter, cancellationToken).ConfigureAwait(false))
            {
                var n = Math.Min(destination.Length, currentEnd - currentStart);
                current.AsSpan(currentStart, n).CopyTo(destination.Span);
                currentStart += n;
                if (currentStart == currentEnd)
                {
                    Consumed();
                }

                if (n > 0 || destination.IsEmpty)
                {
                    return n;
                }
            }

            return 0;
        }
        finally
        {
            if (!lockHeld)
            {
                ExitReceive();
            }
        }
    }
}
