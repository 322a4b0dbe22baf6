using System.Buffers;
using System.Net.Sockets;
using HybridProtocol.Connections;
using HybridProtocol.Core;
using HybridProtocol.Core.Wire;
using HybridProtocol.Crypto;
using HybridProtocol.Diagnostics;
using HybridProtocol.Net;
using Microsoft.Extensions.Logging;

namespace HybridProtocol;

/// <summary>
/// An authenticated, encrypted connection over a byte stream (TCP, a pipe, a Unix socket), made by
/// <see cref="ConnectAsync"/>, <see cref="AuthenticateAsClientAsync"/>, <see cref="AuthenticateAsServerAsync(Stream, SecureServerOptions, CancellationToken)"/>
/// or <see cref="SecureListener.AcceptAsync"/>. It carries whole messages: each send arrives as one message at the
/// other end, in order, authenticated; <see cref="GetStream"/> gives a <see cref="Stream"/> view for code that wants one.
/// <para>
/// One send and one receive may run at the same time (one lock per direction); concurrent sends are serialized, as
/// are concurrent receives. After any failure the connection refuses further use and every call throws the same
/// <see cref="HybridErrorCode"/> (SslStream's behaviour). End a connection with <see cref="CloseAsync"/> (an
/// authenticated close, so the peer knows nothing was cut off), then dispose it.
/// </para>
/// </summary>
public sealed partial class SecureConnection : IDisposable, IAsyncDisposable
{
    private const int SmallAssembly = 64 * 1024;

    private readonly Stream stream;
    private readonly KeyScope keys;
    private readonly WireErrorContext context;
    private readonly SemaphoreSlim sendLock = new(1, 1);
    private readonly SemaphoreSlim receiveLock = new(1, 1);
    private readonly Queue<byte[]> early;
    private readonly TimeSpan closeTimeout;
    private readonly IdleWatch? idle;

    // The socket a synchronous receive polls before it reads (when it had no read timeout: a poll would not honour
    // one), and the socket an asynchronous receive peeks on to wait for data without holding a buffer.
    private readonly Socket? pollSocket;
    private readonly Socket? peekSocket;

    // True when the handshake itself ended in both Close records (the core's Closed): nothing to send or receive.
    private readonly bool endedAtStart;

    // Send direction (under sendLock): the engine's send half, and a reusable view of a span a sync send pinned.
    private SendHalf send;
    private readonly PinnedMemory sendPinned = new();

    // Receive direction (under receiveLock): the engine's receive half, the bytes read and not consumed, the message
    // being reassembled when it cannot go straight into the caller's buffer, and a message that is ready but not
    // taken yet (kept after InvalidArgument, or read in parts by the stream view).
    private ReceiveHalf receive;
    private readonly PooledReceiveBuffer input;
    private readonly Telemetry.Instruments instruments;
    private readonly PinnedMemory receivePinned = new();
    private byte[]? assembly;
    private int assemblyLength;
    private byte[]? current;
    private int currentStart;
    private int currentEnd;

    private Exception? failure;
    private int disposed;

    // Set once each half's buffers are returned after Dispose; at two, the keys are erased (SecureConnection.Close.cs).
    private int sendReleased;
    private int receiveReleased;
    private int halvesReleased;

    // Where this connection's events go (SecureConnectionOptions.Logger), set when the handshake completes.
    private ILogger? logger;

    internal ILogger? Logger
    {
        set => logger = value;
    }

    private long lastActivity = Environment.TickCount64;

    private SecureConnection(Stream stream, KeyScope keys, TrafficStart? traffic, HandshakeInfo info, Queue<byte[]> early, WireErrorContext context, SecureConnectionOptions options, PooledReceiveBuffer input, Exception? failedAtStart = null)
    {
        this.input = input;
        failure = failedAtStart;
        this.stream = stream;
        this.keys = keys;
        this.context = context;
        this.early = early;
        instruments = Telemetry.Instruments.For(options.MeterFactory);
        closeTimeout = options.CloseTimeout;
        if (stream is NetworkStream { Socket: var socket })
        {
            peekSocket = socket;
            pollSocket = socket.ReceiveTimeout == 0 ? socket : null;
        }

        ProtocolName = info.ProtocolName;
        HandshakeHash = info.HandshakeHash;
        ApplicationProtocol = info.Remote.ApplicationProtocol;
        RemotePublicKey = info.RemoteStatic is { Value: var rs } ? PublicKey.FromCore(rs) : null;
        AnnouncedServerKeys = info.AnnouncedKeys.Select(PublicKey.FromCore).ToArray();
        ServerKeyIndex = info.LocalStaticIndex;
        LocalMaxMessageSize = info.Local.MaxMessageSize;
        RemoteMaxMessageSize = info.Remote.MaxMessageSize;
        if (traffic is null)
        {
            endedAtStart = true;
            return;
        }

        send = traffic.Send;
        receive = traffic.Receive;

        if (options.IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            idle = new IdleWatch(this, (long)options.IdleTimeout.TotalMilliseconds);
        }
    }

