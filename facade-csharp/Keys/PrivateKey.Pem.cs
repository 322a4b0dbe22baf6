using System.Security.Cryptography;
using HybridProtocol.Crypto;
using NSec.Cryptography;
using HybridProtocol.Core;

namespace HybridProtocol;

/// <summary>The key's files and PEM text: reading (any <see cref="KeyAlgorithm"/>, with the owner-only check), writing and encoding.</summary>
public sealed partial class PrivateKey
{
    /// <summary>
    /// Reads a PEM "PRIVATE KEY" block: a PKCS #8 key of any <see cref="KeyAlgorithm"/> (RFC 8410 for X25519, as
    /// <c>openssl genpkey -algorithm X25519</c> writes it; RFC 5915 for the NIST curves; ML-KEM-768 and X-Wing as
    /// specs/KEYS.md says).
    /// </summary>
    /// <exception cref="HybridProtocolException">
    /// <see cref="HybridErrorCode.InvalidKey"/> when the text is not such a block (garbage, damaged base64, a public key,
    /// an encrypted key, another algorithm such as Ed25519 or RSA, a wrong length); the message says what was found and what to do.
    /// </exception>
    public static PrivateKey FromPem(string pem)
    {
        ArgumentNullException.ThrowIfNull(pem);
        return FromPemChars(pem, "the PEM text");
    }

    /// <summary>
    /// Reads a private key file written by <see cref="Save"/> or <c>openssl genpkey -algorithm X25519</c>. On Unix the
    /// file must be accessible to its owner only, as ssh requires of private keys: a file that group or others may read,
    /// write or execute (any of the bits 077, e.g. mode 0644) is refused; see <see cref="Load(string, KeyLoadOptions)"/>.
    /// On Windows the file's access rules are not checked.
    /// </summary>
    /// <exception cref="HybridProtocolException">
    /// <see cref="HybridErrorCode.InvalidArgument"/> when the file cannot be read; <see cref="HybridErrorCode.InvalidKey"/>
    /// when it does not hold a private key of one of the <see cref="KeyAlgorithm"/>s (see <see cref="FromPem"/>); <see cref="HybridErrorCode.InsecureKeyFile"/>
    /// when other users can access it.
    /// </exception>
    public static PrivateKey Load(string path) => Load(path, null);

    /// <summary>
    /// <see cref="Load(string)"/> with options: <see cref="KeyLoadOptions.AllowInsecurePermissions"/> accepts a file that
    /// other users can access.
    /// </summary>
    /// <exception cref="HybridProtocolException">As <see cref="Load(string)"/>.</exception>
    public static PrivateKey Load(string path, KeyLoadOptions? options)
    {
        var text = KeyPem.ReadKeyFile(path, out var mode);
        try
        {
            // Parsed first, so that a file holding something else gets the error that says what it holds.
            var key = FromPemChars(text, $"'{path}'");
            try
            {
                KeyFiles.CheckPrivateKeyPermissions(path, mode, options);
            }
            catch
            {
                key.Dispose();
                throw;
            }

            return key;
        }
        finally
        {
            Array.Clear(text);
        }
    }

    /// <summary>
    /// The key as a PEM "PRIVATE KEY" block with LF line ends and a final LF, byte for byte what OpenSSL writes.
    /// The returned string holds the secret and cannot be erased: prefer <see cref="Save"/>.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The key has been disposed.</exception>
    public string ToPem()
    {
        if (Algorithm != KeyAlgorithm.X25519)
        {
            var chars = WideningPem();
            try
            {
                return new string(chars);
            }
            finally
            {
                Array.Clear(chars);
            }
        }

        Span<char> pem = stackalloc char[KeyPem.MaxPemChars];
        try
        {
            var length = WritePem(pem);
            return new string(pem[..length]);
        }
        finally
        {
            pem.Clear();
        }
    }

    /// <summary>
    /// Writes the key as PEM to a new file that only the owner can read and write (mode 0600 on Unix, given at
    /// creation, so the file never exists with wider permissions). Refuses to replace an existing file unless
    /// <paramref name="overwrite"/> is true; then a new 0600 file replaces it atomically (temporary file, then rename).
    /// On Windows the file gets the directory's inherited access rules.
    /// </summary>
    /// <exception cref="HybridProtocolException">
    /// <see cref="HybridErrorCode.InvalidArgument"/> when the file exists and <paramref name="overwrite"/> is false, or
    /// when it cannot be written (the message names the path and the reason).
    /// </exception>
    /// <exception cref="ObjectDisposedException">The key has been disposed.</exception>
    public void Save(string path, bool overwrite = false)
    {
        if (Algorithm != KeyAlgorithm.X25519)
        {
            var chars = WideningPem();
            try
            {
                KeyFiles.Write(path, chars, overwrite, ownerOnly: true, "private key");
                return;
            }
            finally
            {
                Array.Clear(chars);
            }
        }

        Span<char> pem = stackalloc char[KeyPem.MaxPemChars];
        try
        {
            var length = WritePem(pem);
            KeyFiles.Write(path, pem[..length], overwrite, ownerOnly: true, "private key");
        }
        finally
        {
            pem.Clear();
        }
    }

    /// <summary>The PEM of a non-X25519 key, in a char array the caller erases.</summary>
    private unsafe char[] WideningPem()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var sk = new byte[KeyAlgorithms.PrivateLength(Algorithm)];
        byte[]? der = null;
        try
        {
            if (_ec is not null)
            {
                KeyAlgorithms.Nist(Algorithm)!.ExportScalar(_ec.Key, sk);
            }
            else
            {
                _seed!.Bytes.CopyTo(sk);
            }

            der = KeyFormats.WritePkcs8(Algorithm, sk, PublicKey.RawBytes.Span);
            return KeyPem.WritePemChars(KeyPem.PrivateLabel, der);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(sk);
            if (der is not null)
            {
                CryptographicOperations.ZeroMemory(der);
            }
        }
    }

    private int WritePem(Span<char> pem)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> raw = stackalloc byte[KeyPem.KeyLength];
        try
        {
            if (!_key!.TryExport(KeyBlobFormat.RawPrivateKey, raw, out var written) || written != raw.Length)
            {
                throw new InvalidOperationException("NSec did not export a 32-byte X25519 private key.");
            }

            return KeyPem.WritePrivatePem(raw, pem);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
        }
    }

    private static PrivateKey FromPemChars(ReadOnlySpan<char> pem, string source)
    {
        var document = KeyFormats.ReadPrivate(pem, source);
        var algorithm = KeyFormats.FromCore(document.Type);
        try
        {
            PrivateKey key;
            try
            {
                key = algorithm == KeyAlgorithm.X25519 ? FromRawBytes(document.PrivateKey) : FromRawBytes(algorithm, document.PrivateKey);
            }
            catch (Exception e) when (e is IHybridProtocolError)
            {
                throw KeyFormats.Malformed(source, algorithm, KeyPem.PrivateLabel, e.Message.TrimEnd('.'));
            }

            foreach (var embedded in document.EmbeddedPublicKeys)
            {
                if (!CryptographicOperations.FixedTimeEquals(key.PublicKey.RawBytes.Span, embedded))
                {
                    key.Dispose();
                    throw KeyFormats.Malformed(source, algorithm, KeyPem.PrivateLabel, "its embedded public key does not belong to its private key");
                }
            }

            return key;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(document.PrivateKey);
        }
    }
}
