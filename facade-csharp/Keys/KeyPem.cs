using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Text;

namespace HybridProtocol;

/// <summary>
/// The two X25519 key encodings of RFC 8410, exactly as <c>openssl genpkey -algorithm X25519</c> and
/// <c>openssl pkey -pubout</c> write them, in PEM (RFC 7468 §10 "PRIVATE KEY", §13 "PUBLIC KEY"):
/// <code>
/// PRIVATE KEY = OneAsymmetricKey (RFC 5958, PKCS #8), 48 bytes of DER when written:
///   30 2e                      SEQUENCE
///      02 01 00                  version v1(0)
///      30 05 06 03 2b 65 6e      AlgorithmIdentifier { id-X25519 1.3.101.110 }, parameters absent
///      04 22 04 20 [32 bytes]    privateKey OCTET STRING { CurvePrivateKey OCTET STRING }
/// PUBLIC KEY = SubjectPublicKeyInfo (RFC 5280 §4.1), 44 bytes of DER:
///   30 2a                      SEQUENCE
///      30 05 06 03 2b 65 6e      AlgorithmIdentifier { id-X25519 }
///      03 21 00 [32 bytes]       subjectPublicKey BIT STRING, no unused bits
/// </code>
/// Reading is total: every failure is a <see cref="HybridProtocolException"/> with
/// <see cref="HybridErrorCode.InvalidKey"/> and a message that says what was found and what to do.
/// Reading also accepts the RFC 5958 v2 form (version 1 with the optional [1] publicKey, which must then match).
/// </summary>
internal static class KeyPem
{
    /// <summary>Bytes in an X25519 private or public key (RFC 7748 §5).</summary>
    internal const int KeyLength = 32;

    /// <summary>Key files larger than this are not key files: reading stops here (bounded memory).</summary>
    internal const int MaxKeyFileBytes = 64 * 1024;

    internal const string PrivateLabel = "PRIVATE KEY";
    internal const string PublicLabel = "PUBLIC KEY";

    /// <summary>RFC 8410 §3: <c>id-X25519 OBJECT IDENTIFIER ::= { 1 3 101 110 }</c>.</summary>
    private const string X25519Oid = "1.3.101.110";

    internal const string HowToMake =
        "Expected an X25519 key in PEM (RFC 8410), as PrivateKey.Save and PublicKey.Save write it "
        + "(PrivateKey.Generate makes one) or `openssl genpkey -algorithm X25519` makes it.";

    private static ReadOnlySpan<byte> Pkcs8Prefix =>
        [0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x04, 0x22, 0x04, 0x20];

    private static ReadOnlySpan<byte> SpkiPrefix =>
        [0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x6e, 0x03, 0x21, 0x00];

    /// <summary>Length of the PKCS #8 DER we write.</summary>
    internal const int Pkcs8Length = 16 + KeyLength;

    /// <summary>Length of the SPKI DER we write.</summary>
    internal const int SpkiLength = 12 + KeyLength;

    /// <summary>Largest PEM text we write for either key (label lines, one 64-column base64 line, newlines).</summary>
    internal const int MaxPemChars = 160;

    /// <summary>Writes the PKCS #8 PEM of a raw private key into <paramref name="pem"/> (LF line ends, final LF).</summary>
    internal static int WritePrivatePem(ReadOnlySpan<byte> rawPrivate, Span<char> pem)
    {
        Span<byte> der = stackalloc byte[Pkcs8Length];
        try
        {
            Pkcs8Prefix.CopyTo(der);
            rawPrivate.CopyTo(der[Pkcs8Prefix.Length..]);
            return WritePem(PrivateLabel, der, pem);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(der);
        }
    }

    /// <summary>Writes the SPKI PEM of a raw public key into <paramref name="pem"/> (LF line ends, final LF).</summary>
    internal static int WritePublicPem(ReadOnlySpan<byte> rawPublic, Span<char> pem)
    {
        Span<byte> der = stackalloc byte[SpkiLength];
        SpkiPrefix.CopyTo(der);
        rawPublic.CopyTo(der[SpkiPrefix.Length..]);
        return WritePem(PublicLabel, der, pem);
    }

    /// <summary>The PEM text of any DER (LF line ends, final LF), for the keys larger than X25519's. Erase it if it holds a secret.</summary>
    internal static char[] WritePemChars(string label, ReadOnlySpan<byte> der)
    {
        var pem = new char[PemEncoding.GetEncodedSize(label.Length, der.Length) + 1];
        return WritePem(label, der, pem) == pem.Length ? pem : throw new InvalidOperationException("PEM size mismatch.");
    }

