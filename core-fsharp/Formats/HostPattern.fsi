/// Host patterns: the hosts an endorsement (specs/KEYS.md "Endorsements") or a known-hosts `@authority` line covers:
/// `HOST`, `HOST:PORT`, `*.DOMAIN` or `*.DOMAIN:PORT` in `HostPort`'s stored form; `*.` stands for exactly one label.
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
