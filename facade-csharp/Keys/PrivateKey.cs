using System.Security.Cryptography;
using HybridProtocol.Crypto;
using NSec.Cryptography;
using HybridProtocol.Core;

namespace HybridProtocol;

/// <summary>
/// A private key of one <see cref="KeyAlgorithm"/>. X25519 (RFC 7748) is the static identity of a Noise server or
/// client and lives in libsodium's guarded memory (an NSec <c>Key</c>); it is stored as an RFC 8410 PKCS #8 PEM
/// "PRIVATE KEY" block, the format <c>openssl genpkey -algorithm X25519</c> writes (specs/KEYS.md). The HPKE-only
/// algorithms: P-256/384/521 live in .NET's ECDiffieHellman (OpenSSL) and are stored as <c>openssl genpkey -algorithm EC</c>
/// writes them; ML-KEM-768 and X-Wing keep their seed and expanded key in native memory, stored in the PKCS #8 forms of
/// specs/HPKE.md. <see cref="Dispose"/> erases the key. Files are readable by their owner only. Safe to share between
/// threads until it is disposed.
/// </summary>
public sealed partial class PrivateKey : IDisposable
{
    private static readonly KeyAgreementAlgorithm X25519Algorithm = KeyAgreementAlgorithm.X25519;

    private readonly Key? _key;
    private readonly EcPrivateKey? _ec;
    private readonly Crypto.SodiumKem.NativeKemPrivateKey? _seed;
    private readonly Core.IKemPrivateKey? _kem;
    private readonly Core.Hpke.HpkeKeyPair? _generic;
    private volatile bool _disposed;

    private PrivateKey(KeyAlgorithm algorithm, EcPrivateKey? ec, Crypto.SodiumKem.NativeKemPrivateKey? seed, Core.IKemPrivateKey? kem, byte[] publicRaw)
    {
        Algorithm = algorithm;
        _ec = ec;
        _seed = seed;
        _kem = kem;
        PublicKey = PublicKey.FromOwnedRaw(publicRaw, algorithm);
    }

    /// <summary>A key held generically (<see cref="KeyAlgorithms.IsGeneric"/>): the serialized private key and the provider's pair.</summary>
    private PrivateKey(KeyAlgorithm algorithm, Crypto.SodiumKem.NativeKemPrivateKey seed, Core.Hpke.HpkeKeyPair pair)
    {
        Algorithm = algorithm;
        _seed = seed;
        _generic = pair;
        PublicKey = PublicKey.FromOwnedRaw(pair.Public, algorithm);
    }

    private PrivateKey(Key key)
    {
        Algorithm = KeyAlgorithm.X25519;
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

    /// <summary>The algorithm of the key.</summary>
    public KeyAlgorithm Algorithm { get; }

    /// <summary>The <see cref="PublicKey"/>'s fingerprint (<c>SHA256:</c> + unpadded base64), safe to show and log.</summary>
    public string Fingerprint => PublicKey.Fingerprint;

    /// <summary>Makes a new random key with the operating system's secure random generator (through libsodium).</summary>
    public static PrivateKey Generate()
    {
        var parameters = CreationParameters();
        return new PrivateKey(Key.Create(X25519Algorithm, in parameters));
    }

    /// <summary>
    /// Makes a new random key of <paramref name="algorithm"/> with the operating system's secure random generator (X25519
    /// through libsodium, the NIST curves through OpenSSL, ML-KEM-768 and X-Wing from a random seed through libsodium; the
    /// others from Nsk random bytes: an X448 scalar, an ML-KEM seed d || z, a hybrid's 32-byte seed).
    /// </summary>
    /// <exception cref="HybridProtocolException">Unsupported when the algorithm's provider package is not registered.</exception>
    public static unsafe PrivateKey Generate(KeyAlgorithm algorithm)
    {
        if (KeyAlgorithms.IsGeneric(algorithm) && Enum.IsDefined(algorithm))
        {
            // draft-ietf-hpke-pq §3-4 GenerateKeyPair(): random(Nsk) bytes are the serialized private key; RFC 7748 §5: any 56 bytes are an X448 key.
            var random = RandomNumberGenerator.GetBytes(KeyAlgorithms.PrivateLength(algorithm));
            try
            {
                return FromRawBytes(algorithm, random);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(random);
            }
        }

        switch (algorithm)
        {
            case KeyAlgorithm.X25519:
                return Generate();
            case KeyAlgorithm.P256 or KeyAlgorithm.P384 or KeyAlgorithm.P521:
                var group = KeyAlgorithms.Nist(algorithm)!;
                var key = ECDiffieHellman.Create(group.Curve);
                return new PrivateKey(algorithm, new EcPrivateKey(key), null, null, group.PublicBytes(key));
            case KeyAlgorithm.MlKem768 or KeyAlgorithm.XWing:
                // draft-ietf-hpke-pq §3: "GenerateKeyPair ... calls ML-KEM.KeyGen_internal with a pseudorandom dk value".
                Span<byte> seed = stackalloc byte[KeyAlgorithms.PostQuantum(algorithm)!.SEEDLEN];
                try
                {
                    RandomNumberGenerator.Fill(seed);
                    return FromRawBytes(algorithm, seed);
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(seed);
                }

            default:
                throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"Unknown key algorithm {(int)algorithm}.");
        }
    }

