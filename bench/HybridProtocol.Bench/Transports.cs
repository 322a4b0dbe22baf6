using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;

namespace HybridProtocol.Bench;

/// <summary>
/// The plug-in point: a transport the benchmark drives over 127.0.0.1. It owns a listener and hands out
/// connected, authenticated stream pairs; the benchmark writes on one end and reads on the other. Both ends
/// live in this process, so every cost (CPU, allocation, memory) counts both sides of the connection.
/// </summary>
public interface ITransportUnderTest : IAsyncDisposable
{
    /// <summary>Short name for the table, for example <c>SslStream</c> or <c>HybridProtocol AESGCM</c>.</summary>
    string Name { get; }

    /// <summary>What was negotiated, once a connection exists (for TLS: version and cipher suite).</summary>
    string? Negotiated { get; }

    /// <summary>
    /// Opens a new TCP connection to the listener and completes the handshake on both ends. The task
    /// completes when both the client and the server end can send application data.
    /// </summary>
    Task<ConnectedPair> ConnectPairAsync(CancellationToken cancellationToken);
}

/// <summary>The two ends of one connection. Disposing closes the client end first, then the server end.</summary>
public sealed class ConnectedPair(Stream client, Stream server) : IAsyncDisposable
{
    public Stream Client { get; } = client;

    public Stream Server { get; } = server;

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync().ConfigureAwait(false);
        await Server.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>
/// A listening socket on 127.0.0.1 with an accept loop that matches each accepted socket to the client
/// socket that dialled it (by the client's local port), so concurrent connects never get crossed.
/// Subclasses add the handshake on top of the connected sockets.
/// </summary>
public abstract class LoopbackTransport : ITransportUnderTest
{
    private readonly Socket listener;
    private readonly ConcurrentDictionary<IPEndPoint, TaskCompletionSource<Socket>> waiting = new();

    // Client source addresses 127.0.0.1-250 in turn (Linux routes all of 127/8 to loopback): each has its own
    // ephemeral ports, so the tens of thousands of connections a run makes (their TIME_WAIT lasts 60 s) never crowd
    // one address's 28,000 ports, where every bind(0) must search a nearly full range (bare TCP connects measured
    // 500-750 us instead of 40 us once the handshake warm-up had made ~30,000 connections within a minute).
    private static int nextSource;
    private readonly CancellationTokenSource stop = new();
    private readonly Task acceptLoop;
    private CountingStream? countedClient;
    private CountingStream? countedServer;
    private bool countNext;

    protected LoopbackTransport()
    {
        listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(4096);
        acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public abstract string Name { get; }

    public virtual string? Negotiated => null;

    public async Task<ConnectedPair> ConnectPairAsync(CancellationToken cancellationToken)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            client.Bind(new IPEndPoint(NextSourceAddress(), 0));
            var local = (IPEndPoint)client.LocalEndPoint!;
            var accepted = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
            waiting[local] = accepted;
            await client.ConnectAsync(listener.LocalEndPoint!, cancellationToken).ConfigureAwait(false);
            var server = await accepted.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            server.NoDelay = true;
            return await SecureAsync(client, server, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The bytes one full handshake puts on the wire: one connection whose sockets are wrapped in byte-counting
    /// streams (only this one), counted from the first byte until both ends can send application data.
    /// </summary>
    public async Task<(long ClientToServer, long ServerToClient)> CountHandshakeBytesAsync(CancellationToken cancellationToken)
    {
        countNext = true;
        await using var pair = await ConnectPairAsync(cancellationToken).ConfigureAwait(false);
        var counted = (countedClient?.Written ?? 0, countedServer?.Written ?? 0);
        (countedClient, countedServer, countNext) = (null, null, false);
        return counted;
    }

    /// <summary>The stream over a connected socket: a <see cref="NetworkStream"/>, counted during <see cref="CountHandshakeBytesAsync"/>.</summary>
    protected Stream Open(Socket socket, bool client)
    {
        var network = new NetworkStream(socket, ownsSocket: true);
        if (!countNext)
        {
            return network;
        }

        var counting = new CountingStream(network);
        if (client)
        {
            countedClient = counting;
        }
        else
        {
            countedServer = counting;
        }

        return counting;
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        listener.Dispose();
        try
        {
            await acceptLoop.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The loop ends when the listener closes.
        }

        stop.Dispose();
        DisposeResources();
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases what a subclass holds (certificates, keys) after the listener has stopped.</summary>
    protected virtual void DisposeResources()
    {
    }

    /// <summary>Runs the handshake on a connected socket pair; both sockets are owned by the result.</summary>
    protected abstract Task<ConnectedPair> SecureAsync(Socket client, Socket server, CancellationToken cancellationToken);

    private static IPAddress NextSourceAddress()
    {
        if (!OperatingSystem.IsLinux())
        {
            return IPAddress.Loopback;
        }

        var n = (uint)Interlocked.Increment(ref nextSource) % 250;
        return new IPAddress([127, 0, 0, (byte)(1 + n)]);
    }

    private async Task AcceptLoopAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            var socket = await listener.AcceptAsync(stop.Token).ConfigureAwait(false);
            if (waiting.TryRemove((IPEndPoint)socket.RemoteEndPoint!, out var pending))
            {
                pending.SetResult(socket);
            }
            else
            {
                socket.Dispose();
            }
        }
    }
}

/// <summary>Plain TCP: the physical limit of loopback (no handshake beyond TCP's, no encryption).</summary>
public sealed class PlainTcpTransport : LoopbackTransport
{
    public override string Name => "TCP";

    protected override Task<ConnectedPair> SecureAsync(Socket client, Socket server, CancellationToken cancellationToken) =>
        Task.FromResult(new ConnectedPair(new NetworkStream(client, ownsSocket: true), new NetworkStream(server, ownsSocket: true)));
}

/// <summary>The transports every network measurement runs, in table order.</summary>
public static class Transports
{
    /// <summary>Creates a fresh instance of each transport under test.</summary>
    public static IReadOnlyList<Func<ITransportUnderTest>> All { get; } =
    [
        () => new PlainTcpTransport(),
        () => new TlsTransport(),
        () => new HybridProtocolTransport(SecureSuite.AesGcmSha256, "AESGCM"),
        () => new HybridProtocolTransport(SecureSuite.AesGcmSha256, "AESGCM", postQuantum: PostQuantumMode.Classical),
        () => new HybridProtocolTransport(SecureSuite.ChaChaPolyBlake2b, "ChaChaPoly"),
        () => new HybridProtocolTransport(SecureSuite.Aegis256Blake2b, "AEGIS256"),
    ];

    /// <summary>
    /// More transports for the handshake rows only: the AES-GCM suite with the XX and IK patterns (client keys), and a
    /// server holding 3 keys (specs/PROTOCOL.md §6a) whose client pins the current key or the oldest, beside the 1-key
    /// "HybridProtocol AESGCM" row.
    /// </summary>
    public static IReadOnlyList<Func<ITransportUnderTest>> HandshakeOnly { get; } =
    [
        () => new HybridProtocolTransport(SecureSuite.AesGcmSha256, "AESGCM", "XX"),
        () => new HybridProtocolTransport(SecureSuite.AesGcmSha256, "AESGCM", "IK"),
        () => new HybridProtocolTransport(SecureSuite.AesGcmSha256, "AESGCM", heldKeys: 3, pinnedKey: 0),
        () => new HybridProtocolTransport(SecureSuite.AesGcmSha256, "AESGCM", heldKeys: 3, pinnedKey: 2),
    ];
}
