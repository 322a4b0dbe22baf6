using Microsoft.Extensions.Logging;

namespace HybridProtocol;

/// <summary>
/// The names under which HybridProtocol reports what it does, for OpenTelemetry, <c>dotnet-counters</c>,
/// <see cref="System.Diagnostics.Metrics.MeterListener"/> and <see cref="System.Diagnostics.ActivityListener"/>.
/// <para>
/// Metrics (meter <see cref="MeterName"/>): <c>hybridprotocol.handshake.duration</c> (histogram, seconds; tags
/// <c>hybridprotocol.role</c>, <c>hybridprotocol.protocol.name</c> when known, <c>hybridprotocol.handshake.result</c>
/// <c>success</c> or <c>failure</c>, and <c>error.type</c> = the <see cref="HybridErrorCode"/> name on failure),
/// <c>hybridprotocol.handshakes</c> (counter, same tags), <c>hybridprotocol.active_handshakes</c> and
/// <c>hybridprotocol.active_connections</c> (up-down counters, tag <c>hybridprotocol.role</c> <c>client</c> or
/// <c>server</c>), <c>hybridprotocol.io</c> (counter, bytes on the wire, tag <c>network.io.direction</c>
/// <c>transmit</c> or <c>receive</c>, and the role), <c>hybridprotocol.key_updates</c> (counter, direction and role tags). The meter
/// comes from <see cref="SecureConnectionOptions.MeterFactory"/> when it is set (a Kestrel endpoint sets it from the
/// host's <see cref="System.Diagnostics.Metrics.IMeterFactory"/>), otherwise it is one static meter.
/// </para>
/// <para>
/// Tracing (source <see cref="ActivitySourceName"/>): one activity <see cref="HandshakeActivityName"/> per handshake
/// (kind Client or Server), with the role, protocol name, application protocol and peer key fingerprint, or error
/// status and <c>error.type</c>, and the addresses under OpenTelemetry's semantic-convention names: on a client
/// <c>server.address</c> and <c>server.port</c> as asked for (a host name stays a name), on a server
/// <c>server.address</c>/<c>server.port</c> (its own) and <c>client.address</c>/<c>client.port</c> (the client's,
/// from the PROXY header behind a balancer); on both <c>network.peer.address</c>/<c>network.peer.port</c> (the socket's
/// peer: the balancer when there is one), <c>network.transport</c> and <c>network.type</c>.
/// </para>
/// <para>
/// Logs: set <see cref="SecureConnectionOptions.Logger"/>. Events are listed in <see cref="HybridProtocolEvents"/>;
/// they carry fingerprints and error codes, never a key, a secret or application data.
/// </para>
/// </summary>
public static class HybridProtocolDiagnostics
{
    /// <summary>The <see cref="System.Diagnostics.Metrics.Meter"/> name: <c>HybridProtocol</c>.</summary>
    public const string MeterName = "HybridProtocol";

    /// <summary>The <see cref="System.Diagnostics.ActivitySource"/> name: <c>HybridProtocol</c>.</summary>
    public const string ActivitySourceName = "HybridProtocol";

    /// <summary>The name of the activity that spans one handshake.</summary>
    public const string HandshakeActivityName = "HybridProtocol.Handshake";

    /// <summary>The logger category the ASP.NET Core integration uses for connections: <c>HybridProtocol</c>.</summary>
    public const string LoggerCategory = "HybridProtocol";
}

/// <summary>
/// The log events, with the levels Kestrel uses for the same moments: per-connection events at Debug (a flood of
/// bad clients cannot flood the log), and at most one <see cref="HandshakeFailuresSummary"/> line at Information per
/// interval for failed or refused handshakes.
/// </summary>
public static class HybridProtocolEvents
{
    /// <summary>A TCP client was accepted and its handshake starts (Debug).</summary>
    public static readonly EventId ConnectionAccepted = new(1, nameof(ConnectionAccepted));

    /// <summary>A handshake completed: protocol name, application protocol, peer key fingerprint, duration (Debug).</summary>
    public static readonly EventId HandshakeCompleted = new(2, nameof(HandshakeCompleted));

    /// <summary>A handshake failed: error code, peer, duration, exception (Debug).</summary>
    public static readonly EventId HandshakeFailed = new(3, nameof(HandshakeFailed));

    /// <summary>How many handshakes failed or were refused since the last summary, by error code (Information, at most once per interval).</summary>
    public static readonly EventId HandshakeFailuresSummary = new(4, nameof(HandshakeFailuresSummary));

    /// <summary>A client was refused before its handshake (too many handshakes in progress: ServerBusy) (Debug).</summary>
    public static readonly EventId ConnectionRefused = new(5, nameof(ConnectionRefused));

    /// <summary>A connection ended, with the reason: Closed, ClosedByPeer, or the error code it failed with (Debug).</summary>
    public static readonly EventId ConnectionClosed = new(6, nameof(ConnectionClosed));

    /// <summary>A connection switched to a new key in one direction (Debug).</summary>
    public static readonly EventId KeyUpdated = new(7, nameof(KeyUpdated));
}
