using System.Runtime.InteropServices;

namespace HybridProtocol.Crypto;

/// <summary>
/// The libsodium functions the fast provider (<see cref="SodiumSuite"/>) calls directly: the same native library
/// NSec loads (libsodium 1.0.22 from NSec's package), no other implementation. Pointer arguments only, so no
/// marshalling; every caller passes pinned or native memory.
/// </summary>
internal static unsafe partial class Sodium
{
    /// <summary>crypto_scalarmult_curve25519: q = n * p; returns -1 when q is all zeros (a low-order p).</summary>
    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_scalarmult_curve25519(byte* q, byte* n, byte* p);

    /// <summary>crypto_scalarmult_curve25519_base: q = n * 9 (the public key of private key n).</summary>
    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_scalarmult_curve25519_base(byte* q, byte* n);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void* sodium_malloc(nuint size);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void sodium_free(void* pointer);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void sodium_memzero(void* pointer, nuint length);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern void randombytes_buf(void* buffer, nuint size);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_aead_aes256gcm_is_available();

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_aead_aes256gcm_encrypt(byte* c, ulong* clen, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_aead_aes256gcm_decrypt(byte* m, ulong* mlen, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_aead_chacha20poly1305_ietf_encrypt(byte* c, ulong* clen, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_aead_chacha20poly1305_ietf_decrypt(byte* m, ulong* mlen, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_aead_aegis256_encrypt(byte* c, ulong* clen, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_aead_aegis256_decrypt(byte* m, ulong* mlen, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_aead_aegis128l_encrypt(byte* c, ulong* clen, byte* m, ulong mlen, byte* ad, ulong adlen, byte* nsec, byte* npub, byte* k);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_aead_aegis128l_decrypt(byte* m, ulong* mlen, byte* nsec, byte* c, ulong clen, byte* ad, ulong adlen, byte* npub, byte* k);

    [DllImport(Library, CallingConvention = CallingConvention.Cdecl)]
    internal static extern int crypto_generichash(byte* output, nuint outlen, byte* input, ulong inlen, byte* key, nuint keylen);
}
