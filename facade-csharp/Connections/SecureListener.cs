using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using HybridProtocol.Connections;
using HybridProtocol.Core.Wire;
using HybridProtocol.Diagnostics;
using HybridProtocol.Net;
using Microsoft.FSharp.Collections;

namespace HybridProtocol;

/// <summary>
/// Accepts TCP clients and runs each one's handshake concurrently in the background;
/// <see cref="AcceptAsync"/> returns only connections whose handshake succeeded. A bad, slow or malicious client never
/// blocks the others and never stops the listener: its failure is reported through <see cref="HandshakeFailed"/> and
/// the connection dropped.
/// <para>
/// Three stages, each bounded (specs/PROTOCOL.md §12a; the Kestrel middleware shares them). (1) Waiting: a new socket
/// costs only itself and a small buffer until its first flight (preamble and first handshake message, within the
/// pattern's bound) has arrived, which must happen within <see cref="FirstMessageTimeout"/>; at most
/// <see cref="MaxPendingSockets"/> sockets wait, at most <see cref="MaxPendingPerAddress"/> from one address (an IPv4
/// address or IPv6 /64), and a new socket beyond either limit pushes out the oldest waiting one, which is told TooSlow
/// (a slow or silent peer is older than a prompt one). (2) Handshaking and proving liveness: key work, at most
/// <see cref="MaxConcurrentHandshakes"/> at once and <see cref="MaxHandshakesPerAddress"/> per address, each later
/// client message within <see cref="SecureServerOptions.HandshakeMessageTimeout"/>; where the server writes the last
/// handshake message (NK, NX, IK), until the client's first authenticated record, so a replayed first message never
/// reaches <see cref="AcceptAsync"/>. (3) Accepted: at most <see cref="MaxPendingConnections"/> authenticated
/// connections wait for <see cref="AcceptAsync"/> (further handshakes then wait).
/// </para>
/// </summary>
public sealed partial class SecureListener : IAsyncDisposable
{
    private readonly IPEndPoint endPoint;
    private readonly SecureServerOptions options;
    private readonly FSharpList<Core.Noise.ProtocolName> accepted;
    private readonly CancellationTokenSource stopping = new();
    private Channel<SecureConnection>? ready;
    private Socket? socket;
    private Task? acceptLoop;
    private readonly FailureSummary failures;
    private HandshakeStages? stages;
    private PendingSockets? pending;

    /// <summary>The sockets in the waiting stage now (tests).</summary>
    internal int WaitingCount => pending?.Count ?? 0;

