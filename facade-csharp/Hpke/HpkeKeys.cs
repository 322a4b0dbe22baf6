using HybridProtocol.Core;
using HybridProtocol.Crypto;
using NSec.Cryptography;
using PublicKey = HybridProtocol.Core.PublicKey;

namespace HybridProtocol;

/// <summary>
/// Raw X25519 keys to the core's key types. The one place where HPKE's keys come in, so that the
/// switch to the library's PrivateKey/PublicKey types stays small.
/// </summary>
internal static class HpkeKeys
{
    public const int X25519Length = 32;

    public static PublicKey Public(ReadOnlySpan<byte> raw, string name)
    {
        var key = PublicKey.TryCreate(X25519Length, raw);
        return key.IsSome
            ? key.Value
            : throw new HybridProtocolException(
                HybridErrorCode.InvalidKey,
                $"{name} is {raw.Length} bytes; an X25519 public key is {X25519Length} bytes.");
    }

    /// <summary>Imports a private key; the caller disposes <c>Private</c>.</summary>
    public static KeyPair Private(ReadOnlySpan<byte> raw, string name)
    {
        if (raw.Length != X25519Length)
        {
            throw new HybridProtocolException(
                HybridErrorCode.InvalidKey,
                $"{name} is {raw.Length} bytes; an X25519 private key is {X25519Length} bytes.");
        }

        var pair = NSecSuite.X25519.IMPORT_PRIVATE.Invoke(raw);
        return pair.IsSome
            ? pair.Value
            : throw new HybridProtocolException(HybridErrorCode.InvalidKey, $"{name} is not an X25519 private key.");
    }

    /// <summary>RFC 9180 §4 GenerateKeyPair(): a fresh ephemeral key pair from libsodium's CSPRNG.</summary>
    public static KeyPair GenerateEphemeral() =>
        X25519PrivateKey.ToKeyPair(Key.Create(KeyAgreementAlgorithm.X25519));

    /// <summary>A fresh X25519 key pair as raw bytes (private, public).</summary>
    public static (byte[] PrivateKey, byte[] PublicKey) GenerateRaw()
    {
        var parameters = new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };
        using var key = Key.Create(KeyAgreementAlgorithm.X25519, in parameters);
        return (key.Export(KeyBlobFormat.RawPrivateKey), key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }
}
