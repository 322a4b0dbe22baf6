namespace HybridProtocol.Core.Hpke

open System
open HybridProtocol.Core

/// An extendable-output function (FIPS 202 SHAKE128/SHAKE256): writes output.Length bytes of
/// XOF(data) into `output`. draft-ietf-hpke-pq §5: "SHAKE<SIZE>.Derive(ikm, L) = SHAKE<SIZE>(M = ikm, d = 8*L)".
type XofFn = delegate of data: ReadOnlySpan<byte> * output: Span<byte> -> unit

/// RFC 9180 §7.1.2 DeserializePrivateKey for one curve, with pk(sk): imports Nsk bytes of private
/// key and writes the Npk-byte SerializePublicKey(pk(sk)) into `publicKey`. ValueNone when the bytes
/// are not a private key of the group (for the NIST curves: zero, or not below the order).
type ImportScalarFn = delegate of privateKey: ReadOnlySpan<byte> * publicKey: Span<byte> -> IDhPrivateKey voption

/// RFC 9180 §7.1.4 public key validation of Npk serialized bytes: for the NIST curves, an
/// uncompressed point (0x04 || x || y) with coordinates below p, on the curve, not the identity.
type ValidatePublicFn = delegate of publicKey: ReadOnlySpan<byte> -> bool

/// The Diffie-Hellman group DHKEM is built on (RFC 9180 §4.1 and §7.1): sizes, the §7.1.3
/// DeriveKeyPair parameters, and the provider's functions.
[<NoComparison; NoEquality>]
type DhGroup = {
    /// "P-256", "P-384", "P-521" or "X25519".
    Name: string
    /// §4.1: "Ndh: The length in bytes of a Diffie-Hellman shared secret produced by DH()".
    Ndh: int
    /// §4: the length in bytes of an encoded public key.
    Npk: int
    /// §4: the length in bytes of an encoded private key.
    Nsk: int
    /// §7.1.3: the group order, big-endian in Nsk bytes, for the NIST curves' rejection sampling;
    /// ValueNone for X25519, whose DeriveKeyPair takes the expanded bytes as they are.
    Order: byte[] voption
    /// §7.1.3: "bitmask" applied to the first candidate byte (0xFF for P-256 and P-384, 0x01 for P-521).
    Bitmask: byte
    ImportPrivate: ImportScalarFn
    ValidatePublic: ValidatePublicFn
    /// §4 DH(skX, pkY): writes Ndh bytes; false when the provider refuses the key (§7.1.4).
    DH: DhFn
}

/// A KEM private key as the provider holds it: a DH scalar (DHKEM) or a KEM decapsulation key (ML-KEM,
/// X-Wing). Opaque to the core, which hands it back to the provider.
[<NoComparison; NoEquality>]
type HpkePrivateKey =
    | DhPrivate of dh: IDhPrivateKey
    | KemPrivate of kem: IKemPrivateKey

/// skX with SerializePublicKey(pk(skX)), for the KEM with `KemId`. Whoever made the pair disposes
/// `Private` (the core disposes only the ephemeral pairs it makes itself).
[<NoComparison; NoEquality>]
type HpkeKeyPair = {
    KemId: uint16
    Private: HpkePrivateKey
    /// pkXm, Npk bytes (not secret).
    Public: byte[]
}

/// A public key that `DeserializePublicKey` of the KEM `KemId` accepted (length and, for the NIST
/// curves, §7.1.4 validation). Only the KEMs make them, so holding one means it was checked.
[<Sealed>]
type HpkePublicKey internal (kemId: uint16, bytes: byte[]) =
    member _.KemId = kemId
    /// pkXm, Npk bytes (never mutated).
    member _.Bytes = bytes

/// The output of Encap and AuthEncap: "(shared_secret, enc)".
[<Struct; NoComparison; NoEquality>]
type Encapsulation = { shared_secret: byte[]; enc: byte[] }

