namespace HybridProtocol.Core.Hpke

open System
open HybridProtocol.Core

/// An extendable-output function (FIPS 202 SHAKE128/SHAKE256): writes output.Length bytes of
/// XOF(data) into `output`. draft-ietf-hpke-pq §5: "SHAKE<SIZE>.Derive(ikm, L) = SHAKE<SIZE>(M = ikm, d = 8*L)".
type XofFn = delegate of ReadOnlySpan<byte> * Span<byte> -> unit

/// RFC 9180 §7.1.2 DeserializePrivateKey for one curve, with pk(sk): imports Nsk bytes of private
/// key and writes the Npk-byte SerializePublicKey(pk(sk)) into `publicKey`. ValueNone when the bytes
/// are not a private key of the group (for the NIST curves: zero, or not below the order).
type ImportScalarFn = delegate of ReadOnlySpan<byte> * Span<byte> -> IDhPrivateKey voption

/// RFC 9180 §7.1.4 public key validation of Npk serialized bytes: for the NIST curves, an
/// uncompressed point (0x04 || x || y) with coordinates below p, on the curve, not the identity.
type ValidatePublicFn = delegate of ReadOnlySpan<byte> -> bool

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
    Order: byte array voption

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
    Public: byte array
}

/// A public key that `DeserializePublicKey` of the KEM `KemId` accepted (length and, for the NIST
/// curves, §7.1.4 validation). Only the KEMs make them, so holding one means it was checked.
[<Sealed>]
type HpkePublicKey =

    internal new: kemId: uint16 * bytes: byte array -> HpkePublicKey

    /// pkXm, Npk bytes (never mutated).
    member Bytes: byte array

    /// The kem_id of the KEM that accepted the key.
    member KemId: uint16

/// The output of Encap and AuthEncap: "(shared_secret, enc)".
[<NoComparison; NoEquality; Struct>]
type Encapsulation = {
    shared_secret: byte array
    enc: byte array
}

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
    DerivePrivateKey: (byte array -> Result<byte array, HpkeError>)

    /// §4 DeserializePrivateKey(skXm), with pk(skX).
    DeserializePrivateKey: (byte array -> Result<HpkeKeyPair, HpkeError>)

    /// §4 DeserializePublicKey(pkXm), with §7.1.4 validation.
    DeserializePublicKey: (byte array -> Result<HpkePublicKey, HpkeError>)

    /// §4 Encap(pkR) with the randomness given.
    Encap: (byte array -> HpkePublicKey -> Result<Encapsulation, HpkeError>)

    /// §4 Decap(enc, skR).
    Decap: (byte array -> HpkeKeyPair -> Result<byte array, HpkeError>)

    /// §4 AuthEncap(pkR, skS) with the randomness given; AuthModeNotSupported for KEMs without it.
    AuthEncap: (byte array -> HpkePublicKey -> HpkeKeyPair -> Result<Encapsulation, HpkeError>)

    /// §4 AuthDecap(enc, skR, pkS); AuthModeNotSupported for KEMs without it.
    AuthDecap: (byte array -> HpkeKeyPair -> HpkePublicKey -> Result<byte array, HpkeError>)
}

