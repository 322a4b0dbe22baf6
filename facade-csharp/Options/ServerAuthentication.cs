namespace HybridProtocol;

/// <summary>
/// How a client decides that it talks to the right server. There is no default and no silent skip: a client
/// must choose one. <see cref="Pinned(PublicKey)"/> is the strongest (the key is known in advance); <see cref="KnownHosts"/>
/// trusts the first key it sees for a host and refuses a changed one later, as OpenSSH does;
/// <see cref="Callback(Func{PublicKey, bool})"/> leaves the decision to the caller; <see cref="DangerousAcceptAnyServerKey"/> checks nothing.
/// </summary>
public sealed class ServerAuthentication
{
    private ServerAuthentication(
        ServerAuthenticationMode mode,
        PublicKey[] pinnedKeys,
        HybridProtocol.KnownHosts? store,
        Func<ServerKeyValidationContext, CancellationToken, ValueTask<bool>>? verify,
        PublicKey[]? revokedKeys = null)
    {
        Mode = mode;
        PinnedKeys = pinnedKeys;
        Store = store;
        Verify = verify;
        RevokedKeys = revokedKeys ?? [];
    }

    /// <summary>Which kind of check this is.</summary>
    public ServerAuthenticationMode Mode { get; }

    /// <summary>The pinned key, the first of <see cref="PinnedKeys"/> (<see cref="ServerAuthenticationMode.Pinned"/> only).</summary>
    public PublicKey? PinnedKey => PinnedKeys.Count > 0 ? PinnedKeys[0] : null;

    /// <summary>The pinned set (<see cref="ServerAuthenticationMode.Pinned"/> only): any of these keys is the server.</summary>
    public IReadOnlyList<PublicKey> PinnedKeys { get; }

    /// <summary>Server keys refused with <see cref="HybridErrorCode.KeyRevoked"/> whatever else trusts them.</summary>
    public IReadOnlyList<PublicKey> RevokedKeys { get; }

    internal HybridProtocol.KnownHosts? Store { get; }

    internal Func<ServerKeyValidationContext, CancellationToken, ValueTask<bool>>? Verify { get; }

    /// <summary>The trusted authorities (<see cref="ServerAuthenticationMode.Authority"/> only; empty otherwise).</summary>
    public IReadOnlyList<AuthorityKey> Authorities { get; private init; } = [];

    /// <summary>Authority keys refused even when trusted (<see cref="ServerAuthenticationMode.Authority"/> only).</summary>
    public IReadOnlyList<AuthorityKey> RevokedAuthorities { get; private init; } = [];

    internal TimeProvider Clock { get; private init; } = TimeProvider.System;

    /// <summary>
    /// A fleet authority vouches for the server (pattern NX, or XX when the client has an identity): the server sends an
    /// endorsement of its key signed by one of <paramref name="authorities"/> inside the encrypted handshake, and the
    /// client accepts the key the handshake authenticated only if the endorsement names that key, covers the host and
    /// port connected to, is valid now, and neither key is revoked. Refusals: <see cref="HybridErrorCode.EndorsementMissing"/>,
    /// <see cref="HybridErrorCode.BadEndorsement"/>, <see cref="HybridErrorCode.UnknownAuthority"/>,
    /// <see cref="HybridErrorCode.EndorsementKeyMismatch"/>, <see cref="HybridErrorCode.EndorsementRevoked"/>,
    /// <see cref="HybridErrorCode.EndorsementNotYetValid"/>, <see cref="HybridErrorCode.EndorsementExpired"/>,
    /// <see cref="HybridErrorCode.EndorsementWrongHost"/> (specs/PROTOCOL.md §6b).
    /// </summary>
    /// <param name="authorities">One or more trusted authority keys (copied).</param>
    /// <param name="revokedServerKeys">Server keys to refuse even when endorsed (<see cref="RevokedKeys"/>; refused with <see cref="HybridErrorCode.KeyRevoked"/>).</param>
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

        return new(ServerAuthenticationMode.Authority, [], null, null, revokedServerKeys?.ToArray())
        {
            Authorities = list,
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
        return new(ServerAuthenticationMode.Pinned, [serverKey], null, null);
    }