    /// <summary>Bytes of pooled buffers this connection holds now (for tests: an idle connection holds none).</summary>
    internal int HeldBufferBytes => input.HeldBytes + (assembly?.Length ?? 0);

    /// <summary>The peer's static public key, when the pattern has one: the server's key on a client (always), the client's key on a server when the client proved one.</summary>
    public PublicKey? RemotePublicKey { get; }

    /// <summary>
    /// Client: the server's other keys that it proved it holds in this handshake (specs/PROTOCOL.md §6a), checked when
    /// the client uses known hosts (which records them); empty otherwise.
    /// </summary>
    public IReadOnlyList<PublicKey> AnnouncedServerKeys { get; }

    /// <summary>Server: the index in <see cref="SecureServerOptions.ServerKeys"/> of the key this connection used (0 on a client).</summary>
    public int ServerKeyIndex { get; }

    /// <summary>Noise §11.2: a value unique to this session and equal on both ends (channel binding); 64 or 32 bytes. A copy.</summary>
    public ReadOnlyMemory<byte> HandshakeHash { get; }

    /// <summary>The Noise protocol name that ran, e.g. <c>Noise_NKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b</c> (hybrid, the default) or <c>Noise_NK_25519_ChaChaPoly_BLAKE2b</c>.</summary>
    public string ProtocolName { get; }

    /// <summary>The application protocol both ends named.</summary>
    public string ApplicationProtocol { get; }

    /// <summary>The largest message this end accepts (it announced this to the peer).</summary>
    public int LocalMaxMessageSize { get; }

    /// <summary>The largest message the peer accepts: larger sends throw MessageTooLarge.</summary>
    public int RemoteMaxMessageSize { get; }

