using System.Security.Cryptography;
using HybridProtocol.Core;
using HybridProtocol.Core.Noise;
using NSec.Cryptography;

namespace HybridProtocol.Crypto;

/// <summary>
/// The fast provider for handshakes and transport: fills the core's crypto records (Noise §4) by calling the
/// libsodium that NSec ships directly, and .NET's own SHA-2. No new cryptographic code: X25519 is
/// <c>crypto_scalarmult_curve25519</c>, the AEADs are libsodium's (the same functions NSec calls), BLAKE2b is
/// <c>crypto_generichash</c>, SHA-256/512 are <see cref="SHA256"/>/<see cref="SHA512"/>.
/// What differs from <see cref="NSecSuite"/> is where secrets live: ephemeral private keys and AEAD keys are
/// 64-byte blocks of one shared pool of guarded, locked native memory (<see cref="SecretMemory"/>) instead of one
/// <c>sodium_malloc</c> (mmap, mprotect, mlock; munmap on dispose) per key, and a DH output is written straight
/// into the caller's buffer instead of an NSec <c>SharedSecret</c> object. Long-term keys stay NSec keys
/// (<see cref="PrivateKey"/>): for a DH with one, its 32 bytes are exported to the stack, used, and zeroed.
/// </summary>
internal static unsafe class SodiumSuite
{
    private static SuiteTable? table;

    // Field initializers run in textual order, before any property below reads this. (Sodium's static
    // constructor runs sodium_init before the first native call.)
    private static readonly bool AesGcmAvailable = Sodium.crypto_aead_aes256gcm_is_available() != 0;

    /// <summary>Noise §12.1 "25519": X25519 with DHLEN = 32.</summary>
    public static DhFunctions X25519 { get; } = new("25519", 32, new DhFn(Agree), new ImportPrivateFn(Import));

    /// <summary>Noise §12.3 "ChaChaPoly": ChaCha20-Poly1305 (RFC 8439), nonce 32 zero bits then little-endian n.</summary>
    public static CipherFunctions ChaChaPoly { get; } = Cipher(AeadKind.ChaChaPoly);

    /// <summary>
    /// Noise §12.4 "AESGCM": AES-256-GCM, nonce 32 zero bits then big-endian n. Where libsodium cannot run AES-GCM
    /// (no AES-NI), this is <see cref="NSecSuite.AesGcm"/>, which then refuses in the same way.
    /// </summary>
    public static CipherFunctions AesGcm { get; } = AesGcmAvailable
        ? Cipher(AeadKind.AesGcm)
        : NSecSuite.AesGcm;

    /// <summary>AEGIS-256 (our extension, specs/NOISE-CORE.md): 32-byte nonce, 32-byte tag.</summary>
    public static CipherFunctions Aegis256 { get; } = Cipher(AeadKind.Aegis256);

    /// <summary>AEGIS-128L (our extension, specs/NOISE-CORE.md): 16-byte nonce, 32-byte tag, 128-bit key taken from the first 16 key bytes.</summary>
    public static CipherFunctions Aegis128L { get; } = Cipher(AeadKind.Aegis128L);

    /// <summary>Noise §12.5 "SHA256", through .NET (SHA extensions where the CPU has them).</summary>
    public static HashFunctions Sha256 { get; } = new("SHA256", 32, 64, new HashFn(Counted(static (data, output) => SHA256.HashData(data, output))));

    /// <summary>Noise §12.6 "SHA512", through .NET.</summary>
    public static HashFunctions Sha512 { get; } = new("SHA512", 64, 128, new HashFn(Counted(static (data, output) => SHA512.HashData(data, output))));

    /// <summary>Noise §12.8 "BLAKE2b" with a 64-byte output (libsodium's crypto_generichash).</summary>
    public static HashFunctions Blake2b { get; } = new("BLAKE2b", 64, 128, new HashFn(Counted(Blake2bHash)));

    /// <summary>The suite a parsed Noise protocol name asks for: with ML-KEM-768 (<see cref="SodiumKem.MlKem768"/>)
    /// when the name is an hfs name ("25519+MLKEM768"), classical otherwise.</summary>
    public static CryptoSuite For(ProtocolName name) => Table.For(name);

    /// <summary>The X25519 suite with the given cipher and hash.</summary>
    public static CryptoSuite For(CipherName cipher, HashName hash) => Table.For(cipher, hash);

    private static SuiteTable Table => table ??= new(X25519, ChaChaPoly, AesGcm, Aegis256, Aegis128L, Sha256, Sha512, Blake2b);