    /// <summary>
    /// A pinned set (specs/PROTOCOL.md §6a): the server is whoever proves any of these keys, so a server can rotate
    /// from one to another without redeploying its clients. One key is <see cref="Pinned(PublicKey)"/> (NK/IK); with
    /// several the server presents its key in the handshake (pattern NX, or XX with a client identity) and the client
    /// accepts it only if it is in the set.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="serverKeys"/> or one of its items is null.</exception>
    /// <exception cref="HybridArgumentException">InvalidArgument when no key is given.</exception>
    public static ServerAuthentication Pinned(params PublicKey[] serverKeys)
    {
        ArgumentNullException.ThrowIfNull(serverKeys);
        if (serverKeys.Length == 0)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, "ServerAuthentication.Pinned needs at least one key.");
        }

        foreach (var key in serverKeys)
        {
            ArgumentNullException.ThrowIfNull(key, nameof(serverKeys));
        }

        return new(ServerAuthenticationMode.Pinned, serverKeys.Distinct().ToArray(), null, null);
    }

    /// <summary>
    /// A copy that refuses these server keys with <see cref="HybridErrorCode.KeyRevoked"/>, even where the pinned set,
    /// the known-hosts file or the callback would accept them (a leaked key). Revoking the only pinned key of a
    /// one-key pin fails every connection with InvalidArgument: pin the new key.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="keys"/> or one of its items is null.</exception>
    public ServerAuthentication WithRevokedKeys(params PublicKey[] keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        foreach (var key in keys)
        {
            ArgumentNullException.ThrowIfNull(key, nameof(keys));
        }

        return new(Mode, PinnedKeys.ToArray(), Store, Verify, RevokedKeys.Concat(keys).Distinct().ToArray())
        {
            Authorities = Authorities,
            RevokedAuthorities = RevokedAuthorities,
            Clock = Clock,
        };
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
        return new(ServerAuthenticationMode.KnownHosts, [], store, null);
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
        return new(ServerAuthenticationMode.Callback, [], null, (context, _) => ValueTask.FromResult(verify(context.Key)));
    }

    /// <summary>
    /// The caller decides, with the context it needs and asynchronously (as SslStream's certificate validation can):
    /// <paramref name="verify"/> gets the server's host and port and the key it proved, and the handshake's
    /// cancellation token (bounded by the handshake timeout). False, or an exception, fails the connection with
    /// <see cref="HybridErrorCode.AuthenticationFailed"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="verify"/> is null.</exception>
    public static ServerAuthentication Callback(Func<ServerKeyValidationContext, CancellationToken, ValueTask<bool>> verify)
    {
        ArgumentNullException.ThrowIfNull(verify);
        return new(ServerAuthenticationMode.Callback, [], null, verify);
    }

    /// <summary>
    /// DANGEROUS: accepts whatever key the server presents, without any check. The connection is encrypted but not
    /// authenticated: anyone on the network path can sit in the middle, read and change everything. For experiments
    /// and tests only; never in production.
    /// </summary>
    public static ServerAuthentication DangerousAcceptAnyServerKey() => new(ServerAuthenticationMode.DangerousAcceptAny, [], null, null);

    /// <summary>
    /// The check of the key the server proved: null to accept it, else the exception that fails the handshake.
    /// <paramref name="host"/> and <paramref name="port"/> are the server's (the known-hosts entry). Revoked keys never
    /// get here: the core refuses them first (<see cref="RevokedKeys"/>).
    /// </summary>
    internal async ValueTask<HybridAuthenticationException?> CheckAsync(PublicKey key, string? host, int port, CancellationToken cancellationToken)
    {
        switch (Mode)
        {
            case ServerAuthenticationMode.KnownHosts:
                var result = Store!.Verify(host!, port, key);
                return result.Status switch
                {
                    KnownHostStatus.Changed when result.RecordedKey is not null => HybridProtocol.KnownHosts.ServerKeyChangedException(result.Host, result.Port, result.RecordedKey, key, result.Path, result.RecordedLine),
                    KnownHostStatus.Revoked => new(HybridErrorCode.KeyRevoked, $"The server {Core.Formats.HostPortModule.format(result.Host, result.Port)} proved {key.Fingerprint}, which {result.Path} line {result.RecordedLine} revokes (@revoked); the connection was refused. The server must switch to its current key; if the revocation is a mistake, delete that line."),
                    _ => null,
                };
            case ServerAuthenticationMode.Callback:
                return await AskAsync(Verify!, new ServerKeyValidationContext(host, port, key), cancellationToken, $"The server's key {key.Fingerprint} was refused by the ServerAuthentication callback; the connection was closed.").ConfigureAwait(false);
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
    internal static async ValueTask<HybridAuthenticationException?> AskAsync<TContext>(Func<TContext, CancellationToken, ValueTask<bool>> callback, TContext context, CancellationToken cancellationToken, string refusal)
    {
        try
        {
            return await callback(context, cancellationToken).ConfigureAwait(false) ? null : new HybridAuthenticationException(HybridErrorCode.AuthenticationFailed, refusal);
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            return new HybridAuthenticationException(HybridErrorCode.AuthenticationFailed, refusal + " (The callback threw: " + e.Message + ")", e);
        }
    }

    /// <summary>A short description for logs.</summary>
    public override string ToString() => Mode switch
    {
        ServerAuthenticationMode.Pinned => PinnedKeys.Count == 1 ? $"pinned server key {PinnedKey}" : $"pinned set of {PinnedKeys.Count} server keys",
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

/// <summary>What a server-key validation callback gets (<see cref="ServerAuthentication.Callback(Func{ServerKeyValidationContext, CancellationToken, ValueTask{bool}})"/>).</summary>
/// <param name="Host">The server's host as the client named it (stored form), when the target was HOST:PORT.</param>
/// <param name="Port">The server's port (0 when unknown).</param>
/// <param name="Key">The key the server proved in the handshake.</param>
public sealed record ServerKeyValidationContext(string? Host, int Port, PublicKey Key);
