namespace HybridProtocol.Core.Hpke

open System
open HybridProtocol.Core

type XofFn = delegate of data: ReadOnlySpan<byte> * output: Span<byte> -> unit

type ImportScalarFn = delegate of privateKey: ReadOnlySpan<byte> * publicKey: Span<byte> -> IDhPrivateKey voption

type ValidatePublicFn = delegate of publicKey: ReadOnlySpan<byte> -> bool

[<NoComparison; NoEquality>]
type DhGroup = {
    Name: string
    Ndh: int
    Npk: int
    Nsk: int
    Order: byte[] voption
    Bitmask: byte
    ImportPrivate: ImportScalarFn
    ValidatePublic: ValidatePublicFn
    DH: DhFn
}

[<NoComparison; NoEquality>]
type HpkePrivateKey =
    | DhPrivate of dh: IDhPrivateKey
    | KemPrivate of kem: IKemPrivateKey

[<NoComparison; NoEquality>]
type HpkeKeyPair = {
    KemId: uint16
    Private: HpkePrivateKey
    Public: byte[]
}

[<Sealed>]
type HpkePublicKey internal (kemId: uint16, bytes: byte[]) =
    member _.KemId = kemId
    member _.Bytes = bytes

[<Struct; NoComparison; NoEquality>]
type Encapsulation = { shared_secret: byte[]; enc: byte[] }

[<NoComparison; NoEquality>]
type Kem = {
    kem_id: uint16
    Name: string
    Nsecret: int
    Nenc: int
    Npk: int
    Nsk: int
    Nrandom: int
    SupportsAuth: bool
    DerivePrivateKey: byte[] -> Result<byte[], HpkeError>
    DeserializePrivateKey: byte[] -> Result<HpkeKeyPair, HpkeError>
    DeserializePublicKey: byte[] -> Result<HpkePublicKey, HpkeError>
    Encap: byte[] -> HpkePublicKey -> Result<Encapsulation, HpkeError>
    Decap: byte[] -> HpkeKeyPair -> Result<byte[], HpkeError>
    AuthEncap: byte[] -> HpkePublicKey -> HpkeKeyPair -> Result<Encapsulation, HpkeError>
    AuthDecap: byte[] -> HpkeKeyPair -> HpkePublicKey -> Result<byte[], HpkeError>
}

module Kem =
    let DeriveKeyPair (kem: Kem) (ikm: byte[]) : Result<HpkeKeyPair, HpkeError> =
        kem.DerivePrivateKey ikm
        |> Result.bind (fun sk ->
            let pair = kem.DeserializePrivateKey sk
            Security.Cryptography.CryptographicOperations.ZeroMemory(Span sk)
            pair)

    let SerializePublicKey (pk: HpkePublicKey) : byte[] = Array.copy pk.Bytes

[<NoComparison; NoEquality>]
type Kdf =
    | HkdfSha256 of sha256: HashFunctions
    | HkdfSha384 of sha384: HashFunctions
    | HkdfSha512 of sha512: HashFunctions
    | Shake128 of shake128: XofFn
    | Shake256 of shake256: XofFn

[<NoComparison; NoEquality>]
type Aead =
    | Aes128Gcm of aes128gcm: CipherFunctions
    | Aes256Gcm of aes256gcm: CipherFunctions
    | ChaCha20Poly1305 of chacha20poly1305: CipherFunctions
    | ExportOnly

module Ids =
    [<Literal>]
    let DhkemP256HkdfSha256 = 0x0010us

    [<Literal>]
    let DhkemP384HkdfSha384 = 0x0011us

    [<Literal>]
    let DhkemP521HkdfSha512 = 0x0012us

    [<Literal>]
    let DhkemX25519HkdfSha256 = 0x0020us

    [<Literal>]
    let MlKem768 = 0x0041us

    [<Literal>]
    let XWing = 0x647Aus

    [<Literal>]
    let HkdfSha256 = 0x0001us

    [<Literal>]
    let HkdfSha384 = 0x0002us

    [<Literal>]
    let HkdfSha512 = 0x0003us

    [<Literal>]
    let Shake128 = 0x0010us

    [<Literal>]
    let Shake256 = 0x0011us

    [<Literal>]
    let Aes128Gcm = 0x0001us

    [<Literal>]
    let Aes256Gcm = 0x0002us

    [<Literal>]
    let ChaCha20Poly1305 = 0x0003us

    [<Literal>]
    let ExportOnly = 0xFFFFus

    let kemSizes (kem_id: uint16) : struct (int * int * int * int) voption =
        match kem_id with
        | DhkemP256HkdfSha256 -> ValueSome(struct (32, 65, 65, 32))
        | DhkemP384HkdfSha384 -> ValueSome(struct (48, 97, 97, 48))
        | DhkemP521HkdfSha512 -> ValueSome(struct (64, 133, 133, 66))
        | DhkemX25519HkdfSha256 -> ValueSome(struct (32, 32, 32, 32))
        | MlKem768 -> ValueSome(struct (32, 1088, 1184, 64))
        | XWing -> ValueSome(struct (32, 1120, 1216, 32))
        | _ -> ValueNone

