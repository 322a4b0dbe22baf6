using System.Security.Cryptography;
using HybridProtocol.Crypto;
using HybridProtocol.Core;
using HybridProtocol.Core.Hpke;

namespace HybridProtocol;

/// <summary>
/// The HPKE KEMs of this package, over BouncyCastle.Cryptography: DHKEM(X448, HKDF-SHA512) (RFC 9180), ML-KEM-512 and
/// ML-KEM-1024 (draft-ietf-hpke-pq §3), and MLKEM1024-P384 (draft-ietf-hpke-pq §4, with .NET's P-384). Call
/// <see cref="Register"/> once at startup; then <see cref="HpkeKem.X448HkdfSha512"/>, <see cref="HpkeKem.MlKem512"/>,
/// <see cref="HpkeKem.MlKem1024"/> and <see cref="HpkeKem.MlKem1024P384"/> suites, and keys of the matching
/// <see cref="KeyAlgorithm"/>s, work through <see cref="HybridProtocol.Hpke"/>, <see cref="SealedFile"/>,
/// <see cref="PrivateKey"/> and <see cref="PublicKey"/> like the built-in ones. The KEM logic (DHKEM, the ML-KEM HPKE
/// mapping, the hybrid combiner) is HybridProtocol.Core's; this package only supplies the primitives.
/// </summary>
public static class HpkeExtended
{
    private static readonly object Gate = new();
    private static bool s_registered;

    /// <summary>Whether <see cref="Register"/> has run.</summary>
    public static bool IsRegistered => Volatile.Read(ref s_registered);

    /// <summary>
    /// Adds this package's KEMs to HybridProtocol's HPKE. Safe to call more than once and from several threads.
    /// </summary>
    public static void Register()
    {
        lock (Gate)
        {
            if (s_registered)
            {
                return;
            }

            HpkeCrypto.Register(HpkeKem.X448HkdfSha512, Dhkem.create(Ids.DhkemX448HkdfSha512, BouncyCastleX448.Group, Sha512));
            HpkeCrypto.Register(HpkeKem.MlKem512, PqKem.create(Ids.MlKem512, BouncyCastleMlKem.MlKem512, HpkeCrypto.Shake256Xof));
            HpkeCrypto.Register(HpkeKem.MlKem1024, PqKem.create(Ids.MlKem1024, BouncyCastleMlKem.MlKem1024, HpkeCrypto.Shake256Xof));
            HpkeCrypto.Register(HpkeKem.MlKem1024P384, HybridKem.create(new HybridKem.HybridParameters(
                Ids.MlKem1024P384,
                "MLKEM1024-P384",
                "MLKEM1024-P384"u8.ToArray(),
                BouncyCastleMlKem.MlKem1024,
                NistGroup.P384.Group,
                48,
                48,
                HpkeCrypto.Shake256Xof,
                HpkeCrypto.Sha3_256)));
            Volatile.Write(ref s_registered, true);
        }
    }

    /// <summary>SHA-512 for DHKEM(X448, HKDF-SHA512), through .NET.</summary>
    private static HashFunctions Sha512 { get; } =
        new("SHA512", 64, 128, new HashFn((data, output) => SHA512.HashData(data, output)));
}
