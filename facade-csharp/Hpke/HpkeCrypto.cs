using System.Security.Cryptography;
using HybridProtocol.Core;
using HybridProtocol.Core.Hpke;
using HybridProtocol.Crypto;
using Microsoft.FSharp.Core;

namespace HybridProtocol;

/// <summary>
/// The crypto records HPKE's suites need beyond the Noise ones: the DH groups of DHKEM (X25519 through NSec,
/// P-256/384/521 through .NET's ECDiffieHellman, which is OpenSSL here), SHA-384 and SHAKE128/256 (.NET, OpenSSL),
/// AES-128-GCM (.NET's AesGcm; NSec has none), and the KEM values the core builds from them.
/// </summary>
internal static class HpkeCrypto
{
    /// <summary>SHA-384 for HKDF-SHA384 (RFC 9180 §7.2) and DHKEM(P-384, HKDF-SHA384).</summary>
    public static HashFunctions Sha384 { get; } = new("SHA384", 48, 128, new HashFn((data, output) => SHA384.HashData(data, output)));

    /// <summary>SHAKE128 (FIPS 202), the single-stage KDF 0x0010 of draft-ietf-hpke-pq §5.</summary>
    public static XofFn Shake128Xof { get; } = new((data, output) => Shake128.HashData(data, output));

    /// <summary>SHAKE256 (FIPS 202), the single-stage KDF 0x0011 and the PQ KEMs' DeriveKeyPair.</summary>
    public static XofFn Shake256Xof { get; } = new((data, output) => Shake256.HashData(data, output));

    /// <summary>AES-128-GCM (RFC 9180 §7.3 0x0001) through .NET's AesGcm: 16-byte key, 12-byte nonce, 16-byte tag.</summary>
    public static CipherFunctions Aes128Gcm { get; } = new(
        "AES128GCM",
        12,
        16,
        NonceEncoding.ZerosThenBigEndian,
        new AeadKeyFn(raw => new DotNetAesGcmKey(raw)),
        new EncryptFn((k, nonce, ad, plaintext, ciphertext) =>
            ((DotNetAesGcmKey)k).Aes.Encrypt(nonce, plaintext, ciphertext[..plaintext.Length], ciphertext[plaintext.Length..], ad)),
        new DecryptFn((k, nonce, ad, ciphertext, plaintext) =>
        {
            try
            {
                ((DotNetAesGcmKey)k).Aes.Decrypt(nonce, ciphertext[..^16], ciphertext[^16..], plaintext, ad);
                return true;
            }
            catch (AuthenticationTagMismatchException)
            {
                plaintext.Clear();
                return false;
            }
        }));

    /// <summary>Whether .NET offers SHAKE here (OpenSSL 1.1.1 or later); the SHAKE suites and the PQ KEMs need it.</summary>
    public static bool ShakeSupported => Shake128.IsSupported && Shake256.IsSupported;

    /// <summary>DHKEM(X25519, HKDF-SHA256), 0x0020.</summary>
    public static Kem X25519Kem { get; } = Dhkem.create(Ids.DhkemX25519HkdfSha256, X25519Group(), NSecSuite.Sha256);

    /// <summary>DHKEM(P-256, HKDF-SHA256), 0x0010.</summary>
    public static Kem P256Kem { get; } = Dhkem.create(Ids.DhkemP256HkdfSha256, NistGroup.P256.Group, NSecSuite.Sha256);

    /// <summary>DHKEM(P-384, HKDF-SHA384), 0x0011.</summary>
    public static Kem P384Kem { get; } = Dhkem.create(Ids.DhkemP384HkdfSha384, NistGroup.P384.Group, Sha384);

    /// <summary>DHKEM(P-521, HKDF-SHA512), 0x0012.</summary>
    public static Kem P521Kem { get; } = Dhkem.create(Ids.DhkemP521HkdfSha512, NistGroup.P521.Group, NSecSuite.Sha512);

    /// <summary>ML-KEM-768, 0x0041 (draft-ietf-hpke-pq §3), libsodium's.</summary>
    public static Kem MlKem768Kem { get; } = PqKem.create(Ids.MlKem768, SodiumKem.MlKem768, Shake256Xof);

