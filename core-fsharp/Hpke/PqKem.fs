module HybridProtocol.Core.Hpke.PqKem

open System
open System.Security.Cryptography
open HybridProtocol.Core

/// How the KEM's DeriveKeyPair turns SHAKE256 output into a key pair.
[<NoComparison; NoEquality>]
type private Shape = {
    kem_id: uint16
    kem: KemFunctions
    shake256: XofFn
    suite_id: byte[]
    /// ML-KEM: 64 (dk = d || z, the seed format); X-Wing: 32 (the seed).
    Nsk: int
}

/// FIPS 203 §7.2, ML-KEM.Encaps input checking, "(Modulus check.)": ek[0:384k] decoded as 12-bit
/// integers (ByteDecode12) must encode back to the same bytes, i.e. every coefficient is below q = 3329.
/// An ML-KEM key is ByteEncode12(t) || rho (FIPS 203 Algorithm 13), so the checked part is all but its last 32
/// bytes: 768, 1152 or 1536 bytes for k = 2, 3, 4. X-Wing's 1216-byte public key is pk_M || pk_X
/// (draft-connolly-cfrg-xwing-kem): its ML-KEM-768 part is checked, all but the last 64 bytes.
let private modulusCheckedLength (kem_id: uint16) (ek: byte[]) =
    if kem_id = Ids.XWing then
        ek.Length - 64
    else
        ek.Length - 32

let private passesModulusCheck (encodedLength: int) (ek: byte[]) =
    let mutable ok = ek.Length >= encodedLength
    let mutable i = 0

    while ok && i < encodedLength do
        let b0 = int ek[i]
        let b1 = int ek[i + 1]
        let b2 = int ek[i + 2]
        ok <- (b0 ||| ((b1 &&& 0x0F) <<< 8)) < 3329 && ((b1 >>> 4) ||| (b2 <<< 4)) < 3329
        i <- i + 3

    ok

/// draft-ietf-hpke-pq §3: "The SerializePublicKey, DeserializePublicKey, SerializePrivateKey, and
/// DeserializePrivateKey functions are both the identity function ... The length of the byte string
/// is determined by the ML-KEM parameter set in use." The encapsulation key check (FIPS 203 §7.2) is
/// made here too, so a key that fails it is refused at import (`EncapsulationKeyCheck`), not first at Encap.
let private deserializePublicKey (k: Shape) (pkXm: byte[]) : Result<HpkePublicKey, HpkeError> =
    if pkXm.Length <> k.kem.KEMPUBLICKEYLEN then
        Error(KemFailure(InvalidPublicKey pkXm.Length))
    elif not (passesModulusCheck (modulusCheckedLength k.kem_id pkXm) pkXm) then
        Error(KemFailure EncapsulationKeyCheck)
    else
        Ok(HpkePublicKey(k.kem_id, Array.copy pkXm))

/// draft-ietf-hpke-pq §3:
/// ```
/// def expandDecapsKey(dk):
///     d = dk[:32]
///     z = dk[32:]
///     (ek, expanded_dk) = ML-KEM.KeyGen_internal(d, z)
///     return (expanded_dk, ek)
/// ```
/// and for X-Wing, the hybrid KEM's own DeriveKeyPair(seed). The provider keeps the expanded key;
/// the seed stays with the caller.
let private deserializePrivateKey (k: Shape) (skXm: byte[]) : Result<HpkeKeyPair, HpkeError> =
    if skXm.Length <> k.Nsk || skXm.Length <> k.kem.SEEDLEN then
        Error(KemFailure(InvalidPrivateKey skXm.Length))
    else
        let pair = k.kem.GENERATE_KEM_KEYPAIR.Invoke(ReadOnlySpan skXm)

        Ok {
            KemId = k.kem_id
            Private = KemPrivate pair.Private
            Public = pair.Public
        }

/// draft-ietf-hpke-pq §3 (ML-KEM):
/// ```
/// def DeriveKeyPair(ikm):
///     dk = SHAKE256.LabeledDerive(ikm, "DeriveKeyPair", "", 64)
///     (_expanded_dk, ek) = expandDecapsKey(dk)
///     return (dk, ek)
/// ```
/// §4 (hybrids, X-Wing):
/// ```
/// def DeriveKeyPair(ikm):
///     seed = SHAKE256.LabeledDerive(ikm, "DeriveKeyPair", "", 32)
///     return KEM.DeriveKeyPair(seed)
/// ```
/// "The input to this function SHOULD be at least 32 bytes long": we refuse shorter ikm.
/// Returns the serialized private key (dk or seed); the caller erases it.
let private derivePrivateKey (k: Shape) (ikm: byte[]) : Result<byte[], HpkeError> =
    if ikm.Length < 32 then
        Error(KemFailure(IkmTooShort ikm.Length))
    else
        Labeled.LabeledDerive k.shake256 k.suite_id ikm "DeriveKeyPair"B [||] k.Nsk

