using HybridProtocol.Core.Noise;
using HybridProtocol.Core.Wire;

namespace HybridProtocol;

/// <summary>
/// The crypto suites a connection can run: X25519 key agreement with one AEAD cipher and one hash
/// (Noise §12). The suite is part of the Noise protocol name the client sends, for example
/// <c>Noise_XX_25519_ChaChaPoly_BLAKE2b</c>.
/// </summary>
public enum SecureSuite
{
    /// <summary>ChaCha20-Poly1305 with BLAKE2b (the default): fast everywhere, constant-time without AES hardware.</summary>
    ChaChaPolyBlake2b = 0,

    /// <summary>AES-256-GCM with SHA-256: for environments that require AES and SHA-2.</summary>
    AesGcmSha256 = 1,

    /// <summary>AEGIS-256 with BLAKE2b (an extension to Noise, specs/NOISE-CORE.md): very fast with AES hardware; both ends must opt in.</summary>
    Aegis256Blake2b = 2,
}

/// <summary>Noise names for <see cref="SecureSuite"/> values.</summary>
internal static class SecureSuites
{
    /// <summary>The core's name for the suite: the DH, cipher and hash sections of the Noise protocol name.</summary>
    public static SuiteName Name(SecureSuite suite) => suite switch
    {
        SecureSuite.ChaChaPolyBlake2b => new(DhName.Curve25519, CipherName.ChaChaPoly, HashName.BLAKE2b),
        SecureSuite.AesGcmSha256 => new(DhName.Curve25519, CipherName.AESGCM, HashName.SHA256),
        SecureSuite.Aegis256Blake2b => new(DhName.Curve25519, CipherName.AEGIS256, HashName.BLAKE2b),
        _ => throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"Unknown suite {suite}."),
    };

    public static void Check(SecureSuite suite, string what)
    {
        if (!Enum.IsDefined(suite))
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"{what}: {(int)suite} is not a SecureSuite value.");
        }
    }
}