[<Sealed; NoComparison; NoEquality>]
type Suite private (kem: Kem, kdf: Kdf, aead: Aead) =
    let i2osp2 (v: uint16) = [| byte (v >>> 8); byte v |]

    let kdfId =
        match kdf with
        | HkdfSha256 _ -> Ids.HkdfSha256
        | HkdfSha384 _ -> Ids.HkdfSha384
        | HkdfSha512 _ -> Ids.HkdfSha512
        | Shake128 _ -> Ids.Shake128
        | Shake256 _ -> Ids.Shake256

    let aeadId =
        match aead with
        | Aes128Gcm _ -> Ids.Aes128Gcm
        | Aes256Gcm _ -> Ids.Aes256Gcm
        | ChaCha20Poly1305 _ -> Ids.ChaCha20Poly1305
        | ExportOnly -> Ids.ExportOnly

    member _.Kem = kem
    member _.Kdf = kdf
    member _.Aead = aead
    member _.KemId = kem.kem_id
    member _.KdfId = kdfId

    member _.SupportsAuth =
        kem.SupportsAuth
        && (match kdf with
            | Shake128 _
            | Shake256 _ -> false
            | HkdfSha256 _
            | HkdfSha384 _
            | HkdfSha512 _ -> true)

    member _.AeadId = aeadId

    member val SuiteId = Array.concat [ "HPKE"B; i2osp2 kem.kem_id; i2osp2 kdfId; i2osp2 aeadId ]

    member _.Nsecret = kem.Nsecret
    member _.Nenc = kem.Nenc
    member _.Npk = kem.Npk
    member _.Nsk = kem.Nsk

    member _.Nh =
        match kdf with
        | HkdfSha256 h
        | HkdfSha384 h
        | HkdfSha512 h -> h.HASHLEN
        | Shake128 _ -> 32
        | Shake256 _ -> 64

    member _.Nk =
        match aead with
        | Aes128Gcm _ -> 16
        | Aes256Gcm _
        | ChaCha20Poly1305 _ -> 32
        | ExportOnly -> 0

    member _.Nn =
        match aead with
        | ExportOnly -> 0
        | _ -> 12

    member _.Nt =
        match aead with
        | ExportOnly -> 0
        | _ -> 16

    static member Create(kem: Kem, kdf: Kdf, aead: Aead) : Result<Suite, HpkeError> =
        let kemOk =
            match Ids.kemSizes kem.kem_id with
            | ValueSome(struct (nsecret, nenc, npk, nsk)) ->
                kem.Nsecret = nsecret && kem.Nenc = nenc && kem.Npk = npk && kem.Nsk = nsk
            | ValueNone -> false

        let hashLength =
            match kdf with
            | HkdfSha256 h when h.HASHLEN <> 32 -> ValueSome h.HASHLEN
            | HkdfSha384 h when h.HASHLEN <> 48 -> ValueSome h.HASHLEN
            | HkdfSha512 h when h.HASHLEN <> 64 -> ValueSome h.HASHLEN
            | _ -> ValueNone

        let aeadSizes =
            match aead with
            | Aes128Gcm c
            | Aes256Gcm c
            | ChaCha20Poly1305 c -> ValueSome c
            | ExportOnly -> ValueNone

        if not kemOk then
            Error(InvalidSuite(WrongKemSizes kem.kem_id))
        else
            match hashLength, aeadSizes with
            | ValueSome length, _ -> Error(InvalidSuite(WrongHashLength length))
            | _, ValueSome c when c.NONCELEN <> 12 || c.TAGLEN <> 16 ->
                Error(InvalidSuite(WrongAeadSizes(c.NONCELEN, c.TAGLEN)))
            | _ -> Ok(Suite(kem, kdf, aead))
