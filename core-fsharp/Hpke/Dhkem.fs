module HybridProtocol.Core.Hpke.Dhkem

open System
open System.Security.Cryptography
open HybridProtocol.Core

/// One DHKEM: the group, the hash of its HKDF, and suite_id = concat("KEM", I2OSP(kem_id, 2)).
[<NoComparison; NoEquality>]
type private Dhkem = {
    kem_id: uint16
    group: DhGroup
    hash: HashFunctions
    suite_id: byte[]
    Nsecret: int
}

let private zero (bytes: byte[]) =
    CryptographicOperations.ZeroMemory(Span bytes)

/// Big-endian `a < b` for equal lengths, without an early exit.
let internal lessThan (a: byte[]) (b: byte[]) =
    let mutable less = 0
    let mutable decided = 0

    for i in 0 .. a.Length - 1 do
        let x = int a[i]
        let y = int b[i]
        let lt = if x < y then 1 else 0
        let ne = if x <> y then 1 else 0
        less <- less ||| (lt &&& (decided ^^^ 1))
        decided <- decided ||| ne

    less = 1

let internal isZero (a: byte[]) =
    let mutable acc = 0uy

    for b in a do
        acc <- acc ||| b

    acc = 0uy

/// §4: "DeserializePublicKey(pkXm): Parse a byte string of length Npk to recover a public key. This
/// function can raise a DeserializeError error upon pkXm deserialization failure."
/// §7.1.4: "For P-256, P-384, and P-521, senders and recipients MUST perform partial public key
/// validation on all public key inputs": not the identity, coordinates in range, on the curve.
let private deserializePublicKey (k: Dhkem) (pkXm: byte[]) : Result<HpkePublicKey, HpkeError> =
    if pkXm.Length <> k.group.Npk then
        Error(KemFailure(InvalidPublicKey pkXm.Length))
    elif not (k.group.ValidatePublic.Invoke(ReadOnlySpan pkXm)) then
        Error(KemFailure InvalidPoint)
    else
        Ok(HpkePublicKey(k.kem_id, Array.copy pkXm))

/// §4: "DeserializePrivateKey(skXm)", with pk(skX) computed by the provider.
let private deserializePrivateKey (k: Dhkem) (skXm: byte[]) : Result<HpkeKeyPair, HpkeError> =
    if skXm.Length <> k.group.Nsk then
        Error(KemFailure(InvalidPrivateKey skXm.Length))
    else
        let pk = Array.zeroCreate k.group.Npk

        match k.group.ImportPrivate.Invoke(ReadOnlySpan skXm, Span pk) with
        | ValueSome sk ->
            Ok {
                KemId = k.kem_id
                Private = DhPrivate sk
                Public = pk
            }
        | ValueNone -> Error(KemFailure(InvalidPrivateKey skXm.Length))

/// RFC 9180 §7.1.3 DeriveKeyPair up to the serialized private key. For X25519:
/// ```
/// def DeriveKeyPair(ikm):
///   dkp_prk = LabeledExtract("", "dkp_prk", ikm)
///   sk = LabeledExpand(dkp_prk, "sk", "", Nsk)
///   return (sk, pk(sk))
/// ```
/// For P-256, P-384 and P-521:
/// ```
/// def DeriveKeyPair(ikm):
///   dkp_prk = LabeledExtract("", "dkp_prk", ikm)
///   sk = 0
///   counter = 0
///   while sk == 0 or sk >= order:
///     if counter > 255:
///       raise DeriveKeyPairError
///     bytes = LabeledExpand(dkp_prk, "candidate",
///                           I2OSP(counter, 1), Nsk)
///     bytes[0] = bytes[0] & bitmask
///     sk = OS2IP(bytes)
///     counter = counter + 1
///   return (sk, pk(sk))
/// ```
/// "The ikm ... MUST have at least Nsk bytes of entropy": shorter ikm is refused.
let private derivePrivateKey (k: Dhkem) (ikm: byte[]) : Result<byte[], HpkeError> =
    if ikm.Length < k.group.Nsk then
        Error(KemFailure(IkmTooShort ikm.Length))
    else
        let dkp_prk = Labeled.LabeledExtract k.hash k.suite_id [||] "dkp_prk"B ikm

        let result =
            match k.group.Order with
            | ValueNone -> Labeled.LabeledExpand k.hash k.suite_id dkp_prk "sk"B [||] k.group.Nsk
            | ValueSome order ->
                let rec candidate counter =
                    if counter > 255 then
                        Error(KemFailure DeriveKeyPairError)
                    else
                        match
                            Labeled.LabeledExpand k.hash k.suite_id dkp_prk "candidate"B [| byte counter |] k.group.Nsk
                        with
                        | Error e -> Error e
                        | Ok bytes ->
                            bytes[0] <- bytes[0] &&& k.group.Bitmask

                            if isZero bytes || not (lessThan bytes order) then
                                zero bytes
                                candidate (counter + 1)
                            else
                                Ok bytes

                candidate 0

        zero dkp_prk
        result

