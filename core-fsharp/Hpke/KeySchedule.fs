namespace HybridProtocol.Core.Hpke

open System
open System.Security.Cryptography
open HybridProtocol.Core

type Mode =
    | Base
    | Psk
    | Auth
    | AuthPsk

module Mode =
    let value (mode: Mode) : byte =
        match mode with
        | Base -> 0x00uy
        | Psk -> 0x01uy
        | Auth -> 0x02uy
        | AuthPsk -> 0x03uy

    let tryOfValue (value: byte) : Mode voption =
        match value with
        | 0x00uy -> ValueSome Base
        | 0x01uy -> ValueSome Psk
        | 0x02uy -> ValueSome Auth
        | 0x03uy -> ValueSome AuthPsk
        | _ -> ValueNone

    let select hasPsk hasSenderKey =
        match hasPsk, hasSenderKey with
        | false, false -> Base
        | true, false -> Psk
        | false, true -> Auth
        | true, true -> AuthPsk

[<NoComparison; NoEquality>]
type KeyScheduleOutput = {
    key_schedule_context: byte[]
    secret: byte[]
    key: byte[]
    base_nonce: byte[]
    exporter_secret: byte[]
}

module KeySchedule =
    let default_psk: byte[] = [||]

    let default_psk_id: byte[] = [||]

    /// §5.1.2: "The PSK MUST have at least 32 bytes of entropy" (enforced as a length).
    [<Literal>]
    let MinPskLength = 32

    let VerifyPSKInputs (mode: Mode) (psk: byte[]) (psk_id: byte[]) : Result<unit, HpkeError> =
        let got_psk = psk.Length <> 0
        let got_psk_id = psk_id.Length <> 0

        if got_psk <> got_psk_id then
            Error(PskInputs InconsistentPskInputs)
        else
            match mode with
            | Base
            | Auth when got_psk -> Error(PskInputs PskInputNotNeeded)
            | Mode.Psk
            | AuthPsk when not got_psk -> Error(PskInputs MissingRequiredPsk)
            | Mode.Psk
            | AuthPsk when psk.Length < MinPskLength -> Error(PskInputs(PskTooShort psk.Length))
            | _ -> Ok()

    /// RFC 9180 §5.1, the derivation part of KeySchedule<ROLE> (the context is made from it by
    /// `Context`):
    /// ```
    /// def KeySchedule<ROLE>(mode, shared_secret, info, psk, psk_id):
    ///   VerifyPSKInputs(mode, psk, psk_id)
    ///
    ///   psk_id_hash = LabeledExtract("", "psk_id_hash", psk_id)
    ///   info_hash = LabeledExtract("", "info_hash", info)
    ///   key_schedule_context = concat(mode, psk_id_hash, info_hash)
    ///
    ///   secret = LabeledExtract(shared_secret, "secret", psk)
    ///
    ///   key = LabeledExpand(secret, "key", key_schedule_context, Nk)
    ///   base_nonce = LabeledExpand(secret, "base_nonce",
    ///                              key_schedule_context, Nn)
    ///   exporter_secret = LabeledExpand(secret, "exp",
    ///                                   key_schedule_context, Nh)
    /// ```
    /// ```
    ///   shared_secret --+
    ///                   v
    ///   psk ------> Extract("secret") = secret
    ///                                     |
    ///   mode || psk_id_hash || info_hash  +--> Expand("key", Nk)        = key
    ///   = key_schedule_context ---------->+--> Expand("base_nonce", Nn) = base_nonce
    ///                                     +--> Expand("exp", Nh)        = exporter_secret
    /// ```
    let private twoStage
        (suite: Suite)
        (hash: HybridProtocol.Core.HashFunctions)
        (mode: Mode)
        (shared_secret: byte[])
        (info: byte[])
        (psk: byte[])
        (psk_id: byte[])
        =
        result {
            let extract = Labeled.LabeledExtract hash suite.SuiteId
            let expand = Labeled.LabeledExpand hash suite.SuiteId
            let psk_id_hash = extract [||] "psk_id_hash"B psk_id
            let info_hash = extract [||] "info_hash"B info

            let key_schedule_context =
                Array.concat [ [| Mode.value mode |]; psk_id_hash; info_hash ]

            let secret = extract shared_secret "secret"B psk
            let! key = expand secret "key"B key_schedule_context suite.Nk
            let! base_nonce = expand secret "base_nonce"B key_schedule_context suite.Nn
            let! exporter_secret = expand secret "exp"B key_schedule_context suite.Nh

            return {
                key_schedule_context = key_schedule_context
                secret = secret
                key = key
                base_nonce = base_nonce
                exporter_secret = exporter_secret
            }
        }

    /// draft-ietf-hpke-hpke §5.1, the key schedule for a single-stage KDF (draft-ietf-hpke-pq §5's
    /// SHAKE128/SHAKE256), as its reference implementation computes it:
    /// ```
    ///   secrets = concat(lengthPrefixed(psk), lengthPrefixed(shared_secret))
    ///   context = concat(mode, lengthPrefixed(psk_id), lengthPrefixed(info))
    ///   secret = LabeledDerive(secrets, "secret", context, Nk + Nn + Nh)
    ///   key = secret[:Nk]
    ///   base_nonce = secret[Nk:(Nk + Nn)]
    ///   exporter_secret = secret[(Nk + Nn):]
    /// ```
    /// `key_schedule_context` holds `context`, and `secret` the whole derived string.
    let private oneStage
        (suite: Suite)
        xof
        (mode: Mode)
        (shared_secret: byte[])
        (info: byte[])
        (psk: byte[])
        (psk_id: byte[])
        =
        if info.Length > 65535 || psk_id.Length > 65535 || psk.Length > 65535 then
            Error(InputTooLong(max info.Length (max psk.Length psk_id.Length), 65535))
        else
            result {
                let secrets =
                    Array.append (Labeled.lengthPrefixed psk) (Labeled.lengthPrefixed shared_secret)

                let context =
                    Array.concat [
                        [| Mode.value mode |]
                        Labeled.lengthPrefixed psk_id
                        Labeled.lengthPrefixed info
                    ]

                let! secret =
                    Labeled.LabeledDerive xof suite.SuiteId secrets "secret"B context (suite.Nk + suite.Nn + suite.Nh)

                CryptographicOperations.ZeroMemory(Span secrets)

                return {
                    key_schedule_context = context
                    secret = secret
                    key = Array.sub secret 0 suite.Nk
                    base_nonce = Array.sub secret suite.Nk suite.Nn
                    exporter_secret = Array.sub secret (suite.Nk + suite.Nn) suite.Nh
                }
            }

    let Derive
        (suite: Suite)
        (mode: Mode)
        (shared_secret: byte[])
        (info: byte[])
        (psk: byte[])
        (psk_id: byte[])
        : Result<KeyScheduleOutput, HpkeError> =
        result {
            do! VerifyPSKInputs mode psk psk_id

            return!
                match suite.Kdf with
                | HkdfSha256 h
                | HkdfSha384 h
                | HkdfSha512 h -> twoStage suite h mode shared_secret info psk psk_id
                | Shake128 x
                | Shake256 x -> oneStage suite x mode shared_secret info psk psk_id
        }

    let Export (suite: Suite) (exporter_secret: byte[]) (exporter_context: byte[]) (L: int) =
        match suite.Kdf with
        | HkdfSha256 h
        | HkdfSha384 h
        | HkdfSha512 h -> Labeled.LabeledExpand h suite.SuiteId exporter_secret "sec"B exporter_context L
        | Shake128 x
        | Shake256 x -> Labeled.LabeledDerive x suite.SuiteId exporter_secret "sec"B exporter_context L

    let clear (output: KeyScheduleOutput) =
        CryptographicOperations.ZeroMemory(Span output.secret)
        CryptographicOperations.ZeroMemory(Span output.key)
        CryptographicOperations.ZeroMemory(Span output.base_nonce)
        CryptographicOperations.ZeroMemory(Span output.exporter_secret)
