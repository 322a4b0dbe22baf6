using System.Buffers.Binary;
using System.Security.Cryptography;
using HybridProtocol.Core;

namespace HybridProtocol;

/// <summary>
/// A public key of one <see cref="KeyAlgorithm"/>, printable as a <see cref="Fingerprint"/>, stored as a
/// SubjectPublicKeyInfo in a PEM "PUBLIC KEY" block: for X25519 the RFC 8410 form <c>openssl pkey -pubout</c> writes
/// (specs/KEYS.md), for the NIST curves RFC 5480's, for ML-KEM-768 and X-Wing the forms of specs/HPKE.md.
/// Noise connections take X25519 keys; HPKE takes each with its KEM. Immutable and safe to share between threads.
/// </summary>
public sealed partial class PublicKey : IEquatable<PublicKey>
{
    private readonly byte[] _raw;
    private string? fingerprint;

    private PublicKey(byte[] raw, KeyAlgorithm algorithm = KeyAlgorithm.X25519)
    {
        _raw = raw;
        Algorithm = algorithm;
    }

    /// <summary>The algorithm of the key.</summary>
    public KeyAlgorithm Algorithm { get; }

    /// <summary>
    /// The encoded key (RFC 9180 SerializePublicKey): for X25519 the 32 bytes as they travel in a handshake (RFC 7748 §5
    /// u-coordinate, little-endian); for the NIST curves the uncompressed point 0x04 || x || y; for ML-KEM-768 and X-Wing
    /// the 1184- and 1216-byte encodings.
    /// </summary>
    public ReadOnlyMemory<byte> RawBytes => _raw;

    /// <summary>
    /// The key's printable form, used everywhere a key is shown: <c>"SHA256:"</c> followed by the unpadded
    /// base64 of the SHA-256 of the 32 raw key bytes (43 characters), like OpenSSH's fingerprints.
    /// </summary>
    /// <remarks>Computed when first read (a connection makes its peer's key at every handshake; few print it).</remarks>
    public string Fingerprint => fingerprint ??= ComputeFingerprint(_raw);