    /// <summary>
    /// Noise §4.1 GENERATE_KEYPAIR(), done by the facade for the core: 32 bytes from libsodium's CSPRNG
    /// (<c>randombytes_buf</c>) straight into a pooled native block, and the public key <c>crypto_scalarmult_curve25519_base</c>.
    /// The caller owns the pair and disposes its <c>Private</c> when the handshake is over, which erases the key.
    /// </summary>
    public static DhKeyPair GenerateEphemeral()
    {
        var start = ProviderStatistics.Start();
        var key = new NativeX25519Key();
        try
        {
            Span<byte> publicKey = stackalloc byte[32];
            var secret = key.Acquire();
            try
            {
                Sodium.randombytes_buf(secret, 32);
                fixed (byte* q = publicKey)
                {
                    Sodium.crypto_scalarmult_curve25519_base(q, secret);
                }
            }
            finally
            {
                key.ReleaseReference();
            }

            ProviderStatistics.Stop(ref ProviderStatistics.KeyGenerations, ref ProviderStatistics.DhTicks, start);
            return new DhKeyPair(key, DhPublicKey.TryCreate(32, publicKey).Value);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    private static HashFn Counted(HashFn hash) => (data, output) =>
    {
        var start = ProviderStatistics.Start();
        hash(data, output);
        ProviderStatistics.Stop(ref ProviderStatistics.Hashes, ref ProviderStatistics.HashTicks, start);
    };

    private static void Blake2bHash(ReadOnlySpan<byte> data, Span<byte> output)
    {
        fixed (byte* input = data)
        fixed (byte* digest = output)
        {
            if (Sodium.crypto_generichash(digest, (nuint)output.Length, input, (ulong)data.Length, null, 0) != 0)
            {
                throw new CryptographicException("crypto_generichash failed.");
            }
        }
    }

    /// <summary>
    /// Noise §4.1 DH(key_pair, public_key) = crypto_scalarmult_curve25519, which returns -1 for an all-zero output
    /// (a low-order public key; Noise §12.1 allows refusing it): then false, and the output is zeroed.
    /// </summary>
    private static bool Agree(IDhPrivateKey privateKey, ReadOnlySpan<byte> publicKey, Span<byte> output)
    {
        if (publicKey.Length != 32 || output.Length != 32)
        {
            return false;
        }

        var start = ProviderStatistics.Start();
        int result;
        fixed (byte* q = output)
        fixed (byte* p = publicKey)
        {
            switch (privateKey)
            {
                case NativeX25519Key native:
                    var n = native.Acquire();
                    try
                    {
                        result = Sodium.crypto_scalarmult_curve25519(q, n, p);
                    }
                    finally
                    {
                        native.ReleaseReference();
                    }

                    break;
                case X25519PrivateKey nsec:
                    // A long-term NSec key: its 32 bytes on the stack for the one multiplication, then zeroed.
                    Span<byte> raw = stackalloc byte[32];
                    try
                    {
                        if (!nsec.Key.TryExport(KeyBlobFormat.RawPrivateKey, raw, out var written) || written != 32)
                        {
                            throw new CryptographicException("NSec did not export the 32-byte X25519 private key.");
                        }

                        fixed (byte* exported = raw)
                        {
                            result = Sodium.crypto_scalarmult_curve25519(q, exported, p);
                        }
                    }
                    finally
                    {
                        CryptographicOperations.ZeroMemory(raw);
                    }

                    break;
                default:
                    throw new ArgumentException($"SodiumSuite cannot use a {privateKey.GetType().Name} as an X25519 private key.", nameof(privateKey));
            }
        }

        ProviderStatistics.Stop(ref ProviderStatistics.Agreements, ref ProviderStatistics.DhTicks, start);
        if (result != 0)
        {
            output.Clear();
            return false;
        }

        return true;
    }

    /// <summary>IMPORT_PRIVATE: the 32 bytes into a pooled block, and the public key from them.</summary>
    private static Microsoft.FSharp.Core.FSharpValueOption<DhKeyPair> Import(ReadOnlySpan<byte> raw)
    {
        if (raw.Length != 32)
        {
            return Microsoft.FSharp.Core.FSharpValueOption<DhKeyPair>.None;
        }

        var key = new NativeX25519Key();
        Span<byte> publicKey = stackalloc byte[32];
        var secret = key.Acquire();
        try
        {
            raw.CopyTo(new Span<byte>(secret, 32));
            fixed (byte* q = publicKey)
            {
                Sodium.crypto_scalarmult_curve25519_base(q, secret);
            }
        }
        finally
        {
            key.ReleaseReference();
        }

        return Microsoft.FSharp.Core.FSharpValueOption<DhKeyPair>.Some(new DhKeyPair(key, DhPublicKey.TryCreate(32, publicKey).Value));
    }

    /// <summary>The cipher's row of the core's table (name, nonce, tag, key bytes used), bound to libsodium's AEAD.</summary>
    private static CipherFunctions Cipher(AeadKind kind) => new(
        NativeAeadKey.Row(kind).Name,
        NativeAeadKey.NonceLength(kind),
        NativeAeadKey.TagLength(kind),
        NativeAeadKey.Row(kind).NonceEncoding,
        new AeadKeyFn(raw => NativeAeadKey.Create(kind, raw)),
        new EncryptFn((k, nonce, ad, plaintext, ciphertext) => ((NativeAeadKey)k).Encrypt(kind, nonce, ad, plaintext, ciphertext)),
        new DecryptFn((k, nonce, ad, ciphertext, plaintext) => ((NativeAeadKey)k).Decrypt(kind, nonce, ad, ciphertext, plaintext)));
}
