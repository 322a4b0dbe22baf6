using HybridProtocol.Core;
using HybridProtocol.Core.Hpke;
using CoreHpke = HybridProtocol.Core.Hpke.Hpke;
using RecipientMode = HybridProtocol.Core.Hpke.Hpke.RecipientMode;
using SenderMode = HybridProtocol.Core.Hpke.Hpke.SenderMode;

namespace HybridProtocol;

/// <summary>
/// HPKE, RFC 9180: encryption to a public key without a live connection. Single-shot
/// <see cref="Seal"/>/<see cref="Open"/> for one message, or the Setup functions for a context that
/// seals several. Keys are the library's X25519 <see cref="PrivateKey"/> and <see cref="PublicKey"/> (PEM files, fingerprints). The KEM is DHKEM(X25519, HKDF-SHA256); KDFs
/// HKDF-SHA256/512; AEADs AES-256-GCM, ChaCha20Poly1305, export-only.
/// </summary>
public static class Hpke
{
    /// <summary>The length of the encapsulated key <c>enc</c> for DHKEM(X25519, HKDF-SHA256).</summary>
    public const int EncapsulatedKeyLength = 32;

    /// <summary>The AEAD tag length added to every sealed message (0 for export-only).</summary>
    public const int TagLength = 16;

    /// <summary>
    /// Single-shot RFC 9180 §6.1 Seal: encrypts one message to <paramref name="recipientPublicKey"/>.
    /// Returns <c>enc || ct</c>: the 32-byte encapsulated key, then the ciphertext (plaintext + 16 bytes).
    /// </summary>
    /// <param name="recipientPublicKey">The recipient's X25519 public key .</param>
    /// <param name="plaintext">The message.</param>
    /// <param name="info">Application context bound into the key schedule; the recipient must pass the same.</param>
    /// <param name="aad">Associated data authenticated but not encrypted; the recipient must pass the same.</param>
    /// <param name="options">Suite and mode inputs (PSK, sender key); null for the default suite in base mode.</param>
    /// <exception cref="HybridProtocolException">InvalidKey, InvalidPeerKey, InvalidArgument (PSK inputs), Unsupported.</exception>
    public static byte[] Seal(
        PublicKey recipientPublicKey,
        ReadOnlySpan<byte> plaintext,
        ReadOnlySpan<byte> info = default,
        ReadOnlySpan<byte> aad = default,
        HpkeSenderOptions? options = null)
    {
        using var context = SetupS(recipientPublicKey, info, options);
        var output = new byte[EncapsulatedKeyLength + context.CiphertextLength(plaintext.Length)];
        context.EncapsulatedKey.CopyTo(output, 0);
        context.Seal(plaintext, aad, output.AsSpan(EncapsulatedKeyLength));
        return output;
    }

    /// <summary>
    /// Single-shot RFC 9180 §6.1 Open: decrypts a message made by <see cref="Seal"/> (<c>enc || ct</c>).
    /// </summary>
    /// <param name="recipientPrivateKey">The recipient's X25519 private key .</param>
    /// <param name="sealedMessage">The encapsulated key followed by the ciphertext.</param>
    /// <param name="info">The info the sender used.</param>
    /// <param name="aad">The associated data the sender used.</param>
    /// <param name="options">The sender's suite and mode inputs; null for the default suite in base mode.</param>
    /// <exception cref="HybridProtocolException">DecryptionFailed, InvalidCiphertext (too short), InvalidKey, InvalidPeerKey, InvalidArgument, Unsupported.</exception>
    public static byte[] Open(
        PrivateKey recipientPrivateKey,
        ReadOnlySpan<byte> sealedMessage,
        ReadOnlySpan<byte> info = default,
        ReadOnlySpan<byte> aad = default,
        HpkeRecipientOptions? options = null)
    {
        var tag = (options?.Suite ?? HpkeSuite.Default).Aead == HpkeAead.ExportOnly ? 0 : TagLength;
        if (sealedMessage.Length < EncapsulatedKeyLength + tag)
        {
            throw new HybridProtocolException(
                HybridErrorCode.InvalidCiphertext,
                $"A sealed message is at least {EncapsulatedKeyLength + tag} bytes (enc and tag); this one is {sealedMessage.Length}.");
        }

        using var context = SetupR(sealedMessage[..EncapsulatedKeyLength], recipientPrivateKey, info, options);
        return context.Open(sealedMessage[EncapsulatedKeyLength..], aad);
    }