    /// <summary>MLKEM768-X25519 = X-Wing, 0x647a (draft-ietf-hpke-pq §4), libsodium's.</summary>
    public static Kem XWingKem { get; } = PqKem.create(Ids.XWing, SodiumKem.XWing, Shake256Xof);

    /// <summary>SHA3-256 (FIPS 202) through .NET (OpenSSL 1.1.1 or later): the hybrid KEMs' combiner.</summary>
    public static HashFunctions Sha3_256 { get; } = new("SHA3-256", 32, 136, new HashFn((data, output) => SHA3_256.HashData(data, output)));

    /// <summary>
    /// MLKEM768-P256, 0x0050 (draft-ietf-hpke-pq §4): the core's hybrid construction over libsodium's ML-KEM-768 and .NET's
    /// P-256, so it needs no other package. Group.Nseed 128 (concrete-hybrid-kems); 96 bytes of encapsulation randomness
    /// for the ephemeral scalar (the hpke-pq vectors' ikmE is 32 + 96).
    /// </summary>
    public static Kem MlKem768P256Kem { get; } = HybridKem.create(new HybridKem.HybridParameters(
        Ids.MlKem768P256, "MLKEM768-P256", "MLKEM768-P256"u8.ToArray(), SodiumKem.MlKem768, NistGroup.P256.Group, 128, 96, Shake256Xof, Sha3_256));

    /// <summary>
    /// The KEMs that other packages provide (HybridProtocol.Hpke.Extended: X448, ML-KEM-512/1024, MLKEM1024-P384), set once
    /// by their registration and read without a lock.
    /// </summary>
    private static volatile IReadOnlyDictionary<HpkeKem, Kem> s_registered = new Dictionary<HpkeKem, Kem>();

    private static readonly object RegistrationLock = new();

    /// <summary>The KEM record for an identifier, or null (unknown, or its provider package not registered).</summary>
    public static Kem? KemFor(HpkeKem kem) => kem switch
    {
        HpkeKem.X25519HkdfSha256 => X25519Kem,
        HpkeKem.P256HkdfSha256 => P256Kem,
        HpkeKem.P384HkdfSha384 => P384Kem,
        HpkeKem.P521HkdfSha512 => P521Kem,
        HpkeKem.MlKem768 => MlKem768Kem,
        HpkeKem.XWing => XWingKem,
        HpkeKem.MlKem768P256 => MlKem768P256Kem,
        _ => s_registered.TryGetValue(kem, out var registered) ? registered : null,
    };

    /// <summary>Whether the KEM runs here: known and registered, and SHAKE (and for the hybrids SHA3-256) present where it needs them.</summary>
    public static bool KemSupported(HpkeKem kem) => kem switch
    {
        HpkeKem.MlKem768 or HpkeKem.XWing => ShakeSupported,
        HpkeKem.MlKem768P256 => ShakeSupported && SHA3_256.IsSupported,
        HpkeKem.MlKem512 or HpkeKem.MlKem1024 or HpkeKem.MlKem1024P384 => ShakeSupported && KemFor(kem) is not null,
        _ => KemFor(kem) is not null,
    };

