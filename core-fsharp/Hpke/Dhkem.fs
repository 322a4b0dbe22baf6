/// RFC 9180 §4.1 "DH-Based KEM (DHKEM)" for DHKEM(X25519, HKDF-SHA256), with §7.1.3 DeriveKeyPair.
/// The ephemeral key pair of Encap/AuthEncap is an argument: the RFC's `GenerateKeyPair()` happens
/// in the caller (the facade draws it from NSec; the test vectors pass skEm), so the core stays
/// deterministic.
/// See: https://www.rfc-editor.org/rfc/rfc9180#section-4.1
module HybridProtocol.Core.Hpke.Dhkem

open System
open System.Security.Cryptography
open HybridProtocol.Core

/// §4: "SerializePublicKey(pkX): Produce a byte string of length Npk encoding the public key pkX."
/// For X25519 the encoding is the key's 32 bytes.
let SerializePublicKey (pk: DhPublicKey) : byte[] = Array.copy pk.Bytes

/// §4: "DeserializePublicKey(pkXm): Parse a byte string of length Npk to recover a public key.
/// This function can raise a DeserializeError error upon pkXm deserialization failure."
let DeserializePublicKey (suite: Suite) (pkXm: ReadOnlySpan<byte>) : Result<DhPublicKey, HpkeError> =
    match DhPublicKey.TryCreate(suite.Npk, pkXm) with
    | ValueSome pk -> Ok pk
    | ValueNone -> Error(KemFailure(InvalidPublicKey pkXm.Length))

/// §4: "DH(skX, pkY): Perform a non-interactive Diffie-Hellman exchange using the private key skX
/// and public key pkY to produce a Diffie-Hellman shared secret of length Ndh."
/// §7.1.4: "For X25519 and X448, public keys and Diffie-Hellman outputs MUST be validated ...
/// [the] output ... MUST NOT be the all-zero value ... and [senders and recipients] MUST abort
/// with an error": the provider refuses such keys, which we report as `DhValidationError`.
let DH (suite: Suite) (skX: IDhPrivateKey) (pkY: DhPublicKey) : Result<byte[], HpkeError> =
    let output = Array.zeroCreate suite.Dh.DHLEN

    if suite.Dh.DH.Invoke(skX, ReadOnlySpan pkY.Bytes, Span output) then
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
let ExtractAndExpand (suite: Suite) (dh: byte[]) (kem_context: byte[]) : Result<byte[], HpkeError> =
    let eae_prk =
        Labeled.LabeledExtract suite.KemHash suite.KemSuiteId [||] "eae_prk"B dh

    let shared_secret =
        Labeled.LabeledExpand suite.KemHash suite.KemSuiteId eae_prk "shared_secret"B kem_context suite.Nsecret

    CryptographicOperations.ZeroMemory(Span eae_prk)
    shared_secret

/// RFC 9180 §7.1.3, the X25519 branch of DeriveKeyPair, up to the private key bytes:
/// ```
/// def DeriveKeyPair(ikm):
///   dkp_prk = LabeledExtract("", "dkp_prk", ikm)
///   sk = LabeledExpand(dkp_prk, "sk", "", Nsk)
///   return (sk, pk(sk))
/// ```
/// Returns sk, serialized (§7.1.2: for X25519 the 32 bytes themselves).
let DerivePrivateKey (suite: Suite) (ikm: byte[]) : Result<byte[], HpkeError> =
    if ikm.Length < suite.Nsk then
        Error(KemFailure(IkmTooShort ikm.Length))
    else
        let dkp_prk =
            Labeled.LabeledExtract suite.KemHash suite.KemSuiteId [||] "dkp_prk"B ikm

        let sk =
            Labeled.LabeledExpand suite.KemHash suite.KemSuiteId dkp_prk "sk"B [||] suite.Nsk

        CryptographicOperations.ZeroMemory(Span dkp_prk)
        sk