    private static int WritePem(string label, ReadOnlySpan<byte> der, Span<char> pem)
    {
        if (!PemEncoding.TryWrite(label, der, pem, out var written) || written + 1 > pem.Length)
        {
            throw new InvalidOperationException("PEM buffer too small (unreachable: keys have a fixed size).");
        }

        pem[written] = '\n';
        return written + 1;
    }

    /// <summary>
    /// Reads a PKCS #8 X25519 private key from PEM text into <paramref name="rawPrivate"/> (32 bytes).
    /// <paramref name="source"/> names the input in error messages ("the PEM text" or a file name).
    /// </summary>
    internal static void ReadPrivatePem(ReadOnlySpan<char> pem, Span<byte> rawPrivate, string source)
    {
        var der = DecodePem(pem, PrivateLabel, source);
        try
        {
            ReadPkcs8(der, rawPrivate, source);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(der);
        }
    }

    /// <summary>Reads an SPKI X25519 public key from PEM text; returns the 32 raw bytes.</summary>
    internal static byte[] ReadPublicPem(ReadOnlySpan<char> pem, string source)
    {
        var der = DecodePem(pem, PublicLabel, source);
        return ReadSpki(der, source);
    }

    /// <summary>
    /// Reads a key file as text, bounded to <see cref="MaxKeyFileBytes"/>. A file that cannot be read gives
    /// <see cref="HybridErrorCode.InvalidArgument"/> naming the path; an oversized one gives InvalidKey.
    /// </summary>
    internal static char[] ReadKeyFile(string path) => ReadKeyFile(path, out _);

    /// <summary>
    /// Reads a key file as <see cref="ReadKeyFile(string)"/> does, and gives the Unix permissions of the file that was read
    /// (taken from the open handle, so they belong to the same file; null on Windows).
    /// </summary>
    internal static char[] ReadKeyFile(string path, out UnixFileMode? mode)
    {
        ArgumentNullException.ThrowIfNull(path);
        byte[] bytes;
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read);
            mode = OperatingSystem.IsWindows() ? null : File.GetUnixFileMode(stream.SafeFileHandle);
            bytes = new byte[MaxKeyFileBytes + 1];
            var total = 0;
            int read;
            while (total < bytes.Length && (read = stream.Read(bytes, total, bytes.Length - total)) > 0)
            {
                total += read;
            }

            if (total > MaxKeyFileBytes)
            {
                CryptographicOperations.ZeroMemory(bytes);
                throw new HybridArgumentException(
                    HybridErrorCode.InvalidKey,
                    $"'{path}' is larger than {MaxKeyFileBytes} bytes, so it is not a key file. {HowToMake}");
            }

