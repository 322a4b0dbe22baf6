using System.Buffers.Binary;
using System.Security.Cryptography;
using HybridProtocol.Core;

namespace HybridProtocol;

/// <summary>
/// An X25519 public key (RFC 7748): 32 bytes, printable as a <see cref="Fingerprint"/>, stored as an
/// RFC 8410 SubjectPublicKeyInfo in a PEM "PUBLIC KEY" block, the format <c>openssl pkey -pubout</c> writes
/// (specs/KEYS.md). Immutable and safe to share between threads.
/// </summary>
public sealed class PublicKey : IEquatable<PublicKey>
{
    private readonly byte[] _raw;

    private PublicKey(byte[] raw)
    {
        _raw = raw;
        Fingerprint = ComputeFingerprint(raw);
    }

    /// <summary>The 32 bytes of the key as they travel in a handshake (RFC 7748 §5 u-coordinate, little-endian).</summary>
    public ReadOnlyMemory<byte> RawBytes => _raw;

    /// <summary>
    /// The key's printable form, used everywhere a key is shown: <c>"SHA256:"</c> followed by the unpadded
    /// base64 of the SHA-256 of the 32 raw key bytes (43 characters), like OpenSSH's fingerprints.
    /// </summary>
    public string Fingerprint { get; }

    /// <summary>Makes a public key from its 32 raw bytes (copied).</summary>
    /// <exception cref="HybridProtocolException"><see cref="HybridErrorCode.InvalidKey"/> when the length is not 32.</exception>
    public static PublicKey FromRawBytes(ReadOnlySpan<byte> raw)
    {
        if (raw.Length != KeyPem.KeyLength)
        {
            throw new HybridProtocolException(
                HybridErrorCode.InvalidKey,
                $"An X25519 public key is {KeyPem.KeyLength} bytes, but {raw.Length} were given.");
        }

        return new PublicKey(raw.ToArray());
    }

    /// <summary>Reads a PEM "PUBLIC KEY" block (RFC 8410 SubjectPublicKeyInfo for X25519), as <c>openssl pkey -pubout</c> writes it.</summary>
    /// <exception cref="HybridProtocolException">
    /// <see cref="HybridErrorCode.InvalidKey"/> when the text is not such a block (garbage, damaged base64, a private key,
    /// another algorithm such as Ed25519 or RSA, a wrong length); the message says what was found and what to do.
    /// </exception>
    public static PublicKey FromPem(string pem)
    {
        ArgumentNullException.ThrowIfNull(pem);
        return new PublicKey(KeyPem.ReadPublicPem(pem, "the PEM text"));
    }

    /// <summary>Reads a public key file written by <see cref="Save"/> or <c>openssl pkey -pubout</c>.</summary>
    /// <exception cref="HybridProtocolException">
    /// <see cref="HybridErrorCode.InvalidArgument"/> when the file cannot be read; <see cref="HybridErrorCode.InvalidKey"/>
    /// when it does not hold an X25519 public key (see <see cref="FromPem"/>).
    /// </exception>
    public static PublicKey Load(string path)
    {
        var text = KeyPem.ReadKeyFile(path);
        return new PublicKey(KeyPem.ReadPublicPem(text, $"'{path}'"));
    }

    /// <summary>The key as a PEM "PUBLIC KEY" block with LF line ends and a final LF, byte for byte what OpenSSL writes.</summary>
    public string ToPem()
    {
        Span<char> pem = stackalloc char[KeyPem.MaxPemChars];
        var length = KeyPem.WritePublicPem(_raw, pem);
        return new string(pem[..length]);
    }

    /// <summary>
    /// Writes <see cref="ToPem"/> to a new file. Refuses to replace an existing file unless <paramref name="overwrite"/>
    /// is true; then the file is replaced atomically (write a temporary file, then rename).
    /// </summary>
    /// <exception cref="HybridProtocolException">
    /// <see cref="HybridErrorCode.InvalidArgument"/> when the file exists and <paramref name="overwrite"/> is false, or
    /// when it cannot be written (the message names the path and the reason).
    /// </exception>
    public void Save(string path, bool overwrite = false)
    {
        Span<char> pem = stackalloc char[KeyPem.MaxPemChars];
        var length = KeyPem.WritePublicPem(_raw, pem);
        KeyFiles.Write(path, pem[..length], overwrite, ownerOnly: false, "public key");
    }

    /// <summary>Compares the 32 bytes in constant time.</summary>
    public bool Equals(PublicKey? other) =>
        other is not null && CryptographicOperations.FixedTimeEquals(_raw, other._raw);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as PublicKey);

    /// <inheritdoc/>
    public override int GetHashCode() => BinaryPrimitives.ReadInt32LittleEndian(_raw);

    /// <summary>Whether two keys are the same (constant-time); two nulls are equal.</summary>
    public static bool operator ==(PublicKey? left, PublicKey? right) =>
        left is null ? right is null : left.Equals(right);

    /// <summary>Whether two keys differ (constant-time).</summary>
    public static bool operator !=(PublicKey? left, PublicKey? right) => !(left == right);

    /// <summary>The <see cref="Fingerprint"/>.</summary>
    public override string ToString() => Fingerprint;

    /// <summary>The core's view of the key (DHLEN = 32 bytes, copied).</summary>
    internal DhPublicKey ToCore() => DhPublicKey.TryCreate(KeyPem.KeyLength, _raw).Value;

    /// <summary>The facade's view of a key the core produced (for instance the peer's static key rs).</summary>
    /// <exception cref="HybridProtocolException"><see cref="HybridErrorCode.InvalidKey"/> when it is not 32 bytes.</exception>
    internal static PublicKey FromCore(DhPublicKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return FromRawBytes(key.Bytes);
    }

    /// <summary>Wraps 32 bytes the caller has just made and will not touch again (no copy).</summary>
    internal static PublicKey FromOwnedRaw(byte[] raw) => new(raw);

    private static string ComputeFingerprint(ReadOnlySpan<byte> raw)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(raw, hash);
        return "SHA256:" + Convert.ToBase64String(hash).TrimEnd('=');
    }
}