/// draft-ietf-hpke-pq §3: "The Encap function corresponds to the function ML-KEM.Encaps in
/// [FIPS203], where an ML-KEM encapsulation key check failure causes an HPKE EncapError." Here
/// ML-KEM.Encaps_internal (X-Wing: EncapsulateDerand) with the randomness given; enc is the ciphertext.
let private Encap (k: Shape) (randomness: byte[]) (pkR: HpkePublicKey) : Result<Encapsulation, HpkeError> =
    if pkR.KemId <> k.kem_id then
        Error(KemFailure(WrongKeyKem(k.kem_id, pkR.KemId)))
    elif randomness.Length <> k.kem.ENCAPSRANDOMNESSLEN then
        Error(KemFailure(WrongRandomnessLength(k.kem.ENCAPSRANDOMNESSLEN, randomness.Length)))
    else
        let enc = Array.zeroCreate k.kem.KEMCIPHERTEXTLEN
        let shared_secret = Array.zeroCreate k.kem.KEMOUTPUTLEN

        if
            k.kem.GENERATE_KEM_CIPHERTEXT.Invoke(
                ReadOnlySpan pkR.Bytes,
                ReadOnlySpan randomness,
                Span enc,
                Span shared_secret
            )
        then
            Ok {
                shared_secret = shared_secret
                enc = enc
            }
        else
            CryptographicOperations.ZeroMemory(Span shared_secret)
            Error(KemFailure EncapError)

/// draft-ietf-hpke-pq §3:
/// ```
/// def Decap(enc, skR):
///     (expanded_dk, _ek) = expandDecapsKey(skR)
///     return ML-KEM.Decaps(expanded_dk, enc)
/// ```
/// (the provider holds expanded_dk since DeserializePrivateKey). A ciphertext of the wrong length is
/// InvalidEncapsulatedKey; a well-formed wrong one yields an unrelated secret (implicit rejection),
/// which the AEAD then refuses.
let private Decap (k: Shape) (enc: byte[]) (skR: HpkeKeyPair) : Result<byte[], HpkeError> =
    match skR.Private with
    | _ when skR.KemId <> k.kem_id -> Error(KemFailure(WrongKeyKem(k.kem_id, skR.KemId)))
    | DhPrivate _ -> Error(KemFailure(WrongKeyKem(k.kem_id, skR.KemId)))
    | _ when enc.Length <> k.kem.KEMCIPHERTEXTLEN -> Error(KemFailure(InvalidEncapsulatedKey enc.Length))
    | KemPrivate sk ->
        let shared_secret = Array.zeroCreate k.kem.KEMOUTPUTLEN

        if k.kem.KEM.Invoke(sk, ReadOnlySpan enc, Span shared_secret) then
            Ok shared_secret
        else
            Error(KemFailure DecapError)

let create (kem_id: uint16) (kem: KemFunctions) (shake256: XofFn) : Kem =
    let k = {
        kem_id = kem_id
        kem = kem
        shake256 = shake256
        suite_id = Array.append "KEM"B [| byte (kem_id >>> 8); byte kem_id |]
        Nsk = kem.SEEDLEN
    }

    let noAuth () = Error(AuthModeNotSupported kem_id)

    {
        kem_id = kem_id
        Name = kem.Name
        Nsecret = kem.KEMOUTPUTLEN
        Nenc = kem.KEMCIPHERTEXTLEN
        Npk = kem.KEMPUBLICKEYLEN
        Nsk = kem.SEEDLEN
        Nrandom = kem.ENCAPSRANDOMNESSLEN
        SupportsAuth = false
        DerivePrivateKey = derivePrivateKey k
        DeserializePrivateKey = deserializePrivateKey k
        DeserializePublicKey = deserializePublicKey k
        Encap = Encap k
        Decap = Decap k
        AuthEncap = fun _ _ _ -> noAuth ()
        AuthDecap = fun _ _ _ -> noAuth ()
    }
