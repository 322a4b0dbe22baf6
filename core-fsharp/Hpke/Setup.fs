module HybridProtocol.Core.Hpke.Setup

open System
open System.Security.Cryptography
open HybridProtocol.Core

/// §5.1 KeySchedule<ROLE> up to the context: derive, make the context, zero the intermediate secrets.
let private keySchedule make (suite: Suite) mode (shared_secret: byte[]) info psk psk_id =
    let output = KeySchedule.Derive suite mode shared_secret info psk psk_id
    CryptographicOperations.ZeroMemory(Span shared_secret)

    output
    |> Result.map (fun output ->
        let context = make suite output
        KeySchedule.clear output
        context)

/// RFC 9180 §5.1 `KeySchedule<S>(mode, shared_secret, info, psk, psk_id)`.
let KeyScheduleS suite mode shared_secret info psk psk_id : Result<ContextS, HpkeError> =
    keySchedule Context.createS suite mode shared_secret info psk psk_id

/// RFC 9180 §5.1 `KeySchedule<R>(mode, shared_secret, info, psk, psk_id)`.
let KeyScheduleR suite mode shared_secret info psk psk_id : Result<ContextR, HpkeError> =
    keySchedule Context.createR suite mode shared_secret info psk psk_id

// draft-ietf-hpke-hpke defines mode_auth and mode_auth_psk only with a two-stage (HKDF) KDF.
let private authKdf (suite: Suite) : Result<unit, HpkeError> =
    match suite.Kdf with
    | Shake128 _
    | Shake256 _ -> Error(AuthModeNotDefinedForKdf suite.KdfId)
    | HkdfSha256 _
    | HkdfSha384 _
    | HkdfSha512 _ -> Ok()

let private sender suite mode (encapsulation: Result<Encapsulation, HpkeError>) info psk psk_id =
    result {
        let! e = encapsulation
        let! ctx = KeyScheduleS suite mode e.shared_secret info psk psk_id
        return struct (e.enc, ctx)
    }

let SetupBaseS (suite: Suite) (randomness: byte[]) (pkR: HpkePublicKey) (info: byte[]) =
    sender suite Base (suite.Kem.Encap randomness pkR) info KeySchedule.default_psk KeySchedule.default_psk_id

let SetupBaseR (suite: Suite) (enc: byte[]) (skR: HpkeKeyPair) (info: byte[]) =
    suite.Kem.Decap enc skR
    |> Result.bind (fun ss -> KeyScheduleR suite Base ss info KeySchedule.default_psk KeySchedule.default_psk_id)

let SetupPSKS (suite: Suite) (randomness: byte[]) (pkR: HpkePublicKey) (info: byte[]) (psk: byte[]) (psk_id: byte[]) =
    sender suite Psk (suite.Kem.Encap randomness pkR) info psk psk_id

let SetupPSKR (suite: Suite) (enc: byte[]) (skR: HpkeKeyPair) (info: byte[]) (psk: byte[]) (psk_id: byte[]) =
    suite.Kem.Decap enc skR
    |> Result.bind (fun ss -> KeyScheduleR suite Psk ss info psk psk_id)

let SetupAuthS (suite: Suite) (randomness: byte[]) (pkR: HpkePublicKey) (info: byte[]) (skS: HpkeKeyPair) =
    authKdf suite
    |> Result.bind (fun () ->
        sender
            suite
            Auth
            (suite.Kem.AuthEncap randomness pkR skS)
            info
            KeySchedule.default_psk
            KeySchedule.default_psk_id)

let SetupAuthR (suite: Suite) (enc: byte[]) (skR: HpkeKeyPair) (info: byte[]) (pkS: HpkePublicKey) =
    authKdf suite
    |> Result.bind (fun () -> suite.Kem.AuthDecap enc skR pkS)
    |> Result.bind (fun ss -> KeyScheduleR suite Auth ss info KeySchedule.default_psk KeySchedule.default_psk_id)

let SetupAuthPSKS
    (suite: Suite)
    (randomness: byte[])
    (pkR: HpkePublicKey)
    (info: byte[])
    (psk: byte[])
    (psk_id: byte[])
    (skS: HpkeKeyPair)
    =
    authKdf suite
    |> Result.bind (fun () -> sender suite AuthPsk (suite.Kem.AuthEncap randomness pkR skS) info psk psk_id)

let SetupAuthPSKR
    (suite: Suite)
    (enc: byte[])
    (skR: HpkeKeyPair)
    (info: byte[])
    (psk: byte[])
    (psk_id: byte[])
    (pkS: HpkePublicKey)
    =
    authKdf suite
    |> Result.bind (fun () -> suite.Kem.AuthDecap enc skR pkS)
    |> Result.bind (fun ss -> KeyScheduleR suite AuthPsk ss info psk psk_id)

[<NoComparison; NoEquality>]
type SenderMode =
    | BaseS
    | PskS of psk: byte[] * psk_id: byte[]
    | AuthS of skS: HpkeKeyPair
    | AuthPskS of psk: byte[] * psk_id: byte[] * skS: HpkeKeyPair

[<NoComparison; NoEquality>]
type RecipientMode =
    | BaseR
    | PskR of psk: byte[] * psk_id: byte[]
    | AuthR of pkS: HpkePublicKey
    | AuthPskR of psk: byte[] * psk_id: byte[] * pkS: HpkePublicKey

let SetupS (suite: Suite) (mode: SenderMode) (randomness: byte[]) (pkR: HpkePublicKey) (info: byte[]) =
    match mode with
    | BaseS -> SetupBaseS suite randomness pkR info
    | PskS(psk, psk_id) -> SetupPSKS suite randomness pkR info psk psk_id
    | AuthS skS -> SetupAuthS suite randomness pkR info skS
    | AuthPskS(psk, psk_id, skS) -> SetupAuthPSKS suite randomness pkR info psk psk_id skS

let SetupR (suite: Suite) (mode: RecipientMode) (enc: byte[]) (skR: HpkeKeyPair) (info: byte[]) =
    match mode with
    | BaseR -> SetupBaseR suite enc skR info
    | PskR(psk, psk_id) -> SetupPSKR suite enc skR info psk psk_id
    | AuthR pkS -> SetupAuthR suite enc skR info pkS
    | AuthPskR(psk, psk_id, pkS) -> SetupAuthPSKR suite enc skR info psk psk_id pkS
