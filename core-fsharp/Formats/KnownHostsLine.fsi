/// The known-hosts file of trust on first use (specs/KEYS.md, "Known hosts: trust on first use"): one line codec,
/// the file as a list of lines, and the matching rules `KnownHosts.Verify`, `Add` and `Remove` apply. KEYS.md:
///
///     UTF-8 text, one entry per line, fields separated by spaces or tabs:
///     # comment lines and blank lines are kept as they are
///     HOST:PORT x25519 BASE64-KEY [free comment]
///
/// "`x25519` is the key type (case-insensitive on reading, written lower case). `BASE64-KEY` is the standard base64
/// (with padding, 44 characters) of the 32 raw public-key bytes. Several lines may name the same `HOST:PORT` with
/// different keys: any of them is trusted (key rotation)." `HOST:PORT` is `HostPort`'s syntax.
///
/// Markers: a first field starting with `@` is a marker, as in OpenSSH (`@revoked`, `@cert-authority`):
///
///     @revoked HOST:PORT x25519 BASE64-KEY [free comment]     the key is refused for that host and port
///     @revoked * x25519 BASE64-KEY [free comment]             the key is refused for every host
///     @authority PATTERNS ed25519 BASE64-KEY [free comment]   a fleet authority for the hosts its patterns cover
///
/// A revoked key is refused even where another line trusts it (`KnownHostMatch.Revoked` wins over `Trusted`; KEYS.md,
/// "Revoked keys"). `@authority` trusts a fleet authority for the hosts its comma-separated `HostPattern`s cover
/// (KEYS.md, "Endorsements"). Any other marker is refused as `UnknownMarker`; a new marker is a new `KnownHostsLine`
/// case and one arm of the decoder. A new key type is a new `HostKey` case. The storage, the lock and the message
/// texts are the facade's.
namespace HybridProtocol.Core.Formats

/// A host's public key as a line holds it.
[<RequireQualifiedAccess>]
type HostKey =

    /// Key type `x25519`: the 32 raw bytes of an X25519 public key (RFC 7748).
    | X25519 of publicKey: byte array

/// One trusted key: `HOST:PORT x25519 BASE64-KEY [comment]`.
type HostKeyEntry = {

    /// The host in `HostPort.normalizeHost`'s stored form.
    Host: string

    /// 1..65535.
    Port: int
    Key: HostKey

    /// The free text after the key (trimmed, one line, not empty), if any.
    Comment: string option
}

/// Where a `@revoked` line applies.
[<RequireQualifiedAccess>]
type RevokedScope =

    /// `*`: every host and port.
    | AnyHost

    /// One host (stored form) and port.
    | HostPort of host: string * port: int

/// A revoked key: `@revoked HOST:PORT|* x25519 BASE64-KEY [comment]`.
type RevokedEntry = {
    Scope: RevokedScope
    Key: HostKey

    /// The free text after the key (trimmed, one line, not empty), if any.
    Comment: string option
}

/// A trusted fleet authority: `@authority PATTERNS ed25519 BASE64-KEY [comment]`.
type AuthorityEntry = {

    /// The hosts the authority may vouch for (at least one).
    Hosts: HostPattern list

    /// The 32 raw bytes of the authority's Ed25519 public key.
    Key: byte array

    /// The free text after the key, if any.
    Comment: string option
}

/// One line of the file (without its line end).
type KnownHostsLine =

    /// A blank line or a `#` comment (after leading white space), kept exactly as it is.
    | Kept of text: string

    /// A trusted key for one host and port.
    | Entry of HostKeyEntry

    /// A `@revoked` line: the key is refused (for one host and port, or for every host).
    | Revoked of RevokedEntry
    /// A trusted fleet authority (`@authority`).
    | Authority of AuthorityEntry

