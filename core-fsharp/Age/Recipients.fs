module HybridProtocol.Core.Age.Recipients

#nowarn "9"

open System
open System.Text
open HybridProtocol.Core
open HybridProtocol.Core.Hpke
open HybridProtocol.Core.Age.Header

[<NoComparison; NoEquality>]
type AgeCrypto = {
    X25519: DhFunctions
    SHA256: HashFunctions
    ChaCha20Poly1305: CipherFunctions
    MlKem768X25519Hpke: Suite
}

[<NoComparison; NoEquality>]
type AgeRecipient =
    | X25519Recipient of x25519: DhPublicKey
    | MlKem768X25519Recipient of mlkem768x25519: HpkePublicKey

[<NoComparison; NoEquality>]
type AgeIdentity =
    | X25519Identity of x25519: DhKeyPair
    | MlKem768X25519Identity of mlkem768x25519: HpkeKeyPair

let X25519Info = "age-encryption.org/v1/X25519"

let MlKem768X25519Info = "age-encryption.org/mlkem768x25519"

[<Literal>]
let private X25519Type = "X25519"

[<Literal>]
let private MlKemType = "mlkem768x25519"

[<Literal>]
let private FileKeyLength = 16

[<Literal>]
let private BodyLength = 32

/// X-Wing's ciphertext is ct_M (ML-KEM-768, 1088 bytes) || ct_X (X25519, 32 bytes).
[<Literal>]
let private XWingEncLength = 1120

let randomnessLength (crypto: AgeCrypto) (recipient: AgeRecipient) =
    match recipient with
    | X25519Recipient _ -> 32
    | MlKem768X25519Recipient _ -> crypto.MlKem768X25519Hpke.Kem.Nrandom

// The small-order u-coordinates of Curve25519 (little-endian): 0, 1, two points of order 8, p - 1, p, p + 1.
let private lowOrder =
    [|
        "0000000000000000000000000000000000000000000000000000000000000000"
        "0100000000000000000000000000000000000000000000000000000000000000"
        "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"
        "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"
        "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
        "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
        "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
    |]
    |> Array.map Convert.FromHexString

let isLowOrderX25519 (u: ReadOnlySpan<byte>) =
    u.Length = 32
    && (let mutable found = false

        for candidate in lowOrder do
            let mutable diff = 0

            for j in 0..30 do
                diff <- diff ||| int (u[j] ^^^ candidate[j])

            diff <- diff ||| int ((u[31] &&& 0x7Fuy) ^^^ candidate[31])

            if diff = 0 then
                found <- true

        found)

let private zeroNonce () = Array.zeroCreate<byte> 12

// wrap key = HKDF-SHA-256(ikm = shared secret, salt, info)
let private wrapKey (sha256: HashFunctions) (shared: byte array) (salt: byte array) =
    let prk = Hkdf.extract sha256 salt shared

    try
        (Hkdf.expand sha256 prk (Encoding.ASCII.GetBytes X25519Info) 32).Value
    finally
        Array.Clear prk

let private x25519Shared (crypto: AgeCrypto) (secret: IDhPrivateKey) (publicKey: byte array) =
    let shared = Hkdf.pinnedArray 32

    if
        crypto.X25519.DH.Invoke(secret, ReadOnlySpan publicKey, Span shared)
        && Array.exists ((<>) 0uy) shared
    then
        ValueSome shared
    else
        Array.Clear shared
        ValueNone

