namespace HybridProtocol.AspNetCore;

/// <summary>
/// What the HybridProtocol handshake established for a Kestrel connection, as <c>ITlsHandshakeFeature</c> exposes TLS:
/// read it with <c>HttpContext.Features.Get&lt;IHybridProtocolFeature&gt;()</c> (or from a <c>ConnectionContext</c>).
/// </summary>
public interface IHybridProtocolFeature
{
    /// <summary>The client's static public key when it proved one (XX, IK), otherwise null: an anonymous client.</summary>
    PublicKey? RemotePublicKey { get; }

    /// <summary>The Noise protocol name that ran, e.g. <c>Noise_NKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b</c> (hybrid, the default) or <c>Noise_NK_25519_ChaChaPoly_BLAKE2b</c>.</summary>
    string ProtocolName { get; }

    /// <summary>The application protocol both ends named (like TLS ALPN).</summary>
    string ApplicationProtocol { get; }

    /// <summary>Noise §11.2: a value unique to this session and equal on both ends, for channel binding.</summary>
    ReadOnlyMemory<byte> HandshakeHash { get; }

    /// <summary>How long the handshake took on this end.</summary>
    TimeSpan HandshakeDuration { get; }

    /// <summary>
    /// The TCP load balancer the connection came through, when the endpoint's
    /// <see cref="HybridProtocolConnectionOptions.ProxyProtocol"/> read its PROXY header (the connection's
    /// <c>RemoteEndPoint</c> is then the client the header named); null otherwise.
    /// </summary>
    System.Net.EndPoint? ProxyEndPoint { get; }
}

internal sealed class HybridProtocolFeature(SecureConnection connection, TimeSpan duration) : IHybridProtocolFeature
{
    public PublicKey? RemotePublicKey { get; } = connection.RemotePublicKey;

    public string ProtocolName { get; } = connection.ProtocolName;

    public string ApplicationProtocol { get; } = connection.ApplicationProtocol;

    public ReadOnlyMemory<byte> HandshakeHash { get; } = connection.HandshakeHash;

    public TimeSpan HandshakeDuration { get; } = duration;

    public System.Net.EndPoint? ProxyEndPoint { get; } = connection.ProxyEndPoint;
}
