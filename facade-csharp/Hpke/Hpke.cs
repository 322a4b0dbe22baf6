using HybridProtocol.Core;
using HybridProtocol.Core.Hpke;
using Setup = HybridProtocol.Core.Hpke.Setup;
using RecipientMode = HybridProtocol.Core.Hpke.Setup.RecipientMode;
using SenderMode = HybridProtocol.Core.Hpke.Setup.SenderMode;

namespace HybridProtocol;

/// <summary>
/// HPKE, RFC 9180: encryption to a public key without a live connection. Single-shot
/// <see cref="Seal"/>/<see cref="Open"/> for one message, or the Setup functions for a context that
/// seals several. Keys are the library's <see cref="PrivateKey"/> and <see cref="PublicKey"/> (PEM files, fingerprints), each
/// of the algorithm of the suite's KEM: DHKEM(X25519, HKDF-SHA256), DHKEM(P-256, HKDF-SHA256), DHKEM(P-384, HKDF-SHA384),
/// DHKEM(P-521, HKDF-SHA512), ML-KEM-768 and X-Wing (the last two without the auth modes); KDFs HKDF-SHA256/384/512 and
/// SHAKE128/256; AEADs AES-128-GCM, AES-256-GCM, ChaCha20Poly1305, export-only (specs/HPKE.md).
/// </summary>
public static class Hpke
{
    /// <summary>
    /// The length of the encapsulated key <c>enc</c> (RFC 9180 Nenc) that <see cref="Seal"/> puts before the ciphertext
    /// in <paramref name="suite"/> (null: <see cref="HpkeSuite.Default"/>): 32 for X25519, 65/97/133 for P-256/384/521,
    /// 1088 for ML-KEM-768, 1120 for X-Wing.
    /// </summary>
    /// <param name="suite">The suite; null for the default suite.</param>
    /// <exception cref="HybridProtocolException">Unsupported for a KEM not offered here.</exception>
    public static int EncapsulatedKeyLength(HpkeSuite? suite = null) => (suite ?? HpkeSuite.Default).EncapsulatedKeyLength;

    /// <summary>The AEAD tag length added to every sealed message (0 for export-only).</summary>
    public const int TagLength = 16;

    /// <summary>
    /// Single-shot RFC 9180 §6.1 Seal: encrypts one message to <paramref name="recipientPublicKey"/>.
    /// Returns <c>enc || ct</c>: the encapsulated key (Nenc bytes of the suite's KEM), then the ciphertext (plaintext + 16 bytes).
    /// </summary>
    /// <param name="recipientPublicKey">The recipient's public key, of the suite's KEM's algorithm.</param>
    /// <param name="plaintext">The message.</param>
    /// <param name="info">Application context bound into the key schedule; the recipient must pass the same.</param>
    /// <param name="aad">Associated data authenticated but not encrypted; the recipient must pass the same.</param>
    /// <param name="options">Suite and mode inputs (PSK, sender key); null for the default suite in base mode.</param>
    /// <exception cref="HybridArgumentException">InvalidKey, InvalidPeerKey, InvalidArgument (PSK inputs), Unsupported.</exception>
    public static byte[] Seal(
        PublicKey recipientPublicKey,
        ReadOnlySpan<byte> plaintext,
        ReadOnlySpan<byte> info = default,
        ReadOnlySpan<byte> aad = default,
        HpkeSenderOptions? options = null)
    {
        using var context = SetupS(recipientPublicKey, info, options);
        var nenc = context.EncapsulatedKey.Length;
        var output = new byte[nenc + context.CiphertextLength(plaintext.Length)];
        context.EncapsulatedKey.CopyTo(output, 0);
        context.Seal(plaintext, aad, output.AsSpan(nenc));
        return output;
    }

