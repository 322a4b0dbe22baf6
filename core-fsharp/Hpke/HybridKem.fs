/// draft-ietf-hpke-pq §4 "Hybrid KEMs with ECDH and ML-KEM" over draft-irtf-cfrg-concrete-hybrid-kems.
module HybridProtocol.Core.Hpke.HybridKem

open System
open System.Security.Cryptography
open HybridProtocol.Core

[<NoComparison; NoEquality>]
type HybridParameters = {
    kem_id: uint16
    Name: string
    Label: byte[]
    Pq: KemFunctions
    Group: DhGroup
    GroupNseed: int
    GroupNrandom: int
    Shake256: XofFn
    Sha3_256: HashFunctions
}

/// The expanded decapsulation key: dk_PQ (in the provider), dk_T (in the provider) and ek_T, the
/// traditional public key the combiner hashes. Disposing it disposes both halves.
[<Sealed>]
type private HybridPrivateKey(pq: IKemPrivateKey, t: IDhPrivateKey, ekT: byte[]) =
    member _.Pq = pq
    member _.T = t
    member _.EkT = ekT

    interface IKemPrivateKey

    interface IDisposable with
        member _.Dispose() =
            pq.Dispose()
            t.Dispose()

let private zero (bytes: byte[]) =
    CryptographicOperations.ZeroMemory(Span bytes)

let private slice (bytes: byte[]) (start: int) (length: int) = bytes.AsSpan(start, length).ToArray()

/// concrete-hybrid-kems, the NIST nominal groups:
/// ```
/// def RandomScalar(seed):
///   rejects = 0
///   sk = OS2IP(seed[:Nscalar])
///   while sk == 0 || sk >= order:
///     rejects += 1
///     if rejects > Nreject: fail
///     sk = OS2IP(seed[Nscalar * rejects : Nscalar * rejects + Nscalar])
///   return (sk, pk(sk))
/// ```
/// with Exp(G, sk) = pk(sk) by the group's ImportPrivate. Every whole Nscalar-byte chunk of the seed is
/// a candidate (the number of chunks is Nreject + 1); no candidate left is `DeriveKeyPairError`.
let private RandomScalar (p: HybridParameters) (seed: ReadOnlySpan<byte>) : Result<IDhPrivateKey * byte[], HpkeError> =
    let nscalar = p.Group.Nsk
    let mutable found = ValueNone
    let mutable start = 0

    while found.IsNone && start + nscalar <= seed.Length do
        let candidate = seed.Slice(start, nscalar).ToArray()

        let inRange =
            not (Dhkem.isZero candidate)
            && (match p.Group.Order with
                | ValueSome order -> Dhkem.lessThan candidate order
                | ValueNone -> true)

        if inRange then
            let pk = Array.zeroCreate p.Group.Npk

            match p.Group.ImportPrivate.Invoke(ReadOnlySpan candidate, Span pk) with
            | ValueSome sk -> found <- ValueSome(sk, pk)
            | ValueNone -> ()

        zero candidate
        start <- start + nscalar

    match found with
    | ValueSome pair -> Ok pair
    | ValueNone -> Error(KemFailure DeriveKeyPairError)

/// draft-irtf-cfrg-hybrid-kems (CG framework), as the concrete instances use it:
/// ```
/// def expandKey(seed):
///     seed_full = SHAKE256(seed, KEM.Nseed + Group.Nseed)
///     seed_PQ = seed_full[0 : KEM.Nseed]
///     seed_T = seed_full[KEM.Nseed : KEM.Nseed + Group.Nseed]
///     (ek_PQ, dk_PQ) = ML-KEM.KeyGen_internal(seed_PQ)
///     dk_T = Group.RandomScalar(seed_T)
///     ek_T = Group.Exp(Group.G, dk_T)
///     return (ek_PQ, ek_T, dk_PQ, dk_T)
/// ```
/// The providers keep dk_PQ and dk_T; seed_full is erased.
let private expandKey (p: HybridParameters) (seed: byte[]) : Result<HybridPrivateKey * byte[], HpkeError> =
    let seedFull = Array.zeroCreate (p.Pq.SEEDLEN + p.GroupNseed)
    p.Shake256.Invoke(ReadOnlySpan seed, Span seedFull)

    let result =
        match RandomScalar p (ReadOnlySpan(seedFull, p.Pq.SEEDLEN, p.GroupNseed)) with
        | Error e -> Error e
        | Ok(dkT, ekT) ->
            let pq = p.Pq.GENERATE_KEM_KEYPAIR.Invoke(ReadOnlySpan(seedFull, 0, p.Pq.SEEDLEN))
            Ok(new HybridPrivateKey(pq.Private, dkT, ekT), Array.append pq.Public ekT)

    zero seedFull
    result

