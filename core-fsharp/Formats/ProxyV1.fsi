/// The PROXY protocol's version 1, the human-readable line (§2.1), for `ProxyProtocol`:
///
///     "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP srcport SP dstport CRLF       at most 107 bytes
///     "PROXY" SP "UNKNOWN" [anything but CRLF] CRLF
namespace HybridProtocol.Core.Formats

open System

module internal ProxyV1 =

    /// The longest line, CRLF included.
    [<Literal>]
    val MaxLength: int = 107

    /// `PROXY ` (with its one space).
    val Prefix: byte array

    /// Reads a v1 line from the start of `input`, judging each byte as it arrives (at most `MaxLength` bytes).
    val decode: input: ReadOnlySpan<byte> -> Result<ProxyDecoded, ProxyError>

    /// The v1 line of a PROXY TCP4/TCP6 or UNKNOWN header (IPv6 in RFC 5952 text); `NotInVersion1` otherwise.
    val encode: header: ProxyHeader -> Result<byte array, ProxyEncodeError>