/// §4: "DH(skX, pkY)". §7.1.4: the provider refuses low-order X25519 points (all-zero output),
/// which is `DhValidationError`.
let private DH (k: Dhkem) (skX: HpkeKeyPair) (pkY: byte[]) : Result<byte[], HpkeError> =
    match skX.Private with
    | KemPrivate _ -> Error(KemFailure(WrongKeyKem(k.kem_id, skX.KemId)))
    | DhPrivate sk ->
        let output = Array.zeroCreate k.group.Ndh

        if k.group.DH.Invoke(sk, ReadOnlySpan pkY, Span output) then
            Ok output
        else
            Error(KemFailure DhValidationError)

/// RFC 9180 §4.1:
/// ```
/// def ExtractAndExpand(dh, kem_context):
///   eae_prk = LabeledExtract("", "eae_prk", dh)
///   shared_secret = LabeledExpand(eae_prk, "shared_secret",
///                                 kem_context, Nsecret)
///   return shared_secret
/// ```
/// Erases dh and eae_prk.
let private ExtractAndExpand (k: Dhkem) (dh: byte[]) (kem_context: byte[]) : Result<byte[], HpkeError> =
    let eae_prk = Labeled.LabeledExtract k.hash k.suite_id [||] "eae_prk"B dh
    zero dh

    let shared_secret =
        Labeled.LabeledExpand k.hash k.suite_id eae_prk "shared_secret"B kem_context k.Nsecret

    zero eae_prk
    shared_secret

let private checkKey (k: Dhkem) (kemId: uint16) =
    if kemId = k.kem_id then
        Ok()
    else
        Error(KemFailure(WrongKeyKem(k.kem_id, kemId)))