/// What is wrong with one line.
type KnownHostsLineError =

    /// Fewer than three fields (host:port, key type, key).
    | MissingFields of found: int

    /// A hashed host (`|1|salt|hash`, OpenSSH's HashKnownHosts): not supported.
    | HashedHost

    /// A marker (`@word`) this version does not define.
    | UnknownMarker of marker: string

    /// The first field is not `HOST:PORT`.
    | BadHostPort of text: string * error: HostPortError

    /// A key type other than `x25519`.
    | UnknownKeyType of keyType: string

    /// The key field is not the 44-character base64 of 32 bytes.
    | BadKey of text: string

    /// A comment to write holds a line break.
    | CommentLineBreak

    /// An `@authority` line whose patterns do not parse.
    | BadPatterns of text: string * error: HostPatternError

/// The first malformed line of a file (1-based) and what is wrong with it.
type KnownHostsFileError = {
    Line: int
    Error: KnownHostsLineError
}

/// What the file says about a key presented by a host and port (KEYS.md, "Rules").
type KnownHostMatch =

    /// An entry for this host and port holds this key: the 1-based line of the first such entry.
    | Trusted of line: int

    /// Entries for this host and port exist and none holds this key: the first one's line and key.
    | Changed of line: int * recorded: HostKey

    /// No entry for this host and port (trust on first use records the key).
    | Unrecorded

    /// A `@revoked` line for this host and port (or `*`) names this key: the 1-based line of the first one. It
    /// wins over every entry that trusts the key.
    | RevokedKey of line: int

[<RequireQualifiedAccess>]
module KnownHostsLine =

    /// The key type token written for X25519 keys.
    [<Literal>]
    val X25519Type: string = "x25519"

    /// The marker of a revoked key (KEYS.md, "Revoked keys").
    [<Literal>]
    val RevokedMarker: string = "@revoked"

    /// The marker of an authority line.
    [<Literal>]
    val AuthorityMarker: string = "@authority"

    /// The key type token of an authority key.
    [<Literal>]
    val Ed25519Type: string = "ed25519"

    /// Reads one line (without its line end). Total.
    val decode: line: string -> Result<KnownHostsLine, KnownHostsLineError>

    /// The line's text: a kept line as it was; an entry as `host:port x25519 BASE64 [comment]` (IPv6 in brackets).
    /// `decode (encode line) = Ok line` for every entry with a stored-form host, a port in range and a comment that
    /// `comment` accepts.
    val encode: line: KnownHostsLine -> string

    /// A comment to record: trimmed, `None` when empty; `CommentLineBreak` when it holds a CR or LF.
    val comment: text: string -> Result<string option, KnownHostsLineError>

    /// The entry's key equals `key` (constant-time over the key bytes).
    val sameKey: HostKey -> HostKey -> bool

[<RequireQualifiedAccess>]
module KnownHostsFile =

    /// Reads a whole file: lines split at LF, a CR before it dropped, a final line end starting no further line.
    /// The first malformed line refuses the file (KEYS.md: "Reading refuses the whole file at the first malformed
    /// line").
    val decode: text: string -> Result<KnownHostsLine list, KnownHostsFileError>

    /// The file text: every line followed by LF.
    val encode: lines: KnownHostsLine list -> string

    /// The entry is for this host (stored form) and, when a port is given, this port.
    val isFor: host: string -> port: int option -> entry: HostKeyEntry -> bool

    /// The first `@revoked` line (1-based) naming this key for this host and port or for every host.
    val revokedAt: host: string -> port: int -> key: HostKey -> lines: KnownHostsLine list -> int option

    /// KEYS.md's rule for `Verify(host, port, key)`: RevokedKey first, then Trusted, Changed or Unrecorded (host in
    /// stored form). Revoked entries never count as recorded keys of the host.
    val verify: host: string -> port: int -> key: HostKey -> lines: KnownHostsLine list -> KnownHostMatch

    /// Some entry for this host and port already holds this key (`Add` then writes nothing).
    val holds: host: string -> port: int -> key: HostKey -> lines: KnownHostsLine list -> bool

    /// The authorities the `@authority` lines trust, in file order.
    val authorities: lines: KnownHostsLine list -> TrustedAuthority list

    /// The lines without the entries for the host (and port, when given), and how many were removed; kept and
    /// revoked lines stay.
    val remove: host: string -> port: int option -> lines: KnownHostsLine list -> KnownHostsLine list * int