    /// <summary>
    /// Single-shot RFC 9180 §6.1 Open: decrypts a message made by <see cref="Seal"/> (<c>enc || ct</c>).
    /// </summary>
    /// <param name="recipientPrivateKey">The recipient's private key, of the suite's KEM's algorithm.</param>
    /// <param name="sealedMessage">The encapsulated key followed by the ciphertext.</param>
    /// <param name="info">The info the sender used.</param>
    /// <param name="aad">The associated data the sender used.</param>
    /// <param name="options">The sender's suite and mode inputs; null for the default suite in base mode.</param>
    /// <exception cref="HybridProtocolException">DecryptionFailed, InvalidCiphertext (too short), InvalidPeerKey, Unsupported.</exception>
    /// <exception cref="HybridArgumentException">InvalidKey, InvalidArgument.</exception>
    public static byte[] Open(
        PrivateKey recipientPrivateKey,
        ReadOnlySpan<byte> sealedMessage,
        ReadOnlySpan<byte> info = default,
        ReadOnlySpan<byte> aad = default,
        HpkeRecipientOptions? options = null)
    {
        var suite = options?.Suite ?? HpkeSuite.Default;
        var tag = suite.Aead == HpkeAead.ExportOnly ? 0 : TagLength;
        var nenc = suite.EncapsulatedKeyLength;
        if (sealedMessage.Length < nenc + tag)
        {
            throw new HybridProtocolException(
                HybridErrorCode.InvalidCiphertext,
                $"A sealed message is at least {nenc + tag} bytes (enc and tag); this one is {sealedMessage.Length}.");
        }

        using var context = SetupR(sealedMessage[..nenc], recipientPrivateKey, info, options);
        return context.Open(sealedMessage[nenc..], aad);
    }

    /// <summary>
    /// Sets up a sender context in the mode <paramref name="options"/> selects (RFC 9180 §5.1
    /// SetupBaseS, SetupPSKS, SetupAuthS or SetupAuthPSKS), with fresh randomness for the KEM (GenerateKeyPair()'s for DHKEM,
    /// the encapsulation randomness for ML-KEM and X-Wing).
    /// </summary>
    /// <param name="recipientPublicKey">The recipient's public key, of the suite's KEM's algorithm.</param>
    /// <param name="info">Application context bound into the key schedule.</param>
    /// <param name="options">Suite and mode inputs; null for the default suite in base mode.</param>
    /// <exception cref="HybridArgumentException">InvalidKey (a key of another algorithm than the suite's KEM), InvalidArgument, Unsupported (an auth mode with ML-KEM or X-Wing).</exception>
    public static HpkeSenderContext SetupS(PublicKey recipientPublicKey, ReadOnlySpan<byte> info, HpkeSenderOptions? options = null)
    {
        options ??= new HpkeSenderOptions();
        var randomness = HpkeKeys.Randomness(options.Suite);
        try
        {
            return SetupS(recipientPublicKey, info, options, randomness);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(randomness);
        }
    }

    /// <summary>
    /// Sets up a recipient context in the mode <paramref name="options"/> selects (RFC 9180 §5.1
    /// SetupBaseR, SetupPSKR, SetupAuthR or SetupAuthPSKR).
    /// </summary>
    /// <param name="encapsulatedKey">The sender's <c>enc</c>.</param>
    /// <param name="recipientPrivateKey">The recipient's private key, of the suite's KEM's algorithm.</param>
    /// <param name="info">The info the sender used.</param>
    /// <param name="options">The sender's suite and mode inputs; null for the default suite in base mode.</param>
    public static HpkeRecipientContext SetupR(
        ReadOnlySpan<byte> encapsulatedKey,
        PrivateKey recipientPrivateKey,
        ReadOnlySpan<byte> info,
        HpkeRecipientOptions? options = null)
    {
        options ??= new HpkeRecipientOptions();
        var suite = options.Suite.ToCore();
        var skR = HpkeKeys.Private(recipientPrivateKey, options.Suite, "the recipient's private key");
        RecipientMode mode = options.Mode switch
        {
            HpkeMode.Base => RecipientMode.BaseR,
            HpkeMode.Psk => RecipientMode.NewPskR(options.Psk ?? [], options.PskId ?? []),
            HpkeMode.Auth => RecipientMode.NewAuthR(HpkeKeys.Public(options.SenderPublicKey!, options.Suite)),
            _ => RecipientMode.NewAuthPskR(
                options.Psk ?? [],
                options.PskId ?? [],
                HpkeKeys.Public(options.SenderPublicKey!, options.Suite)),
        };
        var context = HpkeErrors.Check(Setup.SetupR(suite, mode, encapsulatedKey.ToArray(), skR, info.ToArray()));
        return new HpkeRecipientContext(options.Suite, options.Mode, context);
    }

    /// <summary>RFC 9180 §5.1.1 SetupBaseS(pkR, info).</summary>
    /// <param name="recipientPublicKey">pkR .</param>
    /// <param name="info">Application context.</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeSenderContext SetupBaseS(PublicKey recipientPublicKey, ReadOnlySpan<byte> info, HpkeSuite? suite = null) =>
        SetupS(recipientPublicKey, info, new HpkeSenderOptions { Suite = suite ?? HpkeSuite.Default });

