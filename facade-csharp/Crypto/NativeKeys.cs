using System.Security.Cryptography;
using HybridProtocol.Core;
using HybridProtocol.Core.Noise;

namespace HybridProtocol.Crypto;

/// <summary>The AEADs <see cref="SodiumSuite"/> calls in libsodium.</summary>
internal enum AeadKind
{
    ChaChaPoly,
    AesGcm,
    Aegis256,
    Aegis128L,
}

/// <summary>
/// A secret in one <see cref="SecretMemory"/> block, with the reference counting a SafeHandle does: a use in progress
/// (<see cref="Acquire"/> ... <see cref="ReleaseReference"/>) keeps the block alive even if another thread disposes the
/// owner meanwhile, so a block is never erased or handed to someone else while a call reads it. Disposing (or,
/// for an owner that forgot, the finalizer) zeroes the block and returns it to the pool.
/// </summary>
internal abstract unsafe class SecretBlock : IDisposable
{
    private readonly byte* block = SecretMemory.Rent();
    private int references = 1;
    private int disposed;

    ~SecretBlock() => Dispose();

    /// <summary>Whether <see cref="Dispose"/> has run.</summary>
    public bool IsDisposed => Volatile.Read(ref disposed) != 0;

    /// <summary>Test hook: the block's address.</summary>
    internal nint Address => (nint)block;

    /// <summary>The block, kept alive until the matching <see cref="ReleaseReference"/>.</summary>
    /// <exception cref="ObjectDisposedException">The key has been disposed.</exception>
    public byte* Acquire()
    {
        while (true)
        {
            var current = Volatile.Read(ref references);
            if (current == 0 || Volatile.Read(ref disposed) != 0)
            {
                throw new ObjectDisposedException(GetType().Name);
            }

            if (Interlocked.CompareExchange(ref references, current + 1, current) == current)
            {
                return block;
            }
        }
    }

    /// <summary>Ends a use begun with <see cref="Acquire"/>.</summary>
    public void ReleaseReference()
    {
        if (Interlocked.Decrement(ref references) == 0)
        {
            SecretMemory.Return(block);
        }
    }

    /// <summary>Erases the secret (at once, or when the last use in progress ends).</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            ReleaseReference();
            GC.SuppressFinalize(this);
        }
    }
}

/// <summary>An X25519 private key (an ephemeral one, or one imported for a test vector) in a pooled native block.</summary>
internal sealed class NativeX25519Key : SecretBlock, IDhPrivateKey;

/// <summary>An AEAD key in a pooled native block; libsodium reads it from there for every record.</summary>
internal sealed unsafe class NativeAeadKey : SecretBlock, IAeadKey
{
    private NativeAeadKey()
    {
    }

    public static NativeAeadKey Create(AeadKind kind, ReadOnlySpan<byte> raw)
    {
        var start = ProviderStatistics.Start();
        // The key bytes the cipher table says the AEAD uses (AEGIS-128L: the first 16 of Noise's 32).
        var length = Row(kind).KeyBytesUsed;
        if (raw.Length < length)
        {
            throw new ArgumentException($"An AEAD key needs {length} bytes, not {raw.Length}.", nameof(raw));
        }

        var key = new NativeAeadKey();
        var block = key.Acquire();
        raw[..length].CopyTo(new Span<byte>(block, length));
        key.ReleaseReference();
        ProviderStatistics.Stop(ref ProviderStatistics.AeadKeys, ref ProviderStatistics.KeySetupTicks, start);
        return key;
    }

    private static readonly Core.Formats.CipherRow[] Rows =
    [
        Core.Formats.CipherTable.row(CipherName.ChaChaPoly),
        Core.Formats.CipherTable.row(CipherName.AESGCM),
        Core.Formats.CipherTable.row(CipherName.AEGIS256),
        Core.Formats.CipherTable.row(CipherName.AEGIS128L),
    ];

    /// <summary>The core's cipher table row of an AEAD (the enum follows <see cref="CipherName"/>'s order).</summary>
    public static Core.Formats.CipherRow Row(AeadKind kind) => Rows[(int)kind];

