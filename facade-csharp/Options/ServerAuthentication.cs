namespace HybridProtocol;

/// <summary>
/// How a client decides that it talks to the right server. There is no default and no silent skip: a client
/// must choose one. <see cref="Pinned"/> is the strongest (the key is known in advance); <see cref="KnownHosts"/>
/// trusts the first key it sees for a host and refuses a changed one later, as OpenSSH does;
/// <see cref="Callback"/> leaves the decision to the caller; <see cref="DangerousAcceptAnyServerKey"/> checks nothing.
/// </summary>
public sealed class ServerAuthentication
{
    private ServerAuthentication(ServerAuthenticationMode mode, PublicKey? pinnedKey, HybridProtocol.KnownHosts? store, Func<PublicKey, bool>? verify)
    {
        Mode = mode;
        PinnedKey = pinnedKey;
        Store = store;
        Verify = verify;
    }

    /// <summary>Which kind of check this is.</summary>
    public ServerAuthenticationMode Mode { get; }

    /// <summary>The pinned key (<see cref="ServerAuthenticationMode.Pinned"/> only).</summary>
    public PublicKey? PinnedKey { get; }

    internal HybridProtocol.KnownHosts? Store { get; }

    internal Func<PublicKey, bool>? Verify { get; }

    /// <summary>The trusted authorities (<see cref="ServerAuthenticationMode.Authority"/> only; empty otherwise).</summary>
    public IReadOnlyList<AuthorityKey> Authorities { get; private init; } = [];

    /// <summary>Authority keys refused even when trusted (<see cref="ServerAuthenticationMode.Authority"/> only).</summary>
    public IReadOnlyList<AuthorityKey> RevokedAuthorities { get; private init; } = [];

    /// <summary>Server keys refused even when endorsed (<see cref="ServerAuthenticationMode.Authority"/> only).</summary>
    public IReadOnlyList<PublicKey> RevokedServerKeys { get; private init; } = [];

    internal TimeProvider Clock { get; private init; } = TimeProvider.System;

