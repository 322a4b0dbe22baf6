namespace HybridProtocol.Core.Hpke

open HybridProtocol.Core

/// RFC 9180 §7.1 "Key Encapsulation Mechanisms (KEMs)": the one KEM we offer,
/// "0x0020 | DHKEM(X25519, HKDF-SHA256) | Nsecret 32 | Nenc 32 | Npk 32 | Nsk 32".
/// It carries the X25519 DH functions and the SHA-256 its own HKDF is built on.
/// See: https://www.rfc-editor.org/rfc/rfc9180#section-7.1
[<NoComparison; NoEquality>]
type Kem = DhkemX25519HkdfSha256 of dh: DhFunctions * sha256: HashFunctions

/// RFC 9180 §7.2 "Key Derivation Functions (KDFs)": "0x0001 HKDF-SHA256 (Nh 32)", "0x0003 HKDF-SHA512 (Nh 64)".
/// See: https://www.rfc-editor.org/rfc/rfc9180#section-7.2
[<NoComparison; NoEquality>]
type Kdf =
    | HkdfSha256 of sha256: HashFunctions
    | HkdfSha512 of sha512: HashFunctions

/// RFC 9180 §7.3 "Authenticated Encryption with Associated Data (AEAD) Functions":
/// "0x0002 AES-256-GCM (Nk 32, Nn 12, Nt 16)", "0x0003 ChaCha20Poly1305 (Nk 32, Nn 12, Nt 16)",
/// "0xFFFF Export-only".
/// See: https://www.rfc-editor.org/rfc/rfc9180#section-7.3
[<NoComparison; NoEquality>]
type Aead =
    | Aes256Gcm of aes256gcm: CipherFunctions
    | ChaCha20Poly1305 of chacha20poly1305: CipherFunctions
    | ExportOnly

/// The registered identifiers (RFC 9180 §7.1-7.3), as written into suite_id and the sealed-file header.
module Ids =
    [<Literal>]
    let DhkemX25519HkdfSha256 = 0x0020us

    [<Literal>]
    let HkdfSha256 = 0x0001us

    [<Literal>]
    let HkdfSha512 = 0x0003us

    [<Literal>]
    let Aes256Gcm = 0x0002us

    [<Literal>]
    let ChaCha20Poly1305 = 0x0003us

    [<Literal>]
    let ExportOnly = 0xFFFFus

/// One KEM, one KDF and one AEAD whose crypto records have the sizes RFC 9180 §7 requires
/// (checked once by `Suite.create`).
[<Sealed; NoComparison; NoEquality>]
type Suite private (kem: Kem, kdf: Kdf, aead: Aead) =
    let i2osp2 (v: uint16) = [| byte (v >>> 8); byte v |]

    let kemId =
        match kem with
        | DhkemX25519HkdfSha256 _ -> Ids.DhkemX25519HkdfSha256

    let kdfId =
        match kdf with
        | HkdfSha256 _ -> Ids.HkdfSha256
        | HkdfSha512 _ -> Ids.HkdfSha512

    let aeadId =
        match aead with
        | Aes256Gcm _ -> Ids.Aes256Gcm
        | ChaCha20Poly1305 _ -> Ids.ChaCha20Poly1305
        | ExportOnly -> Ids.ExportOnly

    member _.Kem = kem
    member _.Kdf = kdf
    member _.Aead = aead
    member _.KemId = kemId
    member _.KdfId = kdfId
    member _.AeadId = aeadId

    /// §4.1 (DHKEM): "suite_id = concat("KEM", I2OSP(kem_id, 2))".
    member val KemSuiteId = Array.append "KEM"B (i2osp2 kemId)

    /// §5.1: "suite_id = concat("HPKE", I2OSP(kem_id, 2), I2OSP(kdf_id, 2), I2OSP(aead_id, 2))".
    member val SuiteId = Array.concat [ "HPKE"B; i2osp2 kemId; i2osp2 kdfId; i2osp2 aeadId ]

    /// The hash the KEM's own HKDF uses (SHA-256 for DHKEM(X25519, HKDF-SHA256)).
    member _.KemHash =
        match kem with
        | DhkemX25519HkdfSha256(_, sha256) -> sha256

    /// The X25519 DH functions.
    member _.Dh =
        match kem with
        | DhkemX25519HkdfSha256(dh, _) -> dh

    /// The hash of the KDF the key schedule uses.
    member _.KdfHash =
        match kdf with
        | HkdfSha256 h
        | HkdfSha512 h -> h

    /// §7.1: the length in bytes of a KEM shared secret.
    member _.Nsecret = 32
    /// §7.1: the length in bytes of an encapsulated key.
    member _.Nenc = 32
    /// §7.1: the length in bytes of an encoded public key.
    member _.Npk = 32
    /// §7.1: the length in bytes of an encoded private key.
    member _.Nsk = 32

    /// §7.2: the output size of the KDF's Extract() in bytes.
    member this.Nh = this.KdfHash.HASHLEN

    /// §7.3: the length in bytes of a key for this algorithm (0 for export-only).
    member _.Nk =
        match aead with
        | ExportOnly -> 0
        | _ -> 32

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
        let (DhkemX25519HkdfSha256(dh, sha256)) = kem

        let kdfHashOk =
            match kdf with
            | HkdfSha256 h -> h.HASHLEN = 32
            | HkdfSha512 h -> h.HASHLEN = 64

        let kdfHashLength =
            match kdf with
            | HkdfSha256 h
            | HkdfSha512 h -> h.HASHLEN

        let aeadSizes =
            match aead with
            | Aes256Gcm c
            | ChaCha20Poly1305 c -> ValueSome c
            | ExportOnly -> ValueNone

        if dh.DHLEN <> 32 then
            Error(InvalidSuite(WrongDhLength dh.DHLEN))
        elif sha256.HASHLEN <> 32 then
            Error(InvalidSuite(WrongHashLength sha256.HASHLEN))
        elif not kdfHashOk then
            Error(InvalidSuite(WrongHashLength kdfHashLength))
        else
            match aeadSizes with
            | ValueSome c when c.NONCELEN <> 12 || c.TAGLEN <> 16 ->
                Error(InvalidSuite(WrongAeadSizes(c.NONCELEN, c.TAGLEN)))
            | _ -> Ok(Suite(kem, kdf, aead))
