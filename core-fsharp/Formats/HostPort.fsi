/// The one `HOST:PORT` syntax of the library, the CLI and the known-hosts file (specs/KEYS.md, "Known hosts"):
///
///     host-port = host ":" port  |  "[" ipv6 "]" ":" port        port = 1*5DIGIT, 1..65535 (0 only to listen)
///     host      = one ASCII host name or IPv4 address, or an IPv6 address (in brackets when a port follows)
///
/// KEYS.md: "`HOST` is one host name (stored lower case, a final `.` dropped) or IP address (canonical form; IPv6 in
/// brackets). No patterns, lists (`,`), negation or hashed names. `PORT` is 1–65535". `normalizeHost` gives that
/// stored form, so two spellings of one host (`EXAMPLE.com.`, `example.com`; `0:0::1`, `[::1]`) compare equal.
/// Every function is total: bad text is a typed `HostPortError`, never an exception; the facade words the message.
namespace HybridProtocol.Core.Formats

/// What is wrong with a host, a port or a `HOST:PORT` text.
type HostPortError =

    /// The host is empty (`:443`, `[]`, or nothing at all).
    | HostMissing

    /// Longer than 253 characters, the most a DNS name can be (RFC 1035 §2.3.4, without the final dot).
    | HostTooLong of length: int

    /// A character no host name or address holds: a control, space or non-ASCII character, or one of
    /// ``#,[]/@*?!|\"'`` (patterns, lists and hashed names are not hosts).
    | HostCharacter of character: char

    /// The host has a `:` (or was written in brackets) but is not an IPv6 address.
    | NotIPv6 of host: string

    /// `[` without its `]`.
    | UnclosedBracket

    /// Something other than `:PORT` after `[IPV6]`.
    | ExpectedColonAfterBracket

    /// Several `:` without brackets where a port is required: an IPv6 address must be written `[IPV6]:PORT`.
    | IPv6WithoutBrackets

    /// No `:PORT` where the port is required.
    | PortMissing

    /// The port text is not 1 to 5 decimal digits.
    | PortNotNumber of text: string

    /// A port outside 1..65535 (0..65535 to listen).
    | PortOutOfRange of port: int

/// Which form a context accepts.
type HostPortRule =

    /// `HOST:PORT`, port 1..65535: a server to connect to, a known-hosts entry.
    | PortRequired

    /// `HOST` or `HOST:PORT` (a bare IPv6 address is a host without a port): known-hosts removal.
    | PortOptional

    /// `HOST:PORT` to listen on: port 0 (a free port) and the host `*` (every address) are allowed too.
    | Listen

/// A host in its stored form and, where given, a port.
type HostPort = { Host: string; Port: int option }

[<RequireQualifiedAccess>]
module HostPort =

    /// The longest host (RFC 1035 §2.3.4: 253 characters without the final dot).
    [<Literal>]
    val MaxHostLength: int = 253

    /// The stored form of one host, with or without brackets: an IPv6 address in canonical form (RFC 5952, no
    /// brackets); anything else ASCII, lower case, without a final `.`.
    val normalizeHost: host: string -> Result<string, HostPortError>

    /// A port to connect to: 1..65535.
    val checkPort: port: int -> Result<int, HostPortError>

    /// Parses `HOST`, `HOST:PORT`, `[IPV6]` or `[IPV6]:PORT` (surrounding white space ignored) as the rule allows;
    /// the host comes back normalized (`*` stays `*` for `Listen`).
    val parse: rule: HostPortRule -> text: string -> Result<HostPort, HostPortError>

    /// A host as written before `:PORT`: an IPv6 address in brackets, anything else as it is.
    val formatHost: host: string -> string

    /// `host:port`, an IPv6 host in brackets (`[::1]:443`); the inverse of `parse PortRequired` on stored forms.
    val format: host: string -> port: int -> string

    /// `host`, or `host:port` when there is a port (IPv6 in brackets either way when a port follows).
    val print: hostPort: HostPort -> string