    /// <summary>
    /// A fleet authority vouches for the server (pattern NX, or XX when the client has an identity): the server sends an
    /// endorsement of its key signed by one of <paramref name="authorities"/> inside the encrypted handshake, and the
    /// client accepts the key the handshake authenticated only if the endorsement names that key, covers the host and
    /// port connected to, is valid now, and neither key is revoked. Refusals: <see cref="HybridErrorCode.EndorsementMissing"/>,
    /// <see cref="HybridErrorCode.BadEndorsement"/>, <see cref="HybridErrorCode.UnknownAuthority"/>,
    /// <see cref="HybridErrorCode.EndorsementKeyMismatch"/>, <see cref="HybridErrorCode.EndorsementRevoked"/>,
    /// <see cref="HybridErrorCode.EndorsementNotYetValid"/>, <see cref="HybridErrorCode.EndorsementExpired"/>,
    /// <see cref="HybridErrorCode.EndorsementWrongHost"/> (specs/PROTOCOL.md §6a).
    /// </summary>
    /// <param name="authorities">One or more trusted authority keys (copied).</param>
    /// <param name="revokedServerKeys">Server keys to refuse even when endorsed.</param>
    /// <param name="revokedAuthorities">Authority keys to refuse even when listed in <paramref name="authorities"/>.</param>
    /// <param name="clock">The clock validity windows are checked against; default <see cref="TimeProvider.System"/> (tests inject one).</param>
    /// <exception cref="ArgumentNullException"><paramref name="authorities"/> is null.</exception>
    /// <exception cref="HybridArgumentException">InvalidArgument when no authority is given.</exception>
    public static ServerAuthentication Authority(
        IEnumerable<AuthorityKey> authorities,
        IEnumerable<PublicKey>? revokedServerKeys = null,
        IEnumerable<AuthorityKey>? revokedAuthorities = null,
        TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(authorities);
        var list = authorities.ToArray();
        if (list.Length == 0 || list.Any(a => a is null))
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, "ServerAuthentication.Authority needs at least one authority key (and no null).");
        }

        return new(ServerAuthenticationMode.Authority, null, null, null)
        {
            Authorities = list,
            RevokedServerKeys = revokedServerKeys?.ToArray() ?? [],
            RevokedAuthorities = revokedAuthorities?.ToArray() ?? [],
            Clock = clock ?? TimeProvider.System,
        };
    }

    /// <summary>
    /// The server's public key is known in advance. The client encrypts its first handshake message to that key
    /// (pattern NK, or IK when the client has an identity), so only the holder of the private key can answer.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="serverKey"/> is null.</exception>
    public static ServerAuthentication Pinned(PublicKey serverKey)
    {
        ArgumentNullException.ThrowIfNull(serverKey);
        return new(ServerAuthenticationMode.Pinned, serverKey, null, null);
    }

    /// <summary>
    /// Trust on first use with a known-hosts store (pattern NX, or XX when the client has an identity): the first key
    /// a HOST:PORT presents is recorded; later a different key is refused with
    /// <see cref="HybridErrorCode.ServerKeyChanged"/>, naming both fingerprints. The first connection to a host is
    /// only as safe as the network it runs over; pin the key where you can.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="store"/> is null.</exception>
    public static ServerAuthentication KnownHosts(HybridProtocol.KnownHosts store)
    {
        ArgumentNullException.ThrowIfNull(store);
        return new(ServerAuthenticationMode.KnownHosts, null, store, null);
    }

    /// <summary>
    /// <see cref="KnownHosts(HybridProtocol.KnownHosts)"/> with the store at <paramref name="path"/>, a file the
    /// application chooses (there is no default: an application keeps its own trust). To share the trust of the
    /// <c>hybrid</c> command-line tool, pass <see cref="HybridProtocol.KnownHosts.GetDefaultPath"/>. The file is checked now.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="path"/> is null.</exception>
    /// <exception cref="HybridArgumentException">InvalidKey when the file is malformed; InvalidArgument when it cannot be read.</exception>
    public static ServerAuthentication KnownHostsFile(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        return KnownHosts(HybridProtocol.KnownHosts.Load(path));
    }

    /// <summary>
    /// The caller decides (pattern NX, or XX with a client identity): <paramref name="verify"/> gets the key the server
    /// proved during the handshake and returns true to accept it. A false answer, or an exception, fails the
    /// connection with <see cref="HybridErrorCode.AuthenticationFailed"/> before any message is exchanged.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="verify"/> is null.</exception>
    public static ServerAuthentication Callback(Func<PublicKey, bool> verify)
    {
        ArgumentNullException.ThrowIfNull(verify);
        return new(ServerAuthenticationMode.Callback, null, null, verify);
    }

    /// <summary>
    /// DANGEROUS: accepts whatever key the server presents, without any check. The connection is encrypted but not
    /// authenticated: anyone on the network path can sit in the middle, read and change everything. For experiments
    /// and tests only; never in production.
    /// </summary>
    public static ServerAuthentication DangerousAcceptAnyServerKey() => new(ServerAuthenticationMode.DangerousAcceptAny, null, null, null);

    /// <summary>
    /// The check of the key the server proved: null to accept it, else the exception that fails the handshake.
    /// <paramref name="host"/> and <paramref name="port"/> are the known-hosts entry (<see cref="ServerAuthenticationMode.KnownHosts"/>).
    /// </summary>
    internal HybridAuthenticationException? Check(PublicKey key, string? host, int port)
    {
        switch (Mode)
        {
            case ServerAuthenticationMode.KnownHosts:
                var result = Store!.Verify(host!, port, key);
                return result.Status == KnownHostStatus.Changed && result.RecordedKey is not null
                    ? HybridProtocol.KnownHosts.ServerKeyChangedException(result.Host, result.Port, result.RecordedKey, key, result.Path, result.RecordedLine)
                    : null;
            case ServerAuthenticationMode.Callback:
                return Ask(Verify!, key, $"The server's key {key.Fingerprint} was refused by the ServerAuthentication callback; the connection was closed.");
            case ServerAuthenticationMode.DangerousAcceptAny:
                return null;
            case ServerAuthenticationMode.Authority:
                // The core decided already (EndorsementCheck.decide with Required): it never asks in this mode.
                return new(HybridErrorCode.EndorsementMissing, $"The server proved {key.Fingerprint} without an endorsement from a trusted authority.");
            default:
                return new(HybridErrorCode.AuthenticationFailed, $"The server proved {key.Fingerprint}, not the pinned key {PinnedKey}.");
        }
    }

    /// <summary>A callback's verdict: null when it accepts the key; a refusal when it says no or throws.</summary>
    internal static HybridAuthenticationException? Ask(Func<PublicKey, bool> callback, PublicKey key, string refusal)
    {
        try
        {
            return callback(key) ? null : new HybridAuthenticationException(HybridErrorCode.AuthenticationFailed, refusal);
        }
        catch (Exception e)
        {
            return new HybridAuthenticationException(HybridErrorCode.AuthenticationFailed, refusal + " (The callback threw: " + e.Message + ")", e);
        }
    }

    /// <summary>A short description for logs.</summary>
    public override string ToString() => Mode switch
    {
        ServerAuthenticationMode.Pinned => $"pinned server key {PinnedKey}",
        ServerAuthenticationMode.KnownHosts => $"known hosts ({Store!.Path})",
        ServerAuthenticationMode.Callback => "caller's callback",
        ServerAuthenticationMode.Authority => $"authority {string.Join(", ", Authorities)}",
        _ => "DANGEROUS: any server key accepted",
    };
}

