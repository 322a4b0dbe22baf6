using HybridProtocol.Core.Hpke;

namespace HybridProtocol;

/// <summary>
/// The algorithm a <see cref="PrivateKey"/> or <see cref="PublicKey"/> holds (specs/KEYS.md, specs/HPKE.md "Key formats").
/// Noise connections use X25519 keys only; HPKE takes every one, each with the KEM of the same name.
/// </summary>
public enum KeyAlgorithm
{
    /// <summary>X25519 (RFC 7748): 32-byte keys; Noise, and HPKE's DHKEM(X25519, HKDF-SHA256).</summary>
    X25519 = 0,

    /// <summary>NIST P-256 (FIPS 186-5), for DHKEM(P-256, HKDF-SHA256): 32-byte scalar, 65-byte uncompressed point.</summary>
    P256 = 1,

    /// <summary>NIST P-384, for DHKEM(P-384, HKDF-SHA384): 48-byte scalar, 97-byte uncompressed point.</summary>
    P384 = 2,

    /// <summary>NIST P-521, for DHKEM(P-521, HKDF-SHA512): 66-byte scalar, 133-byte uncompressed point.</summary>
    P521 = 3,

    /// <summary>ML-KEM-768 (FIPS 203), for HPKE KEM 0x0041: 64-byte seed (d || z), 1184-byte encapsulation key.</summary>
    MlKem768 = 4,

    /// <summary>X-Wing (MLKEM768-X25519, draft-connolly-cfrg-xwing-kem), for HPKE KEM 0x647a: 32-byte seed, 1216-byte public key.</summary>
    XWing = 5,

    /// <summary>X448 (RFC 7748), for DHKEM(X448, HKDF-SHA512): 56-byte keys. Needs HybridProtocol.Hpke.Extended.</summary>
    X448 = 6,

    /// <summary>ML-KEM-512 (FIPS 203), for HPKE KEM 0x0040: 64-byte seed, 800-byte encapsulation key. Needs HybridProtocol.Hpke.Extended.</summary>
    MlKem512 = 7,

    /// <summary>ML-KEM-1024 (FIPS 203), for HPKE KEM 0x0042: 64-byte seed, 1568-byte encapsulation key. Needs HybridProtocol.Hpke.Extended.</summary>
    MlKem1024 = 8,

    /// <summary>MLKEM768-P256 (draft-ietf-hpke-pq), for HPKE KEM 0x0050: 32-byte seed, 1249-byte public key.</summary>
    MlKem768P256 = 9,

    /// <summary>MLKEM1024-P384 (draft-ietf-hpke-pq), for HPKE KEM 0x0051: 32-byte seed, 1665-byte public key. Needs HybridProtocol.Hpke.Extended.</summary>
    MlKem1024P384 = 10,
}

/// <summary>The facts about each <see cref="KeyAlgorithm"/>: names, sizes, the HPKE KEM it belongs to.</summary>
internal static class KeyAlgorithms
{
    /// <summary>The name <c>hybrid keygen --type</c> takes and messages show.</summary>
    public static string Name(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.X25519 => "X25519",
        KeyAlgorithm.P256 => "P-256",
        KeyAlgorithm.P384 => "P-384",
        KeyAlgorithm.P521 => "P-521",
        KeyAlgorithm.MlKem768 => "ML-KEM-768",
        KeyAlgorithm.X448 => "X448",
        KeyAlgorithm.MlKem512 => "ML-KEM-512",
        KeyAlgorithm.MlKem1024 => "ML-KEM-1024",
        KeyAlgorithm.MlKem768P256 => "MLKEM768-P256",
        KeyAlgorithm.MlKem1024P384 => "MLKEM1024-P384",
        _ => "X-Wing",
    };

    /// <summary>The HPKE KEM that uses keys of this algorithm.</summary>
    public static HpkeKem Kem(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.X25519 => HpkeKem.X25519HkdfSha256,
        KeyAlgorithm.P256 => HpkeKem.P256HkdfSha256,
        KeyAlgorithm.P384 => HpkeKem.P384HkdfSha384,
        KeyAlgorithm.P521 => HpkeKem.P521HkdfSha512,
        KeyAlgorithm.MlKem768 => HpkeKem.MlKem768,
        KeyAlgorithm.X448 => HpkeKem.X448HkdfSha512,
        KeyAlgorithm.MlKem512 => HpkeKem.MlKem512,
        KeyAlgorithm.MlKem1024 => HpkeKem.MlKem1024,
        KeyAlgorithm.MlKem768P256 => HpkeKem.MlKem768P256,
        KeyAlgorithm.MlKem1024P384 => HpkeKem.MlKem1024P384,
        _ => HpkeKem.XWing,
    };

