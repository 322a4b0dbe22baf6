using System.Runtime.InteropServices;
using HybridProtocol.Core;

namespace HybridProtocol.Crypto;

/// <summary>
/// Fills the core's KEM record (Noise HFS §3: GENERATE_KEM_KEYPAIR, GENERATE_KEM_CIPHERTEXT, KEM) from
/// libsodium's ML-KEM-768 and X-Wing. Every function is deterministic in its arguments: the seed and the
/// encapsulation randomness come from the caller, so vectors replay through the same code production runs.
/// </summary>
internal static class SodiumKem
{
    /// <summary>ML-KEM-768 (FIPS 203): public key 1184, ciphertext 1088, output 32, seed 64 (d || z), randomness 32 (m).</summary>
    public static KemFunctions MlKem768 { get; } = Make(
        "MLKEM768", publicKeyLength: 1184, secretKeyLength: 2400, ciphertextLength: 1088, seedLength: 64, randomnessLength: 32,
        Kind.MlKem768);

    /// <summary>X-Wing (draft-connolly-cfrg-xwing-kem, ML-KEM-768 + X25519): public key 1216, ciphertext 1120, output 32,
    /// seed 32 (the private key), randomness 64 (eseed).</summary>
    public static KemFunctions XWing { get; } = Make(
        "XWing", publicKeyLength: 1216, secretKeyLength: 32, ciphertextLength: 1120, seedLength: 32, randomnessLength: 64,
        Kind.XWing);

    private enum Kind
    {
        MlKem768,
        XWing,
    }

    private static unsafe KemFunctions Make(
        string name, int publicKeyLength, int secretKeyLength, int ciphertextLength, int seedLength, int randomnessLength, Kind kind)
    {
        const int OutputLength = 32;
        Sodium.EnsureInitialized();
        return new KemFunctions(
            name,
            publicKeyLength,
            ciphertextLength,
            OutputLength,
            seedLength,
            randomnessLength,
            new KemGenerateKeypairFn(seed =>
            {
                if (seed.Length != seedLength)
                {
                    throw new ArgumentException($"{name} takes a {seedLength}-byte seed.", nameof(seed));
                }

                var publicKey = new byte[publicKeyLength];
                var privateKey = new NativeKemPrivateKey(secretKeyLength);
                fixed (byte* pk = publicKey)
                fixed (byte* s = seed)
                {
                    var start = ProviderStatistics.Start();
                    var rc = kind == Kind.MlKem768
                        ? Sodium.crypto_kem_mlkem768_seed_keypair(pk, privateKey.Pointer, s)
                        : Sodium.crypto_kem_xwing_seed_keypair(pk, privateKey.Pointer, s);
                    ProviderStatistics.Stop(ref ProviderStatistics.KemOperations, ref ProviderStatistics.KemTicks, start);
                    if (rc != 0)
                    {
                        privateKey.Dispose();
                        throw new InvalidOperationException($"{name} key generation failed.");
                    }
                }

                return new KemKeyPair(privateKey, publicKey);
            }),
            new KemEncapsulateFn((publicKey, randomness, ciphertext, output) =>
            {
                if (publicKey.Length != publicKeyLength || randomness.Length != randomnessLength
                    || ciphertext.Length < ciphertextLength || output.Length < OutputLength)
                {
                    return false;
                }

                fixed (byte* pk = publicKey)
                fixed (byte* r = randomness)
                fixed (byte* ct = ciphertext)
                fixed (byte* ss = output)
                {
                    var start = ProviderStatistics.Start();
                    var rc = kind == Kind.MlKem768
                        ? Sodium.crypto_kem_mlkem768_enc_deterministic(ct, ss, pk, r)
                        : Sodium.crypto_kem_xwing_enc_deterministic(ct, ss, pk, r);
                    ProviderStatistics.Stop(ref ProviderStatistics.KemOperations, ref ProviderStatistics.KemTicks, start);
                    return rc == 0;
                }
            }),
            new KemDecapsulateFn((key, ciphertext, output) =>
            {
                if (key is not NativeKemPrivateKey native || native.Length != secretKeyLength
                    || ciphertext.Length != ciphertextLength || output.Length < OutputLength)
                {
                    return false;
                }

                fixed (byte* ct = ciphertext)
                fixed (byte* ss = output)
                {
                    var start = ProviderStatistics.Start();
                    var rc = kind == Kind.MlKem768
                        ? Sodium.crypto_kem_mlkem768_dec(ss, ct, native.Pointer)
                        : Sodium.crypto_kem_xwing_dec(ss, ct, native.Pointer);
                    ProviderStatistics.Stop(ref ProviderStatistics.KemOperations, ref ProviderStatistics.KemTicks, start);
                    GC.KeepAlive(native);
                    return rc == 0;
                }
            }));
    }

    /// <summary>A KEM private key in native memory (never moved or copied by the GC), erased on dispose.</summary>
    internal sealed unsafe class NativeKemPrivateKey : IKemPrivateKey
    {
        private byte* pointer;

        internal NativeKemPrivateKey(int length)
        {
            Length = length;
            pointer = (byte*)NativeMemory.AllocZeroed((nuint)length);
        }

        ~NativeKemPrivateKey() => Free();

        internal int Length { get; }

        internal byte* Pointer => pointer != null ? pointer : throw new ObjectDisposedException(nameof(NativeKemPrivateKey));

        /// <summary>The key bytes, for tests that check erasure or export a seed-derived key (read-only view).</summary>
        internal ReadOnlySpan<byte> Bytes => new(Pointer, Length);

        public void Dispose()
        {
            Free();
            GC.SuppressFinalize(this);
        }

        private void Free()
        {
            var p = pointer;
            if (p != null)
            {
                pointer = null;
                Sodium.sodium_memzero(p, (nuint)Length);
                NativeMemory.Free(p);
            }
        }
    }
}
