/// The checks of an endorsement (specs/PROTOCOL.md §6b): total functions of the endorsement, the key the handshake
/// authenticated, the client's trust and the time, which comes in as an argument; the signature is verified by the
/// caller's `VERIFY`.
namespace HybridProtocol.Core.Formats

open System

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