            Array.Resize(ref bytes, total);
        }
        catch (Exception e) when (e is (IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException) and not IHybridProtocolError)
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidArgument,
                $"Cannot read key file '{path}': {e.Message}",
                e);
        }

        try
        {
            return Encoding.UTF8.GetChars(bytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    internal static byte[] DecodePem(ReadOnlySpan<char> pem, string expectedLabel, string source)
    {
        if (!PemEncoding.TryFind(pem, out var fields))
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidKey, NoPemMessage(pem, expectedLabel, source));
        }

        var label = pem[fields.Label].ToString();
        if (label != expectedLabel)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidKey, WrongLabelMessage(label, expectedLabel, source));
        }

        var der = new byte[fields.DecodedDataLength];
        if (!Convert.TryFromBase64Chars(pem[fields.Base64Data], der, out var written) || written != der.Length)
        {
            // TryFind has validated the base64 already; kept so that a future change cannot turn into a crash.
            throw new HybridArgumentException(
                HybridErrorCode.InvalidKey,
                $"{Capitalized(source)} has a \"{label}\" block whose base64 does not decode. {HowToMake}");
        }

        return der;
    }

    private static void ReadPkcs8(byte[] der, Span<byte> rawPrivate, string source)
    {
        try
        {
            var reader = new AsnReader(der, AsnEncodingRules.DER);
            var key = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            if (!key.TryReadInt32(out var version) || version is not (0 or 1))
            {
                throw Malformed(source, "PRIVATE KEY", "its version is not v1 (0) or v2 (1)");
            }

            RequireX25519(key.ReadSequence(), source, isPrivate: true);
            if (!key.TryReadPrimitiveOctetString(out var privateKeyField))
            {
                throw Malformed(source, "PRIVATE KEY", "the private key field is not a primitive OCTET STRING");
            }

            // RFC 8410 §7: CurvePrivateKey ::= OCTET STRING, wrapped in the PKCS #8 privateKey OCTET STRING.
            var inner = new AsnReader(privateKeyField, AsnEncodingRules.DER);
            if (!inner.TryReadPrimitiveOctetString(out var curvePrivateKey))
            {
                throw Malformed(source, "PRIVATE KEY", "the private key is not an RFC 8410 CurvePrivateKey");
            }

            inner.ThrowIfNotEmpty();
            if (curvePrivateKey.Length != KeyLength)
            {
                throw Malformed(source, "PRIVATE KEY", $"the X25519 private key is {curvePrivateKey.Length} bytes instead of {KeyLength}");
            }

            // RFC 5958: attributes [0] IMPLICIT OPTIONAL, then (v2 only) publicKey [1] IMPLICIT BIT STRING OPTIONAL.
            var attributesTag = new Asn1Tag(TagClass.ContextSpecific, 0, isConstructed: true);
            if (key.HasData && key.PeekTag().HasSameClassAndValue(attributesTag))
            {
                _ = key.ReadEncodedValue();
            }

            var publicKeyTag = new Asn1Tag(TagClass.ContextSpecific, 1);
            if (key.HasData && version == 1 && key.PeekTag().HasSameClassAndValue(publicKeyTag))
            {
                var embedded = key.ReadBitString(out var unusedBits, publicKeyTag);
                if (unusedBits != 0 || embedded.Length != KeyLength)
                {
                    throw Malformed(source, "PRIVATE KEY", "its embedded public key is not 32 bytes");
                }

                Span<byte> derived = stackalloc byte[KeyLength];
                DerivePublic(curvePrivateKey.Span, derived);
                if (!CryptographicOperations.FixedTimeEquals(derived, embedded))
                {
                    throw Malformed(source, "PRIVATE KEY", "its embedded public key does not belong to its private key");
                }
            }

            key.ThrowIfNotEmpty();
            curvePrivateKey.Span.CopyTo(rawPrivate);
        }
        catch (AsnContentException e)
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidKey,
                $"{Capitalized(source)} has a \"PRIVATE KEY\" block that is not valid PKCS #8 DER ({e.Message}). "
                + $"The file may be truncated or damaged. {HowToMake}",
                e);
        }
    }

    private static byte[] ReadSpki(byte[] der, string source)
    {
        try
        {
            var reader = new AsnReader(der, AsnEncodingRules.DER);
            var info = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            RequireX25519(info.ReadSequence(), source, isPrivate: false);
            var key = info.ReadBitString(out var unusedBits);
            info.ThrowIfNotEmpty();
            if (unusedBits != 0 || key.Length != KeyLength)
            {
                throw Malformed(source, "PUBLIC KEY", $"the X25519 public key is {key.Length} bytes instead of {KeyLength}");
            }

            return key;
        }
        catch (AsnContentException e)
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidKey,
                $"{Capitalized(source)} has a \"PUBLIC KEY\" block that is not valid SubjectPublicKeyInfo DER ({e.Message}). "
                + $"The file may be truncated or damaged. {HowToMake}",
                e);
        }
    }

    private static void RequireX25519(AsnReader algorithm, string source, bool isPrivate)
    {
        var oid = algorithm.ReadObjectIdentifier();
        if (oid != X25519Oid)
        {
            var what = AlgorithmName(oid);
            throw new HybridArgumentException(
                HybridErrorCode.InvalidKey,
                $"{Capitalized(source)} holds {what} {(isPrivate ? "private" : "public")} key, but HybridProtocol uses X25519 keys. {HowToMake}");
        }

        // RFC 8410 §3: "the parameters MUST be absent".
        if (algorithm.HasData)
        {
            throw Malformed(source, isPrivate ? "PRIVATE KEY" : "PUBLIC KEY", "its X25519 algorithm identifier has parameters (RFC 8410 says they must be absent)");
        }
    }

    private static string AlgorithmName(string oid) => oid switch
    {
        "1.3.101.112" => "an Ed25519",
        "1.3.101.111" => "an X448",
        "1.3.101.113" => "an Ed448",
        "1.2.840.113549.1.1.1" => "an RSA",
        "1.2.840.113549.1.1.10" => "an RSA-PSS",
        "1.2.840.10045.2.1" => "an elliptic-curve (EC)",
        "1.2.840.10040.4.1" => "a DSA",
        "1.2.840.113549.1.3.1" => "a Diffie-Hellman (DH)",
        _ => $"a key of another algorithm (OID {oid}), not an X25519",
    };

    private static HybridArgumentException Malformed(string source, string label, string problem) => new(
        HybridErrorCode.InvalidKey,
        $"{Capitalized(source)} has a \"{label}\" block that is not an RFC 8410 X25519 key: {problem}. {HowToMake}");

    private static string NoPemMessage(ReadOnlySpan<char> text, string expectedLabel, string source)
    {
        var trimmed = text.TrimStart();
        if (trimmed.StartsWith("ssh-", StringComparison.Ordinal) || trimmed.StartsWith("ecdsa-", StringComparison.Ordinal))
        {
            return $"{Capitalized(source)} is an OpenSSH public key line, not a PEM \"{expectedLabel}\". {HowToMake}";
        }

        if (text.IndexOfAny('\0', '\uFFFD') >= 0)
        {
            var convert = expectedLabel == PrivateLabel
                ? "openssl pkey -inform DER -in FILE -out FILE.pem"
                : "openssl pkey -pubin -inform DER -in FILE -out FILE.pem";
            return $"{Capitalized(source)} is binary, not PEM text (perhaps DER). If it is a DER key, convert it with `{convert}`. {HowToMake}";
        }

        if (text.Contains("-----BEGIN", StringComparison.Ordinal))
        {
            return $"{Capitalized(source)} has a PEM block that is damaged (truncated, bad base64, or BEGIN/END lines that do not match); "
                + $"expected a complete \"-----BEGIN {expectedLabel}-----\" block. {HowToMake}";
        }

        if (text.IsEmpty || trimmed.IsEmpty)
        {
            return $"{Capitalized(source)} is empty; expected a PEM \"-----BEGIN {expectedLabel}-----\" block. {HowToMake}";
        }

        return $"{Capitalized(source)} is not PEM text: no \"-----BEGIN {expectedLabel}-----\" line found. {HowToMake}";
    }

    private static string WrongLabelMessage(string label, string expectedLabel, string source)
    {
        var src = Capitalized(source);
        return label switch
        {
            PublicLabel => $"{src} holds a public key, but a private key is needed here. "
                + "Pass the private key file instead (the one PrivateKey.Save or `openssl genpkey` wrote).",
            PrivateLabel => $"{src} holds a private key, but a public key is needed here. "
                + "Load it with PrivateKey.Load and use its PublicKey (PublicKey.Save writes it to a file), and keep the private key secret.",
            "ENCRYPTED PRIVATE KEY" => $"{src} holds a password-encrypted private key, which HybridProtocol does not read. "
                + "Decrypt it with `openssl pkey -in FILE -out PLAIN-FILE` (and protect the result: chmod 600).",
            "OPENSSH PRIVATE KEY" => $"{src} holds an OpenSSH private key (ssh-keygen format); HybridProtocol uses X25519 keys in PKCS #8 PEM. {HowToMake}",
            "RSA PRIVATE KEY" or "RSA PUBLIC KEY" => $"{src} holds an RSA key; HybridProtocol uses X25519 keys. {HowToMake}",
            "EC PRIVATE KEY" or "EC PARAMETERS" => $"{src} holds an elliptic-curve (EC) key; HybridProtocol uses X25519 keys. {HowToMake}",
            "DSA PRIVATE KEY" => $"{src} holds a DSA key; HybridProtocol uses X25519 keys. {HowToMake}",
            "CERTIFICATE" => $"{src} holds a certificate, not a key; HybridProtocol uses bare X25519 keys. {HowToMake}",
            _ => $"{src} holds a \"{label}\" PEM block, but a \"{expectedLabel}\" block is needed here. {HowToMake}",
        };
    }

    private static string Capitalized(string source) =>
        source.Length > 0 && char.IsLower(source[0]) ? char.ToUpperInvariant(source[0]) + source[1..] : source;

    /// <summary>X25519(k, 9): the public key of a raw private key, through NSec.</summary>
    private static void DerivePublic(ReadOnlySpan<byte> rawPrivate, Span<byte> rawPublic)
    {
        using var key = NSec.Cryptography.Key.Import(
            NSec.Cryptography.KeyAgreementAlgorithm.X25519,
            rawPrivate,
            NSec.Cryptography.KeyBlobFormat.RawPrivateKey);
        if (!key.PublicKey.TryExport(NSec.Cryptography.KeyBlobFormat.RawPublicKey, rawPublic, out var written) || written != KeyLength)
        {
            throw new InvalidOperationException("NSec did not export a 32-byte X25519 public key.");
        }
    }
}
