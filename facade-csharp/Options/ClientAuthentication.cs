namespace HybridProtocol;

/// <summary>
/// Whether and how a server takes its clients' keys. With <see cref="None"/> (the default) the server takes no client
/// keys: it accepts only patterns in which the client proves no key (NK, NX) and refuses XX and IK with
/// <see cref="HybridRefusalCode.UnsupportedPattern"/>, so an unauthenticated client cannot make it run a longer
/// handshake for nothing. With <see cref="Optional"/> clients may stay anonymous or prove a key, which the callback
/// checks and <see cref="SecureConnection.RemotePublicKey"/> exposes. With <see cref="AllowList"/> or
/// <see cref="Callback(Func{PublicKey, bool})"/> the server accepts only patterns in which the client proves a static
/// key (XX, IK) and refuses keys not allowed with <see cref="HybridErrorCode.AuthenticationFailed"/>.
/// </summary>
public sealed class ClientAuthentication
{
    private ClientAuthentication(Core.Wire.ClientKeys mode, HashSet<PublicKey>? allowed, Func<ClientKeyValidationContext, CancellationToken, ValueTask<bool>>? verify, PublicKey[]? revoked = null)
    {
        Mode = mode;
        Allowed = allowed;
        Verify = verify;
        RevokedKeys = revoked ?? [];
    }

    /// <summary>The server takes no client keys: a client asking to prove one (XX, IK) is refused.</summary>
    public static ClientAuthentication None { get; } = new(Core.Wire.ClientKeys.NotAccepted, null, null);

    /// <summary>Whether clients must prove a static key.</summary>
    public bool IsRequired => Mode.IsRequired;

    /// <summary>Whether the server takes client keys at all (<see cref="Optional"/>, <see cref="AllowList"/>, <see cref="Callback(Func{PublicKey, bool})"/>).</summary>
    public bool AcceptsClientKeys => !Mode.IsNotAccepted;

    /// <summary>The core's choice (specs/PROTOCOL.md §3): no client keys, optional, or required.</summary>
    internal Core.Wire.ClientKeys Mode { get; }

    /// <summary>Client keys refused with <see cref="HybridErrorCode.KeyRevoked"/>, even if allowed.</summary>
    public IReadOnlyList<PublicKey> RevokedKeys { get; }

    internal HashSet<PublicKey>? Allowed { get; }

    internal Func<ClientKeyValidationContext, CancellationToken, ValueTask<bool>>? Verify { get; }

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

        return new(Core.Wire.ClientKeys.Required, set, null);
    }

    /// <summary>
    /// The caller decides: <paramref name="verify"/> gets the key the client proved and returns true to accept it.
    /// A false answer or an exception refuses the client with <see cref="HybridErrorCode.AuthenticationFailed"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="verify"/> is null.</exception>
    public static ClientAuthentication Callback(Func<PublicKey, bool> verify)
    {
        ArgumentNullException.ThrowIfNull(verify);
        return new(Core.Wire.ClientKeys.Required, null, (context, _) => ValueTask.FromResult(verify(context.Key)));
    }

    /// <summary>
    /// The caller decides, with the context and asynchronously: <paramref name="verify"/> gets the client's key and
    /// address and the handshake's cancellation token. False or an exception refuses the client with
    /// <see cref="HybridErrorCode.AuthenticationFailed"/>.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="verify"/> is null.</exception>
    public static ClientAuthentication Callback(Func<ClientKeyValidationContext, CancellationToken, ValueTask<bool>> verify)
    {
        ArgumentNullException.ThrowIfNull(verify);
        return new(Core.Wire.ClientKeys.Required, null, verify);
    }

    /// <summary>
    /// Clients may stay anonymous (NK, NX) or prove a key (XX, IK): <paramref name="verify"/> gets the key a client
    /// proved and returns true to accept it (a false answer or an exception refuses the client with
    /// <see cref="HybridErrorCode.AuthenticationFailed"/>); anonymous clients are accepted without a call.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="verify"/> is null.</exception>
    public static ClientAuthentication Optional(Func<PublicKey, bool> verify)
    {
        ArgumentNullException.ThrowIfNull(verify);
        return new(Core.Wire.ClientKeys.Optional, null, (context, _) => ValueTask.FromResult(verify(context.Key)));
    }

    /// <summary>
    /// A copy that refuses these client keys with <see cref="HybridErrorCode.KeyRevoked"/>, even if the allow-list or
    /// the callback would accept them (a leaked client key).
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="keys"/> or one of its items is null.</exception>
    public ClientAuthentication WithRevokedKeys(params PublicKey[] keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        foreach (var key in keys)
        {
            ArgumentNullException.ThrowIfNull(key, nameof(keys));
        }

        return new(Mode, Allowed, Verify, RevokedKeys.Concat(keys).Distinct().ToArray());
    }

    /// <summary>
    /// The check of the key a client proved: null to accept it, else the exception that fails the handshake. The
    /// decision over the allow-list and the revoked keys is the core's (<c>KeySet.decideBytes</c>).
    /// </summary>
    internal async ValueTask<HybridAuthenticationException?> CheckAsync(PublicKey key, System.Net.EndPoint? remote, CancellationToken cancellationToken)
    {
        var decision = Core.Wire.KeySet.decideBytes(
            Allowed?.Select(k => k.RawBytes.ToArray()) ?? [],
            RevokedKeys.Select(k => k.RawBytes.ToArray()),
            key.RawBytes.ToArray());
        if (decision.IsKeyRevoked)
        {
            return new(HybridErrorCode.KeyRevoked, $"The client's key {key.Fingerprint} is revoked (ClientAuthentication.WithRevokedKeys); the connection was refused. The client must use its new key.");
        }

        return Allowed is not null ? (decision.IsInSet ? null : new(HybridErrorCode.AuthenticationFailed, $"The client's key {key.Fingerprint} is not on the allow-list; the connection was refused. Add the key to ClientAuthentication.AllowList to accept it."))
            : Verify is not null ? await ServerAuthentication.AskAsync(Verify, new ClientKeyValidationContext(key, remote), cancellationToken, $"The client's key {key.Fingerprint} was refused by the ClientAuthentication callback.").ConfigureAwait(false)
            : null;
    }

    /// <summary>A short description for logs.</summary>
    public override string ToString() =>
        Allowed is not null ? $"allow-list of {Allowed.Count} client key(s)" : Verify is not null ? "caller's callback" : "none";
}

/// <summary>What a client-key validation callback gets (<see cref="ClientAuthentication.Callback(Func{ClientKeyValidationContext, CancellationToken, ValueTask{bool}})"/>).</summary>
/// <param name="Key">The key the client proved in the handshake.</param>
/// <param name="RemoteEndPoint">The client's address (as a trusted PROXY header named it, when there is one), if known.</param>
public sealed record ClientKeyValidationContext(PublicKey Key, System.Net.EndPoint? RemoteEndPoint);
