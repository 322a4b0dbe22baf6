using System.Security.Cryptography;
using HybridProtocol.Crypto;
using NSec.Cryptography;
using HybridProtocol.Core;

namespace HybridProtocol;

/// <summary>
/// An X25519 private key (RFC 7748), a static identity for a server or a client. The key lives in libsodium's
/// guarded memory (an NSec <c>Key</c>); <see cref="Dispose"/> erases it. Stored as an RFC 8410 PKCS #8 PEM
/// "PRIVATE KEY" block, the format <c>openssl genpkey -algorithm X25519</c> writes, in a file only its owner
/// may read (specs/KEYS.md). Safe to share between threads until it is disposed.
/// </summary>
public sealed class PrivateKey : IDisposable
{
    private static readonly KeyAgreementAlgorithm Algorithm = KeyAgreementAlgorithm.X25519;

    private readonly Key _key;
    private volatile bool _disposed;

    private PrivateKey(Key key)
    {
        _key = key;
        var raw = new byte[KeyPem.KeyLength];
        if (!key.PublicKey.TryExport(KeyBlobFormat.RawPublicKey, raw, out var written) || written != raw.Length)
        {
            key.Dispose();
            throw new InvalidOperationException("NSec did not export a 32-byte X25519 public key.");
        }

        PublicKey = PublicKey.FromOwnedRaw(raw);
    }

    /// <summary>The matching public key, the one peers see and pin.</summary>
    public PublicKey PublicKey { get; }

    /// <summary>The <see cref="PublicKey"/>'s fingerprint (<c>SHA256:</c> + unpadded base64), safe to show and log.</summary>
    public string Fingerprint => PublicKey.Fingerprint;

    /// <summary>Makes a new random key with the operating system's secure random generator (through libsodium).</summary>
    public static PrivateKey Generate()
    {
        var parameters = CreationParameters();
        return new PrivateKey(Key.Create(Algorithm, in parameters));
    }

    /// <summary>Makes a key from its 32 raw bytes (RFC 7748 §5 scalar; every 32-byte string is a valid X25519 private key).</summary>
    /// <exception cref="HybridProtocolException"><see cref="HybridErrorCode.InvalidKey"/> when the length is not 32.</exception>
    public static PrivateKey FromRawBytes(ReadOnlySpan<byte> raw)
    {
        if (raw.Length != KeyPem.KeyLength)
        {
            throw new HybridProtocolException(
                HybridErrorCode.InvalidKey,
                $"An X25519 private key is {KeyPem.KeyLength} bytes, but {raw.Length} were given.");
        }

        var parameters = CreationParameters();
        if (!Key.TryImport(Algorithm, raw, KeyBlobFormat.RawPrivateKey, out var key, in parameters) || key is null)
        {
            throw new HybridProtocolException(HybridErrorCode.InvalidKey, "libsodium refused the 32 bytes as an X25519 private key.");
        }

        return new PrivateKey(key);
    }

    /// <summary>Reads a PEM "PRIVATE KEY" block (RFC 8410 PKCS #8 for X25519), as <c>openssl genpkey -algorithm X25519</c> writes it.</summary>
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
    /// when it does not hold an X25519 private key (see <see cref="FromPem"/>); <see cref="HybridErrorCode.InsecureKeyFile"/>
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

    /// <summary>Erases the key from memory. Later use throws <see cref="ObjectDisposedException"/>; disposing twice is harmless.</summary>
    public void Dispose()
    {
        _disposed = true;
        _key.Dispose();
    }

    /// <summary>
    /// Refuses this key at once when it has been disposed, naming where it was passed (<paramref name="passedAs"/>, e.g.
    /// "SecureServerOptions.ServerKey") and its fingerprint, instead of failing later in a handshake.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The key has been disposed.</exception>
    internal void ThrowIfDisposed(string passedAs)
    {
        if (_disposed)
        {
            throw new ObjectDisposedException(
                passedAs,
                $"The private key passed as {passedAs} ({Fingerprint}) has been disposed, so it can no longer be used. "
                + "Keep the PrivateKey undisposed while anything uses it, or pass a key that is not disposed.");
        }
    }

    /// <summary>
    /// The core's view of this key. Ownership stays here: the pair's <c>Private</c> is an
    /// <see cref="X25519PrivateKey"/> that lends this key (its Dispose does nothing), so the core and the
    /// handshake may dispose the pair freely, and the pair works only until this <see cref="PrivateKey"/> is disposed.
    /// </summary>
    /// <exception cref="ObjectDisposedException">The key has been disposed.</exception>
    internal DhKeyPair ToKeyPair()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return new DhKeyPair(new X25519PrivateKey(_key, ownsKey: false), PublicKey.ToCore());
    }

    private int WritePem(Span<char> pem)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> raw = stackalloc byte[KeyPem.KeyLength];
        try
        {
            if (!_key.TryExport(KeyBlobFormat.RawPrivateKey, raw, out var written) || written != raw.Length)
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
        Span<byte> raw = stackalloc byte[KeyPem.KeyLength];
        try
        {
            KeyPem.ReadPrivatePem(pem, raw, source);
            return FromRawBytes(raw);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
        }
    }

    private static KeyCreationParameters CreationParameters() =>
        new() { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };
}