/// The RFC's `skE, pkE = GenerateKeyPair()` as DeriveKeyPair(randomness), run through `use`, which
/// disposes the ephemeral key once the DH values are computed.
let private withEphemeral (k: Dhkem) (randomness: byte[]) (f: HpkeKeyPair -> Result<'T, HpkeError>) =
    if randomness.Length <> k.group.Nsk then
        Error(KemFailure(WrongRandomnessLength(k.group.Nsk, randomness.Length)))
    else
        match
            derivePrivateKey k randomness
            |> Result.bind (fun sk ->
                (let p = deserializePrivateKey k sk in
                 zero sk
                 p))
        with
        | Error e -> Error e
        | Ok ephemeral ->
            try
                f ephemeral
            finally
                match ephemeral.Private with
                | DhPrivate sk -> sk.Dispose()
                | KemPrivate sk -> sk.Dispose()

let private concatDh (dh1: byte[]) (dh2: byte[]) =
    let dh = Array.append dh1 dh2
    zero dh1
    zero dh2
    dh

/// RFC 9180 §4.1, with `skE, pkE = GenerateKeyPair()` as DeriveKeyPair(randomness):
/// ```
/// def Encap(pkR):
///   skE, pkE = GenerateKeyPair()
///   dh = DH(skE, pkR)
///   enc = SerializePublicKey(pkE)
///
///   pkRm = SerializePublicKey(pkR)
///   kem_context = concat(enc, pkRm)
///
///   shared_secret = ExtractAndExpand(dh, kem_context)
///   return shared_secret, enc
/// ```
let private Encap (k: Dhkem) (randomness: byte[]) (pkR: HpkePublicKey) : Result<Encapsulation, HpkeError> =
    result {
        do! checkKey k pkR.KemId

        return!
            withEphemeral k randomness (fun ephemeral ->
                result {
                    let! dh = DH k ephemeral pkR.Bytes
                    let enc = Array.copy ephemeral.Public
                    let pkRm = Kem.SerializePublicKey pkR
                    let kem_context = Array.append enc pkRm
                    let! shared_secret = ExtractAndExpand k dh kem_context

                    return {
                        shared_secret = shared_secret
                        enc = enc
                    }
                })
    }

/// RFC 9180 §4.1:
/// ```
/// def Decap(enc, skR):
///   pkE = DeserializePublicKey(enc)
///   dh = DH(skR, pkE)
///
///   pkRm = SerializePublicKey(pk(skR))
///   kem_context = concat(enc, pkRm)
///
///   shared_secret = ExtractAndExpand(dh, kem_context)
///   return shared_secret
/// ```
let private Decap (k: Dhkem) (enc: byte[]) (skR: HpkeKeyPair) : Result<byte[], HpkeError> =
    result {
        do! checkKey k skR.KemId

        let! pkE =
            if enc.Length <> k.group.Npk then
                Error(KemFailure(InvalidEncapsulatedKey enc.Length))
            else
                deserializePublicKey k enc

        let! dh = DH k skR pkE.Bytes
        let pkRm = skR.Public
        let kem_context = Array.append enc pkRm
        return! ExtractAndExpand k dh kem_context
    }

/// RFC 9180 §4.1, with the ephemeral key pair from the randomness:
/// ```
/// def AuthEncap(pkR, skS):
///   skE, pkE = GenerateKeyPair()
///   dh = concat(DH(skE, pkR), DH(skS, pkR))
///   enc = SerializePublicKey(pkE)
///
///   pkRm = SerializePublicKey(pkR)
///   pkSm = SerializePublicKey(pk(skS))
///   kem_context = concat(enc, pkRm, pkSm)
///
///   shared_secret = ExtractAndExpand(dh, kem_context)
///   return shared_secret, enc
/// ```
let private AuthEncap
    (k: Dhkem)
    (randomness: byte[])
    (pkR: HpkePublicKey)
    (skS: HpkeKeyPair)
    : Result<Encapsulation, HpkeError> =
    result {
        do! checkKey k pkR.KemId
        do! checkKey k skS.KemId

        return!
            withEphemeral k randomness (fun ephemeral ->
                result {
                    let! dh1 = DH k ephemeral pkR.Bytes
                    let! dh2 = DH k skS pkR.Bytes
                    let dh = concatDh dh1 dh2
                    let enc = Array.copy ephemeral.Public
                    let pkRm = Kem.SerializePublicKey pkR
                    let pkSm = skS.Public
                    let kem_context = Array.concat [ enc; pkRm; pkSm ]
                    let! shared_secret = ExtractAndExpand k dh kem_context

                    return {
                        shared_secret = shared_secret
                        enc = enc
                    }
                })
    }

/// RFC 9180 §4.1:
/// ```
/// def AuthDecap(enc, skR, pkS):
///   pkE = DeserializePublicKey(enc)
///   dh = concat(DH(skR, pkE), DH(skR, pkS))
///
///   pkRm = SerializePublicKey(pk(skR))
///   pkSm = SerializePublicKey(pkS)
///   kem_context = concat(enc, pkRm, pkSm)
///
///   shared_secret = ExtractAndExpand(dh, kem_context)
///   return shared_secret
/// ```
let private AuthDecap (k: Dhkem) (enc: byte[]) (skR: HpkeKeyPair) (pkS: HpkePublicKey) : Result<byte[], HpkeError> =
    result {
        do! checkKey k skR.KemId
        do! checkKey k pkS.KemId

        let! pkE =
            if enc.Length <> k.group.Npk then
                Error(KemFailure(InvalidEncapsulatedKey enc.Length))
            else
                deserializePublicKey k enc

        let! dh1 = DH k skR pkE.Bytes
        let! dh2 = DH k skR pkS.Bytes
        let dh = concatDh dh1 dh2
        let pkRm = skR.Public
        let pkSm = Kem.SerializePublicKey pkS
        let kem_context = Array.concat [ enc; pkRm; pkSm ]
        return! ExtractAndExpand k dh kem_context
    }

let create (kem_id: uint16) (group: DhGroup) (hash: HashFunctions) : Kem =
    let k = {
        kem_id = kem_id
        group = group
        hash = hash
        suite_id = Array.append "KEM"B [| byte (kem_id >>> 8); byte kem_id |]
        Nsecret = hash.HASHLEN
    }

    {
        kem_id = kem_id
        Name = "DHKEM(" + group.Name + ", HKDF-" + hash.Name + ")"
        Nsecret = k.Nsecret
        Nenc = group.Npk
        Npk = group.Npk
        Nsk = group.Nsk
        Nrandom = group.Nsk
        SupportsAuth = true
        DerivePrivateKey = derivePrivateKey k
        DeserializePrivateKey = deserializePrivateKey k
        DeserializePublicKey = deserializePublicKey k
        Encap = Encap k
        Decap = Decap k
        AuthEncap = AuthEncap k
        AuthDecap = AuthDecap k
    }
