using HybridProtocol.Core;
using HybridProtocol.Crypto;
using NSec.Cryptography;

namespace HybridProtocol;

/// <summary>The library's key types to the core's, and HPKE's ephemeral keys.</summary>
internal static class HpkeKeys
{
    public static DhPublicKey Public(PublicKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.ToCore();
    }

    /// <summary>The core's view of a private key; the <see cref="PrivateKey"/> keeps ownership.</summary>
    public static DhKeyPair Private(PrivateKey key, string passedAs = "the private key")
    {
        ArgumentNullException.ThrowIfNull(key);
        key.ThrowIfDisposed(passedAs);
        return key.ToKeyPair();
    }

    /// <summary>RFC 9180 §4 GenerateKeyPair(): a fresh ephemeral key pair from libsodium's CSPRNG; the caller disposes it.</summary>
    public static DhKeyPair GenerateEphemeral() =>
        X25519PrivateKey.ToKeyPair(Key.Create(KeyAgreementAlgorithm.X25519));
}
