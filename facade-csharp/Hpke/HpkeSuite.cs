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

/// <summary>RFC 9180 §7.1 and draft-ietf-hpke-pq KEM identifiers supported here.</summary>
public enum HpkeKem
{
    /// <summary>DHKEM(P-256, HKDF-SHA256), 0x0010: enc and public keys 65 bytes.</summary>
    P256HkdfSha256 = 0x0010,

    /// <summary>DHKEM(P-384, HKDF-SHA384), 0x0011: enc and public keys 97 bytes.</summary>
    P384HkdfSha384 = 0x0011,

    /// <summary>DHKEM(P-521, HKDF-SHA512), 0x0012: enc and public keys 133 bytes.</summary>
    P521HkdfSha512 = 0x0012,

    /// <summary>DHKEM(X25519, HKDF-SHA256), 0x0020: enc and public keys 32 bytes.</summary>
    X25519HkdfSha256 = 0x0020,

    /// <summary>ML-KEM-768, 0x0041 (post-quantum; enc 1088 bytes, public keys 1184; no auth modes).</summary>
    MlKem768 = 0x0041,

    /// <summary>MLKEM768-X25519 = X-Wing, 0x647a (post-quantum hybrid; enc 1120 bytes, public keys 1216; no auth modes).</summary>
    XWing = 0x647A,

    /// <summary>
    /// DHKEM(X448, HKDF-SHA512), 0x0021: enc and public keys 56 bytes. Needs the HybridProtocol.Hpke.Extended package
    /// (<c>HpkeExtended.Register()</c>); see <see cref="HpkeSuite.IsSupported"/>.
    /// </summary>
    X448HkdfSha512 = 0x0021,

    /// <summary>
    /// ML-KEM-512, 0x0040 (post-quantum; enc 768 bytes, public keys 800; no auth modes). Needs HybridProtocol.Hpke.Extended.
    /// Prefer ML-KEM-768 or a hybrid (draft-ietf-hpke-pq §3).
    /// </summary>
    MlKem512 = 0x0040,

    /// <summary>ML-KEM-1024, 0x0042 (post-quantum; enc and public keys 1568 bytes; no auth modes). Needs HybridProtocol.Hpke.Extended.</summary>
    MlKem1024 = 0x0042,

    /// <summary>MLKEM768-P256, 0x0050 (post-quantum hybrid with P-256; enc 1153 bytes, public keys 1249; no auth modes).</summary>
    MlKem768P256 = 0x0050,

    /// <summary>
    /// MLKEM1024-P384, 0x0051 (post-quantum hybrid with P-384; enc and public keys 1665 bytes; no auth modes). Needs
    /// HybridProtocol.Hpke.Extended.
    /// </summary>
    MlKem1024P384 = 0x0051,
}

/// <summary>RFC 9180 §7.2 KDF identifiers supported here.</summary>
public enum HpkeKdf
{
    /// <summary>HKDF-SHA256, 0x0001.</summary>
    HkdfSha256 = 0x0001,

    /// <summary>HKDF-SHA384, 0x0002.</summary>
    HkdfSha384 = 0x0002,

    /// <summary>HKDF-SHA512, 0x0003.</summary>
    HkdfSha512 = 0x0003,

    /// <summary>SHAKE128, 0x0010, a single-stage KDF (draft-ietf-hpke-pq §5).</summary>
    Shake128 = 0x0010,

    /// <summary>SHAKE256, 0x0011, a single-stage KDF (draft-ietf-hpke-pq §5).</summary>
    Shake256 = 0x0011,
}

/// <summary>RFC 9180 §7.3 AEAD identifiers supported here.</summary>
public enum HpkeAead
{
    /// <summary>AES-128-GCM, 0x0001 (through .NET's AesGcm).</summary>
    Aes128Gcm = 0x0001,

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

    /// <summary>
    /// The suite <c>hybrid seal</c> uses for a recipient key of <paramref name="algorithm"/>: X25519 →
    /// <see cref="Default"/>; P-256 → HKDF-SHA256 with AES-128-GCM; P-384 → HKDF-SHA384 and P-521 → HKDF-SHA512, both
    /// with AES-256-GCM where AES hardware is present (ChaCha20Poly1305 otherwise); ML-KEM-768 and X-Wing → HKDF-SHA256
    /// with ChaCha20Poly1305 (X-Wing's is the suite of the hpke-pq vectors and age); X448 → HKDF-SHA512 with
    /// ChaCha20Poly1305; ML-KEM-512 and MLKEM768-P256 → HKDF-SHA256 with AES-128-GCM; ML-KEM-1024 and MLKEM1024-P384 →
    /// HKDF-SHA384 with AES-256-GCM (ChaCha20Poly1305 without AES hardware): the suites of the hpke-pq vectors.
    /// </summary>
    /// <param name="algorithm">The recipient key's algorithm.</param>
    public static HpkeSuite DefaultFor(KeyAlgorithm algorithm)
    {
        var aes256 = NSec.Cryptography.Aes256Gcm.IsSupported ? HpkeAead.Aes256Gcm : HpkeAead.ChaCha20Poly1305;
        return algorithm switch
        {
            KeyAlgorithm.P256 => new(HpkeKem.P256HkdfSha256, HpkeKdf.HkdfSha256, HpkeAead.Aes128Gcm),
            KeyAlgorithm.P384 => new(HpkeKem.P384HkdfSha384, HpkeKdf.HkdfSha384, aes256),
            KeyAlgorithm.P521 => new(HpkeKem.P521HkdfSha512, HpkeKdf.HkdfSha512, aes256),
            KeyAlgorithm.MlKem768 => new(HpkeKem.MlKem768, HpkeKdf.HkdfSha256, HpkeAead.ChaCha20Poly1305),
            KeyAlgorithm.XWing => new(HpkeKem.XWing, HpkeKdf.HkdfSha256, HpkeAead.ChaCha20Poly1305),
            KeyAlgorithm.X448 => new(HpkeKem.X448HkdfSha512, HpkeKdf.HkdfSha512, HpkeAead.ChaCha20Poly1305),
            KeyAlgorithm.MlKem512 => new(HpkeKem.MlKem512, HpkeKdf.HkdfSha256, HpkeAead.Aes128Gcm),
            KeyAlgorithm.MlKem1024 => new(HpkeKem.MlKem1024, HpkeKdf.HkdfSha384, aes256),
            KeyAlgorithm.MlKem768P256 => new(HpkeKem.MlKem768P256, HpkeKdf.HkdfSha256, HpkeAead.Aes128Gcm),
            KeyAlgorithm.MlKem1024P384 => new(HpkeKem.MlKem1024P384, HpkeKdf.HkdfSha384, aes256),
            _ => Default,
        };
    }

