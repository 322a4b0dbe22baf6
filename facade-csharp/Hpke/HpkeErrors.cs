using HybridProtocol.Core.Hpke;
using Microsoft.FSharp.Core;

namespace HybridProtocol;

/// <summary>Turns the core's typed HPKE errors into <see cref="HybridProtocolException"/>s with codes.</summary>
internal static class HpkeErrors
{
    public static T Check<T>(FSharpResult<T, HpkeError> result) =>
        result.IsOk ? result.ResultValue : throw ToException(result.ErrorValue);

    public static T Check<T>(FSharpResult<T, SealedFileError> result) =>
        result.IsOk ? result.ResultValue : throw ToException(result.ErrorValue);

    public static Exception ToException(HpkeError error) => error switch
    {
        HpkeError.InvalidSuite e => HybridErrors.Create(HybridErrorCode.Unsupported, $"The HPKE suite's crypto records do not fit RFC 9180 §7 ({e.Item})."),
        HpkeError.PskInputs { Item: var psk } => PskException(psk),
        HpkeError.KemFailure { Item: var kem } => KemException(kem),
        HpkeError.AuthModeNotSupported e => HybridErrors.Create(
            HybridErrorCode.Unsupported,
            $"HPKE KEM 0x{e.kem_id:x4} (ML-KEM or X-Wing) has no AuthEncap/AuthDecap, so the auth and auth_psk modes are refused "
            + "(draft-ietf-hpke-pq §6.3). Use the psk mode, or sign the message."),
        _ when error.IsOpenError => HybridErrors.Create(
            HybridErrorCode.DecryptionFailed,
            "HPKE Open failed: the ciphertext, enc, info, aad, PSK or sender key differ from the sender's, or the message is out of order."),
        _ when error.IsMessageLimitReached => HybridErrors.Create(
            HybridErrorCode.NonceExhausted,
            "This HPKE context has sealed or opened 2^64 - 1 messages, its limit. Set up a new context."),
        _ when error.IsExportOnlyCannotSeal => HybridErrors.Create(
            HybridErrorCode.Unsupported,
            "The export-only AEAD cannot Seal or Open; use Export, or choose an AEAD in the suite."),
        HpkeError.AuthModeNotDefinedForKdf e => HybridErrors.Create(
            HybridErrorCode.Unsupported,
            $"The auth and auth_psk modes are not defined with the one-stage KDF 0x{e.kdf_id:x4} (SHAKE128 or SHAKE256); "
            + "use an HKDF KDF for them (draft-ietf-hpke-hpke), or the base or psk mode."),
        HpkeError.ExportLengthTooLarge e => HybridErrors.Create(
            HybridErrorCode.InvalidArgument,
            e.maximum == 65535
                ? $"Export length {e.requested} is above 65535, the most a SHAKE KDF's I2OSP(L, 2) encodes."
                : $"Export length {e.requested} is above the KDF's limit {e.maximum} (255 * Nh)."),
        HpkeError.ExportLengthNegative e => HybridErrors.Create(
            HybridErrorCode.InvalidArgument,
            $"Export length {e.requested} is negative; ask for 0 or more bytes."),
        HpkeError.InputTooLong e => HybridErrors.Create(
            HybridErrorCode.InvalidArgument,
            $"The info, PSK or PSK id is {e.length} bytes; a SHAKE KDF's key schedule encodes at most {e.maximum}."),
        HpkeError.WrongBufferLength e => HybridErrors.Create(
            HybridErrorCode.InvalidArgument,
            $"The output buffer must be {e.expected} bytes long, not {e.actual}."),
        _ => HybridErrors.Create(HybridErrorCode.InvalidArgument, $"HPKE failed: {error}."),
    };

    private static Exception PskException(PskError error) => error switch
    {
        _ when error.IsInconsistentPskInputs => HybridErrors.Create(
            HybridErrorCode.InvalidArgument,
            "psk and pskId must be given together (RFC 9180 §5.1 \"Inconsistent PSK inputs\")."),
        _ when error.IsPskInputNotNeeded => HybridErrors.Create(
            HybridErrorCode.InvalidArgument,
            "A PSK was given for a mode without PSK (base or auth); use the psk or auth_psk mode."),
        _ when error.IsMissingRequiredPsk => HybridErrors.Create(
            HybridErrorCode.InvalidArgument,
            "The psk and auth_psk modes need a PSK and a PSK id."),
        PskError.PskTooShort e => HybridErrors.Create(
            HybridErrorCode.InvalidArgument,
            $"The PSK is {e.length} bytes; RFC 9180 §5.1.2 requires at least 32 bytes of entropy."),
        _ => HybridErrors.Create(HybridErrorCode.InvalidArgument, $"Invalid PSK inputs: {error}."),
    };

