/// RFC 9180 §4 "Cryptographic Dependencies": LabeledExtract and LabeledExpand, which put the
/// version label "HPKE-v1", the suite_id and a per-use label into every HKDF call.
/// See: https://www.rfc-editor.org/rfc/rfc9180#section-4
module HybridProtocol.Core.Hpke.Labeled

open HybridProtocol.Core

/// RFC 9180 §4:
/// ```
/// def LabeledExtract(salt, label, ikm):
///   labeled_ikm = concat("HPKE-v1", suite_id, label, ikm)
///   return Extract(salt, labeled_ikm)
/// ```
val LabeledExtract:
    hash: HashFunctions ->
    suite_id: byte array ->
    salt: byte array ->
    label: byte array ->
    ikm: byte array ->
        byte array

/// RFC 9180 §4:
/// ```
/// def LabeledExpand(prk, label, info, L):
///   labeled_info = concat(I2OSP(L, 2), "HPKE-v1", suite_id,
///                         label, info)
///   return Expand(prk, labeled_info, L)
/// ```
/// L must fit I2OSP(L, 2) and HKDF's 255 * Nh; otherwise `ExportLengthTooLarge`.
val LabeledExpand:
    hash: HashFunctions ->
    suite_id: byte array ->
    prk: byte array ->
    label: byte array ->
    info: byte array ->
    L: int ->
        Result<byte array, HpkeError>

/// `lengthPrefixed(x) = concat(I2OSP(len(x), 2), x)` (draft-ietf-hpke-hpke §4, used by the
/// single-stage KDFs). Inputs are below 65536 bytes (callers check).
val internal lengthPrefixed: x: byte array -> byte array

/// draft-ietf-hpke-hpke §4, the labeled form of a single-stage KDF's `Derive(ikm, L)`
/// (draft-ietf-hpke-pq §5: SHAKE<SIZE>.Derive(ikm, L) = SHAKE<SIZE>(M = ikm, d = 8*L)):
/// ```
/// def LabeledDerive(ikm, label, context, L):
///   labeled_ikm = concat(ikm, "HPKE-v1", suite_id,
///                        lengthPrefixed(label), I2OSP(L, 2), context)
///   return Derive(labeled_ikm, L)
/// ```
/// L must fit I2OSP(L, 2); otherwise `ExportLengthTooLarge`.
val internal LabeledDerive:
    xof: XofFn ->
    suite_id: byte array ->
    ikm: byte array ->
    label: byte array ->
    context: byte array ->
    L: int ->
        Result<byte array, HpkeError>