    /// <summary>
    /// Adds the KEM records a provider package makes (HybridProtocol.Hpke.Extended). The built-in KEMs cannot be replaced;
    /// registering the same identifier again replaces the earlier record.
    /// </summary>
    public static void Register(HpkeKem kem, Kem implementation)
    {
        ArgumentNullException.ThrowIfNull(implementation);
        if (kem is HpkeKem.X25519HkdfSha256 or HpkeKem.P256HkdfSha256 or HpkeKem.P384HkdfSha384 or HpkeKem.P521HkdfSha512
            or HpkeKem.MlKem768 or HpkeKem.XWing or HpkeKem.MlKem768P256 || implementation.kem_id != (ushort)kem)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"HPKE KEM 0x{(int)kem:x4} cannot be registered with this record.");
        }

        lock (RegistrationLock)
        {
            s_registered = new Dictionary<HpkeKem, Kem>(s_registered) { [kem] = implementation };
        }
    }

    /// <summary>The X25519 group over NSec's Noise DH functions (every 32-byte string is a public key; §7.1.4's
    /// all-zero check happens at DH, where libsodium refuses low-order points).</summary>
    private static DhGroup X25519Group()
    {
        var x25519 = NSecSuite.X25519;
        return new DhGroup(
            "X25519",
            32,
            32,
            32,
            FSharpValueOption<byte[]>.None,
            0xFF,
            new ImportScalarFn((sk, publicKey) =>
            {
                var pair = x25519.IMPORT_PRIVATE.Invoke(sk);
                if (pair.IsNone)
                {
                    return FSharpValueOption<IDhPrivateKey>.None;
                }

                pair.Value.Public.Bytes.CopyTo(publicKey);
                return FSharpValueOption<IDhPrivateKey>.Some(pair.Value.Private);
            }),
            new ValidatePublicFn(publicKey => publicKey.Length == 32),
            x25519.DH);
    }
}

/// <summary>An AES-128-GCM key inside .NET's <see cref="AesGcm"/> (OpenSSL's context); disposing it frees and erases it.</summary>
internal sealed class DotNetAesGcmKey : IAeadKey
{
    public DotNetAesGcmKey(ReadOnlySpan<byte> raw) => Aes = new AesGcm(raw, 16);

    public AesGcm Aes { get; }

    public void Dispose() => Aes.Dispose();
}

/// <summary>A NIST-curve private key held by .NET's <see cref="ECDiffieHellman"/> (OpenSSL); disposing it frees the key.</summary>
internal sealed class EcPrivateKey : IDhPrivateKey
{
    public EcPrivateKey(ECDiffieHellman key) => Key = key;

    public ECDiffieHellman Key { get; }

    public void Dispose() => Key.Dispose();
}

/// <summary>
/// One NIST curve for DHKEM (RFC 9180 §7.1): sizes, order and prime for §7.1.3 and §7.1.4, and the group record
/// whose functions go through .NET's ECDiffieHellman. Private scalars pass through byte arrays that are erased
/// right after the import or export.
/// </summary>
internal sealed class NistGroup
{
    private NistGroup(string name, ECCurve curve, int size, byte bitmask, string orderHex, string primeHex)
    {
        Name = name;
        Curve = curve;
        Size = size;
        Order = Convert.FromHexString(orderHex);
        Prime = Convert.FromHexString(primeHex);
        Group = new DhGroup(
            name,
            size,
            1 + (2 * size),
            size,
            FSharpValueOption<byte[]>.Some(Order),
            bitmask,
            new ImportScalarFn(Import),
            new ValidatePublicFn(publicKey => TryPublicParameters(publicKey, out _)),
            new DhFn(Agree));
    }

    /// <summary>P-256: Ndh 32, Npk 65, Nsk 32, bitmask 0xFF.</summary>
    public static NistGroup P256 { get; } = new(
        "P-256", ECCurve.NamedCurves.nistP256, 32, 0xFF,
        "FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551",
        "FFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF");

    /// <summary>P-384: Ndh 48, Npk 97, Nsk 48, bitmask 0xFF.</summary>
    public static NistGroup P384 { get; } = new(
        "P-384", ECCurve.NamedCurves.nistP384, 48, 0xFF,
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973",
        "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFFFF0000000000000000FFFFFFFF");

    /// <summary>P-521: Ndh 66, Npk 133, Nsk 66, bitmask 0x01.</summary>
    public static NistGroup P521 { get; } = new(
        "P-521", ECCurve.NamedCurves.nistP521, 66, 0x01,
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFA51868783BF2F966B7FCC0148F709A5D03BB5C9B8899C47AEBB6FB71E91386409",
        "01FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF");

    public string Name { get; }

    public ECCurve Curve { get; }

    /// <summary>Bytes of a coordinate, of a scalar and of the DH output (Ndh = Nsk).</summary>
    public int Size { get; }