/// draft-ietf-hpke-pq §4: "SerializePublicKey, DeserializePublicKey ... are the identity": ek = ek_PQ
/// || ek_T, Npk bytes. The traditional half is validated here (an uncompressed point on the curve, RFC
/// 9180 §7.1.4's check); ML-KEM's encapsulation key check happens at Encap (EncapError).
let private DeserializePublicKey (p: HybridParameters) (pkXm: byte[]) : Result<HpkePublicKey, HpkeError> =
    let npk = p.Pq.KEMPUBLICKEYLEN + p.Group.Npk

    if pkXm.Length <> npk then
        Error(KemFailure(InvalidPublicKey pkXm.Length))
    elif not (p.Group.ValidatePublic.Invoke(ReadOnlySpan(pkXm, p.Pq.KEMPUBLICKEYLEN, p.Group.Npk))) then
        Error(KemFailure InvalidPoint)
    else
        Ok(HpkePublicKey(p.kem_id, Array.copy pkXm))

/// draft-ietf-hpke-pq §4: the private key is the 32-byte seed; the key pair is expandKey(seed).
let private DeserializePrivateKey (p: HybridParameters) (skXm: byte[]) : Result<HpkeKeyPair, HpkeError> =
    if skXm.Length <> 32 then
        Error(KemFailure(InvalidPrivateKey skXm.Length))
    else
        expandKey p skXm
        |> Result.map (fun (sk, ek) -> {
            KemId = p.kem_id
            Private = KemPrivate sk
            Public = ek
        })

/// draft-ietf-hpke-pq §4:
/// ```
/// def DeriveKeyPair(ikm):
///     seed = SHAKE256.LabeledDerive(ikm, "DeriveKeyPair", "", 32)
///     return KEM.DeriveKeyPair(seed)
/// ```
/// "The input to this function SHOULD be at least 32 bytes long": we refuse shorter ikm. Returns the
/// seed (the serialized private key); the caller erases it.
let private DerivePrivateKey (p: HybridParameters) (suite_id: byte[]) (ikm: byte[]) : Result<byte[], HpkeError> =
    if ikm.Length < 32 then
        Error(KemFailure(IkmTooShort ikm.Length))
    else
        Labeled.LabeledDerive p.Shake256 suite_id ikm "DeriveKeyPair"B [||] 32

/// The CG combiner: `ss = SHA3-256(ss_PQ || ss_T || ct_T || ek_T || Label)`. Erases ss_PQ and ss_T.
let private combine (p: HybridParameters) (ssPq: byte[]) (ssT: byte[]) (ctT: byte[]) (ekT: byte[]) =
    let input = Array.concat [ ssPq; ssT; ctT; ekT; p.Label ]
    zero ssPq
    zero ssT
    let ss = Array.zeroCreate p.Sha3_256.HASHLEN
    p.Sha3_256.HASH.Invoke(ReadOnlySpan input, Span ss)
    zero input
    ss

/// The traditional DH: ElementToSharedSecret(Exp(pk, sk)) = the x-coordinate (the group's DH).
let private exp (p: HybridParameters) (sk: IDhPrivateKey) (pk: byte[]) =
    let output = Array.zeroCreate p.Group.Ndh

    if p.Group.DH.Invoke(sk, ReadOnlySpan pk, Span output) then
        Ok output
    else
        Error(KemFailure DhValidationError)

