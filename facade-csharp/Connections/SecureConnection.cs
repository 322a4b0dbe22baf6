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
    private readonly Stream stream;
    private readonly KeyScope keys;
    private readonly WireErrorContext context;
    private readonly TimeSpan closeTimeout;
    private readonly IdleWatch? idle;
    private readonly Telemetry.Instruments instruments;

    // The socket a synchronous receive polls before it reads (when it had no read timeout: a poll would not honour
    // one), and the socket an asynchronous receive peeks on to wait for data without holding a buffer.
    private readonly Socket? pollSocket;
    private readonly Socket? peekSocket;

    // The two directions, each with its own lock (one send and one receive may run at once), and the received message
    // that is ready but not taken yet (kept after InvalidArgument, or read in parts by the stream view).
    private readonly SendPipe send;
    private readonly ReceivePipe receive;
    private readonly ReceivedMessage ready;

    private Exception? failure;
    private int disposed;

    // The directions released after Dispose; at two, the keys are erased (SecureConnection.Close.cs).
    private int halvesReleased;

    // Where this connection's events go (SecureConnectionOptions.Logger), set when the handshake completes.
    private ILogger? logger;

    internal ILogger? Logger
    {
        set => logger = value;
    }

    private long lastActivity = Environment.TickCount64;

    private SecureConnection(Stream stream, KeyScope keys, TrafficStart traffic, WireErrorContext context, SecureConnectionOptions options, PooledReceiveBuffer input)
    {
        var info = traffic.Info;
        this.stream = stream;
        this.keys = keys;
        this.context = context;
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
        send = new SendPipe(this, stream, context, instruments, traffic.Send);
        receive = new ReceivePipe(this, send, input, traffic.Receive);
        ready = receive.Ready;
        if (options.IdleTimeout != Timeout.InfiniteTimeSpan)
        {
            idle = new IdleWatch(this, (long)options.IdleTimeout.TotalMilliseconds);
        }
    }

    /// <summary>Bytes of pooled buffers this connection holds now (for tests: an idle connection holds none).</summary>
    internal int HeldBufferBytes => receive.HeldBufferBytes;

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
        send.SendAsync(new AsyncReadWriteAdapter(stream, peekSocket), message, lockHeld: false, cancellationToken);

    /// <summary>Sends one message synchronously (see <see cref="SendAsync"/>).</summary>
    /// <exception cref="HybridProtocolException">As <see cref="SendAsync"/>.</exception>
    public unsafe void Send(ReadOnlySpan<byte> message)
    {
        fixed (byte* p = message)
        {
            Blocking(send.Lock, send.Pinned, p, message.Length, static (c, sync, m) =>
            {
                Wait(c.send.SendAsync(sync, m, lockHeld: true, default));
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
            return Blocking(receive.Lock, receive.Pinned, p, buffer.Length, static (c, sync, m) => c.ReceiveIntoAsync(sync, m, lockHeld: true, default));
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
            return Blocking(receive.Lock, receive.Pinned, p, destination.Length, static (c, sync, m) => c.ReadSomeAsync(sync, m, lockHeld: true, default));
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

    internal static T Wait<T>(ValueTask<T> task) => task.IsCompletedSuccessfully ? task.Result : task.AsTask().GetAwaiter().GetResult();

    internal static void Wait(ValueTask task)
    {
        if (!task.IsCompletedSuccessfully)
        {
            task.AsTask().GetAwaiter().GetResult();
        }
    }

    /// <summary>Records traffic for the idle watch.</summary>
    internal void Touch() => Volatile.Write(ref lastActivity, Environment.TickCount64);

    /// <summary>Erases a key the engine retired (a KeyUpdate, specs/PROTOCOL.md §5), and reports it.</summary>
    internal void Retire(Microsoft.FSharp.Core.FSharpValueOption<IAeadKey> key, bool sending)
    {
        if (key.IsValueSome)
        {
            keys.Retire(key.Value);
            Telemetry.KeyUpdated(instruments, !context.IsClient, logger, context.Peer, sending);
        }
    }

    // ---- failures ----

    /// <summary>The connection's failure, shared by both directions (null while it is usable).</summary>
    internal Exception? Failure => failure;

    /// <summary>True once Dispose has begun: a direction whose lock is left is then released.</summary>
    internal bool IsDisposed => Volatile.Read(ref disposed) != 0;

    /// <summary>SslStream's ThrowIfExceptional: after a failure every call throws the same code.</summary>
    internal void ThrowIfExceptional()
    {
        if (failure is { } f)
        {
            throw HybridErrors.Again(f, f.Message + " (This connection failed earlier and cannot be used again; open a new one.)");
        }
    }

    /// <summary>Fails the connection with the engine's error (unless it failed already); returns the exception to throw.</summary>
    internal Exception Fail(WireError error) => Fail(WireErrors.ToException(error, context, inHandshake: false));

    /// <summary>Fails the connection with <paramref name="exception"/> unless it failed already (the first failure stands).</summary>
    internal Exception Fail(Exception exception)
    {
        Interlocked.CompareExchange(ref failure, exception, null);
        return exception;
    }

    /// <summary>An I/O failure; when the connection failed already (e.g. the idle timeout closed the stream), that failure.</summary>
    internal Exception TransportFailure(Exception e) =>
        failure ?? Fail(new HybridProtocolException(HybridErrorCode.TransportFailed, $"The connection to {context.Peer} failed: {e.Message}", e));
}
