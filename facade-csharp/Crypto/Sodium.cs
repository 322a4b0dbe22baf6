using System.Runtime.InteropServices;

namespace HybridProtocol.Crypto;

/// <summary>
/// Direct bindings to the libsodium that NSec ships (the same native library, loaded by the same name), for the
/// functions NSec does not wrap yet. One declaration per native function: the KEMs here, the fast provider's
/// functions in Sodium.Provider.cs.
/// </summary>
internal static unsafe partial class Sodium
{
    private const string Library = "libsodium";

    static Sodium()
    {
        // sodium_init is idempotent and thread-safe; it returns 1 when libsodium was already initialised (by NSec).
        if (sodium_init() < 0)
        {
            throw new InvalidOperationException("libsodium could not be initialised.");
        }
    }

    /// <summary>Runs the static constructor (sodium_init) before the first native call.</summary>
    internal static void EnsureInitialized()
    {
    }

    [LibraryImport(Library)]
    internal static partial int sodium_init();

    // ML-KEM-768 (FIPS 203). seed_keypair takes d || z (64 bytes); enc_deterministic takes m (32 bytes).
    [LibraryImport(Library)]
    internal static partial int crypto_kem_mlkem768_seed_keypair(byte* pk, byte* sk, byte* seed);

    [LibraryImport(Library)]
    internal static partial int crypto_kem_mlkem768_enc_deterministic(byte* ct, byte* ss, byte* pk, byte* seed);

    [LibraryImport(Library)]
    internal static partial int crypto_kem_mlkem768_dec(byte* ss, byte* ct, byte* sk);

    // X-Wing (draft-connolly-cfrg-xwing-kem). seed_keypair takes the 32-byte private key; enc_deterministic
    // takes eseed (64 bytes).
    [LibraryImport(Library)]
    internal static partial int crypto_kem_xwing_seed_keypair(byte* pk, byte* sk, byte* seed);

    [LibraryImport(Library)]
    internal static partial int crypto_kem_xwing_enc_deterministic(byte* ct, byte* ss, byte* pk, byte* seed);

    [LibraryImport(Library)]
    internal static partial int crypto_kem_xwing_dec(byte* ss, byte* ct, byte* sk);

    // The fast provider (SodiumSuite, SecretMemory): X25519, the Noise AEADs, BLAKE2b, guarded memory and the CSPRNG.

    /// <summary>crypto_scalarmult_curve25519: q = n * p; returns -1 when q is all zeros (a low-order p).</summary>
    [LibraryImport(Library)]
    internal static partial int crypto_scalarmult_curve25519(byte* q, byte* n, byte* p);

    /// <summary>crypto_scalarmult_curve25519_base: q = n * 9 (the public key of private key n).</summary>
    [LibraryImport(Library)]
    internal static partial int crypto_scalarmult_curve25519_base(byte* q, byte* n);

    [LibraryImport(Library)]
    internal static partial void* sodium_malloc(nuint size);

    [LibraryImport(Library)]
    internal static partial void sodium_free(void* pointer);

    [LibraryImport(Library)]
    internal static partial void sodium_memzero(void* pointer, nuint length);

    [LibraryImport(Library)]
    internal static partial void randombytes_buf(void* buffer, nuint size);

    [LibraryImport(Library)]
    internal static partial int crypto_aead_aes256gcm_is_available();

    [LibraryImport(Library)]
    internal static partial int crypto_aead_aes256gcm_encrypt(byte* c, ulong* clen, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [LibraryImport(Library)]
    internal static partial int crypto_aead_aes256gcm_decrypt(byte* m, ulong* mlen, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);

    [LibraryImport(Library)]
    internal static partial int crypto_aead_chacha20poly1305_ietf_encrypt(byte* c, ulong* clen, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [LibraryImport(Library)]
    internal static partial int crypto_aead_chacha20poly1305_ietf_decrypt(byte* m, ulong* mlen, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);

    [LibraryImport(Library)]
    internal static partial int crypto_aead_aegis256_encrypt(byte* c, ulong* clen, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [LibraryImport(Library)]
    internal static partial int crypto_aead_aegis256_decrypt(byte* m, ulong* mlen, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);

    [LibraryImport(Library)]
    internal static partial int crypto_aead_aegis128l_encrypt(byte* c, ulong* clen, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [LibraryImport(Library)]
    internal static partial int crypto_aead_aegis128l_decrypt(byte* m, ulong* mlen, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);

    [LibraryImport(Library)]
    internal static partial int crypto_generichash(byte* output, nuint outlen, byte* input, ulong inlen, byte* key, nuint keylen);
}