/// RFC 9180 §4 "Cryptographic Dependencies", the KEM as an interface: DHKEM over any curve
/// (`Dhkem.create`) and the post-quantum KEMs (`PqKem.create`) are values of this one type. Encap and
/// AuthEncap take their randomness as an argument (Nrandom bytes: GenerateKeyPair()'s ikm for
/// DHKEM, the encapsulation randomness for ML-KEM and X-Wing), so the core stays deterministic.
[<NoComparison; NoEquality>]
type Kem = {
    kem_id: uint16
    Name: string
    /// §4: "The length in bytes of a KEM shared secret produced by this KEM."
    Nsecret: int
    /// §4: "The length in bytes of an encapsulated key produced by this KEM."
    Nenc: int
    /// §4: "The length in bytes of an encoded public key for this KEM."
    Npk: int
    /// §4: "The length in bytes of an encoded private key for this KEM."
    Nsk: int
    /// The length of the randomness Encap and AuthEncap take.
    Nrandom: int
    /// Whether AuthEncap and AuthDecap exist (DHKEM: yes; ML-KEM and X-Wing: no).
    SupportsAuth: bool
    /// §7.1.3 DeriveKeyPair up to the private key: skXm = SerializePrivateKey(sk). The caller erases it.
    DerivePrivateKey: byte[] -> Result<byte[], HpkeError>
    /// §4 DeserializePrivateKey(skXm), with pk(skX).
    DeserializePrivateKey: byte[] -> Result<HpkeKeyPair, HpkeError>
    /// §4 DeserializePublicKey(pkXm), with §7.1.4 validation.
    DeserializePublicKey: byte[] -> Result<HpkePublicKey, HpkeError>
    /// §4 Encap(pkR) with the randomness given.
    Encap: byte[] -> HpkePublicKey -> Result<Encapsulation, HpkeError>
    /// §4 Decap(enc, skR).
    Decap: byte[] -> HpkeKeyPair -> Result<byte[], HpkeError>
    /// §4 AuthEncap(pkR, skS) with the randomness given; AuthModeNotSupported for KEMs without it.
    AuthEncap: byte[] -> HpkePublicKey -> HpkeKeyPair -> Result<Encapsulation, HpkeError>
    /// §4 AuthDecap(enc, skR, pkS); AuthModeNotSupported for KEMs without it.
    AuthDecap: byte[] -> HpkeKeyPair -> HpkePublicKey -> Result<byte[], HpkeError>
}

module Kem =
    /// §4: "DeriveKeyPair(ikm): Deterministic algorithm to derive a key pair (skX, pkX) from the byte
    /// string ikm". The serialized private key is erased once the provider holds the key.
    let DeriveKeyPair (kem: Kem) (ikm: byte[]) : Result<HpkeKeyPair, HpkeError> =
        kem.DerivePrivateKey ikm
        |> Result.bind (fun sk ->
            let pair = kem.DeserializePrivateKey sk
            Security.Cryptography.CryptographicOperations.ZeroMemory(Span sk)
            pair)

    /// §4: "SerializePublicKey(pkX): Produce a byte string of length Npk encoding the public key pkX."
    let SerializePublicKey (pk: HpkePublicKey) : byte[] = Array.copy pk.Bytes

/// RFC 9180 §7.2 "Key Derivation Functions (KDFs)": "0x0001 HKDF-SHA256 (Nh 32)", "0x0002
/// HKDF-SHA384 (Nh 48)", "0x0003 HKDF-SHA512 (Nh 64)"; and the single-stage KDFs of
/// draft-ietf-hpke-pq §5: "0x0010 SHAKE128 (Nh 32)", "0x0011 SHAKE256 (Nh 64)".
/// See: https://www.rfc-editor.org/rfc/rfc9180#section-7.2
[<NoComparison; NoEquality>]
type Kdf =
    | HkdfSha256 of sha256: HashFunctions
    | HkdfSha384 of sha384: HashFunctions
    | HkdfSha512 of sha512: HashFunctions
    | Shake128 of shake128: XofFn
    | Shake256 of shake256: XofFn

