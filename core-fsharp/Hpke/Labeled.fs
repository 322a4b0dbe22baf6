module HybridProtocol.Core.Hpke.Labeled

open System
open HybridProtocol.Core

/// §4: the version label, "HPKE-v1".
let private version = "HPKE-v1"B

let LabeledExtract (hash: HashFunctions) (suite_id: byte[]) (salt: byte[]) (label: byte[]) (ikm: byte[]) : byte[] =
    Hkdf.extract hash salt (Array.concat [ version; suite_id; label; ikm ])

let LabeledExpand
    (hash: HashFunctions)
    (suite_id: byte[])
    (prk: byte[])
    (label: byte[])
    (info: byte[])
    (L: int)
    : Result<byte[], HpkeError> =
    let maximum = min 65535 (255 * hash.HASHLEN)

    if L < 0 then
        Error(ExportLengthNegative L)
    elif L > maximum then
        Error(ExportLengthTooLarge(L, maximum))
    else
        let labeled_info =
            Array.concat [ [| byte (L >>> 8); byte L |]; version; suite_id; label; info ]

        match Hkdf.expand hash prk labeled_info L with
        | Some okm -> Ok okm
        | None -> Error(ExportLengthTooLarge(L, maximum))

let lengthPrefixed (x: byte[]) : byte[] =
    Array.append [| byte (x.Length >>> 8); byte x.Length |] x

let LabeledDerive
    (xof: XofFn)
    (suite_id: byte[])
    (ikm: byte[])
    (label: byte[])
    (context: byte[])
    (L: int)
    : Result<byte[], HpkeError> =
    if L < 0 then
        Error(ExportLengthNegative L)
    elif L > 65535 then
        Error(ExportLengthTooLarge(L, 65535))
    else
        let labeled_ikm =
            Array.concat [
                ikm
                version
                suite_id
                lengthPrefixed label
                [| byte (L >>> 8); byte L |]
                context
            ]

        let output = Array.zeroCreate L
        xof.Invoke(ReadOnlySpan labeled_ikm, Span output)
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(Span labeled_ikm)
        Ok output
