using System.Buffers;
using System.Runtime.CompilerServices;
using HybridProtocol.Core.Wire;
using HybridProtocol.Net;

namespace HybridProtocol.Connections;

/// <summary>
/// The receive direction of a <see cref="SecureConnection"/>: its lock, the engine's receive half
/// (core-fsharp/Wire/Traffic.fs), the bytes read and not consumed (<see cref="PooledReceiveBuffer"/>), the message
/// being reassembled when it cannot go straight into the caller's buffer, the view of a span a synchronous receive
/// pinned, and the message that is ready but not taken (<see cref="Ready"/>). The engine decides what every record
/// means, when a message ends, and when the connection is closed, truncated or failed; this class moves bytes between
/// the stream, the pooled buffers and the caller's buffer, and acts on the engine's answers. The Close the engine
/// chooses (an answer to the peer's, or the reply to a failure) goes out through the send direction.
/// </summary>
internal sealed class ReceivePipe : Direction
{
    /// <summary>Result of <see cref="ReceiveAsync"/> when the message was reassembled in the assembly buffer (it is ready now).</summary>
    internal const int Assembled = -2;

    /// <summary>Result of <see cref="ReceiveAsync"/> at the peer's clean close.</summary>
    internal const int PeerClosed = -1;

    private const int SmallAssembly = 64 * 1024;

    private readonly SecureConnection connection;
    private readonly SendPipe send;
    private readonly PooledReceiveBuffer input;

    // The engine's receive half (under the lock): each step returns the next one.
    private ReceiveHalf half;

    // The message being reassembled (rented from the shared pool), and how much of it has arrived.
    private byte[]? assembly;
    private int assemblyLength;

    /// <param name="connection">The connection: its failure state, activity and key retirement.</param>
    /// <param name="send">The send direction, which writes the Close the engine chooses.</param>
    /// <param name="input">
    /// The receive buffer the handshake read into: it holds the bytes behind the handshake's last frame, which are the
    /// engine's (the core stopped there, specs/PROTOCOL.md §7 [P17]).
    /// </param>
    /// <param name="half">The engine's receive half as the handshake left it.</param>
    internal ReceivePipe(SecureConnection connection, SendPipe send, PooledReceiveBuffer input, ReceiveHalf half)
        : base(connection)
    {
        this.connection = connection;
        this.send = send;
        this.input = input;
        this.half = half;
        Ready = new ReceivedMessage(this);
    }

    /// <summary>The message that is ready but not taken yet: a receive delivers it first.</summary>
    internal ReceivedMessage Ready { get; }

    /// <summary>Bytes of pooled buffers this direction holds now (an idle connection holds none).</summary>
    internal int HeldBufferBytes => input.HeldBytes + (assembly?.Length ?? 0);

    /// <summary>True when the engine saw the peer's clean close (read without the lock, for telemetry at Dispose).</summary>
    internal bool PeerClosedCleanly => half.End is { IsPeerClosedCleanly: true };

    /// <summary>Returns the receive buffer to the pool unless it holds bytes (an idle connection holds none).</summary>
    internal void ReleaseInputIfEmpty() => input.ReleaseIfEmpty();

    /// <summary>
    /// Receives the next message (under the lock, with no message ready). Into <paramref name="target"/> when it fits
    /// (returns its length; each record is decrypted straight into it), else into the assembly buffer (returns
    /// <see cref="Assembled"/>; the message is <see cref="Ready"/>). <see cref="PeerClosed"/> at the peer's clean close.
    /// A receive that stops part-way (cancelled) keeps what arrived in the assembly buffer.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    internal async ValueTask<int> ReceiveAsync<TAdapter>(TAdapter adapter, Memory<byte> target, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        connection.ThrowIfExceptional();
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
                var r = ReceiveHalfModule.Receive(half, input.Data, direct ? target.Span : assembly.AsSpan(), filled);
                half = r.Half;
                input.Consume(r.Consumed);
                filled = r.Written;
                if (!direct)
                {
                    assemblyLength = filled;
                }

                if (r.Consumed > 0)
                {
                    connection.Touch();
                }

                var ev = r.Event;
                if (ev.IsNeedData)
                {
                    if (await ReadMoreAsync(adapter, cancellationToken).ConfigureAwait(false) is not { } end)
                    {
                        continue;
                    }

                    ev = end;
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

                        Ready.Assembled(assembly!, assemblyLength);
                        return Assembled;
                    case ReceiveEvent.Tags.KeyRetired:
                        connection.Retire(ev.Key, sending: false);
                        break;
                    case ReceiveEvent.Tags.PeerClosed:
                        completed = true;
                        await send.AnswerCloseAsync(adapter, ev.Answer, cancellationToken).ConfigureAwait(false);
                        return PeerClosed;
                    case ReceiveEvent.Tags.Fatal:
                        throw await FailAndReplyAsync(adapter, ev.Error!, ev.Reply, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            if (!completed && direct && filled > 0)
            {
                if (connection.Failure is null)
                {
                    Append(target.Span[..filled]);
                }

                target.Span[..filled].Clear();
            }

            input.ReleaseIfEmpty();
        }
    }