/// Functions over a `Kem` record (RFC 9180 §4).
module Kem =

    /// §4: "DeriveKeyPair(ikm): Deterministic algorithm to derive a key pair (skX, pkX) from the byte
    /// string ikm". The serialized private key is erased once the provider holds the key.
    val DeriveKeyPair: kem: Kem -> ikm: byte array -> Result<HpkeKeyPair, HpkeError>

    /// §4: "SerializePublicKey(pkX): Produce a byte string of length Npk encoding the public key pkX."
    val SerializePublicKey: pk: HpkePublicKey -> byte array

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

    /// KEM DHKEM(P-256, HKDF-SHA256), RFC 9180 §7.1.
    [<Literal>]
    val DhkemP256HkdfSha256: uint16 = 0x0010us

    /// KEM DHKEM(P-384, HKDF-SHA384), RFC 9180 §7.1.
    [<Literal>]
    val DhkemP384HkdfSha384: uint16 = 0x0011us

    /// KEM DHKEM(P-521, HKDF-SHA512), RFC 9180 §7.1.
    [<Literal>]
    val DhkemP521HkdfSha512: uint16 = 0x0012us

    /// KEM DHKEM(X25519, HKDF-SHA256), RFC 9180 §7.1.
    [<Literal>]
    val DhkemX25519HkdfSha256: uint16 = 0x0020us

    /// KEM DHKEM(X448, HKDF-SHA512), RFC 9180 §7.1.
    [<Literal>]
    val DhkemX448HkdfSha512: uint16 = 0x0021us

    /// KEM ML-KEM-512, draft-ietf-hpke-pq §7.1.
    [<Literal>]
    val MlKem512: uint16 = 0x0040us

    /// KEM ML-KEM-768, draft-ietf-hpke-pq §7.1.
    [<Literal>]
    val MlKem768: uint16 = 0x0041us

    /// KEM ML-KEM-1024, draft-ietf-hpke-pq §7.1.
    [<Literal>]
    val MlKem1024: uint16 = 0x0042us

    /// KEM MLKEM768-P256, draft-ietf-hpke-pq §7.2.
    [<Literal>]
    val MlKem768P256: uint16 = 0x0050us

    /// KEM MLKEM1024-P384, draft-ietf-hpke-pq §7.2.
    [<Literal>]
    val MlKem1024P384: uint16 = 0x0051us

    /// KEM X-Wing (ML-KEM-768 with X25519), draft-ietf-hpke-pq §7.2.
    [<Literal>]
    val XWing: uint16 = 0x647Aus

    /// KDF HKDF-SHA256, RFC 9180 §7.2.
    [<Literal>]
    val HkdfSha256: uint16 = 0x0001us

    /// KDF HKDF-SHA384, RFC 9180 §7.2.
    [<Literal>]
    val HkdfSha384: uint16 = 0x0002us

    /// KDF HKDF-SHA512, RFC 9180 §7.2.
    [<Literal>]
    val HkdfSha512: uint16 = 0x0003us

    /// KDF SHAKE128 (one-stage), draft-ietf-hpke-pq.
    [<Literal>]
    val Shake128: uint16 = 0x0010us

    /// KDF SHAKE256 (one-stage), draft-ietf-hpke-pq.
    [<Literal>]
    val Shake256: uint16 = 0x0011us

    /// KDF TurboSHAKE128 (one-stage), draft-ietf-hpke-pq §5: registered, not offered (no provider).
    [<Literal>]
    val TurboShake128: uint16 = 0x0012us

    /// KDF TurboSHAKE256 (one-stage), draft-ietf-hpke-pq §5: registered, not offered (no provider).
    [<Literal>]
    val TurboShake256: uint16 = 0x0013us

    /// AEAD AES-128-GCM, RFC 9180 §7.3.
    [<Literal>]
    val Aes128Gcm: uint16 = 0x0001us

    /// AEAD AES-256-GCM, RFC 9180 §7.3.
    [<Literal>]
    val Aes256Gcm: uint16 = 0x0002us

    /// AEAD ChaCha20Poly1305, RFC 9180 §7.3.
    [<Literal>]
    val ChaCha20Poly1305: uint16 = 0x0003us

    /// AEAD "Export-only" (§7.3): no Seal or Open, Export only.
    [<Literal>]
    val ExportOnly: uint16 = 0xFFFFus

    /// (Nsecret, Nenc, Npk, Nsk) of every KEM we offer: RFC 9180 §7.1's table and draft-ietf-hpke-pq
    /// §7.1-7.2's.
    val internal kemSizes: kem_id: uint16 -> struct (int * int * int * int) voption

/// One KEM, one KDF and one AEAD whose crypto records have the sizes RFC 9180 §7 requires
/// (checked once by `Suite.create`).
[<Sealed; NoComparison; NoEquality>]
type Suite =

    private new: kem: Kem * kdf: Kdf * aead: Aead -> Suite

    /// Checks the crypto records against the sizes §7 gives the suite and makes the suite.
    static member Create: kem: Kem * kdf: Kdf * aead: Aead -> Result<Suite, HpkeError>

    /// The AEAD functions (RFC 9180 §7.3).
    member Aead: Aead

    /// aead_id, as in suite_id (§5.1).
    member AeadId: uint16

    /// The KDF functions (RFC 9180 §7.2).
    member Kdf: Kdf

    /// kdf_id, as in suite_id (§5.1).
    member KdfId: uint16

    /// Whether mode_auth and mode_auth_psk exist for this suite: the KEM has AuthEncap/AuthDecap (DHKEM; not
    /// ML-KEM or X-Wing, draft-ietf-hpke-pq §6.3) and the KDF is a two-stage HKDF (draft-ietf-hpke-hpke defines
    /// no auth mode with SHAKE128/SHAKE256).
    member SupportsAuth: bool

    /// The KEM functions (RFC 9180 §7.1).
    member Kem: Kem

    /// kem_id, as in suite_id (§5.1).
    member KemId: uint16

    /// §7.1: the length in bytes of an encapsulated key.
    member Nenc: int

    /// §7.2: the output size of the KDF's Extract() in bytes (draft-ietf-hpke-pq §5 for SHAKE).
    member internal Nh: int

    /// §7.3: the length in bytes of a key for this algorithm (0 for export-only).
    member internal Nk: int

    /// §7.3: the length in bytes of a nonce for this algorithm (0 for export-only).
    member internal Nn: int

    /// §7.1: the length in bytes of an encoded public key.
    member Npk: int

    /// §7.1: the length in bytes of a KEM shared secret.
    member internal Nsecret: int

    /// §7.1: the length in bytes of an encoded private key.
    member Nsk: int

    /// §7.3: the length in bytes of the authentication tag (0 for export-only).
    member Nt: int

    /// §5.1: "suite_id = concat("HPKE", I2OSP(kem_id, 2), I2OSP(kdf_id, 2), I2OSP(aead_id, 2))".
    member SuiteId: byte array
