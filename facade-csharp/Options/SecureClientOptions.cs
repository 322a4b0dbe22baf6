using HybridProtocol.Connections;
using HybridProtocol.Core.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.FSharp.Core;

namespace HybridProtocol;

/// <summary>Options for a client connection (<see cref="SecureConnection.ConnectAsync"/>).</summary>
public sealed class SecureClientOptions : SecureConnectionOptions
{
    private ServerAuthentication? serverAuthentication;
    private SecureSuite suite = SecureSuite.ChaChaPolyBlake2b;

    /// <summary>
    /// How the server's key is checked. Required: connecting without it throws InvalidArgument. See
    /// <see cref="HybridProtocol.ServerAuthentication"/> for the modes.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when set to null.</exception>
    public ServerAuthentication? ServerAuthentication
    {
        get => serverAuthentication;
        set => serverAuthentication = value ?? throw Invalid("ServerAuthentication cannot be null: choose Pinned, KnownHosts, Callback or (for experiments) DangerousAcceptAnyServerKey.", nameof(ServerAuthentication));
    }

    /// <summary>
    /// The client's own static key, proved to the server during the handshake (XX or IK), for servers that
    /// authenticate clients. Null (the default): the client stays anonymous. Not disposed by the connection.
    /// </summary>
    public PrivateKey? ClientIdentity { get; set; }

    /// <summary>
    /// How long <see cref="SecureConnection.ConnectAsync"/> may take to open the TCP connection; default 10 seconds.
    /// A server that does not answer in time fails with <see cref="HybridErrorCode.ConnectTimeout"/> (one that refuses
    /// at once, with <see cref="HybridErrorCode.TransportFailed"/>).
    /// <see cref="Timeout.InfiniteTimeSpan"/> leaves it to the operating system (about two minutes on Linux).
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when zero or negative (other than infinite).</exception>
    public TimeSpan ConnectTimeout
    {
        get => connectTimeout;
        set => connectTimeout = PositiveOrInfinite(value, nameof(ConnectTimeout));
    }

    private TimeSpan connectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The suite to ask for; the server refuses one it does not accept (<see cref="HybridErrorCode.PeerRefused"/>, naming what it supports).</summary>
    /// <exception cref="HybridArgumentException">InvalidArgument for a value outside the enum.</exception>
    public SecureSuite Suite
    {
        get => suite;
        set
        {
            SecureSuites.Check(value, nameof(Suite));
            suite = value;
        }
    }
}
