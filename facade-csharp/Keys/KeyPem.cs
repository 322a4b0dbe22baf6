using System.Security.Cryptography;
using System.Text;
using HybridProtocol.Core.Formats;

namespace HybridProtocol;

/// <summary>
/// PEM key files: the bounded file read, the PEM block through the core codec (<c>core-fsharp/Formats/Pem</c>), and the
/// messages for text that holds no key or the wrong kind of block. The documents inside are <see cref="KeyFormats"/>'
/// (core <c>KeyDocument</c>); X25519's are RFC 8410's, exactly what <c>openssl genpkey -algorithm X25519</c> and
/// <c>openssl pkey -pubout</c> write (specs/KEYS.md).
/// </summary>
internal static class KeyPem
{
    /// <summary>Bytes in an X25519 private or public key (RFC 7748 §5).</summary>
    internal const int KeyLength = 32;

    /// <summary>Key files larger than this are not key files: reading stops here (bounded memory).</summary>
    internal const int MaxKeyFileBytes = 64 * 1024;

    internal const string PrivateLabel = Pem.PrivateKeyLabel;
    internal const string PublicLabel = Pem.PublicKeyLabel;

    internal const string HowToMake =
        "Expected an X25519 key in PEM (RFC 8410), as PrivateKey.Save and PublicKey.Save write it "
        + "(PrivateKey.Generate makes one) or `openssl genpkey -algorithm X25519` makes it.";

    /// <summary>Largest PEM text we write for either key (label lines, one 64-column base64 line, newlines).</summary>
    internal const int MaxPemChars = 160;

    /// <summary>Writes the PKCS #8 PEM of a raw X25519 private key into <paramref name="pem"/> (LF line ends, final LF).</summary>
    internal static int WritePrivatePem(ReadOnlySpan<byte> rawPrivate, Span<char> pem)
    {
        var der = KeyDocument.encodePrivate(KeyType.X25519, rawPrivate, default);
        try
        {
            return WritePem(PrivateLabel, der, pem);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(der);
        }
    }

    /// <summary>Writes the SPKI PEM of a raw X25519 public key into <paramref name="pem"/> (LF line ends, final LF).</summary>
    internal static int WritePublicPem(ReadOnlySpan<byte> rawPublic, Span<char> pem) =>
        WritePem(PublicLabel, KeyDocument.encodePublic(KeyType.X25519, rawPublic), pem);

    /// <summary>The PEM text of any DER (LF line ends, final LF), for the keys larger than X25519's. Erase it if it holds a secret.</summary>
    internal static char[] WritePemChars(string label, ReadOnlySpan<byte> der) => Pem.encode(label, der);

    private static int WritePem(string label, ReadOnlySpan<byte> der, Span<char> pem)
    {
        var written = Pem.write(label, der, pem);
        return written > 0 ? written : throw new InvalidOperationException("PEM buffer too small (unreachable: keys have a fixed size).");
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

    /// <summary>The bytes of the text's PEM block, which must have <paramref name="expectedLabel"/>; InvalidKey saying what the text is otherwise.</summary>
    internal static byte[] DecodePem(ReadOnlySpan<char> pem, string expectedLabel, string source)
    {
        var decoded = Pem.decode(pem);
        if (decoded.IsError)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidKey, NoPemMessage(decoded.ErrorValue, expectedLabel, source));
        }

        var block = decoded.ResultValue;
        if (block.Label != expectedLabel)
        {
            CryptographicOperations.ZeroMemory(block.Data);
            throw new HybridArgumentException(HybridErrorCode.InvalidKey, WrongLabelMessage(block.Label, expectedLabel, source));
        }

        return block.Data;
    }

    private static string NoPemMessage(PemError error, string expectedLabel, string source)
    {
        if (error.IsOpenSshLine)
        {
            return $"{Capitalized(source)} is an OpenSSH public key line, not a PEM \"{expectedLabel}\". {HowToMake}";
        }

        if (error.IsBinaryText)
        {
            var convert = expectedLabel == PrivateLabel
                ? "openssl pkey -inform DER -in FILE -out FILE.pem"
                : "openssl pkey -pubin -inform DER -in FILE -out FILE.pem";
            return $"{Capitalized(source)} is binary, not PEM text (perhaps DER). If it is a DER key, convert it with `{convert}`. {HowToMake}";
        }

        if (error.IsDamagedBlock)
        {
            return $"{Capitalized(source)} has a PEM block that is damaged (truncated, bad base64, or BEGIN/END lines that do not match); "
                + $"expected a complete \"-----BEGIN {expectedLabel}-----\" block. {HowToMake}";
        }

        if (error.IsEmptyText)
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

    private static string Capitalized(string source) => KeyFormats.Capitalized(source);
}
