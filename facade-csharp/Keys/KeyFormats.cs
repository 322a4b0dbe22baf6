using System.Formats.Asn1;
using System.Security.Cryptography;

namespace HybridProtocol;

/// <summary>
/// The DER forms of the keys other than X25519 (X25519 is <see cref="KeyPem"/>'s), in PKCS #8 (RFC 5958) "PRIVATE KEY"
/// and SubjectPublicKeyInfo (RFC 5280) "PUBLIC KEY" blocks, specs/HPKE.md "Key formats":
/// <list type="bullet">
/// <item>P-256/384/521: RFC 5480 id-ecPublicKey with the namedCurve, and RFC 5915 ECPrivateKey { version 1, privateKey
/// (Nsk bytes), [1] publicKey } inside PKCS #8, exactly what <c>openssl genpkey -algorithm EC</c> writes; the public key is
/// the uncompressed point.</item>
/// <item>ML-KEM-768: id-alg-ml-kem-768 (2.16.840.1.101.3.4.4.2, parameters absent) with the IETF LAMPS private key in
/// seed form, <c>seed [0] IMPLICIT OCTET STRING (SIZE (64))</c>; the public key is the 1184-byte encapsulation key.</item>
/// <item>X-Wing: the draft's OID 1.3.6.1.4.1.62253.25722 (parameters absent), privateKey = the 32-byte seed, public key
/// the 1216-byte encoding.</item>
/// <item>ML-KEM-512 and ML-KEM-1024: as ML-KEM-768, with id-alg-ml-kem-512 (2.16.840.1.101.3.4.4.1) and id-alg-ml-kem-1024
/// (2.16.840.1.101.3.4.4.3) (RFC 9935, ML-KEM in X.509).</item>
/// <item>X448: RFC 8410 id-X448 (1.3.101.111, parameters absent), privateKey = CurvePrivateKey, an OCTET STRING of the 56
/// bytes; the public key is the 56-byte u-coordinate.</item>
/// <item>MLKEM768-P256 and MLKEM1024-P384 have no registered PKCS #8 or SPKI form (the LAMPS composite ML-KEM OIDs name
/// other constructions), so writing them is Unsupported: keep their 32-byte seed and public key as raw bytes.</item>
/// </list>
/// Reading is total: every failure is an InvalidKey <see cref="HybridProtocolException"/> that names the source.
/// </summary>
internal static class KeyFormats
{
    private const string EcPublicKeyOid = "1.2.840.10045.2.1";
    private const string MlKem512Oid = "2.16.840.1.101.3.4.4.1";
    private const string MlKem768Oid = "2.16.840.1.101.3.4.4.2";
    private const string MlKem1024Oid = "2.16.840.1.101.3.4.4.3";
    private const string X448Oid = "1.3.101.111";
    private const string XWingOid = "1.3.6.1.4.1.62253.25722";

    /// <summary>The algorithm named by a PKCS #8 or SPKI AlgorithmIdentifier, if it is one of the non-X25519 ones we read.</summary>
    public static KeyAlgorithm? Peek(byte[] der, bool isPrivate)
    {
        try
        {
            var outer = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
            if (isPrivate)
            {
                _ = outer.ReadInteger();
            }

            var algorithm = outer.ReadSequence();
            var oid = algorithm.ReadObjectIdentifier();
            return oid switch
            {
                MlKem768Oid => KeyAlgorithm.MlKem768,
                XWingOid => KeyAlgorithm.XWing,
                MlKem512Oid => KeyAlgorithm.MlKem512,
                MlKem1024Oid => KeyAlgorithm.MlKem1024,
                X448Oid => KeyAlgorithm.X448,
                EcPublicKeyOid when algorithm.HasData && algorithm.PeekTag().HasSameClassAndValue(Asn1Tag.ObjectIdentifier) =>
                    CurveOf(algorithm.ReadObjectIdentifier()),
                _ => null,
            };
        }
        catch (AsnContentException)
        {
            return null;
        }
    }