    /// <summary>The group order n, big-endian in <see cref="Size"/> bytes.</summary>
    public byte[] Order { get; }

    /// <summary>The field prime p, big-endian in <see cref="Size"/> bytes.</summary>
    public byte[] Prime { get; }

    public DhGroup Group { get; }

    /// <summary>
    /// RFC 9180 §7.1.4 partial public key validation of an uncompressed point 0x04 || x || y: the identity has no
    /// such encoding, x and y must be below p, and OpenSSL (through ECDiffieHellman's import) checks the curve equation.
    /// </summary>
    public bool TryPublicParameters(ReadOnlySpan<byte> publicKey, out ECParameters parameters)
    {
        parameters = default;
        if (publicKey.Length != 1 + (2 * Size) || publicKey[0] != 0x04)
        {
            return false;
        }

        var x = publicKey.Slice(1, Size);
        var y = publicKey.Slice(1 + Size, Size);
        if (x.SequenceCompareTo(Prime) >= 0 || y.SequenceCompareTo(Prime) >= 0)
        {
            return false;
        }

        parameters = new ECParameters { Curve = Curve, Q = new ECPoint { X = x.ToArray(), Y = y.ToArray() } };
        try
        {
            using var probe = ECDiffieHellman.Create(parameters);
            return true;
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>The encoded public key 0x04 || x || y of a .NET EC key.</summary>
    public byte[] PublicBytes(ECDiffieHellman key)
    {
        var q = key.ExportParameters(false).Q;
        var output = new byte[1 + (2 * Size)];
        output[0] = 0x04;
        q.X!.CopyTo(output.AsSpan(1 + Size - q.X!.Length));
        q.Y!.CopyTo(output.AsSpan(1 + (2 * Size) - q.Y!.Length));
        return output;
    }

    /// <summary>Imports Nsk bytes of scalar (1 ≤ sk &lt; n), or null. The copy handed to .NET is erased.</summary>
    public ECDiffieHellman? ImportScalar(ReadOnlySpan<byte> sk)
    {
        if (sk.Length != Size || !sk.ContainsAnyExcept((byte)0) || sk.SequenceCompareTo(Order) >= 0)
        {
            return null;
        }

        var d = sk.ToArray();
        try
        {
            var key = ECDiffieHellman.Create();
            try
            {
                key.ImportParameters(new ECParameters { Curve = Curve, D = d });
                return key;
            }
            catch (CryptographicException)
            {
                key.Dispose();
                return null;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(d);
        }
    }

    /// <summary>Writes the Nsk-byte scalar of <paramref name="key"/> (RFC 9180 §7.1.2 SerializePrivateKey); the .NET copy is erased.</summary>
    public void ExportScalar(ECDiffieHellman key, Span<byte> sk)
    {
        var parameters = key.ExportParameters(true);
        try
        {
            var d = parameters.D!;
            sk.Clear();
            d.CopyTo(sk[(Size - d.Length)..]);
        }
        finally
        {
            if (parameters.D is { } d)
            {
                CryptographicOperations.ZeroMemory(d);
            }
        }
    }

    private FSharpValueOption<IDhPrivateKey> Import(ReadOnlySpan<byte> sk, Span<byte> publicKey)
    {
        var key = ImportScalar(sk);
        if (key is null)
        {
            return FSharpValueOption<IDhPrivateKey>.None;
        }

        PublicBytes(key).CopyTo(publicKey);
        return FSharpValueOption<IDhPrivateKey>.Some(new EcPrivateKey(key));
    }

    private bool Agree(IDhPrivateKey privateKey, ReadOnlySpan<byte> publicKey, Span<byte> output)
    {
        if (privateKey is not EcPrivateKey ec || output.Length != Size || !TryPublicParameters(publicKey, out var parameters))
        {
            return false;
        }

        using var peer = ECDiffieHellman.Create(parameters);
        var shared = ec.Key.DeriveRawSecretAgreement(peer.PublicKey);
        try
        {
            if (shared.Length != Size)
            {
                return false;
            }

            shared.CopyTo(output);
            return true;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(shared);
        }
    }
}
