using HybridProtocol.Core.Hpke;

namespace HybridProtocol;

/// <summary>
/// What the sender adds to the recipient's public key: the suite and the inputs that select the
/// RFC 9180 mode. No PSK and no sender key: base. PSK only: psk. Sender key only: auth. Both: auth_psk.
/// </summary>
public sealed class HpkeSenderOptions
{
    /// <summary>The cipher suite (default <see cref="HpkeSuite.Default"/>).</summary>
    public HpkeSuite Suite { get; init; } = HpkeSuite.Default;

    /// <summary>The pre-shared key (at least 32 bytes), or null. Requires <see cref="PskId"/>.</summary>
    public byte[]? Psk { get; init; }

    /// <summary>The PSK's identifier (non-empty), or null. Requires <see cref="Psk"/>.</summary>
    public byte[]? PskId { get; init; }

    /// <summary>The sender's static private key for the auth modes, or null. The caller keeps ownership.</summary>
    public PrivateKey? SenderPrivateKey { get; init; }

    /// <summary>The mode these options select.</summary>
    public HpkeMode Mode => (HpkeMode)ModeModule.value(ModeModule.select(Psk is not null || PskId is not null, SenderPrivateKey is not null));
}

/// <summary>
/// What the recipient needs besides its private key: the suite and the inputs of the sender's mode
/// (the same PSK and PSK id, and the sender's public key for the auth modes).
/// </summary>
public sealed class HpkeRecipientOptions
{
    /// <summary>The cipher suite (default <see cref="HpkeSuite.Default"/>).</summary>
    public HpkeSuite Suite { get; init; } = HpkeSuite.Default;

    /// <summary>The pre-shared key the sender used, or null.</summary>
    public byte[]? Psk { get; init; }

    /// <summary>The PSK's identifier the sender used, or null.</summary>
    public byte[]? PskId { get; init; }

    /// <summary>The sender's static public key for the auth modes, or null.</summary>
    public PublicKey? SenderPublicKey { get; init; }

    /// <summary>The mode these options select.</summary>
    public HpkeMode Mode => (HpkeMode)ModeModule.value(ModeModule.select(Psk is not null || PskId is not null, SenderPublicKey is not null));
}
