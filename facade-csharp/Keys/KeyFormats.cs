using System.Security.Cryptography;
using HybridProtocol.Core.Formats;

namespace HybridProtocol;

/// <summary>
/// The facade's side of the key documents: the core codecs <c>core-fsharp/Formats/Pem</c> and <c>KeyDocument</c> read
/// and write PEM, PKCS #8 and SubjectPublicKeyInfo for every <see cref="KeyAlgorithm"/> with a standard form
/// (specs/KEYS.md, specs/HPKE.md "Key formats"); this class maps between <see cref="KeyAlgorithm"/> and the core's
/// <see cref="KeyType"/>, and turns the core's typed errors into InvalidKey exceptions whose messages name the source,
/// what was found and what to do. MLKEM768-P256 and MLKEM1024-P384 have no standard form: writing them is Unsupported.
/// </summary>
internal static class KeyFormats
{
    /// <summary>The core key type of an algorithm, or null when it has no PKCS #8 / SPKI form.</summary>
    public static KeyType? ToCore(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.X25519 => KeyType.X25519,
        KeyAlgorithm.P256 => KeyType.P256,
        KeyAlgorithm.P384 => KeyType.P384,
        KeyAlgorithm.P521 => KeyType.P521,
        KeyAlgorithm.MlKem768 => KeyType.MlKem768,
        KeyAlgorithm.XWing => KeyType.XWing,
        KeyAlgorithm.X448 => KeyType.X448,
        KeyAlgorithm.MlKem512 => KeyType.MlKem512,
        KeyAlgorithm.MlKem1024 => KeyType.MlKem1024,
        _ => null,
    };

    /// <summary>The algorithm of a core key type.</summary>
    public static KeyAlgorithm FromCore(KeyType type) => type.Tag switch
    {
        KeyType.Tags.P256 => KeyAlgorithm.P256,
        KeyType.Tags.P384 => KeyAlgorithm.P384,
        KeyType.Tags.P521 => KeyAlgorithm.P521,
        KeyType.Tags.MlKem768 => KeyAlgorithm.MlKem768,
        KeyType.Tags.XWing => KeyAlgorithm.XWing,
        KeyType.Tags.X448 => KeyAlgorithm.X448,
        KeyType.Tags.MlKem512 => KeyAlgorithm.MlKem512,
        KeyType.Tags.MlKem1024 => KeyAlgorithm.MlKem1024,
        _ => KeyAlgorithm.X25519,
    };

    /// <summary>The PKCS #8 DER of a private key (<paramref name="sk"/>: scalar or seed; <paramref name="pk"/>: encoded public key). Erase the result.</summary>
    public static byte[] WritePkcs8(KeyAlgorithm algorithm, ReadOnlySpan<byte> sk, ReadOnlySpan<byte> pk) =>
        KeyDocument.encodePrivate(StandardForm(algorithm), sk, pk);

    /// <summary>The SPKI DER of a public key.</summary>
    public static byte[] WriteSpki(KeyAlgorithm algorithm, ReadOnlySpan<byte> pk) =>
        KeyDocument.encodePublic(StandardForm(algorithm), pk);

    /// <summary>
    /// Reads a "PRIVATE KEY" PEM block: the algorithm, the private key (scalar or seed; the caller erases it) and the
    /// public keys the document embeds (the caller checks they belong to the private key).
    /// </summary>
    public static PrivateKeyDocument ReadPrivate(ReadOnlySpan<char> pem, string source)
    {
        var der = KeyPem.DecodePem(pem, KeyPem.PrivateLabel, source);
        try
        {
            var decoded = KeyDocument.decodePrivate(der);
            return decoded.IsOk ? decoded.ResultValue : throw Refused(decoded.ErrorValue, KeyPem.PrivateLabel, source);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(der);
        }
    }

    /// <summary>Reads a "PUBLIC KEY" PEM block: the algorithm and the encoded public key (length checked; the caller validates it).</summary>
    public static (KeyAlgorithm Algorithm, byte[] Key) ReadPublic(ReadOnlySpan<char> pem, string source)
    {
        var der = KeyPem.DecodePem(pem, KeyPem.PublicLabel, source);
        var decoded = KeyDocument.decodePublic(der);
        return decoded.IsOk
            ? (FromCore(decoded.ResultValue.Item1), decoded.ResultValue.Item2)
            : throw Refused(decoded.ErrorValue, KeyPem.PublicLabel, source);
    }