    /// <summary>
    /// Whether this machine can run the suite: AES-256-GCM needs AES hardware support in libsodium, AES-128-GCM
    /// .NET's AesGcm, SHAKE (the SHAKE KDFs and the post-quantum KEMs' DeriveKeyPair) OpenSSL 1.1.1 or later, the
    /// P-256/P-384 hybrids also SHA3-256; X448, ML-KEM-512/1024 and MLKEM1024-P384 need the HybridProtocol.Hpke.Extended
    /// package, registered with <c>HpkeExtended.Register()</c>.
    /// </summary>
    public bool IsSupported =>
        Enum.IsDefined(Kem) && Enum.IsDefined(Kdf) && Enum.IsDefined(Aead)
        && (Aead != HpkeAead.Aes256Gcm || NSec.Cryptography.Aes256Gcm.IsSupported)
        && (Aead != HpkeAead.Aes128Gcm || System.Security.Cryptography.AesGcm.IsSupported)
        && (Kdf is not (HpkeKdf.Shake128 or HpkeKdf.Shake256) || HpkeCrypto.ShakeSupported)
        && HpkeCrypto.KemSupported(Kem);

    /// <summary>
    /// Whether the auth and auth_psk modes work with this suite: the KEM has AuthEncap/AuthDecap (DHKEM yes; ML-KEM and
    /// X-Wing no) and the KDF is HKDF (no specification defines the auth modes with SHAKE128 or SHAKE256).
    /// </summary>
    public bool SupportsAuth => IsSupported && ToCore().SupportsAuth;

    /// <summary>The length of the encapsulated key <c>enc</c> (RFC 9180 Nenc) of the suite's KEM.</summary>
    public int EncapsulatedKeyLength => HpkeCrypto.KemFor(Kem)?.Nenc
        ?? throw new HybridProtocolException(HybridErrorCode.Unsupported, $"HPKE KEM 0x{(int)Kem:x4} is not supported here.");

    /// <summary>The core suite with NSec's crypto records; throws Unsupported for unknown identifiers.</summary>
    internal Suite ToCore()
    {
        if (!IsSupported)
        {
            throw new HybridProtocolException(
                HybridErrorCode.Unsupported,
                $"HPKE suite (KEM 0x{(int)Kem:x4}, KDF 0x{(int)Kdf:x4}, AEAD 0x{(int)Aead:x4}) is not supported here. Use HpkeSuite.Default.");
        }

        var kem = HpkeCrypto.KemFor(Kem)!;
        var kdf = Kdf switch
        {
            HpkeKdf.HkdfSha256 => Core.Hpke.Kdf.NewHkdfSha256(NSecSuite.Sha256),
            HpkeKdf.HkdfSha384 => Core.Hpke.Kdf.NewHkdfSha384(HpkeCrypto.Sha384),
            HpkeKdf.HkdfSha512 => Core.Hpke.Kdf.NewHkdfSha512(NSecSuite.Sha512),
            HpkeKdf.Shake128 => Core.Hpke.Kdf.NewShake128(HpkeCrypto.Shake128Xof),
            _ => Core.Hpke.Kdf.NewShake256(HpkeCrypto.Shake256Xof),
        };
        var aead = Aead switch
        {
            HpkeAead.Aes128Gcm => Core.Hpke.Aead.NewAes128Gcm(HpkeCrypto.Aes128Gcm),
            HpkeAead.Aes256Gcm => Core.Hpke.Aead.NewAes256Gcm(NSecSuite.AesGcm),
            HpkeAead.ChaCha20Poly1305 => Core.Hpke.Aead.NewChaCha20Poly1305(NSecSuite.ChaChaPoly),
            _ => Core.Hpke.Aead.ExportOnly,
        };
        return HpkeErrors.Check(Suite.Create(kem, kdf, aead));
    }

    /// <summary>The suite with these registered identifiers (as read from a sealed-file header).</summary>
    internal static HpkeSuite FromIds(ushort kem, ushort kdf, ushort aead) => new((HpkeKem)kem, (HpkeKdf)kdf, (HpkeAead)aead);
}
