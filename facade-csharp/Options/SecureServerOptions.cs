using HybridProtocol.Connections;
using HybridProtocol.Core.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.FSharp.Core;

namespace HybridProtocol;

/// <summary>Options for a server (<see cref="SecureListener"/>, <see cref="SecureConnection.AuthenticateAsServerAsync"/>).</summary>
public sealed class SecureServerOptions : SecureConnectionOptions
{
    private ServerIdentity identity = new([], null);
    private ClientAuthentication clientAuthentication = ClientAuthentication.None;
    private SecureSuite[] acceptedSuites = [SecureSuite.ChaChaPolyBlake2b, SecureSuite.AesGcmSha256];
    private TimeSpan handshakeMessageTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long the server waits for each client message after the first flight (specs/PROTOCOL.md [S4] and [S6]):
    /// message 3 of XX, and, where the server writes the last handshake message (NK, NX, IK), the client's first
    /// authenticated record, which shows it holds its ephemeral key. Default 2 s; always within
    /// <see cref="SecureConnectionOptions.HandshakeTimeout"/>. <see cref="Timeout.InfiniteTimeSpan"/> leaves only the
    /// handshake timeout (which then also bounds the wait for the first record).
    /// </summary>
    /// <exception cref="HybridProtocolException">InvalidArgument when zero or negative (other than infinite).</exception>
    public TimeSpan HandshakeMessageTimeout
    {
        get => handshakeMessageTimeout;
        set => handshakeMessageTimeout = PositiveOrInfinite(value, nameof(HandshakeMessageTimeout));
    }

    /// <summary>
    /// The server's static key, the one clients pin or record: an X25519 key (the Noise DH key; keys of other
    /// algorithms serve only sealed files). Required (or <see cref="ServerKeys"/>). Setting it replaces
    /// <see cref="ServerKeys"/> with this one key; reading it gives the current key (the first of <see cref="ServerKeys"/>).
    /// Not disposed by connections or listeners.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when set to null.</exception>
    /// <exception cref="ArgumentException">The key is not an X25519 key (P-256, ML-KEM-768, X-Wing...): no connection could use it.</exception>
    public PrivateKey? ServerKey
    {
        get => identity.Keys.Length > 0 ? identity.Keys[0] : null;
        set
        {
            var key = value ?? throw Invalid("ServerKey cannot be null: load one with PrivateKey.Load or make one with PrivateKey.Generate.", nameof(ServerKey));
            CheckServerKey(key);
            identity = identity with { Keys = [key] };
        }
    }

    /// <summary>
    /// The server's static keys during a rotation (specs/PROTOCOL.md §6a): the first is the current key (the one NX/XX
    /// handshakes present); a client that pinned any of them (NK/IK) is served with that one. With
    /// <see cref="AnnounceServerKeys"/> each connection announces the others with a proof of possession, so
    /// known-hosts clients record them before the switch. 1 to 4 X25519 keys; the list is copied, and a listener's
    /// new connections use the new list at once (assign a new list to rotate a running server).
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when null, empty, with more than 4 keys, or with a repeated key.</exception>
    /// <exception cref="ArgumentException">A key is not an X25519 key.</exception>
    public IReadOnlyList<PrivateKey> ServerKeys
    {
        get => identity.Keys;
        set => identity = identity with { Keys = CheckServerKeys(value) };
    }

    /// <summary>The keys and the endorsement a new connection reads together, in one read.</summary>
    internal ServerIdentity Identity => identity;

    /// <summary>
    /// Replaces the keys and the endorsement at once (a reload): a handshake starting meanwhile reads either the old
    /// pair or the new one, never the new keys with the old endorsement.
    /// </summary>
    internal void Replace(IReadOnlyList<PrivateKey> keys, ServerEndorsement? endorsement) => identity = new(CheckServerKeys(keys), endorsement);

    private static PrivateKey[] CheckServerKeys(IReadOnlyList<PrivateKey> value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var keys = value.ToArray();
        if (keys.Length == 0 || keys.Length > Core.Wire.ConfigDefaults.MaxServerKeys)
        {
            throw Invalid($"ServerKeys must hold 1 to {Core.Wire.ConfigDefaults.MaxServerKeys} keys (it holds {keys.Length}).", nameof(ServerKeys));
        }

        foreach (var key in keys)
        {
            CheckServerKey(key ?? throw Invalid("ServerKeys cannot hold null.", nameof(ServerKeys)));
        }

        if (keys.Select(k => k.PublicKey).Distinct().Count() != keys.Length)
        {
            throw Invalid("ServerKeys holds the same key twice.", nameof(ServerKeys));
        }

        return keys;
    }

    /// <summary>
    /// Whether a server holding several <see cref="ServerKeys"/> announces the ones a handshake did not use, each with a
    /// proof bound to that connection (specs/PROTOCOL.md §6a); default true. Clients of earlier versions skip it.
    /// </summary>
    public bool AnnounceServerKeys { get; set; } = true;

    private static void CheckServerKey(PrivateKey key)
    {
        if (key.Algorithm != KeyAlgorithm.X25519)
        {
            throw new ArgumentException(
                $"ServerKey must be an X25519 key, not {KeyAlgorithms.Name(key.Algorithm)}: connections use X25519 (Noise DH); keys of other algorithms are for sealed files. Make one with PrivateKey.Generate().",
                "value");
        }
    }

    /// <summary>
    /// The authority's endorsement of <see cref="ServerKey"/>, sent inside the encrypted handshake to clients that trust
    /// the authority (<see cref="ServerAuthentication.Authority"/>, a known-hosts <c>@authority</c> line); null (the
    /// default) sends none. Load one with <see cref="ServerEndorsement.Load"/>. Checked against the key when a connection
    /// starts: an endorsement of another key fails the handshake with InvalidArgument.
    /// </summary>
    public ServerEndorsement? Endorsement
    {
        get => identity.Endorsement;
        set => identity = identity with { Endorsement = value };
    }

    /// <summary>Whether and how clients must prove a key; default <see cref="ClientAuthentication.None"/>.</summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when set to null.</exception>
    public ClientAuthentication ClientAuthentication
    {
        get => clientAuthentication;
        set => clientAuthentication = value ?? throw Invalid("ClientAuthentication cannot be null; use ClientAuthentication.None.", nameof(ClientAuthentication));
    }

    /// <summary>The suites this server accepts; default ChaChaPoly/BLAKE2b and AES-GCM/SHA-256. The list is copied.</summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when empty or holding a value outside the enum.</exception>
    public IReadOnlyList<SecureSuite> AcceptedSuites
    {
        get => acceptedSuites;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.Count == 0)
            {
                throw Invalid("AcceptedSuites must name at least one suite.", nameof(AcceptedSuites));
            }

            foreach (var s in value)
            {
                SecureSuites.Check(s, nameof(AcceptedSuites));
            }

            acceptedSuites = value.Distinct().ToArray();
        }
    }
}

/// <summary>
/// One handshake's secrets fixed in advance (specs/vectors, session vectors): the X25519 ephemeral private key (32
/// bytes), the ML-KEM seed d || z of Noise HFS "e1" (64 bytes, client) and the encapsulation randomness of "ekem1"
/// (32 bytes, server). Reusing them destroys forward secrecy; internal, for the tests only.
/// </summary>
internal sealed record FixedSecretsForTestVectorsOnly(byte[] Ephemeral, byte[]? KemSeed, byte[]? EncapsulationRandomness);

/// <summary>A server's keys (the current one first) and the endorsement of the current one, replaced together.</summary>
internal sealed record ServerIdentity(PrivateKey[] Keys, ServerEndorsement? Endorsement);