    /// <summary>Makes a public key from its 32 raw bytes (copied).</summary>
    /// <exception cref="HybridArgumentException"><see cref="HybridErrorCode.InvalidKey"/> when the length is not 32.</exception>
    public static PublicKey FromRawBytes(ReadOnlySpan<byte> raw)
    {
        if (raw.Length != KeyPem.KeyLength)
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidKey,
                $"An X25519 public key is {KeyPem.KeyLength} bytes, but {raw.Length} were given.");
        }

        return new PublicKey(raw.ToArray());
    }

    /// <summary>
    /// Makes a public key of <paramref name="algorithm"/> from its encoded bytes (copied), validated as RFC 9180 §7.1.4 says:
    /// the length, and for the NIST curves an uncompressed point on the curve (not the identity, coordinates below p).
    /// </summary>
    /// <exception cref="HybridArgumentException"><see cref="HybridErrorCode.InvalidKey"/> when the bytes are not such a key.</exception>
    public static PublicKey FromRawBytes(KeyAlgorithm algorithm, ReadOnlySpan<byte> raw)
    {
        if (algorithm == KeyAlgorithm.X25519)
        {
            return FromRawBytes(raw);
        }

        if (!Enum.IsDefined(algorithm))
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"Unknown key algorithm {(int)algorithm}.");
        }

        var bytes = raw.ToArray();
        var checkedKey = KeyAlgorithms.CoreKem(algorithm).DeserializePublicKey.Invoke(bytes);
        if (checkedKey.IsError)
        {
            var kemError = checkedKey.ErrorValue is Core.Hpke.HpkeError.KemFailure failure ? failure.Item : null;
            throw new HybridArgumentException(
                HybridErrorCode.InvalidKey,
                kemError is { IsInvalidPoint: true }
                    ? $"The {KeyAlgorithms.Name(algorithm)} public key is not a point on the curve (or is the identity); RFC 9180 §7.1.4 requires refusing it."
                    : kemError is { IsEncapsulationKeyCheck: true }
                        ? $"The {KeyAlgorithms.Name(algorithm)} public key fails the FIPS 203 §7.2 modulus check (a coefficient is not below 3329); it is not an ML-KEM key."
                        : $"A {KeyAlgorithms.Name(algorithm)} public key is {KeyAlgorithms.PublicLength(algorithm)} bytes, but {raw.Length} were given.");
        }

        return new PublicKey(bytes, algorithm);
    }

    /// <summary>
    /// Reads a PEM "PUBLIC KEY" block: a SubjectPublicKeyInfo of any <see cref="KeyAlgorithm"/> (RFC 8410 for X25519, as
    /// <c>openssl pkey -pubout</c> writes it; RFC 5480 for the NIST curves; ML-KEM-768 and X-Wing as specs/KEYS.md says),
    /// validated as <see cref="FromRawBytes(KeyAlgorithm, ReadOnlySpan{byte})"/> validates it.
    /// </summary>
    /// <exception cref="HybridProtocolException">
    /// <see cref="HybridErrorCode.InvalidKey"/> when the text is not such a block (garbage, damaged base64, a private key,
    /// another algorithm such as Ed25519 or RSA, a wrong length); the message says what was found and what to do.
    /// </exception>
    public static PublicKey FromPem(string pem)
    {
        ArgumentNullException.ThrowIfNull(pem);
        return Read(pem, "the PEM text");
    }

    /// <summary>Reads a public key file written by <see cref="Save"/> or <c>openssl pkey -pubout</c>.</summary>
    /// <exception cref="HybridProtocolException">
    /// <see cref="HybridErrorCode.InvalidArgument"/> when the file cannot be read; <see cref="HybridErrorCode.InvalidKey"/>
    /// when it does not hold a public key of one of the <see cref="KeyAlgorithm"/>s (see <see cref="FromPem"/>).
    /// </exception>
    public static PublicKey Load(string path)
    {
        var text = KeyPem.ReadKeyFile(path);
        return Read(text, $"'{path}'");
    }

    /// <summary>The key as a PEM "PUBLIC KEY" block with LF line ends and a final LF, byte for byte what OpenSSL writes.</summary>
    public string ToPem()
    {
        if (Algorithm != KeyAlgorithm.X25519)
        {
            return new string(KeyPem.WritePemChars(KeyPem.PublicLabel, KeyFormats.WriteSpki(Algorithm, _raw)));
        }

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
        if (Algorithm != KeyAlgorithm.X25519)
        {
            KeyFiles.Write(path, KeyPem.WritePemChars(KeyPem.PublicLabel, KeyFormats.WriteSpki(Algorithm, _raw)), overwrite, ownerOnly: false, "public key");
            return;
        }

        Span<char> pem = stackalloc char[KeyPem.MaxPemChars];
        var length = KeyPem.WritePublicPem(_raw, pem);
        KeyFiles.Write(path, pem[..length], overwrite, ownerOnly: false, "public key");
    }

    /// <summary>Compares the algorithm and the encoded bytes (the bytes in constant time).</summary>
    public bool Equals(PublicKey? other) =>
        other is not null && other.Algorithm == Algorithm && CryptographicOperations.FixedTimeEquals(_raw, other._raw);

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

    /// <summary>The core's view of an X25519 key for Noise (DHLEN = 32 bytes, copied).</summary>
    /// <exception cref="HybridArgumentException"><see cref="HybridErrorCode.InvalidKey"/> for a key of another algorithm.</exception>
    internal DhPublicKey ToCore() => Algorithm == KeyAlgorithm.X25519
        ? DhPublicKey.TryCreate(KeyPem.KeyLength, _raw).Value
        : throw KeyAlgorithms.WrongAlgorithm(Algorithm, KeyAlgorithm.X25519, "a Noise connection");

    /// <summary>The core's HPKE view of the key for <paramref name="kem"/>: InvalidKey when the key is of another algorithm.</summary>
    internal Core.Hpke.HpkePublicKey ToHpke(HpkeKem kem)
    {
        var expected = KeyAlgorithms.OfKem(kem);
        if (expected != Algorithm)
        {
            throw KeyAlgorithms.WrongAlgorithm(Algorithm, expected, $"the HPKE suite's KEM ({KeyAlgorithms.CoreKem(expected).Name})");
        }

        return HpkeErrors.Check(KeyAlgorithms.CoreKem(Algorithm).DeserializePublicKey.Invoke(_raw));
    }

    /// <summary>The facade's view of a key the core produced (for instance the peer's static key rs).</summary>
    /// <exception cref="HybridArgumentException"><see cref="HybridErrorCode.InvalidKey"/> when it is not 32 bytes.</exception>
    internal static PublicKey FromCore(DhPublicKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return FromRawBytes(key.Bytes);
    }

    /// <summary>Wraps 32 bytes the caller has just made and will not touch again (no copy).</summary>
    internal static PublicKey FromOwnedRaw(byte[] raw) => new(raw);

    /// <summary>Wraps encoded bytes of <paramref name="algorithm"/> that the caller made and checked (no copy).</summary>
    internal static PublicKey FromOwnedRaw(byte[] raw, KeyAlgorithm algorithm) => new(raw, algorithm);

    private static PublicKey Read(ReadOnlySpan<char> pem, string source)
    {
        var (algorithm, raw) = KeyFormats.ReadPublic(pem, source);
        if (algorithm == KeyAlgorithm.X25519)
        {
            return new PublicKey(raw);
        }

        try
        {
            return FromRawBytes(algorithm, raw);
        }
        catch (Exception e) when (e is IHybridProtocolError)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidKey, $"{source}: {e.Message}", e);
        }
    }

    private static string ComputeFingerprint(ReadOnlySpan<byte> raw)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(raw, hash);
        return "SHA256:" + Convert.ToBase64String(hash).TrimEnd('=');
    }
}