    /// <summary>
    /// Sends one message (any length up to <see cref="RemoteMaxMessageSize"/>, empty allowed); the peer receives it as
    /// one message. Concurrent sends are serialized. Completes when the bytes are handed to the stream.
    /// </summary>
    /// <exception cref="HybridProtocolException">
    /// MessageTooLarge (the connection stays usable); InvalidState after close; TransportFailed; any earlier failure's code.
    /// </exception>
    /// <exception cref="OperationCanceledException">Cancelled; a send cancelled part-way fails the connection.</exception>
    public ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default) =>
        SendCoreAsync(new AsyncReadWriteAdapter(stream, peekSocket), message, lockHeld: false, cancellationToken);

    /// <summary>Sends one message synchronously (see <see cref="SendAsync"/>).</summary>
    /// <exception cref="HybridProtocolException">As <see cref="SendAsync"/>.</exception>
    public unsafe void Send(ReadOnlySpan<byte> message)
    {
        fixed (byte* p = message)
        {
            Blocking(sendLock, sendPinned, p, message.Length, static (c, sync, m) =>
            {
                Wait(c.SendCoreAsync(sync, m, lockHeld: true, default));
                return default;
            });
        }
    }

    /// <summary>
    /// Receives the next whole message, or null when the peer closed the connection cleanly (its authenticated close
    /// arrived; every message it sent has been received). Allocates the returned array.
    /// </summary>
    /// <exception cref="HybridProtocolException">
    /// ConnectionTruncated when the stream ended without the peer's close; DecryptionFailed or ProtocolViolation for
    /// altered or bad bytes; MessageTooLarge when the peer exceeds <see cref="LocalMaxMessageSize"/>; TransportFailed.
    /// All of these fail the connection.
    /// </exception>
    public ValueTask<byte[]?> ReceiveAsync(CancellationToken cancellationToken = default) =>
        ReceiveArrayAsync(new AsyncReadWriteAdapter(stream, peekSocket), cancellationToken);

    /// <summary>
    /// Receives the next whole message into <paramref name="buffer"/> and returns its length, or -1 when the peer
    /// closed the connection cleanly. Does not allocate, and decrypts each record straight into
    /// <paramref name="buffer"/> where it fits (bytes past the returned length are unspecified; on a failure the
    /// part written is cleared). When the message does not fit, throws InvalidArgument
    /// naming the size needed and keeps the message: call again with a buffer of that size (or
    /// <see cref="LocalMaxMessageSize"/>), or use <see cref="ReceiveAsync(CancellationToken)"/>.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when the buffer is too small (the connection stays usable); otherwise as <see cref="ReceiveAsync(CancellationToken)"/>.</exception>
    public ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ReceiveIntoAsync(new AsyncReadWriteAdapter(stream, peekSocket), buffer, lockHeld: false, cancellationToken);

    /// <summary>Receives the next whole message synchronously (see <see cref="ReceiveAsync(CancellationToken)"/>); null at the peer's clean close.</summary>
    /// <exception cref="HybridProtocolException">As <see cref="ReceiveAsync(CancellationToken)"/>.</exception>
    public byte[]? Receive() => Wait(ReceiveArrayAsync(new SyncReadWriteAdapter(stream, pollSocket), default));

    /// <summary>Receives the next whole message synchronously into <paramref name="buffer"/> (see <see cref="ReceiveAsync(Memory{byte}, CancellationToken)"/>); -1 at the peer's clean close.</summary>
    /// <exception cref="HybridProtocolException">As <see cref="ReceiveAsync(Memory{byte}, CancellationToken)"/>.</exception>
    public unsafe int Receive(Span<byte> buffer)
    {
        fixed (byte* p = buffer)
        {
            return Blocking(receiveLock, receivePinned, p, buffer.Length, static (c, sync, m) => c.ReceiveIntoAsync(sync, m, lockHeld: true, default));
        }
    }

    /// <summary>
    /// A <see cref="Stream"/> view of this connection: reads return message bytes in order, across message boundaries
    /// (0 at the peer's clean close); each write sends one message (a write longer than
    /// <see cref="RemoteMaxMessageSize"/> goes as several); Flush does nothing; seeking is not supported.
    /// Disposing the view disposes the connection.
    /// </summary>
    public Stream GetStream() => new SecureConnectionStream(this);

    internal ValueTask<int> ReadSomeAsync(Memory<byte> destination, CancellationToken cancellationToken) =>
        ReadSomeAsync(new AsyncReadWriteAdapter(stream, peekSocket), destination, lockHeld: false, cancellationToken);

    internal unsafe int ReadSome(Span<byte> destination)
    {
        fixed (byte* p = destination)
        {
            return Blocking(receiveLock, receivePinned, p, destination.Length, static (c, sync, m) => c.ReadSomeAsync(sync, m, lockHeld: true, default));
        }
    }

    /// <summary>
    /// A synchronous call over a caller's pinned span: under the direction's lock, through a view of the span that is
    /// set under the lock and used only inside this call (the sync adapter never suspends, so the view never escapes).
    /// </summary>
    private unsafe int Blocking(SemaphoreSlim gate, PinnedMemory pinned, byte* p, int length, Func<SecureConnection, SyncReadWriteAdapter, Memory<byte>, ValueTask<int>> run)
    {
        // No failure check here: the call checks under the lock (a receive first delivers what was complete before it).
        gate.Wait();
        try
        {
            return Wait(run(this, new SyncReadWriteAdapter(stream, pollSocket), pinned.Over(p, length)));
        }
        finally
        {
            pinned.Clear();
            gate.Release();
        }
    }

    private static T Wait<T>(ValueTask<T> task) => task.IsCompletedSuccessfully ? task.Result : task.AsTask().GetAwaiter().GetResult();

    private static void Wait(ValueTask task)
    {
        if (!task.IsCompletedSuccessfully)
        {
            task.AsTask().GetAwaiter().GetResult();
        }
    }

    private void Touch() => Volatile.Write(ref lastActivity, Environment.TickCount64);

    private void Retire(Microsoft.FSharp.Core.FSharpValueOption<IAeadKey> key, bool sending)
    {
        if (key.IsValueSome)
        {
            keys.Retire(key.Value);
            Telemetry.KeyUpdated(instruments, !context.IsClient, logger, context.Peer, sending);
        }
    }

    // ---- failures ----

    /// <summary>SslStream's ThrowIfExceptional: after a failure every call throws the same code.</summary>
    private void ThrowIfExceptional()
    {
        if (failure is { } f)
        {
            throw HybridErrors.Again(f, f.Message + " (This connection failed earlier and cannot be used again; open a new one.)");
        }
    }

    private Exception Fail(WireError error) => Fail(WireErrors.ToException(error, context, inHandshake: false));

    private Exception Fail(Exception exception)
    {
        Interlocked.CompareExchange(ref failure, exception, null);
        return exception;
    }

    private const int NoReply = -1;

    /// <summary>
    /// The Close the engine chose after a failure (a <see cref="CloseReason"/>, or <see cref="NoReply"/>), until it is
    /// written: at once when the send side is free, else by the send in progress before its next record (PROTOCOL.md
    /// §7.1: the reply is always sent, as the reference driver, which has no concurrent send, sends it at once).
    /// </summary>
    private int pendingReply = NoReply;

    /// <summary>The engine failed the receive direction: record it, then send the Close it chose (if any).</summary>
    private Exception FailAndReply(WireError error, Microsoft.FSharp.Core.FSharpValueOption<CloseReason> reply)
    {
        var exception = Fail(error);
        if (reply.IsValueSome)
        {
            Volatile.Write(ref pendingReply, (int)reply.Value);
            TrySendPendingReply();
        }

        return failure ?? exception;
    }

    /// <summary>
    /// Writes the pending reply now if the send side is free; otherwise the send holding it writes the reply before
    /// its next record, or right after it releases the lock (it checks again then, so the reply is never lost).
    /// </summary>
    private void TrySendPendingReply()
    {
        if (Volatile.Read(ref pendingReply) == NoReply || !sendLock.Wait(0))
        {
            return;
        }

        try
        {
            Wait(WritePendingReplyAsync(new SyncReadWriteAdapter(stream, null), default));
        }
        finally
        {
            ExitSend();
        }
    }

    /// <summary>An I/O failure; when the connection failed already (e.g. the idle timeout closed the stream), that failure.</summary>
    private Exception TransportFailure(Exception e) =>
        failure ?? Fail(new HybridProtocolException(HybridErrorCode.TransportFailed, $"The connection to {context.Peer} failed: {e.Message}", e));
}
