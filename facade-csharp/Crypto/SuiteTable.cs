using HybridProtocol.Core;
using HybridProtocol.Core.Noise;

namespace HybridProtocol.Crypto;

/// <summary>
/// The one mapping from a Noise protocol name's parts to a provider's records, shared by <see cref="NSecSuite"/> and
/// <see cref="SodiumSuite"/>: X25519, the named cipher and hash, and ML-KEM-768 when the name is an hfs name.
/// </summary>
internal sealed record SuiteTable(
    DhFunctions X25519,
    CipherFunctions ChaChaPoly,
    CipherFunctions AesGcm,
    CipherFunctions Aegis256,
    CipherFunctions Aegis128L,
    HashFunctions Sha256,
    HashFunctions Sha512,
    HashFunctions Blake2b)
{
    /// <summary>The suite for a name: classical, or with <see cref="SodiumKem.MlKem768"/> for "25519+MLKEM768".</summary>
    internal CryptoSuite For(ProtocolName name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var suite = For(name.Cipher, name.Hash);
        return name.Kem is null ? suite : new CryptoSuite(suite.Dh, suite.Cipher, suite.Hash, SodiumKem.MlKem768);
    }

    /// <summary>The classical X25519 suite with the given cipher and hash.</summary>
    internal CryptoSuite For(CipherName cipher, HashName hash)
    {
        ArgumentNullException.ThrowIfNull(cipher);
        ArgumentNullException.ThrowIfNull(hash);
        var c = cipher.Tag switch
        {
            CipherName.Tags.ChaChaPoly => ChaChaPoly,
            CipherName.Tags.AESGCM => AesGcm,
            CipherName.Tags.AEGIS256 => Aegis256,
            _ => Aegis128L,
        };
        var h = hash.Tag switch
        {
            HashName.Tags.SHA256 => Sha256,
            HashName.Tags.SHA512 => Sha512,
            _ => Blake2b,
        };
        return new CryptoSuite(X25519, c, h, Microsoft.FSharp.Core.FSharpOption<KemFunctions>.None);
    }
}
