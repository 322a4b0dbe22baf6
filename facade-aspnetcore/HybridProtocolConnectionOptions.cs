namespace HybridProtocol.AspNetCore;

/// <summary>
/// How a Kestrel endpoint runs HybridProtocol (<see cref="HybridProtocolListenOptionsExtensions.UseHybridProtocol(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions, Action{HybridProtocolConnectionOptions})"/>),
/// as <c>HttpsConnectionAdapterOptions</c> does for TLS: the server options of every handshake, and the endpoint's
/// limits, which behave as on <see cref="SecureListener"/>.
/// </summary>
public sealed class HybridProtocolConnectionOptions
{
    private int maxConcurrentHandshakes = 256;
    private int maxHandshakesPerAddress = 64;
    private int maxPendingSockets = 16_384;
    private int maxPendingPerAddress = 1_024;
    private TimeSpan firstMessageTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a new client has to send its whole first flight (preamble and first handshake message) before it is
    /// told TooSlow and disconnected (default 5 s, as <see cref="SecureListener.FirstMessageTimeout"/>). It holds no
    /// handshake slot meanwhile.
    /// </summary>
    /// <exception cref="HybridProtocolException">InvalidArgument when not positive.</exception>
    public TimeSpan FirstMessageTimeout
    {
        get => firstMessageTimeout;
        set => firstMessageTimeout = value > TimeSpan.Zero
            ? value
            : throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"FirstMessageTimeout must be positive, not {value}.");
    }

    /// <summary>The most clients waiting for their first flight (default 16,384); a further one pushes out the oldest.</summary>
    /// <exception cref="HybridProtocolException">InvalidArgument when not positive.</exception>
    public int MaxPendingSockets
    {
        get => maxPendingSockets;
        set => maxPendingSockets = Positive(value, nameof(MaxPendingSockets));
    }

    /// <summary>The most clients of one address (an IPv4 address or IPv6 /64) waiting for their first flight (default 1,024); a further one pushes out that address's oldest.</summary>
    /// <exception cref="HybridProtocolException">InvalidArgument when not positive.</exception>
    public int MaxPendingPerAddress
    {
        get => maxPendingPerAddress;
        set => maxPendingPerAddress = Positive(value, nameof(MaxPendingPerAddress));
    }

    /// <summary>
    /// The most handshake slots one address (an IPv4 address or IPv6 /64) holds (default 64, as
    /// <see cref="SecureListener.MaxHandshakesPerAddress"/>); a further client of that address pushes out its oldest.
    /// </summary>
    /// <exception cref="HybridProtocolException">InvalidArgument when not positive.</exception>
    public int MaxHandshakesPerAddress
    {
        get => maxHandshakesPerAddress;
        set => maxHandshakesPerAddress = Positive(value, nameof(MaxHandshakesPerAddress));
    }

    private static int Positive(int value, string name) => value >= 1
        ? value
        : throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"{name} must be at least 1, not {value}.");

    /// <summary>
    /// The server key, client authentication, suites, timeouts and limits of each handshake (its
    /// <see cref="SecureConnectionOptions.HandshakeTimeout"/> bounds each one). Required. When its
    /// <see cref="SecureConnectionOptions.Logger"/> is null, the endpoint sets it to the host's logger of category
    /// <see cref="HybridProtocolDiagnostics.LoggerCategory"/>.
    /// </summary>
    public SecureServerOptions? ServerOptions { get; set; }

    /// <summary>
    /// Behind TCP load balancers: accept a PROXY protocol header (v1 or v2) before the preamble from the balancers'
    /// addresses only (<see cref="ProxyProtocolOptions"/>); the client it names becomes the connection's
    /// <c>RemoteEndPoint</c> (so <c>HttpContext.Connection.RemoteIpAddress</c> and Kestrel's logs see the client) and
    /// the balancer is <see cref="IHybridProtocolFeature.ProxyEndPoint"/>.
    /// The header must arrive within the handshake timeout (5 s when that is infinite). Null (the default): no header
    /// is expected.
    /// </summary>
    public ProxyProtocolOptions? ProxyProtocol { get; set; }

    /// <summary>
    /// The most handshakes running at once on this endpoint (default 256, as on <see cref="SecureListener"/>), each from a
    /// complete first flight to the client's liveness proof; further clients get the protocol's ServerBusy refusal and
    /// are disconnected at once (unless their address holds fewer slots than the heaviest one, whose oldest is pushed out).
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when not positive.</exception>
    public int MaxConcurrentHandshakes
    {
        get => maxConcurrentHandshakes;
        set => maxConcurrentHandshakes = value >= 1
            ? value
            : throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"MaxConcurrentHandshakes must be at least 1, not {value}.");
    }
}
