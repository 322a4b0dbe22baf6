using HybridProtocol.Core;
using Org.BouncyCastle.Crypto;
using Org.BouncyCastle.Crypto.Kems;
using Org.BouncyCastle.Crypto.Parameters;
using Org.BouncyCastle.Crypto.Prng;
using Org.BouncyCastle.Security;

namespace HybridProtocol.Crypto;

/// <summary>
/// The core's KEM record (Noise HFS §3 names: GENERATE_KEM_KEYPAIR, GENERATE_KEM_CIPHERTEXT, KEM) for ML-KEM-512 and
/// ML-KEM-1024 from BouncyCastle's FIPS 203 implementation. Deterministic in its arguments: the key pair comes from the
/// 64-byte seed d || z (ML-KEM.KeyGen_internal), the encapsulation from the 32-byte m the caller gives
/// (ML-KEM.Encaps_internal), handed to BouncyCastle as the only bytes its random source can return.
/// </summary>
internal static class BouncyCastleMlKem
{
    private const int SeedLength = 64;
    private const int RandomnessLength = 32;
    private const int OutputLength = 32;

    /// <summary>ML-KEM-512: public key 800, ciphertext 768, output 32, seed 64, randomness 32.</summary>
    public static KemFunctions MlKem512 { get; } = Make("MLKEM512", MLKemParameters.ml_kem_512, 800, 768);

    /// <summary>ML-KEM-1024: public key 1568, ciphertext 1568, output 32, seed 64, randomness 32.</summary>
    public static KemFunctions MlKem1024 { get; } = Make("MLKEM1024", MLKemParameters.ml_kem_1024, 1568, 1568);

    private static KemFunctions Make(string name, MLKemParameters parameters, int publicKeyLength, int ciphertextLength) => new(
        name,
        publicKeyLength,
        ciphertextLength,
        OutputLength,
        SeedLength,
        RandomnessLength,
        new KemGenerateKeypairFn(seed =>
        {
            if (seed.Length != SeedLength)
            {
                throw new ArgumentException($"{name} takes a {SeedLength}-byte seed.", nameof(seed));
            }

            var copy = seed.ToArray();
            try
            {
                var key = MLKemPrivateKeyParameters.FromSeed(parameters, copy, MLKemPrivateKeyParameters.Format.SeedOnly);
                return new KemKeyPair(new BouncyCastleKemPrivateKey(key), key.GetPublicKeyEncoded());
            }
            finally
            {
                System.Security.Cryptography.CryptographicOperations.ZeroMemory(copy);
            }
        }),
        new KemEncapsulateFn((publicKey, randomness, ciphertext, output) =>
        {
            if (publicKey.Length != publicKeyLength || randomness.Length != RandomnessLength
                || ciphertext.Length < ciphertextLength || output.Length < OutputLength)
            {
                return false;
            }

            try
            {
                var ek = MLKemPublicKeyParameters.FromEncoding(parameters, publicKey.ToArray());
                var m = new FixedRandomGenerator(randomness);
                var encapsulator = new MLKemEncapsulator(parameters);
                encapsulator.Init(new ParametersWithRandom(ek, new SecureRandom(m)));
                encapsulator.Encapsulate(ciphertext[..ciphertextLength], output[..OutputLength]);
                // ML-KEM.Encaps_internal takes exactly m: anything else would be randomness that is not ours.
                return m.UsedExactly;
            }
            catch (Exception e) when (e is ArgumentException or InvalidOperationException or CryptoException)
            {
                // FIPS 203 §7.2: the encapsulation key check failed (or BouncyCastle asked for other randomness).
                output.Clear();
                return false;
            }
        }),
        new KemDecapsulateFn((key, ciphertext, output) =>
        {
            if (key is not BouncyCastleKemPrivateKey bc || ciphertext.Length != ciphertextLength || output.Length < OutputLength)
            {
                return false;
            }

            var decapsulator = new MLKemDecapsulator(parameters);
            decapsulator.Init(bc.Key);
            decapsulator.Decapsulate(ciphertext, output[..OutputLength]);
            return true;
        }));

    /// <summary>
    /// BouncyCastle's expanded ML-KEM decapsulation key. Its arrays live in BouncyCastle's managed objects, which offer no
    /// erasure: disposing drops the reference (specs/HPKE.md says so).
    /// </summary>
    private sealed class BouncyCastleKemPrivateKey(MLKemPrivateKeyParameters key) : IKemPrivateKey
    {
        private MLKemPrivateKeyParameters? _key = key;

        public MLKemPrivateKeyParameters Key => _key ?? throw new ObjectDisposedException(nameof(BouncyCastleKemPrivateKey));

        public void Dispose() => _key = null;
    }

    /// <summary>A random source that returns exactly the given bytes once (ML-KEM's m) and refuses any further request.</summary>
    private sealed class FixedRandomGenerator(ReadOnlySpan<byte> bytes) : IRandomGenerator
    {
        private readonly byte[] _bytes = bytes.ToArray();
        private int _used;

        public bool UsedExactly => _used == _bytes.Length;

        public void AddSeedMaterial(byte[] seed)
        {
        }

        public void AddSeedMaterial(ReadOnlySpan<byte> seed)
        {
        }

        public void AddSeedMaterial(long seed)
        {
        }

        public void NextBytes(byte[] bytes) => NextBytes(bytes.AsSpan());

        public void NextBytes(byte[] bytes, int start, int len) => NextBytes(bytes.AsSpan(start, len));

        public void NextBytes(Span<byte> bytes)
        {
            if (bytes.Length > _bytes.Length - _used)
            {
                throw new InvalidOperationException("The ML-KEM encapsulation asked for more randomness than m.");
            }

            _bytes.AsSpan(_used, bytes.Length).CopyTo(bytes);
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(_bytes.AsSpan(_used, bytes.Length));
            _used += bytes.Length;
        }
    }
}