    /// <summary>The key algorithm of an HPKE KEM.</summary>
    public static KeyAlgorithm OfKem(HpkeKem kem) => kem switch
    {
        HpkeKem.P256HkdfSha256 => KeyAlgorithm.P256,
        HpkeKem.P384HkdfSha384 => KeyAlgorithm.P384,
        HpkeKem.P521HkdfSha512 => KeyAlgorithm.P521,
        HpkeKem.MlKem768 => KeyAlgorithm.MlKem768,
        HpkeKem.XWing => KeyAlgorithm.XWing,
        HpkeKem.X448HkdfSha512 => KeyAlgorithm.X448,
        HpkeKem.MlKem512 => KeyAlgorithm.MlKem512,
        HpkeKem.MlKem1024 => KeyAlgorithm.MlKem1024,
        HpkeKem.MlKem768P256 => KeyAlgorithm.MlKem768P256,
        HpkeKem.MlKem1024P384 => KeyAlgorithm.MlKem1024P384,
        _ => KeyAlgorithm.X25519,
    };

    /// <summary>
    /// Whether the key is held generically: its serialized private key (RFC 9180 SerializePrivateKey) in native memory and
    /// the provider's key pair from the core's DeserializePrivateKey. True for the algorithms added after the first six.
    /// </summary>
    public static bool IsGeneric(KeyAlgorithm algorithm) => algorithm >= KeyAlgorithm.X448;

    /// <summary>The core KEM record for keys of this algorithm; Unsupported when its provider package is not registered.</summary>
    public static Core.Hpke.Kem CoreKem(KeyAlgorithm algorithm) => HpkeCrypto.KemFor(Kem(algorithm))
        ?? throw new HybridProtocolException(
            HybridErrorCode.Unsupported,
            $"{Name(algorithm)} keys need the HybridProtocol.Hpke.Extended package: install it and call "
            + "HybridProtocol.HpkeExtended.Register() once at startup.");

    /// <summary>The NIST group for a NIST-curve algorithm, or null.</summary>
    public static NistGroup? Nist(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.P256 => NistGroup.P256,
        KeyAlgorithm.P384 => NistGroup.P384,
        KeyAlgorithm.P521 => NistGroup.P521,
        _ => null,
    };

    /// <summary>The provider's KEM functions for a post-quantum algorithm, or null.</summary>
    public static Core.KemFunctions? PostQuantum(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.MlKem768 => Crypto.SodiumKem.MlKem768,
        KeyAlgorithm.XWing => Crypto.SodiumKem.XWing,
        _ => null,
    };

    /// <summary>Bytes of an encoded public key (RFC 9180 Npk).</summary>
    public static int PublicLength(KeyAlgorithm algorithm) => CoreKem(algorithm).Npk;

    /// <summary>Bytes of an encoded private key (RFC 9180 Nsk: scalar or seed).</summary>
    public static int PrivateLength(KeyAlgorithm algorithm) => CoreKem(algorithm).Nsk;

    /// <summary>Throws the typed error for a key of <paramref name="actual"/> used where <paramref name="expected"/> is needed.</summary>
    public static HybridArgumentException WrongAlgorithm(KeyAlgorithm actual, KeyAlgorithm expected, string where) => new(
        HybridErrorCode.InvalidKey,
        $"This is {Article(actual)} {Name(actual)} key, but {where} needs {Article(expected)} {Name(expected)} key. "
        + $"Use a key made with PrivateKey.Generate(KeyAlgorithm.{expected}), or pick the suite that matches the key.");

    /// <summary>The <c>--type</c> value of <c>hybrid keygen</c>.</summary>
    public static string CliName(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.X25519 => "x25519",
        KeyAlgorithm.P256 => "p256",
        KeyAlgorithm.P384 => "p384",
        KeyAlgorithm.P521 => "p521",
        KeyAlgorithm.MlKem768 => "mlkem768",
        KeyAlgorithm.X448 => "x448",
        KeyAlgorithm.MlKem512 => "mlkem512",
        KeyAlgorithm.MlKem1024 => "mlkem1024",
        KeyAlgorithm.MlKem768P256 => "mlkem768-p256",
        KeyAlgorithm.MlKem1024P384 => "mlkem1024-p384",
        _ => "xwing",
    };

    /// <summary>The algorithm for a <c>--type</c> value, or null.</summary>
    public static KeyAlgorithm? FromCliName(string name) => name.ToLowerInvariant() switch
    {
        "x25519" => KeyAlgorithm.X25519,
        "p256" or "p-256" => KeyAlgorithm.P256,
        "p384" or "p-384" => KeyAlgorithm.P384,
        "p521" or "p-521" => KeyAlgorithm.P521,
        "mlkem768" or "ml-kem-768" => KeyAlgorithm.MlKem768,
        "xwing" or "x-wing" => KeyAlgorithm.XWing,
        "x448" => KeyAlgorithm.X448,
        "mlkem512" or "ml-kem-512" => KeyAlgorithm.MlKem512,
        "mlkem1024" or "ml-kem-1024" => KeyAlgorithm.MlKem1024,
        "mlkem768-p256" => KeyAlgorithm.MlKem768P256,
        "mlkem1024-p384" => KeyAlgorithm.MlKem1024P384,
        _ => null,
    };

    private static string Article(KeyAlgorithm algorithm) => algorithm is KeyAlgorithm.X25519 ? "an" : "a";
}