    /// <summary>
    /// Creates a listener for <paramref name="endPoint"/> (port 0 picks a free port; see <see cref="LocalEndPoint"/>).
    /// The names it accepts follow from <paramref name="options"/> now; the other options are read for each client.
    /// Call <see cref="Start"/>.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when <see cref="SecureServerOptions.ServerKey"/> is missing.</exception>
    /// <exception cref="ObjectDisposedException">The <see cref="SecureServerOptions.ServerKey"/> has been disposed.</exception>
    public SecureListener(IPEndPoint endPoint, SecureServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        ArgumentNullException.ThrowIfNull(options);
        if (options.ServerKey is null)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, "SecureServerOptions.ServerKey is required.");
        }

        options.ServerKey.ThrowIfDisposed("SecureServerOptions.ServerKey");

        this.endPoint = endPoint;
        this.options = options;
        failures = new FailureSummary(options.Logger, TimeSpan.FromSeconds(10));
        accepted = SecureConnection.AcceptedProtocols(options);
    }

    /// <summary>Raised (on a background thread) when a client's handshake fails: its address and the exception. Handlers must not throw.</summary>
    public event EventHandler<HandshakeFailedEventArgs>? HandshakeFailed;

    /// <summary>The most handshakes running at once (default 256); set before <see cref="Start"/>.</summary>
    public int MaxConcurrentHandshakes { get; init; } = 256;

    /// <summary>
    /// The most handshake slots one address share holds (default 64): an IPv4 address, or an IPv6 /64 (specs/PROTOCOL.md
    /// [S5]). A slot is held from a complete first flight until the client's liveness proof ([S6]). A further client of
    /// the same share pushes out the share's oldest handshake; set before <see cref="Start"/>.
    /// </summary>
    public int MaxHandshakesPerAddress { get; init; } = 64;

    /// <summary>
    /// The listen backlog (connections the system completes before <see cref="AcceptAsync"/>'s loop takes them); 0
    /// (the default) follows the system's limit (<c>/proc/sys/net/core/somaxconn</c> on Linux, else 512). Set before
    /// <see cref="Start"/>.
    /// </summary>
    public int ListenBacklog { get; init; }

    /// <summary>The most authenticated connections waiting for <see cref="AcceptAsync"/> (default 64); set before <see cref="Start"/>.</summary>
    public int MaxPendingConnections { get; init; } = 64;

    /// <summary>
    /// How long a new client has to send its whole first flight (preamble and first handshake message) before its
    /// socket is dropped (default 5 s; the handshake timeout when that is shorter). It holds no handshake slot
    /// meanwhile; the handshake timeout starts after it.
    /// </summary>
    public TimeSpan FirstMessageTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>The first-message deadline in force: <see cref="FirstMessageTimeout"/>, or the handshake timeout when that is shorter.</summary>
    private TimeSpan FirstMessageDeadline =>
        options.HandshakeTimeout != Timeout.InfiniteTimeSpan && options.HandshakeTimeout < FirstMessageTimeout ? options.HandshakeTimeout : FirstMessageTimeout;

    /// <summary>
    /// The most sockets waiting for their first flight (default 16,384); a further one pushes out the oldest. A waiting
    /// socket costs about 2.5 KiB of managed memory and its kernel socket buffers (measured, specs/PROTOCOL.md §12a [S1]).
    /// </summary>
    public int MaxPendingSockets { get; init; } = 16_384;

    /// <summary>The most sockets from one remote address waiting for their first flight (default 1,024); a further one pushes out that address's oldest.</summary>
    public int MaxPendingPerAddress { get; init; } = 1_024;

    /// <summary>The largest first flight buffered while waiting (16 KiB: a preamble and a post-quantum first message fit); more is left to the handshake.</summary>
    internal const int MaxFirstFlight = 16 * 1024;

    /// <summary>
    /// For an IPv6 address (such as <see cref="IPAddress.IPv6Any"/>, <c>[::]</c>): also accept IPv4 clients (their
    /// <see cref="SecureConnection.RemoteEndPoint"/> is their IPv4 address). Default true, so a listener on <c>[::]</c> serves
    /// both IPv4 and IPv6; false listens on IPv6 only. Ignored for IPv4 addresses. Set before <see cref="Start"/>.
    /// </summary>
    public bool DualMode { get; init; } = true;

    /// <summary>
    /// Behind TCP load balancers: accept a PROXY protocol header (v1 or v2) before the preamble from the balancers'
    /// addresses only, and use the client it names as the connection's <see cref="SecureConnection.RemoteEndPoint"/>, for
    /// <see cref="MaxPendingPerAddress"/> and in logs (see <see cref="ProxyProtocolOptions"/>). The header counts against
    /// <see cref="FirstMessageTimeout"/>. Null (the default): no header is expected, and one is refused as a bad preamble.
    /// Set before <see cref="Start"/>.
    /// </summary>
    public ProxyProtocolOptions? ProxyProtocol { get; init; }

    /// <summary>The address and port the listener is bound to (after <see cref="Start"/>).</summary>
    /// <exception cref="HybridInvalidOperationException">InvalidState before <see cref="Start"/>.</exception>
    public IPEndPoint LocalEndPoint => (IPEndPoint?)socket?.LocalEndPoint
        ?? throw new HybridInvalidOperationException("The listener has not been started.");

    /// <summary>Binds, listens, and starts accepting clients in the background.</summary>
    /// <exception cref="HybridProtocolException">TransportFailed when the address cannot be bound.</exception>
    /// <exception cref="HybridInvalidOperationException">InvalidState when already started.</exception>
    /// <exception cref="ObjectDisposedException">The <see cref="SecureServerOptions.ServerKey"/> has been disposed.</exception>
    public void Start()
    {
        options.ServerKey?.ThrowIfDisposed("SecureServerOptions.ServerKey");
        if (socket is not null)
        {
            throw new HybridInvalidOperationException("The listener has already been started.");
        }

        var s = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            if (endPoint.AddressFamily == AddressFamily.InterNetworkV6)
            {
                s.DualMode = DualMode;
            }

            s.Bind(endPoint);
            s.Listen(ListenBacklog > 0 ? ListenBacklog : SystemBacklog());
        }
        catch (SocketException e)
        {
            s.Dispose();
            throw new HybridProtocolException(HybridErrorCode.TransportFailed, $"Cannot listen on {endPoint}: {e.Message}.", e);
        }

        stages = new HandshakeStages(MaxPendingSockets, MaxPendingPerAddress, MaxConcurrentHandshakes, MaxHandshakesPerAddress);
        pending = stages.Waiting;
        ready = Channel.CreateBounded<SecureConnection>(new BoundedChannelOptions(Math.Max(1, MaxPendingConnections)) { FullMode = BoundedChannelFullMode.Wait });
        socket = s;
        acceptLoop = Task.Run(AcceptLoopAsync);
    }

    /// <summary>The next authenticated connection (waits until one is ready).</summary>
    /// <exception cref="HybridInvalidOperationException">InvalidState when the listener was not started or has been disposed.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public async Task<SecureConnection> AcceptAsync(CancellationToken cancellationToken = default)
    {
        var channel = ready ?? throw new HybridInvalidOperationException("The listener has not been started; call Start first.");
        try
        {
            return await channel.Reader.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (ChannelClosedException e)
        {
            throw new HybridInvalidOperationException("The listener has been stopped.", e);
        }
    }

    /// <summary>Stops accepting, cancels handshakes in progress, and disposes connections nobody accepted.</summary>
    public async ValueTask DisposeAsync()
    {
        if (stopping.IsCancellationRequested)
        {
            return;
        }

        await stopping.CancelAsync().ConfigureAwait(false);
        socket?.Dispose();
        if (acceptLoop is not null)
        {
            await acceptLoop.ConfigureAwait(false);
        }

        if (ready is not null)
        {
            ready.Writer.TryComplete();
            while (ready.Reader.TryRead(out var connection))
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }

        failures.Flush();
        stopping.Dispose();
    }

    private async Task AcceptLoopAsync()
    {
        while (!stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await socket!.AcceptAsync(stopping.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException)
            {
                return;
            }
            catch (SocketException e)
            {
                Report(null, e);
                continue;
            }

            // A trusted proxy's socket counts against the client its header names, once it has arrived.
            var trusted = ProxyProtocol?.Trusts(client.RemoteEndPoint) == true;
            if (!trusted)
            {
                Telemetry.Accepted(options.Logger, client.RemoteEndPoint);
            }

            var cancel = CancellationTokenSource.CreateLinkedTokenSource(stopping.Token);
            cancel.CancelAfter(FirstMessageDeadline);
            var entry = pending!.Admit(client, trusted ? null : (client.RemoteEndPoint as IPEndPoint)?.Address, cancel);
            // No hop to the thread pool: the wait runs here until its first read, which nearly always waits for the
            // client's bytes and so returns to this loop; it moves off the loop itself when its bytes were already there.
            _ = WaitForFirstFlightAsync(entry, trusted);
        }
    }

    /// <summary>
    /// The handshake over the socket, its first flight already read; <paramref name="remote"/> is the client (the one a
    /// PROXY header named, when <paramref name="balancer"/> relayed it).
    /// </summary>
    private async Task HandshakeAsync(Socket client, ReadOnlyMemory<byte> firstFlight, EndPoint? remote, EndPoint? balancer, HandshakeStages.Slot slot)
    {
        try
        {
            SecureConnection.Configure(client, options);
            var stream = new NetworkStream(client, ownsSocket: true);
            var peer = balancer is null ? "the client " + remote : $"the client {remote} (through {balancer})";
            var connection = await SecureConnection.AuthenticateAsServerCoreAsync(stream, options, accepted, peer, slot.Cancel.Token, balancer is null ? null : (remote, balancer), firstFlight).ConfigureAwait(false);
            slot.Dispose();
            try
            {
                await ready!.Writer.WriteAsync(connection, stopping.Token).ConfigureAwait(false);
            }
            catch (Exception)
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }
        catch (Exception e)
        {
            client.Dispose();
            if (!stopping.IsCancellationRequested)
            {
                Report(remote, slot.PushedOut
                    ? new HybridProtocolException(HybridErrorCode.PeerRefused, $"The client's handshake was pushed out before it proved liveness: its address held {MaxHandshakesPerAddress} handshakes, or every slot was taken and its address held the most.", e)
                    : e);
            }
        }
        finally
        {
            slot.Dispose();
        }
    }

    private void Report(EndPoint? remote, Exception e, ProxyProtocolRefusal? proxyRefusal = null)
    {
        failures.Record(Telemetry.ErrorType(e));
        try
        {
            HandshakeFailed?.Invoke(this, new HandshakeFailedEventArgs(remote, e) { ProxyProtocolRefusal = proxyRefusal });
        }
        catch (Exception)
        {
            // A failing handler must not stop the listener.
        }
    }
}