let private chachaWithKey (crypto: AgeCrypto) (key: byte array) (action: IAeadKey -> 'T) =
    let aeadKey = crypto.ChaCha20Poly1305.KEY.Invoke(ReadOnlySpan key)

    try
        action aeadKey
    finally
        aeadKey.Dispose()
        Array.Clear key

let private wrapX25519 (crypto: AgeCrypto) (recipient: DhPublicKey) (secret: byte array) (fileKey: byte array) =
    match crypto.X25519.IMPORT_PRIVATE.Invoke(ReadOnlySpan secret) with
    | ValueNone -> Error(WrongInputLength("X25519 ephemeral secret", 32, secret.Length))
    | ValueSome ephemeral ->
        try
            let share = ephemeral.Public.Bytes

            match x25519Shared crypto ephemeral.Private recipient.Bytes with
            | ValueNone -> Error(AgeError.Stanza(AllZeroSharedSecret X25519Type))
            | ValueSome shared ->
                let key =
                    try
                        wrapKey crypto.SHA256 shared (Array.append share recipient.Bytes)
                    finally
                        Array.Clear shared

                let body = Array.zeroCreate (FileKeyLength + 16)

                chachaWithKey crypto key (fun aeadKey ->
                    crypto.ChaCha20Poly1305.ENCRYPT.Invoke(
                        aeadKey,
                        ReadOnlySpan(zeroNonce ()),
                        ReadOnlySpan.Empty,
                        ReadOnlySpan fileKey,
                        Span body
                    ))

                Ok {
                    Arguments = [ X25519Type; RawBase64.encode (ReadOnlySpan share) ]
                    Body = body
                }
        finally
            ephemeral.Private.Dispose()

let private wrapMlKem (crypto: AgeCrypto) (recipient: HpkePublicKey) (randomness: byte array) (fileKey: byte array) =
    let info = Encoding.ASCII.GetBytes MlKem768X25519Info

    match Setup.SetupBaseS crypto.MlKem768X25519Hpke randomness recipient info with
    | Error e -> Error(AgeError.Hpke e)
    | Ok(struct (enc, ctx)) ->
        try
            match Context.SealToArray ctx [||] fileKey with
            | Error e -> Error(AgeError.Hpke e)
            | Ok(struct (_, ct)) ->
                Ok {
                    Arguments = [ MlKemType; RawBase64.encode (ReadOnlySpan enc) ]
                    Body = ct
                }
        finally
            Context.EraseS ctx

let wrap (crypto: AgeCrypto) (recipient: AgeRecipient) (randomness: byte array) (fileKey: byte array) =
    let expected = randomnessLength crypto recipient

    if fileKey.Length <> FileKeyLength then
        Error(WrongInputLength("file key", FileKeyLength, fileKey.Length))
    elif randomness.Length <> expected then
        Error(WrongInputLength("recipient randomness", expected, randomness.Length))
    else
        match recipient with
        | X25519Recipient pk -> wrapX25519 crypto pk randomness fileKey
        | MlKem768X25519Recipient pk -> wrapMlKem crypto pk randomness fileKey

/// The checks both types share: exactly two arguments, the second the canonical base64 of `size` bytes, a 32-byte body.
let private checkStanza (stanzaType: string) (size: int) (stanza: Stanza) =
    match stanza.Arguments with
    | [ _; argument ] ->
        match RawBase64.decode (argument.AsSpan()) with
        | ValueSome bytes when bytes.Length = size ->
            if stanza.Body.Length <> BodyLength then
                Error(WrongBodyLength(stanzaType, stanza.Body.Length))
            else
                Ok bytes
        | _ -> Error(InvalidArgument(stanzaType, 1))
    | arguments -> Error(WrongArgumentCount(stanzaType, List.length arguments))

let private unwrapX25519 (crypto: AgeCrypto) (identity: DhKeyPair) (stanza: Stanza) =
    checkStanza X25519Type 32 stanza
    |> Result.bind (fun share ->
        // "If the shared secret is all 0x00 bytes, the identity implementation MUST abort."
        match x25519Shared crypto identity.Private share with
        | ValueNone -> Error(AllZeroSharedSecret X25519Type)
        | ValueSome shared ->
            let key =
                try
                    wrapKey crypto.SHA256 shared (Array.append share identity.Public.Bytes)
                finally
                    Array.Clear shared

            let fileKey = Hkdf.pinnedArray FileKeyLength

            let opened =
                chachaWithKey crypto key (fun aeadKey ->
                    crypto.ChaCha20Poly1305.DECRYPT.Invoke(
                        aeadKey,
                        ReadOnlySpan(zeroNonce ()),
                        ReadOnlySpan.Empty,
                        ReadOnlySpan stanza.Body,
                        Span fileKey
                    ))

            if opened then Ok(ValueSome fileKey) else Ok ValueNone)

let private unwrapMlKem (crypto: AgeCrypto) (identity: HpkeKeyPair) (stanza: Stanza) =
    checkStanza MlKemType XWingEncLength stanza
    |> Result.bind (fun enc ->
        // The X25519 half of enc on a small-order point gives the all-zero X25519 shared secret: refused, as for X25519.
        if isLowOrderX25519 (ReadOnlySpan(enc, XWingEncLength - 32, 32)) then
            Error(AllZeroSharedSecret MlKemType)
        else
            let info = Encoding.ASCII.GetBytes MlKem768X25519Info

            match Setup.SetupBaseR crypto.MlKem768X25519Hpke enc identity info with
            | Error _ -> Ok ValueNone
            | Ok ctx ->
                try
                    match Context.OpenToArray ctx [||] stanza.Body with
                    | Ok(struct (_, fileKey)) -> Ok(ValueSome fileKey)
                    | Error _ -> Ok ValueNone
                finally
                    Context.EraseR ctx)

let unwrap (crypto: AgeCrypto) (identity: AgeIdentity) (stanza: Stanza) : Result<byte array voption, StanzaError> =
    // "The identity implementation MUST ignore any stanza that does not have `X25519` [`mlkem768x25519`] as the first
    // argument".
    match identity, stanza.Arguments with
    | X25519Identity pair, X25519Type :: _ -> unwrapX25519 crypto pair stanza
    | MlKem768X25519Identity pair, MlKemType :: _ -> unwrapMlKem crypto pair stanza
    | _ -> Ok ValueNone