    private static Exception KemException(KemError error) => error switch
    {
        _ when error.IsDeriveKeyPairError => HybridErrors.Create(HybridErrorCode.InvalidKey, "DeriveKeyPair produced bytes that are not a private key."),
        KemError.IkmTooShort e => HybridErrors.Create(
            HybridErrorCode.InvalidKey,
            $"DeriveKeyPair's input keying material is {e.length} bytes; it needs at least 32."),
        KemError.InvalidEncapsulatedKey e => HybridErrors.Create(
            HybridErrorCode.InvalidCiphertext,
            $"The encapsulated key (enc) is {e.length} bytes, not the suite's KEM's Nenc (32 for X25519, 65/97/133 for P-256/384/521, 1088 for ML-KEM-768, 1120 for X-Wing)."),
        KemError.InvalidPublicKey e => HybridErrors.Create(
            HybridErrorCode.InvalidKey,
            $"The public key is {e.length} bytes, not the suite's KEM's Npk (32 for X25519, 65/97/133 for P-256/384/521, 1184 for ML-KEM-768, 1216 for X-Wing)."),
        _ when error.IsInvalidPoint => HybridErrors.Create(
            HybridErrorCode.InvalidPeerKey,
            "The NIST-curve public key (or enc) is not an uncompressed point on the curve, or is the identity; RFC 9180 §7.1.4 requires refusing it."),
        KemError.InvalidPrivateKey e => HybridErrors.Create(
            HybridErrorCode.InvalidKey,
            $"These {e.length} bytes are not a private key of the suite's KEM (wrong length, or a scalar that is zero or not below the group order)."),
        _ when error.IsEncapsulationKeyCheck => HybridErrors.Create(
            HybridErrorCode.InvalidKey,
            "The ML-KEM-768 encapsulation key (or X-Wing's ML-KEM part) fails the FIPS 203 §7.2 modulus check: a coefficient is not below 3329."),
        _ when error.IsEncapError => HybridErrors.Create(
            HybridErrorCode.InvalidPeerKey,
            "The ML-KEM encapsulation key failed the FIPS 203 modulus check (draft-ietf-hpke-pq EncapError)."),
        _ when error.IsDecapError => HybridErrors.Create(
            HybridErrorCode.DecryptionFailed,
            "The KEM refused the ciphertext or the decapsulation key (draft-ietf-hpke-pq DecapError)."),
        KemError.WrongRandomnessLength e => HybridErrors.Create(
            HybridErrorCode.InvalidArgument,
            $"The KEM takes {e.expected} bytes of encapsulation randomness, not {e.actual}."),
        KemError.WrongKeyKem e => HybridErrors.Create(
            HybridErrorCode.InvalidKey,
            $"A key made for HPKE KEM 0x{e.actual:x4} was used with KEM 0x{e.expected:x4}; use a key of the suite's algorithm."),
        _ when error.IsDhValidationError => HybridErrors.Create(
            HybridErrorCode.InvalidPeerKey,
            "The X25519 public key is a low-order point (all-zero shared secret); RFC 9180 §7.1.4 requires refusing it."),
        _ => HybridErrors.Create(HybridErrorCode.InvalidKey, $"KEM failure: {error}."),
    };

    public static Exception ToException(SealedFileError error) => error switch
    {
        SealedFileError.Hpke { Item: var hpke } => ToException(hpke),
        _ when error.IsChunkOpenError => HybridErrors.Create(
            HybridErrorCode.DecryptionFailed,
            "A sealed-file chunk failed to authenticate: the file was altered, its chunks reordered or duplicated, or the key, info, PSK or sender key differ. Discard everything written so far."),
        _ when error.IsTruncated => HybridErrors.Create(
            HybridErrorCode.InvalidCiphertext,
            "The sealed file ends before its final chunk: it was cut off. Discard everything written so far."),
        SealedFileError.UnsupportedVersion e => HybridErrors.Create(
            HybridErrorCode.Unsupported,
            $"Sealed-file version {e.version} is not supported (this library reads version 1)."),
        SealedFileError.UnsupportedSuite e => HybridErrors.Create(
            HybridErrorCode.Unsupported,
            $"The sealed file uses KEM 0x{e.kem_id:x4}, KDF 0x{e.kdf_id:x4}, AEAD 0x{e.aead_id:x4}, which this format does not allow."),
        _ => HybridErrors.Create(HybridErrorCode.InvalidCiphertext, $"Not a valid sealed file: {error}."),
    };
}