/// RFC 9180 §7.3 "Authenticated Encryption with Associated Data (AEAD) Functions":
/// "0x0001 AES-128-GCM (Nk 16, Nn 12, Nt 16)", "0x0002 AES-256-GCM (Nk 32, Nn 12, Nt 16)",
/// "0x0003 ChaCha20Poly1305 (Nk 32, Nn 12, Nt 16)", "0xFFFF Export-only".
/// See: https://www.rfc-editor.org/rfc/rfc9180#section-7.3
[<NoComparison; NoEquality>]
type Aead =
    | Aes128Gcm of aes128gcm: CipherFunctions
    | Aes256Gcm of aes256gcm: CipherFunctions
    | ChaCha20Poly1305 of chacha20poly1305: CipherFunctions
    | ExportOnly

/// The registered identifiers (RFC 9180 §7.1-7.3, draft-ietf-hpke-pq §7), as written into suite_id
/// and the sealed-file header.
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

    /// (Nsecret, Nenc, Npk, Nsk) of every KEM we offer: RFC 9180 §7.1's table and draft-ietf-hpke-pq
    /// §7.1-7.2's.
    let kemSizes (kem_id: uint16) : struct (int * int * int * int) voption =
        match kem_id with
        | DhkemP256HkdfSha256 -> ValueSome(struct (32, 65, 65, 32))
        | DhkemP384HkdfSha384 -> ValueSome(struct (48, 97, 97, 48))
        | DhkemP521HkdfSha512 -> ValueSome(struct (64, 133, 133, 66))
        | DhkemX25519HkdfSha256 -> ValueSome(struct (32, 32, 32, 32))
        | MlKem768 -> ValueSome(struct (32, 1088, 1184, 64))
        | XWing -> ValueSome(struct (32, 1120, 1216, 32))
        | _ -> ValueNone

/// One KEM, one KDF and one AEAD whose crypto records have the sizes RFC 9180 §7 requires
/// (checked once by `Suite.create`).
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
    member _.AeadId = aeadId

    /// §5.1: "suite_id = concat("HPKE", I2OSP(kem_id, 2), I2OSP(kdf_id, 2), I2OSP(aead_id, 2))".
    member val SuiteId = Array.concat [ "HPKE"B; i2osp2 kem.kem_id; i2osp2 kdfId; i2osp2 aeadId ]

    /// §7.1: the length in bytes of a KEM shared secret.
    member _.Nsecret = kem.Nsecret
    /// §7.1: the length in bytes of an encapsulated key.
    member _.Nenc = kem.Nenc
    /// §7.1: the length in bytes of an encoded public key.
    member _.Npk = kem.Npk
    /// §7.1: the length in bytes of an encoded private key.
    member _.Nsk = kem.Nsk

    /// §7.2: the output size of the KDF's Extract() in bytes (draft-ietf-hpke-pq §5 for SHAKE).
    member _.Nh =
        match kdf with
        | HkdfSha256 h
        | HkdfSha384 h
        | HkdfSha512 h -> h.HASHLEN
        | Shake128 _ -> 32
        | Shake256 _ -> 64

    /// §7.3: the length in bytes of a key for this algorithm (0 for export-only).
    member _.Nk =
        match aead with
        | Aes128Gcm _ -> 16
        | Aes256Gcm _
        | ChaCha20Poly1305 _ -> 32
        | ExportOnly -> 0

    /// §7.3: the length in bytes of a nonce for this algorithm (0 for export-only).
    member _.Nn =
        match aead with
        | ExportOnly -> 0
        | _ -> 12

    /// §7.3: the length in bytes of the authentication tag (0 for export-only).
    member _.Nt =
        match aead with
        | ExportOnly -> 0
        | _ -> 16

    /// Checks the crypto records against the sizes §7 gives the suite and makes the suite.
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
