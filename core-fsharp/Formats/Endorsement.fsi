/// Endorsements: a fleet authority's signature over one server static key, the hosts it may serve and a validity
/// window (specs/KEYS.md "Endorsements", specs/PROTOCOL.md §6b). One encoding per endorsement (version 1):
///
///     endorsement = version (u8 = 0x01) || algorithm (u8) || authority-key (u16 length || bytes)
///                   || key-type (u8 = 0x01, X25519) || server-key (u16 length || bytes)
///                   || not-before (u64) || not-after (u64)          seconds since 1970-01-01T00:00:00Z, big-endian
///                   || host-count (u8, 1..16) || host-count * (u8 length 1..255 || host pattern, ASCII)
///                   || signature (u16 length || bytes)
///
///     signature input = "HybridProtocol endorsement" || 0x00 || every byte before the signature field
///
/// Algorithm 0x01 is Ed25519 (RFC 8032: 32-byte public keys, 64-byte signatures); a post-quantum algorithm (ML-DSA,
/// FIPS 204) is a new algorithm byte with its own key and signature lengths, and nothing else changes. A host pattern is
/// `HOST`, `HOST:PORT`, `*.DOMAIN` or `*.DOMAIN:PORT` in `HostPort`'s stored form; `*.` stands for exactly one label.
/// Decoding is canonical: lengths must be the algorithm's, patterns in stored form, without repeats, not-before at
/// most not-after, and nothing after the signature, so `encode (decode b) = b`.
///
/// The checks a client makes are in `EndorsementCheck`.
namespace HybridProtocol.Core.Formats

open System

/// The signature algorithm of an authority (the algorithm byte).
[<RequireQualifiedAccess>]
type SignatureAlgorithm =

    /// 0x01: Ed25519 (RFC 8032), 32-byte public keys, 64-byte signatures.
    | PureEd25519

/// What an authority signs.
type EndorsementBody = {
    Algorithm: SignatureAlgorithm

    /// The authority's public key.
    AuthorityKey: byte array

    /// The endorsed server static key: 32 raw X25519 bytes.
    ServerKey: byte array

    /// 1..16 patterns, each at most once.
    Hosts: HostPattern list

    /// First second of validity (seconds since the Unix epoch, 0..2^63-1).
    NotBefore: int64

    /// Last second of validity (at least `NotBefore`).
    NotAfter: int64
}

/// A signed endorsement.
type Endorsement = {
    Body: EndorsementBody
    Signature: byte array
}

/// What is wrong with endorsement bytes (or a body to encode).
[<RequireQualifiedAccess>]
type EndorsementFormatError =

    /// The bytes end inside a field.
    | TruncatedEndorsement

    /// A version byte other than 0x01.
    | UnknownEndorsementVersion of version: byte

    /// An algorithm byte this version does not define.
    | UnknownAlgorithm of algorithm: byte

    /// A key type byte other than 0x01 (X25519).
    | UnknownServerKeyType of keyType: byte

    /// An authority key of the wrong length for the algorithm.
    | AuthorityKeyLength of length: int

    /// A server key that is not 32 bytes.
    | ServerKeyLength of length: int

    /// A signature of the wrong length for the algorithm.
    | SignatureLength of length: int

    /// Not 1..16 host patterns.
    | HostCount of count: int

    /// A host pattern (0-based index) that does not parse, is empty or longer than 255 bytes.
    | BadHost of index: int * text: string

    /// A host pattern not in its stored form (`EXAMPLE.com` for `example.com`).
    | NonCanonicalHost of index: int * text: string

    /// A host pattern given twice.
    | DuplicateHost of index: int * text: string

    /// not-before after not-after, or either above 2^63-1.
    | BadWindow

    /// Bytes after the signature.
    | TrailingBytes of count: int

/// The signing function an authority's holder supplies: the signature of `message` into `signature` (the algorithm's
/// length). The private key stays with the caller.
type SignFn = delegate of message: ReadOnlySpan<byte> * signature: Span<byte> -> unit

[<RequireQualifiedAccess>]
module Endorsement =

    /// The version byte written and read.
    [<Literal>]
    val Version: byte = 1uy

    /// The most host patterns in one endorsement.
    [<Literal>]
    val MaxHosts: int = 16

    /// The domain-separation label at the start of the signature input (followed by one 0x00 byte).
    [<Literal>]
    val Label: string = "HybridProtocol endorsement"

    /// The algorithm byte.
    val algorithmId: algorithm: SignatureAlgorithm -> byte

    /// The algorithm's public key length.
    val publicKeyLength: algorithm: SignatureAlgorithm -> int

    /// The algorithm's signature length.
    val signatureLength: algorithm: SignatureAlgorithm -> int

    /// The bytes the authority signs: `Label || 0x00 || body`. Refuses a body `decode` would refuse.
    val signatureInput: body: EndorsementBody -> Result<byte array, EndorsementFormatError>

    /// Signs a body with the caller's signing function.
    val sign: sign: SignFn -> body: EndorsementBody -> Result<Endorsement, EndorsementFormatError>

    /// The canonical bytes. Refuses values `decode` would refuse.
    val encode: endorsement: Endorsement -> Result<byte array, EndorsementFormatError>

    /// Reads endorsement bytes (total; canonical encodings only).
    val decode: input: ReadOnlySpan<byte> -> Result<Endorsement, EndorsementFormatError>

    /// The PEM label of an endorsement file (specs/KEYS.md).
    [<Literal>]
    val PemLabel: string = "HYBRID ENDORSEMENT"

    /// The PEM label of an authority's private key file: the 32-byte Ed25519 seed (RFC 8032 §5.1.5).
    [<Literal>]
    val PrivateKeyPemLabel: string = "HYBRID AUTHORITY PRIVATE KEY"

    /// The PEM label of an authority's public key file: the 32-byte Ed25519 public key.
    [<Literal>]
    val PublicKeyPemLabel: string = "HYBRID AUTHORITY PUBLIC KEY"
