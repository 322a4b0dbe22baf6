using HybridProtocol.Core.Hpke;
using HybridProtocol.Crypto;

namespace HybridProtocol;

/// <summary>RFC 9180 §5 Table 1: the four HPKE modes. The value is the mode's identifier.</summary>
public enum HpkeMode
{
    /// <summary>mode_base: encryption to a public key, sender anonymous.</summary>
    Base = 0,

    /// <summary>mode_psk: the sender also proves knowledge of a pre-shared key.</summary>
    Psk = 1,

    /// <summary>mode_auth: the sender also proves possession of its static private key.</summary>
    Auth = 2,

    /// <summary>mode_auth_psk: both a pre-shared key and the sender's static key.</summary>
    AuthPsk = 3,
}

/// <summary>RFC 9180 §7.1 KEM identifiers supported here.</summary>
public enum HpkeKem
{
    /// <summary>DHKEM(X25519, HKDF-SHA256), 0x0020.</summary>
    X25519HkdfSha256 = 0x0020,
}

/// <summary>RFC 9180 §7.2 KDF identifiers supported here.</summary>
public enum HpkeKdf
{
    /// <summary>HKDF-SHA256, 0x0001.</summary>
    HkdfSha256 = 0x0001,

    /// <summary>HKDF-SHA512, 0x0003.</summary>
    HkdfSha512 = 0x0003,
}

/// <summary>RFC 9180 §7.3 AEAD identifiers supported here.</summary>
public enum HpkeAead
{
    /// <summary>AES-256-GCM, 0x0002 (needs AES hardware support; see <see cref="HpkeSuite.IsSupported"/>).</summary>
    Aes256Gcm = 0x0002,

    /// <summary>ChaCha20Poly1305, 0x0003.</summary>
    ChaCha20Poly1305 = 0x0003,

    /// <summary>Export-only, 0xFFFF: the context can only <c>Export</c> secrets; Seal and Open throw.</summary>
    ExportOnly = 0xFFFF,
}

/// <summary>An HPKE cipher suite: one KEM, one KDF and one AEAD (RFC 9180 §7).</summary>
/// <param name="Kem">The key encapsulation mechanism.</param>
/// <param name="Kdf">The key derivation function of the key schedule.</param>
/// <param name="Aead">The AEAD that seals messages.</param>
public readonly record struct HpkeSuite(HpkeKem Kem, HpkeKdf Kdf, HpkeAead Aead)
{
    /// <summary>DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, ChaCha20Poly1305: fast everywhere, no AES hardware needed.</summary>
    public static HpkeSuite Default { get; } = new(HpkeKem.X25519HkdfSha256, HpkeKdf.HkdfSha256, HpkeAead.ChaCha20Poly1305);

    /// <summary>Whether this machine can run the suite (AES-256-GCM needs AES hardware support in libsodium).</summary>
    public bool IsSupported =>
        Enum.IsDefined(Kem) && Enum.IsDefined(Kdf) && Enum.IsDefined(Aead)
        && (Aead != HpkeAead.Aes256Gcm || NSec.Cryptography.Aes256Gcm.IsSupported);

    /// <summary>The core suite with NSec's crypto records; throws Unsupported for unknown identifiers.</summary>
    internal Suite ToCore()
    {
        if (!IsSupported)
        {
            throw new HybridProtocolException(
                HybridErrorCode.Unsupported,
                $"HPKE suite (KEM 0x{(int)Kem:x4}, KDF 0x{(int)Kdf:x4}, AEAD 0x{(int)Aead:x4}) is not supported here. Use HpkeSuite.Default.");
        }

        var kem = Core.Hpke.Kem.NewDhkemX25519HkdfSha256(NSecSuite.X25519, NSecSuite.Sha256);
        var kdf = Kdf == HpkeKdf.HkdfSha256
            ? Core.Hpke.Kdf.NewHkdfSha256(NSecSuite.Sha256)
            : Core.Hpke.Kdf.NewHkdfSha512(NSecSuite.Sha512);
        var aead = Aead switch
        {
            HpkeAead.Aes256Gcm => Core.Hpke.Aead.NewAes256Gcm(NSecSuite.AesGcm),
            HpkeAead.ChaCha20Poly1305 => Core.Hpke.Aead.NewChaCha20Poly1305(NSecSuite.ChaChaPoly),
            _ => Core.Hpke.Aead.ExportOnly,
        };
        return HpkeErrors.Check(Suite.Create(kem, kdf, aead));
    }

    /// <summary>The suite with these registered identifiers (as read from a sealed-file header).</summary>
    internal static HpkeSuite FromIds(ushort kem, ushort kdf, ushort aead) => new((HpkeKem)kem, (HpkeKdf)kdf, (HpkeAead)aead);
}