/// draft-irtf-cfrg-hybrid-kems (CG framework), with the randomness given (m || seed_E):
/// ```
/// def Encaps(ek):
///     ek_PQ = ek[0 : KEM.Nek]
///     ek_T = ek[KEM.Nek : KEM.Nek + Group.Nelem]
///     ss_PQ, ct_PQ = ML-KEM.Encaps(ek_PQ)
///     sk_E = Group.RandomScalar(random(Group.Nseed))
///     ct_T = Group.Exp(Group.G, sk_E)
///     ss_T = Group.ElementToSharedSecret(Group.Exp(ek_T, sk_E))
///     ss = SHA3-256(ss_PQ || ss_T || ct_T || ek_T || Label)
///     ct = ct_PQ || ct_T
///     return (ss, ct)
/// ```
/// An ML-KEM encapsulation key check failure is EncapError (draft-ietf-hpke-pq §3).
let private Encap (p: HybridParameters) (randomness: byte[]) (pkR: HpkePublicKey) : Result<Encapsulation, HpkeError> =
    let nm = p.Pq.ENCAPSRANDOMNESSLEN
    let nrandom = nm + p.GroupNrandom

    if pkR.KemId <> p.kem_id then
        Error(KemFailure(WrongKeyKem(p.kem_id, pkR.KemId)))
    elif randomness.Length <> nrandom then
        Error(KemFailure(WrongRandomnessLength(nrandom, randomness.Length)))
    else
        let ekPq = slice pkR.Bytes 0 p.Pq.KEMPUBLICKEYLEN
        let ekT = slice pkR.Bytes p.Pq.KEMPUBLICKEYLEN p.Group.Npk
        let ctPq = Array.zeroCreate p.Pq.KEMCIPHERTEXTLEN
        let ssPq = Array.zeroCreate p.Pq.KEMOUTPUTLEN

        if
            not (
                p.Pq.GENERATE_KEM_CIPHERTEXT.Invoke(
                    ReadOnlySpan ekPq,
                    ReadOnlySpan(randomness, 0, nm),
                    Span ctPq,
                    Span ssPq
                )
            )
        then
            zero ssPq
            Error(KemFailure EncapError)
        else
            match RandomScalar p (ReadOnlySpan(randomness, nm, p.GroupNrandom)) with
            | Error e ->
                zero ssPq
                Error e
            | Ok(skE, ctT) ->
                try
                    match exp p skE ekT with
                    | Error e ->
                        zero ssPq
                        Error e
                    | Ok ssT ->
                        Ok {
                            shared_secret = combine p ssPq ssT ctT ekT
                            enc = Array.append ctPq ctT
                        }
                finally
                    skE.Dispose()

/// draft-irtf-cfrg-hybrid-kems (CG framework):
/// ```
/// def Decaps(seed, ct):
///     ct_PQ = ct[0 : KEM.Nct]
///     ct_T = ct[KEM.Nct : KEM.Nct + Group.Nelem]
///     ek_PQ, ek_T, dk_PQ, dk_T = expandKey(seed)
///     ss_PQ = ML-KEM.Decaps(dk_PQ, ct_PQ)
///     ss_T = Group.ElementToSharedSecret(Group.Exp(ct_T, dk_T))
///     ss = SHA3-256(ss_PQ || ss_T || ct_T || ek_T || Label)
///     return ss
/// ```
/// (expandKey ran once, in DeserializePrivateKey.) A ct_T that is not a point of the group is
/// `InvalidPoint`, as RFC 9180 §7.1.4 has it for DHKEM's enc.
let private Decap (p: HybridParameters) (enc: byte[]) (skR: HpkeKeyPair) : Result<byte[], HpkeError> =
    let nct = p.Pq.KEMCIPHERTEXTLEN

    match skR.Private with
    | _ when skR.KemId <> p.kem_id -> Error(KemFailure(WrongKeyKem(p.kem_id, skR.KemId)))
    | DhPrivate _ -> Error(KemFailure(WrongKeyKem(p.kem_id, skR.KemId)))
    | _ when enc.Length <> nct + p.Group.Npk -> Error(KemFailure(InvalidEncapsulatedKey enc.Length))
    | KemPrivate(:? HybridPrivateKey as sk) ->
        let ctT = slice enc nct p.Group.Npk

        if not (p.Group.ValidatePublic.Invoke(ReadOnlySpan ctT)) then
            Error(KemFailure InvalidPoint)
        else
            let ssPq = Array.zeroCreate p.Pq.KEMOUTPUTLEN

            if not (p.Pq.KEM.Invoke(sk.Pq, ReadOnlySpan(enc, 0, nct), Span ssPq)) then
                Error(KemFailure DecapError)
            else
                match exp p sk.T ctT with
                | Error e ->
                    zero ssPq
                    Error e
                | Ok ssT -> Ok(combine p ssPq ssT ctT sk.EkT)
    | KemPrivate _ -> Error(KemFailure DecapError)

let create (parameters: HybridParameters) : Kem =
    let p = parameters
    let suite_id = Array.append "KEM"B [| byte (p.kem_id >>> 8); byte p.kem_id |]
    let noAuth () = Error(AuthModeNotSupported p.kem_id)

    {
        kem_id = p.kem_id
        Name = p.Name
        Nsecret = p.Sha3_256.HASHLEN
        Nenc = p.Pq.KEMCIPHERTEXTLEN + p.Group.Npk
        Npk = p.Pq.KEMPUBLICKEYLEN + p.Group.Npk
        Nsk = 32
        Nrandom = p.Pq.ENCAPSRANDOMNESSLEN + p.GroupNrandom
        SupportsAuth = false
        DerivePrivateKey = DerivePrivateKey p suite_id
        DeserializePrivateKey = DeserializePrivateKey p
        DeserializePublicKey = DeserializePublicKey p
        Encap = Encap p
        Decap = Decap p
        AuthEncap = fun _ _ _ -> noAuth ()
        AuthDecap = fun _ _ _ -> noAuth ()
    }