    /// <summary>The PKCS #8 DER of a private key (<paramref name="sk"/>: scalar or seed; <paramref name="pk"/>: encoded public key). Erase the result.</summary>
    public static byte[] WritePkcs8(KeyAlgorithm algorithm, ReadOnlySpan<byte> sk, ReadOnlySpan<byte> pk)
    {
        ThrowIfNoStandardForm(algorithm);
        var writer = new AsnWriter(AsnEncodingRules.DER);
        var inner = new AsnWriter(AsnEncodingRules.DER);
        try
        {
            writer.PushSequence();
            writer.WriteInteger(0);
            WriteAlgorithm(writer, algorithm);
            switch (algorithm)
            {
                case KeyAlgorithm.MlKem512 or KeyAlgorithm.MlKem768 or KeyAlgorithm.MlKem1024:
                    inner.WriteOctetString(sk, new Asn1Tag(TagClass.ContextSpecific, 0));
                    break;
                case KeyAlgorithm.X448:
                    // RFC 8410 §7: CurvePrivateKey ::= OCTET STRING.
                    inner.WriteOctetString(sk);
                    break;
                case KeyAlgorithm.XWing:
                    break;
                default:
                    inner.PushSequence();
                    inner.WriteInteger(1);
                    inner.WriteOctetString(sk);
                    var publicTag = new Asn1Tag(TagClass.ContextSpecific, 1, isConstructed: true);
                    inner.PushSequence(publicTag);
                    inner.WriteBitString(pk);
                    inner.PopSequence(publicTag);
                    inner.PopSequence();
                    break;
            }

            if (algorithm == KeyAlgorithm.XWing)
            {
                writer.WriteOctetString(sk);
            }
            else
            {
                var innerDer = inner.Encode();
                writer.WriteOctetString(innerDer);
                CryptographicOperations.ZeroMemory(innerDer);
            }

            writer.PopSequence();
            return writer.Encode();
        }
        finally
        {
            writer.Reset();
            inner.Reset();
        }
    }

    /// <summary>The SPKI DER of a public key.</summary>
    public static byte[] WriteSpki(KeyAlgorithm algorithm, ReadOnlySpan<byte> pk)
    {
        ThrowIfNoStandardForm(algorithm);
        var writer = new AsnWriter(AsnEncodingRules.DER);
        writer.PushSequence();
        WriteAlgorithm(writer, algorithm);
        writer.WriteBitString(pk);
        writer.PopSequence();
        return writer.Encode();
    }