    /// <summary>
    /// Makes a key of <paramref name="algorithm"/> from its encoded private key (RFC 9180 SerializePrivateKey): 32 bytes for
    /// X25519, the big-endian scalar (32, 48 or 66 bytes, 1 ≤ sk &lt; n) for the NIST curves, the 64-byte seed d || z for
    /// ML-KEM-768, the 32-byte seed for X-Wing.
    /// </summary>
    /// <exception cref="HybridArgumentException"><see cref="HybridErrorCode.InvalidKey"/> when the bytes are not such a key.</exception>
    public static unsafe PrivateKey FromRawBytes(KeyAlgorithm algorithm, ReadOnlySpan<byte> raw)
    {
        if (KeyAlgorithms.IsGeneric(algorithm) && Enum.IsDefined(algorithm))
        {
            return FromGenericBytes(algorithm, raw);
        }

        switch (algorithm)
        {
            case KeyAlgorithm.X25519:
                return FromRawBytes(raw);
            case KeyAlgorithm.P256 or KeyAlgorithm.P384 or KeyAlgorithm.P521:
                var group = KeyAlgorithms.Nist(algorithm)!;
                var key = group.ImportScalar(raw) ?? throw new HybridArgumentException(
                    HybridErrorCode.InvalidKey,
                    $"A {KeyAlgorithms.Name(algorithm)} private key is a {group.Size}-byte scalar between 1 and the group order; "
                    + $"these {raw.Length} bytes are not one.");
                return new PrivateKey(algorithm, new EcPrivateKey(key), null, null, group.PublicBytes(key));
            case KeyAlgorithm.MlKem768 or KeyAlgorithm.XWing:
                var kem = KeyAlgorithms.PostQuantum(algorithm)!;
                if (raw.Length != kem.SEEDLEN)
                {
                    throw new HybridArgumentException(
                        HybridErrorCode.InvalidKey,
                        $"A {KeyAlgorithms.Name(algorithm)} private key is a {kem.SEEDLEN}-byte seed, but {raw.Length} bytes were given.");
                }

                var seed = new Crypto.SodiumKem.NativeKemPrivateKey(raw.Length);
                raw.CopyTo(new Span<byte>(seed.Pointer, raw.Length));
                var pair = kem.GENERATE_KEM_KEYPAIR.Invoke(raw);
                return new PrivateKey(algorithm, null, seed, pair.Private, pair.Public);
            default:
                throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"Unknown key algorithm {(int)algorithm}.");
        }
    }

    /// <summary>
    /// A key of an algorithm held generically: the core KEM's DeserializePrivateKey makes the provider's pair (X448: the
    /// scalar; ML-KEM-512/1024: the seed d || z expanded; the hybrids: expandKey(seed)); the bytes stay in native memory for
    /// <see cref="ToPem"/>.
    /// </summary>
    private static unsafe PrivateKey FromGenericBytes(KeyAlgorithm algorithm, ReadOnlySpan<byte> raw)
    {
        var kem = KeyAlgorithms.CoreKem(algorithm);
        if (raw.Length != kem.Nsk)
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidKey,
                $"A {KeyAlgorithms.Name(algorithm)} private key is {kem.Nsk} bytes, but {raw.Length} were given.");
        }

        var copy = raw.ToArray();
        try
        {
            var pair = kem.DeserializePrivateKey.Invoke(copy);
            if (pair.IsError)
            {
                throw new HybridArgumentException(
                    HybridErrorCode.InvalidKey, $"These {raw.Length} bytes are not a {KeyAlgorithms.Name(algorithm)} private key.");
            }

            var seed = new Crypto.SodiumKem.NativeKemPrivateKey(raw.Length);
            raw.CopyTo(new Span<byte>(seed.Pointer, raw.Length));
            return new PrivateKey(algorithm, seed, pair.ResultValue);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(copy);
        }
    }

    /// <summary>Makes a key from its 32 raw bytes (RFC 7748 §5 scalar; every 32-byte string is a valid X25519 private key).</summary>
    /// <exception cref="HybridArgumentException"><see cref="HybridErrorCode.InvalidKey"/> when the length is not 32.</exception>
    public static PrivateKey FromRawBytes(ReadOnlySpan<byte> raw)
    {
        if (raw.Length != KeyPem.KeyLength)
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidKey,
                $"An X25519 private key is {KeyPem.KeyLength} bytes, but {raw.Length} were given.");
        }

        var parameters = CreationParameters();
        if (!Key.TryImport(X25519Algorithm, raw, KeyBlobFormat.RawPrivateKey, out var key, in parameters) || key is null)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidKey, "libsodium refused the 32 bytes as an X25519 private key.");
        }

        return new PrivateKey(key);
    }

    /// <summary>Erases the key from memory. Later use throws <see cref="ObjectDisposedException"/>; disposing twice is harmless.</summary>
    public void Dispose()
    {
        _disposed = true;
        _key?.Dispose();
        _ec?.Dispose();
        _seed?.Dispose();
        _kem?.Dispose();
        switch (_generic?.Private)
        {
            case Core.Hpke.HpkePrivateKey.DhPrivate dh:
                dh.dh.Dispose();
                break;
            case Core.Hpke.HpkePrivateKey.KemPrivate kem:
                kem.kem.Dispose();
                break;
        }
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
        if (_key is null)
        {
            throw KeyAlgorithms.WrongAlgorithm(Algorithm, KeyAlgorithm.X25519, "a Noise connection");
        }

        return new DhKeyPair(new X25519PrivateKey(_key, ownsKey: false), PublicKey.ToCore());
    }

    /// <summary>
    /// The core's HPKE view of this key for <paramref name="kem"/> (InvalidKey when the key is of another algorithm). The key
    /// stays owned here: the core never disposes a recipient or sender key, and the pair works until this key is disposed.
    /// </summary>
    internal Core.Hpke.HpkeKeyPair ToHpke(HpkeKem kem)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var expected = KeyAlgorithms.OfKem(kem);
        if (expected != Algorithm)
        {
            throw KeyAlgorithms.WrongAlgorithm(Algorithm, expected, $"the HPKE suite's KEM ({KeyAlgorithms.CoreKem(expected).Name})");
        }

        if (_generic is not null)
        {
            return new Core.Hpke.HpkeKeyPair((ushort)kem, _generic.Private, _generic.Public);
        }

        Core.Hpke.HpkePrivateKey sk = Algorithm switch
        {
            KeyAlgorithm.X25519 => Core.Hpke.HpkePrivateKey.NewDhPrivate(new X25519PrivateKey(_key!, ownsKey: false)),
            KeyAlgorithm.P256 or KeyAlgorithm.P384 or KeyAlgorithm.P521 => Core.Hpke.HpkePrivateKey.NewDhPrivate(_ec!),
            _ => Core.Hpke.HpkePrivateKey.NewKemPrivate(_kem!),
        };
        return new Core.Hpke.HpkeKeyPair((ushort)kem, sk, PublicKey.RawBytes.ToArray());
    }

    private static KeyCreationParameters CreationParameters() =>
        new() { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };
}