/// RFC 9180 §7.1.3 DeriveKeyPair(ikm): `DerivePrivateKey`, then pk(sk) through the provider's
/// IMPORT_PRIVATE. "DeriveKeyPairError" when the provider does not accept the bytes.
let DeriveKeyPair (suite: Suite) (ikm: byte[]) : Result<DhKeyPair, HpkeError> =
    DerivePrivateKey suite ikm
    |> Result.bind (fun sk ->
        let pair = suite.Dh.IMPORT_PRIVATE.Invoke(ReadOnlySpan sk)
        CryptographicOperations.ZeroMemory(Span sk)

        match pair with
        | ValueSome pair -> Ok pair
        | ValueNone -> Error(KemFailure DeriveKeyPairError))

/// The output of Encap and AuthEncap: "(shared_secret, enc)".
[<Struct; NoComparison; NoEquality>]
type Encapsulation = { shared_secret: byte[]; enc: byte[] }

let private ofEncapsulatedKey (suite: Suite) (enc: ReadOnlySpan<byte>) =
    match DhPublicKey.TryCreate(suite.Nenc, enc) with
    | ValueSome pkE -> Ok pkE
    | ValueNone -> Error(KemFailure(InvalidEncapsulatedKey enc.Length))

let private concatDh (dh1: byte[]) (dh2: byte[]) =
    let dh = Array.append dh1 dh2
    CryptographicOperations.ZeroMemory(Span dh1)
    CryptographicOperations.ZeroMemory(Span dh2)
    dh

let private deriveShared suite (dh: byte[]) (kem_context: byte[]) =
    let shared_secret = ExtractAndExpand suite dh kem_context
    CryptographicOperations.ZeroMemory(Span dh)
    shared_secret

/// RFC 9180 §4.1, with `skE, pkE = GenerateKeyPair()` done by the caller and passed in as `ephemeral`:
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
let Encap (suite: Suite) (ephemeral: DhKeyPair) (pkR: DhPublicKey) : Result<Encapsulation, HpkeError> =
    result {
        let! dh = DH suite ephemeral.Private pkR
        let enc = SerializePublicKey ephemeral.Public
        let pkRm = SerializePublicKey pkR
        let kem_context = Array.append enc pkRm
        let! shared_secret = deriveShared suite dh kem_context

        return {
            shared_secret = shared_secret
            enc = enc
        }
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
let Decap (suite: Suite) (enc: ReadOnlySpan<byte>) (skR: DhKeyPair) : Result<byte[], HpkeError> =
    match ofEncapsulatedKey suite enc with
    | Error e -> Error e
    | Ok pkE ->
        result {
            let! dh = DH suite skR.Private pkE
            let pkRm = SerializePublicKey skR.Public
            let kem_context = Array.append pkE.Bytes pkRm
            return! deriveShared suite dh kem_context
        }

/// RFC 9180 §4.1, with the ephemeral key pair passed in:
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
let AuthEncap
    (suite: Suite)
    (ephemeral: DhKeyPair)
    (pkR: DhPublicKey)
    (skS: DhKeyPair)
    : Result<Encapsulation, HpkeError> =
    result {
        let! dh1 = DH suite ephemeral.Private pkR
        let! dh2 = DH suite skS.Private pkR
        let dh = concatDh dh1 dh2
        let enc = SerializePublicKey ephemeral.Public
        let pkRm = SerializePublicKey pkR
        let pkSm = SerializePublicKey skS.Public
        let kem_context = Array.concat [ enc; pkRm; pkSm ]
        let! shared_secret = deriveShared suite dh kem_context

        return {
            shared_secret = shared_secret
            enc = enc
        }
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
let AuthDecap (suite: Suite) (enc: ReadOnlySpan<byte>) (skR: DhKeyPair) (pkS: DhPublicKey) : Result<byte[], HpkeError> =
    match ofEncapsulatedKey suite enc with
    | Error e -> Error e
    | Ok pkE ->
        result {
            let! dh1 = DH suite skR.Private pkE
            let! dh2 = DH suite skR.Private pkS
            let dh = concatDh dh1 dh2
            let pkRm = SerializePublicKey skR.Public
            let pkSm = SerializePublicKey pkS
            let kem_context = Array.concat [ pkE.Bytes; pkRm; pkSm ]
            return! deriveShared suite dh kem_context
        }
