namespace HybridProtocol.AspNetCore;

/// <summary>
/// How a Kestrel endpoint runs HybridProtocol (<see cref="HybridProtocolListenOptionsExtensions.UseHybridProtocol(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions, Action{HybridProtocolConnectionOptions})"/>),
/// as <c>HttpsConnectionAdapterOptions</c> does for TLS: the server options of every handshake, and the endpoint's
/// limits, which behave as on <see cref="SecureListener"/>.
/// </summary>
public sealed class HybridProtocolConnectionOptions
{
    private int maxConcurrentHandshakes = 256;

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
    /// The most handshakes running at once on this endpoint (default 256, as on <see cref="SecureListener"/>); further
    /// clients get the protocol's ServerBusy refusal and are disconnected at once.
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
