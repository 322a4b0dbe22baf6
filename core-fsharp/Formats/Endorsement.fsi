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
/// The checks (`EndorsementCheck`) are total functions of the endorsement, the key the handshake authenticated, the
/// client's trust and the time, which comes in as an argument; the signature is verified by the caller's `VERIFY`.
namespace HybridProtocol.Core.Formats

open System

/// A host an endorsement or an `@authority` line covers.
type HostPattern = {

    /// `*.` before the host: any host with exactly one more label in front of `Host`.
    Wildcard: bool

    /// `HostPort.normalizeHost`'s stored form (a host name when `Wildcard`).
    Host: string

    /// The one port covered, or every port.
    Port: int option
}

/// What is wrong with a host pattern.
[<RequireQualifiedAccess>]
type HostPatternError =

    /// The host or port after an optional `*.` is not `HostPort` syntax.
    | NotHostPort of text: string * error: HostPortError

    /// `*.` before an IP address (a wildcard covers names only).
    | WildcardAddress of text: string

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

/// The algorithm's verification (RFC 8032 §5.1.7 for Ed25519): whether `signature` is valid for `message` under
/// `publicKey`.
type VerifyFn =
    delegate of publicKey: ReadOnlySpan<byte> * message: ReadOnlySpan<byte> * signature: ReadOnlySpan<byte> -> bool

/// An authority a client trusts, for the hosts its trust covers (an empty list: every host).
type TrustedAuthority = {
    Key: byte array
    Hosts: HostPattern list
}

/// Everything a client checks an endorsement against.
[<NoComparison; NoEquality>]
type AuthorityPolicy = {

    /// The authorities trusted (at least one for the check to accept anything).
    Authorities: TrustedAuthority list

    /// Authority keys refused even if trusted above.
    RevokedAuthorities: byte array list

    /// Server keys refused even if endorsed.
    RevokedServerKeys: byte array list

    /// True: a server without a valid endorsement from a trusted authority is refused (`ServerAuthentication.Authority`).
    /// False: a server without an endorsement, or with one from an authority not trusted for this host, is left to the
    /// other checks (a known-hosts file with `@authority` lines).
    Required: bool

    /// The host the client connects to (stored form) and its port.
    Host: string
    Port: int

    /// The time of the check, seconds since the Unix epoch.
    Now: int64

    /// Signature verification for `PureEd25519`.
    VERIFY: VerifyFn
}

/// Why an endorsement is refused (specs/PROTOCOL.md §6b, in the order checked).
[<RequireQualifiedAccess>]
type EndorsementError =

    /// The bytes are not a canonical endorsement.
    | BadEncoding of EndorsementFormatError

    /// The client requires an endorsement and the server sent none.
    | Missing

    /// The signing authority's key is revoked.
    | RevokedAuthority

    /// The signing authority is not trusted (for this host).
    | UnknownAuthority

    /// The signature does not verify (altered bytes, or not signed by the key it names).
    | BadSignature

    /// The endorsement is for another server key than the one the handshake authenticated.
    | DifferentKey

    /// The endorsed server key is revoked.
    | RevokedServerKey

    /// `Now` is before not-before.
    | NotYetValid of notBefore: int64 * now: int64

    /// `Now` is after not-after.
    | Expired of notAfter: int64 * now: int64

    /// No pattern of the endorsement covers the host and port.
    | WrongHost of host: string * port: int * patterns: HostPattern list

/// What a client does with the server's key after looking at its endorsement.
[<RequireQualifiedAccess>]
type EndorsementVerdict =

    /// A trusted authority vouches for the key: accept it.
    | Endorsed of Endorsement

    /// No endorsement applies (none sent, or an authority not trusted here) and none is required: other checks decide.
    | NotEndorsed

    /// Refuse the key.
    | Refuse of EndorsementError

[<RequireQualifiedAccess>]
module HostPattern =

    /// Reads `HOST`, `HOST:PORT`, `*.NAME` or `*.NAME:PORT` (white space around ignored). Total.
    val parse: text: string -> Result<HostPattern, HostPatternError>

    /// The stored form: `parse (print p) = Ok p` for every parsed pattern.
    val print: pattern: HostPattern -> string

    /// The pattern covers `host` (stored form) at `port`: the same host, or one more label before a wildcard's name;
    /// and the same port when the pattern names one.
    val matches: host: string -> port: int -> pattern: HostPattern -> bool

    /// Reads a comma-separated list of patterns (at least one, no empty item).
    val parseList: text: string -> Result<HostPattern list, HostPatternError>

    /// The list as `parseList` reads it.
    val printList: patterns: HostPattern list -> string

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

[<RequireQualifiedAccess>]
module EndorsementCheck =

    /// Checks endorsement bytes for the key the handshake authenticated, in this order: encoding, revoked authority,
    /// unknown authority (not trusted, or not for this host), signature, different key, revoked server key, not yet
    /// valid, expired, wrong host. Key comparisons are constant-time.
    val check:
        policy: AuthorityPolicy ->
        serverKey: byte array ->
        endorsement: ReadOnlySpan<byte> ->
            Result<Endorsement, EndorsementError>

    /// The client's decision for the server's key and the endorsement it sent, if any (specs/PROTOCOL.md §6b):
    /// `check`'s result; without an endorsement `Missing` when `Required`, else `NotEndorsed`; when not `Required`, an
    /// `UnknownAuthority` is `NotEndorsed` too.
    val decide: policy: AuthorityPolicy -> serverKey: byte array -> endorsement: byte array option -> EndorsementVerdict