    /// <summary>
    /// Reads the private key of a PKCS #8 DER of <paramref name="algorithm"/> into <paramref name="sk"/> (Nsk bytes); returns the
    /// embedded public key if the encoding carries one (ECPrivateKey's [1]), for the caller to check.
    /// </summary>
    public static byte[]? ReadPkcs8(byte[] der, KeyAlgorithm algorithm, Span<byte> sk, string source)
    {
        try
        {
            var reader = new AsnReader(der, AsnEncodingRules.DER);
            var key = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            if (!key.TryReadInt32(out var version) || version is not (0 or 1))
            {
                throw Malformed(source, algorithm, "PRIVATE KEY", "its version is not v1 (0) or v2 (1)");
            }

            _ = key.ReadSequence();
            if (!key.TryReadPrimitiveOctetString(out var privateKeyField))
            {
                throw Malformed(source, algorithm, "PRIVATE KEY", "the private key field is not a primitive OCTET STRING");
            }

            byte[]? embedded = null;
            switch (algorithm)
            {
                case KeyAlgorithm.XWing:
                    if (privateKeyField.Length != sk.Length)
                    {
                        throw Malformed(source, algorithm, "PRIVATE KEY", $"the X-Wing seed is {privateKeyField.Length} bytes instead of {sk.Length}");
                    }

                    privateKeyField.Span.CopyTo(sk);
                    break;
                case KeyAlgorithm.MlKem512 or KeyAlgorithm.MlKem768 or KeyAlgorithm.MlKem1024:
                    ReadMlKemSeed(privateKeyField, algorithm, sk, source);
                    break;
                case KeyAlgorithm.X448:
                    var curvePrivateKey = new AsnReader(privateKeyField, AsnEncodingRules.DER);
                    if (!curvePrivateKey.TryReadPrimitiveOctetString(out var scalar) || scalar.Length != sk.Length)
                    {
                        throw Malformed(source, algorithm, "PRIVATE KEY", $"its CurvePrivateKey is not {sk.Length} bytes");
                    }

                    curvePrivateKey.ThrowIfNotEmpty();
                    scalar.Span.CopyTo(sk);
                    break;
                default:
                    embedded = ReadEcPrivateKey(privateKeyField, algorithm, sk, source);
                    break;
            }

            // RFC 5958: attributes [0] and (v2) publicKey [1] may follow; we do not use them.
            while (key.HasData)
            {
                _ = key.ReadEncodedValue();
            }

            return embedded;
        }
        catch (AsnContentException e)
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidKey,
                $"{Capitalized(source)} has a \"PRIVATE KEY\" block that is not valid PKCS #8 DER for {KeyAlgorithms.Name(algorithm)} ({e.Message}). "
                + $"The file may be truncated or damaged. {KeyPem.HowToMake}",
                e);
        }
    }

    /// <summary>Reads the public key bytes of an SPKI DER of <paramref name="algorithm"/> (length checked; the caller validates the point).</summary>
    public static byte[] ReadSpki(byte[] der, KeyAlgorithm algorithm, string source)
    {
        try
        {
            var reader = new AsnReader(der, AsnEncodingRules.DER);
            var info = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            var algorithmId = info.ReadSequence();
            var oid = algorithmId.ReadObjectIdentifier();
            if (oid == EcPublicKeyOid)
            {
                _ = algorithmId.ReadObjectIdentifier();
            }

            if (algorithmId.HasData)
            {
                throw Malformed(source, algorithm, "PUBLIC KEY", "its algorithm identifier has unexpected parameters");
            }

            var key = info.ReadBitString(out var unusedBits);
            info.ThrowIfNotEmpty();
            var length = KeyAlgorithms.PublicLength(algorithm);
            if (unusedBits != 0 || key.Length != length)
            {
                throw Malformed(source, algorithm, "PUBLIC KEY", $"the public key is {key.Length} bytes instead of {length}");
            }

            return key;
        }
        catch (AsnContentException e)
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidKey,
                $"{Capitalized(source)} has a \"PUBLIC KEY\" block that is not valid SubjectPublicKeyInfo DER ({e.Message}). "
                + $"The file may be truncated or damaged. {KeyPem.HowToMake}",
                e);
        }
    }

    /// <summary>A malformed-key error naming the source, the block and the problem.</summary>
    public static HybridArgumentException Malformed(string source, KeyAlgorithm algorithm, string label, string problem) => new(
        HybridErrorCode.InvalidKey,
        $"{Capitalized(source)} has a \"{label}\" block that is not a valid {KeyAlgorithms.Name(algorithm)} key: {problem}. {KeyPem.HowToMake}");

    private static void ReadMlKemSeed(ReadOnlyMemory<byte> field, KeyAlgorithm algorithm, Span<byte> sk, string source)
    {
        // RFC 9935 (IETF LAMPS): ML-KEM-768-PrivateKey (and -512, -1024 alike) ::= CHOICE { seed [0] IMPLICIT OCTET STRING (SIZE (64)),
        //   expandedKey OCTET STRING (SIZE (2400)), both SEQUENCE { seed OCTET STRING (SIZE (64)), expandedKey ... } }.
        var inner = new AsnReader(field, AsnEncodingRules.DER);
        var seedTag = new Asn1Tag(TagClass.ContextSpecific, 0);
        if (inner.PeekTag().HasSameClassAndValue(seedTag))
        {
            if (!inner.TryReadPrimitiveOctetString(out var seed, seedTag) || seed.Length != sk.Length)
            {
                throw Malformed(source, algorithm, "PRIVATE KEY", "its seed is not 64 bytes");
            }

            inner.ThrowIfNotEmpty();
            seed.Span.CopyTo(sk);
        }
        else if (inner.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
        {
            var both = inner.ReadSequence();
            if (!both.TryReadPrimitiveOctetString(out var seed) || seed.Length != sk.Length)
            {
                throw Malformed(source, algorithm, "PRIVATE KEY", "its seed is not 64 bytes");
            }

            seed.Span.CopyTo(sk);
        }
        else
        {
            throw Malformed(
                source,
                algorithm,
                "PRIVATE KEY",
                "it holds only the expanded decapsulation key; HybridProtocol needs the seed form (specs/HPKE.md)");
        }
    }

    private static byte[]? ReadEcPrivateKey(ReadOnlyMemory<byte> field, KeyAlgorithm algorithm, Span<byte> sk, string source)
    {
        // RFC 5915: ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [0] parameters OPTIONAL, [1] publicKey OPTIONAL }.
        var reader = new AsnReader(field, AsnEncodingRules.DER);
        var ec = reader.ReadSequence();
        reader.ThrowIfNotEmpty();
        if (!ec.TryReadInt32(out var version) || version != 1)
        {
            throw Malformed(source, algorithm, "PRIVATE KEY", "its ECPrivateKey version is not 1");
        }

        if (!ec.TryReadPrimitiveOctetString(out var d) || d.Length != sk.Length)
        {
            throw Malformed(source, algorithm, "PRIVATE KEY", $"the private scalar is not {sk.Length} bytes");
        }

        var parametersTag = new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true);
        if (ec.HasData && ec.PeekTag().HasSameClassAndValue(parametersTag))
        {
            var parameters = ec.ReadSequence(parametersTag);
            if (CurveOf(parameters.ReadObjectIdentifier()) != algorithm)
            {
                throw Malformed(source, algorithm, "PRIVATE KEY", "its ECPrivateKey names another curve");
            }
        }

        byte[]? embedded = null;
        var publicTag = new Asn1Tag(TagClass.ContextSpecific, 1, isConstructed: true);
        if (ec.HasData && ec.PeekTag().HasSameClassAndValue(publicTag))
        {
            var publicKey = ec.ReadSequence(publicTag);
            embedded = publicKey.ReadBitString(out _);
        }

        ec.ThrowIfNotEmpty();
        d.Span.CopyTo(sk);
        return embedded;
    }

    private static void WriteAlgorithm(AsnWriter writer, KeyAlgorithm algorithm)
    {
        writer.PushSequence();
        switch (algorithm)
        {
            case KeyAlgorithm.MlKem768:
                writer.WriteObjectIdentifier(MlKem768Oid);
                break;
            case KeyAlgorithm.MlKem512:
                writer.WriteObjectIdentifier(MlKem512Oid);
                break;
            case KeyAlgorithm.MlKem1024:
                writer.WriteObjectIdentifier(MlKem1024Oid);
                break;
            case KeyAlgorithm.X448:
                writer.WriteObjectIdentifier(X448Oid);
                break;
            case KeyAlgorithm.XWing:
                writer.WriteObjectIdentifier(XWingOid);
                break;
            default:
                writer.WriteObjectIdentifier(EcPublicKeyOid);
                writer.WriteObjectIdentifier(KeyAlgorithms.Nist(algorithm)!.Curve.Oid.Value!);
                break;
        }

        writer.PopSequence();
    }

    private static void ThrowIfNoStandardForm(KeyAlgorithm algorithm)
    {
        if (algorithm is KeyAlgorithm.MlKem768P256 or KeyAlgorithm.MlKem1024P384)
        {
            throw new HybridProtocolException(
                HybridErrorCode.Unsupported,
                $"{KeyAlgorithms.Name(algorithm)} keys have no standard PKCS #8 or SubjectPublicKeyInfo form yet, so they cannot be "
                + "written as PEM. Keep the 32-byte seed (RFC 9180 SerializePrivateKey) and PublicKey.RawBytes instead, and load them "
                + "with PrivateKey.FromRawBytes / PublicKey.FromRawBytes.");
        }
    }

    private static KeyAlgorithm? CurveOf(string oid) => oid switch
    {
        "1.2.840.10045.3.1.7" => KeyAlgorithm.P256,
        "1.3.132.0.34" => KeyAlgorithm.P384,
        "1.3.132.0.35" => KeyAlgorithm.P521,
        _ => null,
    };

    private static string Capitalized(string source) =>
        source.Length > 0 && char.IsLower(source[0]) ? char.ToUpperInvariant(source[0]) + source[1..] : source;
}