    /// <summary>A malformed-key error naming the source, the block and the problem.</summary>
    public static HybridArgumentException Malformed(string source, KeyAlgorithm algorithm, string label, string problem) => new(
        HybridErrorCode.InvalidKey,
        algorithm == KeyAlgorithm.X25519
            ? $"{Capitalized(source)} has a \"{label}\" block that is not an RFC 8410 X25519 key: {problem}. {KeyPem.HowToMake}"
            : $"{Capitalized(source)} has a \"{label}\" block that is not a valid {KeyAlgorithms.Name(algorithm)} key: {problem}. {KeyPem.HowToMake}");

    /// <summary>The InvalidKey exception for a key document the core refused.</summary>
    private static HybridArgumentException Refused(KeyFormatError error, string label, string source)
    {
        var isPrivate = label == KeyPem.PrivateLabel;
        switch (error)
        {
            case KeyFormatError.ForeignKey { Item: var foreign }:
                return new HybridArgumentException(
                    HybridErrorCode.InvalidKey,
                    $"{Capitalized(source)} holds {ForeignName(foreign)} {(isPrivate ? "private" : "public")} key, but HybridProtocol uses X25519 keys. {KeyPem.HowToMake}");
            case KeyFormatError.ParametersPresent { Item: var t }:
                return Malformed(source, FromCore(t), label, t.IsX25519
                    ? "its X25519 algorithm identifier has parameters (RFC 8410 says they must be absent)"
                    : "its algorithm identifier has unexpected parameters");
            case KeyFormatError.PrivateKeyStructure { Item: var t }:
                return Malformed(source, FromCore(t), label, t.IsX25519
                    ? "the private key is not an RFC 8410 CurvePrivateKey"
                    : "the private key field is not the algorithm's structure");
            case KeyFormatError.PrivateKeyLength { Item1: var t, actual: var n }:
                return Malformed(source, FromCore(t), label, $"the {KeyAlgorithms.Name(FromCore(t))} private key is {n} bytes instead of {KeyDocument.privateKeyLength(t)}");
            case KeyFormatError.ExpandedKeyOnly { Item: var t }:
                return Malformed(source, FromCore(t), label, "it holds only the expanded decapsulation key; HybridProtocol needs the seed form (specs/HPKE.md)");
            case KeyFormatError.EcPrivateKeyMismatch { Item: var t }:
                return Malformed(source, FromCore(t), label, "its ECPrivateKey version is not 1, or it names another curve");
            case KeyFormatError.EmbeddedPublicKeyLength { Item1: var t, actual: var n }:
                return Malformed(source, FromCore(t), label, $"its embedded public key is {n} bytes instead of {KeyDocument.publicKeyLength(t)}");
            case KeyFormatError.PublicKeyLength { Item1: var t, actual: var n }:
                return Malformed(source, FromCore(t), label, $"the {KeyAlgorithms.Name(FromCore(t))} public key is {n} bytes instead of {KeyDocument.publicKeyLength(t)}");
            default:
                var what = isPrivate ? "PKCS #8" : "SubjectPublicKeyInfo";
                var problem = error.IsUnsupportedKeyVersion ? $"its version is not v1 (0) or v2 (1)" : $"it is not valid {what} DER";
                return new HybridArgumentException(
                    HybridErrorCode.InvalidKey,
                    $"{Capitalized(source)} has a \"{label}\" block that is not a key: {problem}. The file may be truncated or damaged. {KeyPem.HowToMake}");
        }
    }

    private static string ForeignName(ForeignKeyType foreign) => foreign switch
    {
        ForeignKeyType.OtherAlgorithm { oid: var oid } => $"a key of another algorithm (OID {oid}), not an X25519",
        _ when foreign.IsEd25519 => "an Ed25519",
        _ when foreign.IsEd448 => "an Ed448",
        _ when foreign.IsRsa => "an RSA",
        _ when foreign.IsRsaPss => "an RSA-PSS",
        _ when foreign.IsEllipticCurve => "an elliptic-curve (EC)",
        _ when foreign.IsDsa => "a DSA",
        _ => "a Diffie-Hellman (DH)",
    };

    private static KeyType StandardForm(KeyAlgorithm algorithm) =>
        ToCore(algorithm) ?? throw new HybridProtocolException(
            HybridErrorCode.Unsupported,
            $"{KeyAlgorithms.Name(algorithm)} keys have no standard PKCS #8 or SubjectPublicKeyInfo form yet, so they cannot be "
            + "written as PEM. Keep the 32-byte seed (RFC 9180 SerializePrivateKey) and PublicKey.RawBytes instead, and load them "
            + "with PrivateKey.FromRawBytes / PublicKey.FromRawBytes.");

    internal static string Capitalized(string source) =>
        source.Length > 0 && char.IsLower(source[0]) ? char.ToUpperInvariant(source[0]) + source[1..] : source;
}
