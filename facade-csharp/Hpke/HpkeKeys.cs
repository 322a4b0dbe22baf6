using System.Security.Cryptography;
using HybridProtocol.Core.Hpke;

namespace HybridProtocol;

/// <summary>The library's key types to the core's HPKE keys, and the KEM randomness of a sender.</summary>
internal static class HpkeKeys
{
    /// <summary>The core's view of a public key for the suite's KEM; InvalidKey for a key of another algorithm.</summary>
    public static HpkePublicKey Public(PublicKey key, HpkeSuite suite)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.ToHpke(suite.Kem);
    }

    /// <summary>The core's view of a private key for the suite's KEM; the <see cref="PrivateKey"/> keeps ownership.</summary>
    public static HpkeKeyPair Private(PrivateKey key, HpkeSuite suite)
    {
        ArgumentNullException.ThrowIfNull(key);
        return key.ToHpke(suite.Kem);
    }

    /// <summary>
    /// Nrandom fresh bytes from the operating system's CSPRNG for the suite's KEM: RFC 9180 §4 GenerateKeyPair() as
    /// DeriveKeyPair(random(Nsk)) for DHKEM, the encapsulation randomness for ML-KEM (32) and X-Wing (64). The caller erases them.
    /// </summary>
    public static byte[] Randomness(HpkeSuite suite)
    {
        var kem = HpkeCrypto.KemFor(suite.Kem)
            ?? throw new HybridProtocolException(HybridErrorCode.Unsupported, $"HPKE KEM 0x{(int)suite.Kem:x4} is not supported here.");
        return RandomNumberGenerator.GetBytes(kem.Nrandom);
    }
}
