/// RFC 9180 §5.1.1-5.1.4: the eight Setup functions, one pair per mode. Each runs the KEM, then
/// KeySchedule<ROLE>. The sender's randomness (GenerateKeyPair()'s for DHKEM, the encapsulation
/// randomness for ML-KEM and X-Wing: `suite.Kem.Nrandom` bytes) is the argument `randomness`.
/// See: https://www.rfc-editor.org/rfc/rfc9180#section-5.1
module HybridProtocol.Core.Hpke.Setup

/// RFC 9180 §5.1.1:
/// ```
/// def SetupBaseS(pkR, info):
///   shared_secret, enc = Encap(pkR)
///   return enc, KeyScheduleS(mode_base, shared_secret, info,
///                            default_psk, default_psk_id)
/// ```
val SetupBaseS:
    suite: Suite ->
    randomness: byte array ->
    pkR: HpkePublicKey ->
    info: byte array ->
        Result<struct (byte array * ContextS), HpkeError>

/// RFC 9180 §5.1.1:
/// ```
/// def SetupBaseR(enc, skR, info):
///   shared_secret = Decap(enc, skR)
///   return KeyScheduleR(mode_base, shared_secret, info,
///                       default_psk, default_psk_id)
/// ```
val SetupBaseR: suite: Suite -> enc: byte array -> skR: HpkeKeyPair -> info: byte array -> Result<ContextR, HpkeError>

/// RFC 9180 §5.1.2:
/// ```
/// def SetupPSKS(pkR, info, psk, psk_id):
///   shared_secret, enc = Encap(pkR)
///   return enc, KeyScheduleS(mode_psk, shared_secret, info, psk, psk_id)
/// ```
val SetupPSKS:
    suite: Suite ->
    randomness: byte array ->
    pkR: HpkePublicKey ->
    info: byte array ->
    psk: byte array ->
    psk_id: byte array ->
        Result<struct (byte array * ContextS), HpkeError>

/// RFC 9180 §5.1.2:
/// ```
/// def SetupPSKR(enc, skR, info, psk, psk_id):
///   shared_secret = Decap(enc, skR)
///   return KeyScheduleR(mode_psk, shared_secret, info, psk, psk_id)
/// ```
val SetupPSKR:
    suite: Suite ->
    enc: byte array ->
    skR: HpkeKeyPair ->
    info: byte array ->
    psk: byte array ->
    psk_id: byte array ->
        Result<ContextR, HpkeError>

/// RFC 9180 §5.1.3 (for this and the three other auth functions: with a SHAKE KDF,
/// `AuthModeNotDefinedForKdf` before the KEM runs, as draft-ietf-hpke-hpke defines the auth modes only
/// with the two-stage HKDF key schedule):
/// ```
/// def SetupAuthS(pkR, info, skS):
///   shared_secret, enc = AuthEncap(pkR, skS)
///   return enc, KeyScheduleS(mode_auth, shared_secret, info,
///                            default_psk, default_psk_id)
/// ```
val SetupAuthS:
    suite: Suite ->
    randomness: byte array ->
    pkR: HpkePublicKey ->
    info: byte array ->
    skS: HpkeKeyPair ->
        Result<struct (byte array * ContextS), HpkeError>

/// RFC 9180 §5.1.3:
/// ```
/// def SetupAuthR(enc, skR, info, pkS):
///   shared_secret = AuthDecap(enc, skR, pkS)
///   return KeyScheduleR(mode_auth, shared_secret, info,
///                       default_psk, default_psk_id)
/// ```
val SetupAuthR:
    suite: Suite ->
    enc: byte array ->
    skR: HpkeKeyPair ->
    info: byte array ->
    pkS: HpkePublicKey ->
        Result<ContextR, HpkeError>

/// RFC 9180 §5.1.4:
/// ```
/// def SetupAuthPSKS(pkR, info, psk, psk_id, skS):
///   shared_secret, enc = AuthEncap(pkR, skS)
///   return enc, KeyScheduleS(mode_auth_psk, shared_secret, info,
///                            psk, psk_id)
/// ```
val SetupAuthPSKS:
    suite: Suite ->
    randomness: byte array ->
    pkR: HpkePublicKey ->
    info: byte array ->
    psk: byte array ->
    psk_id: byte array ->
    skS: HpkeKeyPair ->
        Result<struct (byte array * ContextS), HpkeError>

/// RFC 9180 §5.1.4:
/// ```
/// def SetupAuthPSKR(enc, skR, info, psk, psk_id, pkS):
///   shared_secret = AuthDecap(enc, skR, pkS)
///   return KeyScheduleR(mode_auth_psk, shared_secret, info,
///                       psk, psk_id)
/// ```
val SetupAuthPSKR:
    suite: Suite ->
    enc: byte array ->
    skR: HpkeKeyPair ->
    info: byte array ->
    psk: byte array ->
    psk_id: byte array ->
    pkS: HpkePublicKey ->
        Result<ContextR, HpkeError>

/// The sender's mode-specific inputs, one case per mode: a single entry point for callers that pick
/// the mode at run time (the facade). Each case runs the matching SetupXS above.
[<NoComparison; NoEquality>]
type SenderMode =
    | BaseS
    | PskS of psk: byte array * psk_id: byte array
    | AuthS of skS: HpkeKeyPair
    | AuthPskS of psk: byte array * psk_id: byte array * skS: HpkeKeyPair

/// The recipient's mode-specific inputs, one case per mode.
[<NoComparison; NoEquality>]
type RecipientMode =
    | BaseR
    | PskR of psk: byte array * psk_id: byte array
    | AuthR of pkS: HpkePublicKey
    | AuthPskR of psk: byte array * psk_id: byte array * pkS: HpkePublicKey

/// SetupBaseS / SetupPSKS / SetupAuthS / SetupAuthPSKS, chosen by `mode`. Returns (enc, context).
val SetupS:
    suite: Suite ->
    mode: SenderMode ->
    randomness: byte array ->
    pkR: HpkePublicKey ->
    info: byte array ->
        Result<struct (byte array * ContextS), HpkeError>

/// SetupBaseR / SetupPSKR / SetupAuthR / SetupAuthPSKR, chosen by `mode`.
val SetupR:
    suite: Suite ->
    mode: RecipientMode ->
    enc: byte array ->
    skR: HpkeKeyPair ->
    info: byte array ->
        Result<ContextR, HpkeError>