    /// <summary>RFC 9180 §5.1.1 SetupBaseR(enc, skR, info).</summary>
    /// <param name="encapsulatedKey">enc .</param>
    /// <param name="recipientPrivateKey">skR .</param>
    /// <param name="info">Application context.</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeRecipientContext SetupBaseR(
        ReadOnlySpan<byte> encapsulatedKey, PrivateKey recipientPrivateKey, ReadOnlySpan<byte> info, HpkeSuite? suite = null) =>
        SetupR(encapsulatedKey, recipientPrivateKey, info, new HpkeRecipientOptions { Suite = suite ?? HpkeSuite.Default });

    /// <summary>RFC 9180 §5.1.2 SetupPSKS(pkR, info, psk, psk_id).</summary>
    /// <param name="recipientPublicKey">pkR .</param>
    /// <param name="info">Application context.</param>
    /// <param name="psk">The pre-shared key (at least 32 bytes).</param>
    /// <param name="pskId">The PSK's identifier (non-empty).</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeSenderContext SetupPskS(
        PublicKey recipientPublicKey, ReadOnlySpan<byte> info, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> pskId, HpkeSuite? suite = null) =>
        SetupS(recipientPublicKey, info, new HpkeSenderOptions { Suite = suite ?? HpkeSuite.Default, Psk = psk.ToArray(), PskId = pskId.ToArray() });

    /// <summary>RFC 9180 §5.1.2 SetupPSKR(enc, skR, info, psk, psk_id).</summary>
    /// <param name="encapsulatedKey">enc .</param>
    /// <param name="recipientPrivateKey">skR .</param>
    /// <param name="info">Application context.</param>
    /// <param name="psk">The pre-shared key.</param>
    /// <param name="pskId">The PSK's identifier.</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeRecipientContext SetupPskR(
        ReadOnlySpan<byte> encapsulatedKey,
        PrivateKey recipientPrivateKey,
        ReadOnlySpan<byte> info,
        ReadOnlySpan<byte> psk,
        ReadOnlySpan<byte> pskId,
        HpkeSuite? suite = null) =>
        SetupR(encapsulatedKey, recipientPrivateKey, info, new HpkeRecipientOptions { Suite = suite ?? HpkeSuite.Default, Psk = psk.ToArray(), PskId = pskId.ToArray() });

    /// <summary>RFC 9180 §5.1.3 SetupAuthS(pkR, info, skS).</summary>
    /// <param name="recipientPublicKey">pkR .</param>
    /// <param name="info">Application context.</param>
    /// <param name="senderPrivateKey">skS .</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeSenderContext SetupAuthS(
        PublicKey recipientPublicKey, ReadOnlySpan<byte> info, PrivateKey senderPrivateKey, HpkeSuite? suite = null) =>
        SetupS(recipientPublicKey, info, new HpkeSenderOptions { Suite = suite ?? HpkeSuite.Default, SenderPrivateKey = senderPrivateKey });

    /// <summary>RFC 9180 §5.1.3 SetupAuthR(enc, skR, info, pkS).</summary>
    /// <param name="encapsulatedKey">enc .</param>
    /// <param name="recipientPrivateKey">skR .</param>
    /// <param name="info">Application context.</param>
    /// <param name="senderPublicKey">pkS .</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeRecipientContext SetupAuthR(
        ReadOnlySpan<byte> encapsulatedKey,
        PrivateKey recipientPrivateKey,
        ReadOnlySpan<byte> info,
        PublicKey senderPublicKey,
        HpkeSuite? suite = null) =>
        SetupR(encapsulatedKey, recipientPrivateKey, info, new HpkeRecipientOptions { Suite = suite ?? HpkeSuite.Default, SenderPublicKey = senderPublicKey });

    /// <summary>RFC 9180 §5.1.4 SetupAuthPSKS(pkR, info, psk, psk_id, skS).</summary>
    /// <param name="recipientPublicKey">pkR .</param>
    /// <param name="info">Application context.</param>
    /// <param name="psk">The pre-shared key (at least 32 bytes).</param>
    /// <param name="pskId">The PSK's identifier (non-empty).</param>
    /// <param name="senderPrivateKey">skS .</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeSenderContext SetupAuthPskS(
        PublicKey recipientPublicKey,
        ReadOnlySpan<byte> info,
        ReadOnlySpan<byte> psk,
        ReadOnlySpan<byte> pskId,
        PrivateKey senderPrivateKey,
        HpkeSuite? suite = null) =>
        SetupS(recipientPublicKey, info, new HpkeSenderOptions
        {
            Suite = suite ?? HpkeSuite.Default,
            Psk = psk.ToArray(),
            PskId = pskId.ToArray(),
            SenderPrivateKey = senderPrivateKey,
        });

    /// <summary>RFC 9180 §5.1.4 SetupAuthPSKR(enc, skR, info, psk, psk_id, pkS).</summary>
    /// <param name="encapsulatedKey">enc .</param>
    /// <param name="recipientPrivateKey">skR .</param>
    /// <param name="info">Application context.</param>
    /// <param name="psk">The pre-shared key.</param>
    /// <param name="pskId">The PSK's identifier.</param>
    /// <param name="senderPublicKey">pkS .</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeRecipientContext SetupAuthPskR(
        ReadOnlySpan<byte> encapsulatedKey,
        PrivateKey recipientPrivateKey,
        ReadOnlySpan<byte> info,
        ReadOnlySpan<byte> psk,
        ReadOnlySpan<byte> pskId,
        PublicKey senderPublicKey,
        HpkeSuite? suite = null) =>
        SetupR(encapsulatedKey, recipientPrivateKey, info, new HpkeRecipientOptions
        {
            Suite = suite ?? HpkeSuite.Default,
            Psk = psk.ToArray(),
            PskId = pskId.ToArray(),
            SenderPublicKey = senderPublicKey,
        });

    /// <summary>
    /// RFC 9180 §7.1.3 DeriveKeyPair(ikm): the X25519 key pair determined by <paramref name="ikm"/>
    /// (at least 32 bytes of uniformly random keying material). Dispose the result.
    /// </summary>
    /// <param name="ikm">Input keying material, at least 32 bytes.</param>
    /// <exception cref="HybridArgumentException">InvalidKey when <paramref name="ikm"/> is shorter than 32 bytes.</exception>
    public static PrivateKey DeriveKeyPair(ReadOnlySpan<byte> ikm) => DeriveKeyPair(HpkeKem.X25519HkdfSha256, ikm);

    /// <summary>
    /// RFC 9180 §7.1.3 DeriveKeyPair(ikm) for <paramref name="kem"/> (draft-ietf-hpke-pq §3-4 for ML-KEM-768 and X-Wing):
    /// the key pair determined by <paramref name="ikm"/> (at least Nsk bytes, 32 for the PQ KEMs, of uniformly random
    /// keying material). Dispose the result.
    /// </summary>
    /// <param name="kem">The KEM whose key to derive.</param>
    /// <param name="ikm">Input keying material.</param>
    /// <exception cref="HybridArgumentException">InvalidKey when <paramref name="ikm"/> is too short; Unsupported for an unknown KEM.</exception>
    public static PrivateKey DeriveKeyPair(HpkeKem kem, ReadOnlySpan<byte> ikm)
    {
        var core = HpkeCrypto.KemFor(kem)
            ?? throw new HybridProtocolException(HybridErrorCode.Unsupported, $"HPKE KEM 0x{(int)kem:x4} is not supported here.");
        var sk = HpkeErrors.Check(core.DerivePrivateKey.Invoke(ikm.ToArray()));
        try
        {
            return PrivateKey.FromRawBytes(KeyAlgorithms.OfKem(kem), sk);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(sk);
        }
    }

    /// <summary>
    /// The sender setup with given KEM randomness (Nrandom bytes: the ikm of the RFC's GenerateKeyPair() for DHKEM, the
    /// encapsulation randomness for ML-KEM and X-Wing): the normal path for the random bytes above, and the test-only hook
    /// through which the vectors' ikmE fixes the ephemeral key.
    /// </summary>
    internal static HpkeSenderContext SetupS(PublicKey recipientPublicKey, ReadOnlySpan<byte> info, HpkeSenderOptions options, byte[] randomness)
    {
        var suite = options.Suite.ToCore();
        var pkR = HpkeKeys.Public(recipientPublicKey, options.Suite);
        HpkeKeyPair? skS = options.SenderPrivateKey is { } sender ? HpkeKeys.Private(sender, options.Suite, "HpkeSenderOptions.SenderPrivateKey") : null;
        SenderMode mode = options.Mode switch
        {
            HpkeMode.Base => SenderMode.BaseS,
            HpkeMode.Psk => SenderMode.NewPskS(options.Psk ?? [], options.PskId ?? []),
            HpkeMode.Auth => SenderMode.NewAuthS(skS!),
            _ => SenderMode.NewAuthPskS(options.Psk ?? [], options.PskId ?? [], skS!),
        };
        var (enc, context) = HpkeErrors.Check(Setup.SetupS(suite, mode, randomness, pkR, info.ToArray()));
        return new HpkeSenderContext(options.Suite, options.Mode, enc, context);
    }
}