/// <summary>The kinds of <see cref="ServerAuthentication"/>.</summary>
public enum ServerAuthenticationMode
{
    /// <summary>The server's key is known in advance.</summary>
    Pinned,

    /// <summary>Trust on first use with a known-hosts file.</summary>
    KnownHosts,

    /// <summary>The caller's callback decides.</summary>
    Callback,

    /// <summary>No check at all (man in the middle possible).</summary>
    DangerousAcceptAny,

    /// <summary>A trusted fleet authority endorses the server's key.</summary>
    Authority,
}

/// <summary>
/// Whether and how a server checks its clients' keys. With <see cref="None"/> clients may stay anonymous (a client
/// that proves a key anyway is accepted and its key is available as <see cref="SecureConnection.RemotePublicKey"/>);
/// with <see cref="AllowList"/> or <see cref="Callback"/> the server accepts only patterns in which the client proves a
/// static key (XX, IK) and refuses keys not allowed with <see cref="HybridErrorCode.AuthenticationFailed"/>.
/// </summary>
public sealed class ClientAuthentication
{
    private ClientAuthentication(HashSet<PublicKey>? allowed, Func<PublicKey, bool>? verify)
    {
        Allowed = allowed;
        Verify = verify;
    }

    /// <summary>Clients need not prove a key.</summary>
    public static ClientAuthentication None { get; } = new(null, null);

    /// <summary>Whether clients must prove a static key.</summary>
    public bool IsRequired => Allowed is not null || Verify is not null;

    internal HashSet<PublicKey>? Allowed { get; }

    internal Func<PublicKey, bool>? Verify { get; }

    /// <summary>Only clients proving one of these keys are accepted.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="keys"/> or one of its items is null.</exception>
    public static ClientAuthentication AllowList(IEnumerable<PublicKey> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        var set = new HashSet<PublicKey>();
        foreach (var key in keys)
        {
            ArgumentNullException.ThrowIfNull(key, nameof(keys));
            set.Add(key);
        }

        return new(set, null);
    }

    /// <summary>
    /// The caller decides: <paramref name="verify"/> gets the key the client proved and returns true to accept it.
    /// A false answer or an exception refuses the client with <see cref="HybridErrorCode.AuthenticationFailed"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="verify"/> is null.</exception>
    public static ClientAuthentication Callback(Func<PublicKey, bool> verify)
    {
        ArgumentNullException.ThrowIfNull(verify);
        return new(null, verify);
    }

    /// <summary>The check of the key a client proved: null to accept it, else the exception that fails the handshake.</summary>
    internal HybridAuthenticationException? Check(PublicKey key) =>
        Allowed is not null ? (Allowed.Contains(key) ? null : new(HybridErrorCode.AuthenticationFailed, $"The client's key {key.Fingerprint} is not on the allow-list; the connection was refused. Add the key to ClientAuthentication.AllowList to accept it."))
        : Verify is not null ? ServerAuthentication.Ask(Verify, key, $"The client's key {key.Fingerprint} was refused by the ClientAuthentication callback.")
        : null;

    /// <summary>A short description for logs.</summary>
    public override string ToString() =>
        Allowed is not null ? $"allow-list of {Allowed.Count} client key(s)" : Verify is not null ? "caller's callback" : "none";
}