    /// <summary>
    /// Server, liveness before accept (specs/PROTOCOL.md §12a, [S6]): under the lock, reads until the client's first
    /// record has been authenticated (any type; a message it completes is kept for the application), into the buffer
    /// the handshake read into.
    /// </summary>
    internal async Task AwaitFirstRecordAsync(AsyncReadWriteAdapter adapter, CancellationToken cancellationToken)
    {
        await adapter.LockAsync(Lock, cancellationToken).ConfigureAwait(false);
        try
        {
            EnsureAssembly(16);
            var filled = assemblyLength;
            while (true)
            {
                var r = ReceiveHalfModule.Receive(half, input.Data, assembly.AsSpan(), filled);
                half = r.Half;
                input.Consume(r.Consumed);
                filled = assemblyLength = r.Written;
                var ev = r.Event;
                if (r.Consumed > 0)
                {
                    connection.Touch();
                }

                if (ev.IsNeedData || ev.IsNeedSpace)
                {
                    if (r.Consumed > 0)
                    {
                        return;
                    }

                    if (ev.IsNeedSpace)
                    {
                        EnsureAssembly(ev.Needed);
                        continue;
                    }

                    if (await ReadMoreAsync(adapter, cancellationToken).ConfigureAwait(false) is not { } end)
                    {
                        continue;
                    }

                    ev = end;
                }

                switch (ev.Tag)
                {
                    case ReceiveEvent.Tags.MessageEnd:
                        Ready.Assembled(assembly!, assemblyLength);
                        return;
                    case ReceiveEvent.Tags.KeyRetired:
                        connection.Retire(ev.Key, sending: false);
                        return;
                    case ReceiveEvent.Tags.PeerClosed:
                        await send.AnswerCloseAsync(adapter, ev.Answer, cancellationToken).ConfigureAwait(false);
                        return;
                    case ReceiveEvent.Tags.Fatal:
                        throw await FailAndReplyAsync(adapter, ev.Error!, ev.Reply, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        finally
        {
            if (!Ready.IsReady && assemblyLength == 0)
            {
                // Nothing of a message is held: an idle connection keeps no buffer (as after any receive).
                ReturnAssembly();
            }

            input.ReleaseIfEmpty();
            Exit();
        }
    }

    /// <summary>
    /// Reads more into the receive buffer: null when bytes arrived; when the stream ended, the engine's reading of that
    /// end (a truncation, or nothing after the peer's close).
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<ReceiveEvent?> ReadMoreAsync<TAdapter>(TAdapter adapter, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        int n;
        try
        {
            n = await input.FillAsync(adapter, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not IHybridProtocolError and not OperationCanceledException)
        {
            throw connection.TransportFailure(e);
        }

        if (n > 0)
        {
            return null;
        }

        var end = ReceiveHalfModule.EndOfInput(half);
        half = end.Half;
        return end.Event;
    }

    /// <summary>The engine failed the receive direction: record it, then send the Close it chose (if any), before the failure is reported.</summary>
    private async ValueTask<Exception> FailAndReplyAsync<TAdapter>(TAdapter adapter, WireError error, Microsoft.FSharp.Core.FSharpValueOption<CloseReason> reply, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        var exception = connection.Fail(error);
        if (reply.IsValueSome)
        {
            await send.ReplyAsync(adapter, reply.Value, cancellationToken).ConfigureAwait(false);
        }

        return connection.Failure ?? exception;
    }

    /// <summary>True when <paramref name="message"/> is the reassembly buffer (a ready message in it is copied out, never handed over).</summary>
    internal bool Holds(byte[] message) => ReferenceEquals(message, assembly);

    /// <summary>A ready message has been taken: when it was in the reassembly buffer, the buffer goes back to the pool.</summary>
    internal void GiveBack(byte[]? message)
    {
        if (ReferenceEquals(message, assembly))
        {
            ReturnAssembly();
        }
    }

    /// <summary>Makes sure the assembly buffer holds at least <paramref name="needed"/> bytes (rented, or grown keeping what it holds).</summary>
    private void EnsureAssembly(int needed)
    {
        if (assembly is null)
        {
            assembly = ArrayPool<byte>.Shared.Rent(Math.Max(needed, assemblyLength > 0 ? SmallAssembly : 16));
        }
        else if (needed > assembly.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(Array.MaxLength, Math.Max(2L * assembly.Length, needed)));
            assembly.AsSpan(0, assemblyLength).CopyTo(bigger);
            assembly.AsSpan(0, assemblyLength).Clear();
            ArrayPool<byte>.Shared.Return(assembly);
            assembly = bigger;
        }
    }

    /// <summary>Appends a part of the message being received to the assembly buffer.</summary>
    private void Append(ReadOnlySpan<byte> data)
    {
        EnsureAssembly(Math.Max(assemblyLength + data.Length, SmallAssembly));
        data.CopyTo(assembly.AsSpan(assemblyLength));
        assemblyLength += data.Length;
    }

    /// <summary>Clears the assembled bytes and returns the assembly buffer to the pool.</summary>
    private void ReturnAssembly()
    {
        if (assembly is not null)
        {
            assembly.AsSpan(0, assemblyLength).Clear();
            ArrayPool<byte>.Shared.Return(assembly);
            assembly = null;
        }

        assemblyLength = 0;
    }

    /// <summary>
    /// Returns the receive buffer and the assembly buffer, cleared. A message kept for a later receive goes too: its
    /// bytes may be the assembly buffer, which goes back to the pool now (a receive after Dispose reports the disposal,
    /// never bytes from a returned buffer).
    /// </summary>
    protected override void ReleaseHeld()
    {
        Ready.Discard();
        input.Release();
        ReturnAssembly();
    }
}
