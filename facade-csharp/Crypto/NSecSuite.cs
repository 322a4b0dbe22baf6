using HybridProtocol.Core;
using HybridProtocol.Core.Noise;
using NSec.Cryptography;
using NSecPublicKey = NSec.Cryptography.PublicKey;

namespace HybridProtocol.Crypto;

/// <summary>
/// Fills the core's crypto records (Noise §4: DH, ENCRYPT, DECRYPT, HASH) from NSec, which is libsodium.
/// The core computes HMAC and HKDF itself on top of HASH, as the Noise spec defines them.
/// </summary>
internal static class NSecSuite
{
    private static SuiteTable? table;

    private static readonly KeyAgreementAlgorithm X25519Algorithm = KeyAgreementAlgorithm.X25519;

    /// <summary>Noise §12.1 "25519": X25519 with DHLEN = 32.</summary>
    public static DhFunctions X25519 { get; } = new(
        "25519",
        32,
        new DhFn(Agree),
        new ImportPrivateFn(ImportX25519));

    /// <summary>Noise §12.3 "ChaChaPoly": ChaCha20-Poly1305 (RFC 8439), nonce 32 zero bits then little-endian n.</summary>
    public static CipherFunctions ChaChaPoly { get; } = Cipher(CipherName.ChaChaPoly, AeadAlgorithm.ChaCha20Poly1305);

    /// <summary>Noise §12.4 "AESGCM": AES-256-GCM, nonce 32 zero bits then big-endian n.</summary>
    public static CipherFunctions AesGcm { get; } = Cipher(CipherName.AESGCM, AeadAlgorithm.Aes256Gcm);

    /// <summary>AEGIS-256 (our extension, specs/NOISE-CORE.md): 32-byte nonce, 32-byte tag.</summary>
    public static CipherFunctions Aegis256 { get; } = Cipher(CipherName.AEGIS256, AeadAlgorithm.Aegis256);

    /// <summary>AEGIS-128L (our extension, specs/NOISE-CORE.md): 16-byte nonce, 32-byte tag, 128-bit key taken from the first 16 key bytes.</summary>
    public static CipherFunctions Aegis128L { get; } = Cipher(CipherName.AEGIS128L, AeadAlgorithm.Aegis128L);

    /// <summary>Noise §12.5 "SHA256".</summary>
    public static HashFunctions Sha256 { get; } = Hash("SHA256", HashAlgorithm.Sha256, 64);

    /// <summary>Noise §12.6 "SHA512".</summary>
    public static HashFunctions Sha512 { get; } = Hash("SHA512", HashAlgorithm.Sha512, 128);

    /// <summary>Noise §12.8 "BLAKE2b" with a 64-byte output.</summary>
    public static HashFunctions Blake2b { get; } = Hash("BLAKE2b", HashAlgorithm.Blake2b_512, 128);

    /// <summary>The suite a parsed Noise protocol name asks for: with ML-KEM-768 (<see cref="SodiumKem.MlKem768"/>)
    /// when the name is an hfs name ("25519+MLKEM768"), classical otherwise.</summary>
    public static CryptoSuite For(ProtocolName name) => Table.For(name);

    /// <summary>The X25519 suite with the given cipher and hash.</summary>
    public static CryptoSuite For(CipherName cipher, HashName hash) => Table.For(cipher, hash);

    private static SuiteTable Table => table ??= new(X25519, ChaChaPoly, AesGcm, Aegis256, Aegis128L, Sha256, Sha512, Blake2b);

    /// <summary>The cipher's row of the core's table (name, nonce, tag, key bytes used), bound to NSec's AEAD.</summary>
    private static CipherFunctions Cipher(CipherName cipher, AeadAlgorithm algorithm) => Cipher(Core.Formats.CipherTable.row(cipher), algorithm);

    private static CipherFunctions Cipher(Core.Formats.CipherRow row, AeadAlgorithm algorithm) => new(
        row.Name,
        row.NonceLength,
        row.TagLength,
        row.NonceEncoding,
        new AeadKeyFn(raw => new NSecAeadKey(algorithm, raw[..row.KeyBytesUsed])),
        new EncryptFn((k, nonce, ad, plaintext, ciphertext) =>
            algorithm.Encrypt(((NSecAeadKey)k).Key, nonce, ad, plaintext, ciphertext)),
        new DecryptFn((k, nonce, ad, ciphertext, plaintext) =>
            algorithm.Decrypt(((NSecAeadKey)k).Key, nonce, ad, ciphertext, plaintext)));

    private static HashFunctions Hash(string name, HashAlgorithm algorithm, int blockLength) => new(
        name,
        algorithm.HashSize,
        blockLength,
        new HashFn((data, output) => algorithm.Hash(data, output)));

    private static bool Agree(IDhPrivateKey privateKey, ReadOnlySpan<byte> publicKey, Span<byte> output)
    {
        // libsodium refuses low-order points (all-zero shared secret): TryImport or Agree return null then.
        if (!NSecPublicKey.TryImport(X25519Algorithm, publicKey, KeyBlobFormat.RawPublicKey, out var peer) || peer is null)
        {
            return false;
        }

        var parameters = new SharedSecretCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };
        using var shared = X25519Algorithm.Agree(((X25519PrivateKey)privateKey).Key, peer, in parameters);
        if (shared is null)
        {
            return false;
        }

        return shared.TryExport(SharedSecretBlobFormat.RawSharedSecret, output, out var written) && written == output.Length;
    }

    private static Microsoft.FSharp.Core.FSharpValueOption<DhKeyPair> ImportX25519(ReadOnlySpan<byte> raw)
    {
        var parameters = new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };
        if (!Key.TryImport(X25519Algorithm, raw, KeyBlobFormat.RawPrivateKey, out var key, in parameters) || key is null)
        {
            return Microsoft.FSharp.Core.FSharpValueOption<DhKeyPair>.None;
        }

        return Microsoft.FSharp.Core.FSharpValueOption<DhKeyPair>.Some(X25519PrivateKey.ToKeyPair(key));
    }
}

/// <summary>An AEAD key held by libsodium in guarded memory; disposing it erases the key.</summary>
internal sealed class NSecAeadKey : IAeadKey
{
    /// <summary>Imports the key bytes the cipher table says the AEAD uses (<c>CipherRow.KeyBytesUsed</c>).</summary>
    public NSecAeadKey(AeadAlgorithm algorithm, ReadOnlySpan<byte> material) =>
        Key = Key.Import(algorithm, material, KeyBlobFormat.RawSymmetricKey);

    public Key Key { get; }

    public void Dispose() => Key.Dispose();
}

/// <summary>
/// An X25519 private key held by libsodium. When it owns the key (the default), disposing it erases the key;
/// a wrapper made with <c>ownsKey: false</c> lends a key that someone else owns (a <see cref="HybridProtocol.PrivateKey"/>)
/// and its Dispose does nothing, so the core may dispose its DhKeyPair without erasing the caller's key.
/// </summary>
internal sealed class X25519PrivateKey : IDhPrivateKey
{
    private readonly bool _ownsKey;

    public X25519PrivateKey(Key key, bool ownsKey = true)
    {
        Key = key;
        _ownsKey = ownsKey;
    }

    public Key Key { get; }

    public static DhKeyPair ToKeyPair(Key key)
    {
        var publicBytes = key.PublicKey.Export(KeyBlobFormat.RawPublicKey);
        return new DhKeyPair(new X25519PrivateKey(key), DhPublicKey.TryCreate(publicBytes.Length, publicBytes).Value);
    }

    public void Dispose()
    {
        if (_ownsKey)
        {
            Key.Dispose();
        }
    }
}