    /// <summary>
    /// Sets up a sender context in the mode <paramref name="options"/> selects (RFC 9180 §5.1
    /// SetupBaseS, SetupPSKS, SetupAuthS or SetupAuthPSKS), with a fresh ephemeral key.
    /// </summary>
    /// <param name="recipientPublicKey">The recipient's X25519 public key .</param>
    /// <param name="info">Application context bound into the key schedule.</param>
    /// <param name="options">Suite and mode inputs; null for the default suite in base mode.</param>
    public static HpkeSenderContext SetupS(PublicKey recipientPublicKey, ReadOnlySpan<byte> info, HpkeSenderOptions? options = null)
    {
        var ephemeral = HpkeKeys.GenerateEphemeral();
        try
        {
            return SetupS(recipientPublicKey, info, options ?? new HpkeSenderOptions(), ephemeral);
        }
        finally
        {
            ephemeral.Private.Dispose();
        }
    }

    /// <summary>
    /// Sets up a recipient context in the mode <paramref name="options"/> selects (RFC 9180 §5.1
    /// SetupBaseR, SetupPSKR, SetupAuthR or SetupAuthPSKR).
    /// </summary>
    /// <param name="encapsulatedKey">The sender's <c>enc</c> .</param>
    /// <param name="recipientPrivateKey">The recipient's X25519 private key .</param>
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
        var skR = HpkeKeys.Private(recipientPrivateKey, "the recipient's private key");
        try
        {
            RecipientMode mode = options.Mode switch
            {
                HpkeMode.Base => RecipientMode.BaseR,
                HpkeMode.Psk => RecipientMode.NewPskR(options.Psk ?? [], options.PskId ?? []),
                HpkeMode.Auth => RecipientMode.NewAuthR(HpkeKeys.Public(options.SenderPublicKey!)),
                _ => RecipientMode.NewAuthPskR(
                    options.Psk ?? [],
                    options.PskId ?? [],
                    HpkeKeys.Public(options.SenderPublicKey!)),
            };
            var context = HpkeErrors.Check(CoreHpke.SetupR(suite, mode, encapsulatedKey.ToArray(), skR, info.ToArray()));
            return new HpkeRecipientContext(options.Suite, options.Mode, context);
        }
        finally
        {
            skR.Private.Dispose();
        }
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
    /// <exception cref="HybridProtocolException">InvalidKey when <paramref name="ikm"/> is shorter than 32 bytes.</exception>
    public static PrivateKey DeriveKeyPair(ReadOnlySpan<byte> ikm)
    {
        var sk = HpkeErrors.Check(Dhkem.DerivePrivateKey(HpkeSuite.Default.ToCore(), ikm.ToArray()));
        try
        {
            return PrivateKey.FromRawBytes(sk);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(sk);
        }
    }

    /// <summary>
    /// The sender setup with a given ephemeral key pair (the RFC's GenerateKeyPair() done by the caller):
    /// the normal path for the random key above, and the way the RFC's test vectors fix skE.
    /// The caller keeps ownership of <paramref name="ephemeral"/>.
    /// </summary>
    internal static HpkeSenderContext SetupS(PublicKey recipientPublicKey, ReadOnlySpan<byte> info, HpkeSenderOptions options, DhKeyPair ephemeral)
    {
        var suite = options.Suite.ToCore();
        var pkR = HpkeKeys.Public(recipientPublicKey);
        DhKeyPair? skS = options.SenderPrivateKey is { } sender ? HpkeKeys.Private(sender, "HpkeSenderOptions.SenderPrivateKey") : null;
        try
        {
            SenderMode mode = options.Mode switch
            {
                HpkeMode.Base => SenderMode.BaseS,
                HpkeMode.Psk => SenderMode.NewPskS(options.Psk ?? [], options.PskId ?? []),
                HpkeMode.Auth => SenderMode.NewAuthS(skS!),
                _ => SenderMode.NewAuthPskS(options.Psk ?? [], options.PskId ?? [], skS!),
            };
            var (enc, context) = HpkeErrors.Check(CoreHpke.SetupS(suite, mode, ephemeral, pkR, info.ToArray()));
            return new HpkeSenderContext(options.Suite, options.Mode, enc, context);
        }
        finally
        {
            skS?.Private.Dispose();
        }
    }
}
