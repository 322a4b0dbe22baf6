/// RFC 9180 §4 "Cryptographic Dependencies": LabeledExtract and LabeledExpand, which put the
/// version label "HPKE-v1", the suite_id and a per-use label into every HKDF call.
/// See: https://www.rfc-editor.org/rfc/rfc9180#section-4
module HybridProtocol.Core.Hpke.Labeled

open HybridProtocol.Core

/// §4: the version label, "HPKE-v1".
let private version = "HPKE-v1"B

/// RFC 9180 §4:
/// ```
/// def LabeledExtract(salt, label, ikm):
///   labeled_ikm = concat("HPKE-v1", suite_id, label, ikm)
///   return Extract(salt, labeled_ikm)
/// ```
let LabeledExtract (hash: HashFunctions) (suite_id: byte[]) (salt: byte[]) (label: byte[]) (ikm: byte[]) : byte[] =
    Hkdf.extract hash salt (Array.concat [ version; suite_id; label; ikm ])

/// RFC 9180 §4:
/// ```
/// def LabeledExpand(prk, label, info, L):
///   labeled_info = concat(I2OSP(L, 2), "HPKE-v1", suite_id,
///                         label, info)
///   return Expand(prk, labeled_info, L)
/// ```
/// L must fit I2OSP(L, 2) and HKDF's 255 * Nh; otherwise `ExportLengthTooLarge`.
let LabeledExpand
    (hash: HashFunctions)
    (suite_id: byte[])
    (prk: byte[])
    (label: byte[])
    (info: byte[])
    (L: int)
    : Result<byte[], HpkeError> =
    let maximum = min 65535 (255 * hash.HASHLEN)

    if L < 0 || L > maximum then
        Error(ExportLengthTooLarge(L, maximum))
    else
        let labeled_info =
            Array.concat [ [| byte (L >>> 8); byte L |]; version; suite_id; label; info ]

        match Hkdf.expand hash prk labeled_info L with
        | Some okm -> Ok okm
        | None -> Error(ExportLengthTooLarge(L, maximum))