    /// <summary>Nonce length of each AEAD, from the cipher table (libsodium reads exactly this many bytes).</summary>
    public static int NonceLength(AeadKind kind) => Row(kind).NonceLength;

    /// <summary>Tag length of each AEAD, from the cipher table.</summary>
    public static int TagLength(AeadKind kind) => Row(kind).TagLength;

    public void Encrypt(AeadKind kind, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ad, ReadOnlySpan<byte> plaintext, Span<byte> ciphertext)
    {
        // libsodium writes plaintext + tag bytes and reads a fixed-length nonce: the lengths are checked first.
        if (nonce.Length != NonceLength(kind) || ciphertext.Length != plaintext.Length + TagLength(kind))
        {
            throw new ArgumentException($"{kind}: a {NonceLength(kind)}-byte nonce and room for exactly the plaintext plus a {TagLength(kind)}-byte tag are needed.");
        }

        var start = ProviderStatistics.Start();
        var k = Acquire();
        try
        {
            ulong written = 0;
            int result;
            fixed (byte* c = ciphertext)
            fixed (byte* m = plaintext)
            fixed (byte* a = ad)
            fixed (byte* npub = nonce)
            {
                result = kind switch
                {
                    AeadKind.ChaChaPoly => Sodium.crypto_aead_chacha20poly1305_ietf_encrypt(c, &written, m, (ulong)plaintext.Length, a, (ulong)ad.Length, null, npub, k),
                    AeadKind.AesGcm => Sodium.crypto_aead_aes256gcm_encrypt(c, &written, m, (ulong)plaintext.Length, a, (ulong)ad.Length, null, npub, k),
                    AeadKind.Aegis256 => Sodium.crypto_aead_aegis256_encrypt(c, &written, m, (ulong)plaintext.Length, a, (ulong)ad.Length, null, npub, k),
                    _ => Sodium.crypto_aead_aegis128l_encrypt(c, &written, m, (ulong)plaintext.Length, a, (ulong)ad.Length, null, npub, k),
                };
            }

            if (result != 0 || written != (ulong)ciphertext.Length)
            {
                throw new CryptographicException($"libsodium's {kind} encryption failed.");
            }
        }
        finally
        {
            ReleaseReference();
            ProviderStatistics.Stop(ref ProviderStatistics.AeadCalls, ref ProviderStatistics.AeadTicks, start);
        }
    }

    public bool Decrypt(AeadKind kind, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> ad, ReadOnlySpan<byte> ciphertext, Span<byte> plaintext)
    {
        if (nonce.Length != NonceLength(kind) || ciphertext.Length < TagLength(kind) || plaintext.Length != ciphertext.Length - TagLength(kind))
        {
            throw new ArgumentException($"{kind}: a {NonceLength(kind)}-byte nonce and room for exactly the ciphertext less its {TagLength(kind)}-byte tag are needed.");
        }

        var start = ProviderStatistics.Start();
        var k = Acquire();
        try
        {
            ulong written = 0;
            int result;
            fixed (byte* m = plaintext)
            fixed (byte* c = ciphertext)
            fixed (byte* a = ad)
            fixed (byte* npub = nonce)
            {
                result = kind switch
                {
                    AeadKind.ChaChaPoly => Sodium.crypto_aead_chacha20poly1305_ietf_decrypt(m, &written, null, c, (ulong)ciphertext.Length, a, (ulong)ad.Length, npub, k),
                    AeadKind.AesGcm => Sodium.crypto_aead_aes256gcm_decrypt(m, &written, null, c, (ulong)ciphertext.Length, a, (ulong)ad.Length, npub, k),
                    AeadKind.Aegis256 => Sodium.crypto_aead_aegis256_decrypt(m, &written, null, c, (ulong)ciphertext.Length, a, (ulong)ad.Length, npub, k),
                    _ => Sodium.crypto_aead_aegis128l_decrypt(m, &written, null, c, (ulong)ciphertext.Length, a, (ulong)ad.Length, npub, k),
                };
            }

            return result == 0 && written == (ulong)plaintext.Length;
        }
        finally
        {
            ReleaseReference();
            ProviderStatistics.Stop(ref ProviderStatistics.AeadCalls, ref ProviderStatistics.AeadTicks, start);
        }
    }
}
