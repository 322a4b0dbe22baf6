using HybridProtocol.Core;
using HybridProtocol.Core.Hpke;
using CoreHpke = HybridProtocol.Core.Hpke.Hpke;
using RecipientMode = HybridProtocol.Core.Hpke.Hpke.RecipientMode;
using SenderMode = HybridProtocol.Core.Hpke.Hpke.SenderMode;

namespace HybridProtocol;

/// <summary>
/// HPKE, RFC 9180: encryption to a public key without a live connection. Single-shot
/// <see cref="Seal"/>/<see cref="Open"/> for one message, or the Setup functions for a context that
/// seals several. Keys are raw 32-byte X25519 keys. The KEM is DHKEM(X25519, HKDF-SHA256); KDFs
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
    /// <param name="recipientPublicKey">The recipient's X25519 public key (32 bytes).</param>
    /// <param name="plaintext">The message.</param>
    /// <param name="info">Application context bound into the key schedule; the recipient must pass the same.</param>
    /// <param name="aad">Associated data authenticated but not encrypted; the recipient must pass the same.</param>
    /// <param name="options">Suite and mode inputs (PSK, sender key); null for the default suite in base mode.</param>
    /// <exception cref="HybridProtocolException">InvalidKey, InvalidPeerKey, InvalidArgument (PSK inputs), Unsupported.</exception>
    public static byte[] Seal(
        ReadOnlySpan<byte> recipientPublicKey,
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
    /// <param name="recipientPrivateKey">The recipient's X25519 private key (32 bytes).</param>
    /// <param name="sealedMessage">The encapsulated key followed by the ciphertext.</param>
    /// <param name="info">The info the sender used.</param>
    /// <param name="aad">The associated data the sender used.</param>
    /// <param name="options">The sender's suite and mode inputs; null for the default suite in base mode.</param>
    /// <exception cref="HybridProtocolException">DecryptionFailed, InvalidCiphertext (too short), InvalidKey, InvalidPeerKey, InvalidArgument, Unsupported.</exception>
    public static byte[] Open(
        ReadOnlySpan<byte> recipientPrivateKey,
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
    /// <param name="recipientPublicKey">The recipient's X25519 public key (32 bytes).</param>
    /// <param name="info">Application context bound into the key schedule.</param>
    /// <param name="options">Suite and mode inputs; null for the default suite in base mode.</param>
    public static HpkeSenderContext SetupS(ReadOnlySpan<byte> recipientPublicKey, ReadOnlySpan<byte> info, HpkeSenderOptions? options = null)
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
    /// <param name="encapsulatedKey">The sender's <c>enc</c> (32 bytes).</param>
    /// <param name="recipientPrivateKey">The recipient's X25519 private key (32 bytes).</param>
    /// <param name="info">The info the sender used.</param>
    /// <param name="options">The sender's suite and mode inputs; null for the default suite in base mode.</param>
    public static HpkeRecipientContext SetupR(
        ReadOnlySpan<byte> encapsulatedKey,
        ReadOnlySpan<byte> recipientPrivateKey,
        ReadOnlySpan<byte> info,
        HpkeRecipientOptions? options = null)
    {
        options ??= new HpkeRecipientOptions();
        var suite = options.Suite.ToCore();
        var skR = HpkeKeys.Private(recipientPrivateKey, nameof(recipientPrivateKey));
        try
        {
            RecipientMode mode = options.Mode switch
            {
                HpkeMode.Base => RecipientMode.BaseR,
                HpkeMode.Psk => RecipientMode.NewPskR(options.Psk ?? [], options.PskId ?? []),
                HpkeMode.Auth => RecipientMode.NewAuthR(HpkeKeys.Public(options.SenderPublicKey, nameof(options.SenderPublicKey))),
                _ => RecipientMode.NewAuthPskR(
                    options.Psk ?? [],
                    options.PskId ?? [],
                    HpkeKeys.Public(options.SenderPublicKey, nameof(options.SenderPublicKey))),
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
    /// <param name="recipientPublicKey">pkR (32 bytes).</param>
    /// <param name="info">Application context.</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeSenderContext SetupBaseS(ReadOnlySpan<byte> recipientPublicKey, ReadOnlySpan<byte> info, HpkeSuite? suite = null) =>
        SetupS(recipientPublicKey, info, new HpkeSenderOptions { Suite = suite ?? HpkeSuite.Default });

    /// <summary>RFC 9180 §5.1.1 SetupBaseR(enc, skR, info).</summary>
    /// <param name="encapsulatedKey">enc (32 bytes).</param>
    /// <param name="recipientPrivateKey">skR (32 bytes).</param>
    /// <param name="info">Application context.</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeRecipientContext SetupBaseR(
        ReadOnlySpan<byte> encapsulatedKey, ReadOnlySpan<byte> recipientPrivateKey, ReadOnlySpan<byte> info, HpkeSuite? suite = null) =>
        SetupR(encapsulatedKey, recipientPrivateKey, info, new HpkeRecipientOptions { Suite = suite ?? HpkeSuite.Default });

    /// <summary>RFC 9180 §5.1.2 SetupPSKS(pkR, info, psk, psk_id).</summary>
    /// <param name="recipientPublicKey">pkR (32 bytes).</param>
    /// <param name="info">Application context.</param>
    /// <param name="psk">The pre-shared key (at least 32 bytes).</param>
    /// <param name="pskId">The PSK's identifier (non-empty).</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeSenderContext SetupPskS(
        ReadOnlySpan<byte> recipientPublicKey, ReadOnlySpan<byte> info, ReadOnlySpan<byte> psk, ReadOnlySpan<byte> pskId, HpkeSuite? suite = null) =>
        SetupS(recipientPublicKey, info, new HpkeSenderOptions { Suite = suite ?? HpkeSuite.Default, Psk = psk.ToArray(), PskId = pskId.ToArray() });

    /// <summary>RFC 9180 §5.1.2 SetupPSKR(enc, skR, info, psk, psk_id).</summary>
    /// <param name="encapsulatedKey">enc (32 bytes).</param>
    /// <param name="recipientPrivateKey">skR (32 bytes).</param>
    /// <param name="info">Application context.</param>
    /// <param name="psk">The pre-shared key.</param>
    /// <param name="pskId">The PSK's identifier.</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeRecipientContext SetupPskR(
        ReadOnlySpan<byte> encapsulatedKey,
        ReadOnlySpan<byte> recipientPrivateKey,
        ReadOnlySpan<byte> info,
        ReadOnlySpan<byte> psk,
        ReadOnlySpan<byte> pskId,
        HpkeSuite? suite = null) =>
        SetupR(encapsulatedKey, recipientPrivateKey, info, new HpkeRecipientOptions { Suite = suite ?? HpkeSuite.Default, Psk = psk.ToArray(), PskId = pskId.ToArray() });

    /// <summary>RFC 9180 §5.1.3 SetupAuthS(pkR, info, skS).</summary>
    /// <param name="recipientPublicKey">pkR (32 bytes).</param>
    /// <param name="info">Application context.</param>
    /// <param name="senderPrivateKey">skS (32 bytes).</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeSenderContext SetupAuthS(
        ReadOnlySpan<byte> recipientPublicKey, ReadOnlySpan<byte> info, ReadOnlySpan<byte> senderPrivateKey, HpkeSuite? suite = null) =>
        SetupS(recipientPublicKey, info, new HpkeSenderOptions { Suite = suite ?? HpkeSuite.Default, SenderPrivateKey = senderPrivateKey.ToArray() });

    /// <summary>RFC 9180 §5.1.3 SetupAuthR(enc, skR, info, pkS).</summary>
    /// <param name="encapsulatedKey">enc (32 bytes).</param>
    /// <param name="recipientPrivateKey">skR (32 bytes).</param>
    /// <param name="info">Application context.</param>
    /// <param name="senderPublicKey">pkS (32 bytes).</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeRecipientContext SetupAuthR(
        ReadOnlySpan<byte> encapsulatedKey,
        ReadOnlySpan<byte> recipientPrivateKey,
        ReadOnlySpan<byte> info,
        ReadOnlySpan<byte> senderPublicKey,
        HpkeSuite? suite = null) =>
        SetupR(encapsulatedKey, recipientPrivateKey, info, new HpkeRecipientOptions { Suite = suite ?? HpkeSuite.Default, SenderPublicKey = senderPublicKey.ToArray() });

    /// <summary>RFC 9180 §5.1.4 SetupAuthPSKS(pkR, info, psk, psk_id, skS).</summary>
    /// <param name="recipientPublicKey">pkR (32 bytes).</param>
    /// <param name="info">Application context.</param>
    /// <param name="psk">The pre-shared key (at least 32 bytes).</param>
    /// <param name="pskId">The PSK's identifier (non-empty).</param>
    /// <param name="senderPrivateKey">skS (32 bytes).</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeSenderContext SetupAuthPskS(
        ReadOnlySpan<byte> recipientPublicKey,
        ReadOnlySpan<byte> info,
        ReadOnlySpan<byte> psk,
        ReadOnlySpan<byte> pskId,
        ReadOnlySpan<byte> senderPrivateKey,
        HpkeSuite? suite = null) =>
        SetupS(recipientPublicKey, info, new HpkeSenderOptions
        {
            Suite = suite ?? HpkeSuite.Default,
            Psk = psk.ToArray(),
            PskId = pskId.ToArray(),
            SenderPrivateKey = senderPrivateKey.ToArray(),
        });

    /// <summary>RFC 9180 §5.1.4 SetupAuthPSKR(enc, skR, info, psk, psk_id, pkS).</summary>
    /// <param name="encapsulatedKey">enc (32 bytes).</param>
    /// <param name="recipientPrivateKey">skR (32 bytes).</param>
    /// <param name="info">Application context.</param>
    /// <param name="psk">The pre-shared key.</param>
    /// <param name="pskId">The PSK's identifier.</param>
    /// <param name="senderPublicKey">pkS (32 bytes).</param>
    /// <param name="suite">The suite; null for <see cref="HpkeSuite.Default"/>.</param>
    public static HpkeRecipientContext SetupAuthPskR(
        ReadOnlySpan<byte> encapsulatedKey,
        ReadOnlySpan<byte> recipientPrivateKey,
        ReadOnlySpan<byte> info,
        ReadOnlySpan<byte> psk,
        ReadOnlySpan<byte> pskId,
        ReadOnlySpan<byte> senderPublicKey,
        HpkeSuite? suite = null) =>
        SetupR(encapsulatedKey, recipientPrivateKey, info, new HpkeRecipientOptions
        {
            Suite = suite ?? HpkeSuite.Default,
            Psk = psk.ToArray(),
            PskId = pskId.ToArray(),
            SenderPublicKey = senderPublicKey.ToArray(),
        });

    /// <summary>A fresh X25519 key pair as raw 32-byte keys, for HPKE recipients and auth-mode senders.</summary>
    public static (byte[] PrivateKey, byte[] PublicKey) GenerateKeyPair() => HpkeKeys.GenerateRaw();

    /// <summary>
    /// The sender setup with a given ephemeral key pair (the RFC's GenerateKeyPair() done by the caller):
    /// the normal path for the random key above, and the way the RFC's test vectors fix skE.
    /// The caller keeps ownership of <paramref name="ephemeral"/>.
    /// </summary>
    internal static HpkeSenderContext SetupS(ReadOnlySpan<byte> recipientPublicKey, ReadOnlySpan<byte> info, HpkeSenderOptions options, KeyPair ephemeral)
    {
        var suite = options.Suite.ToCore();
        var pkR = HpkeKeys.Public(recipientPublicKey, nameof(recipientPublicKey));
        KeyPair? skS = options.SenderPrivateKey is { } raw ? HpkeKeys.Private(raw, nameof(options.SenderPrivateKey)) : null;
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
