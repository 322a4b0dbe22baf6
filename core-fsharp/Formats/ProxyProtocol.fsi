/// The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2): the header a TCP load balancer puts in
/// front of the bytes it relays, saying whose connection it is. It is outside the HybridProtocol wire format: a
/// listener configured for it reads one header, then the preamble (specs/PROTOCOL.md, "Behind a load balancer").
///
///     v1 (§2.1):  "PROXY" SP ("TCP4" | "TCP6") SP src SP dst SP srcport SP dstport CRLF       at most 107 bytes
///                 "PROXY" SP "UNKNOWN" [anything but CRLF] CRLF
///     v2 (§2.2):  sig (12) | ver_cmd (0x20 LOCAL, 0x21 PROXY) | fam (family << 4 | transport) | len (2, BE)
///                 | addresses (12 INET, 36 INET6, 216 UNIX) | TLVs (type 1 | length 2 BE | value) ...   16 + len bytes
///
/// `decode` reads from the start of a caller's span and says how many bytes the header took; the bytes after it
/// belong to the protocol behind it and are never looked at. It is incremental and judges each byte as it arrives
/// (a wrong signature byte is refused at once), and it never needs more than 107 bytes (v1) or 16 + len bytes (v2,
/// refused beyond a cap) before deciding.
namespace HybridProtocol.Core.Formats

open System.Net

module ProxyProtocol =

    /// The 12-byte v2 signature (§2.2): 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A.
    val Signature: byte array

    /// The longest v1 line, CRLF included (§2.1, "PROXY UNKNOWN" with two full IPv6 addresses and ports).
    [<Literal>]
    val MaxV1Length: int = 107

    /// The fixed part of a v2 header (signature, version and command, family, length).
    [<Literal>]
    val V2FixedLength: int = 16

    /// The default cap on a v2 header: 536 bytes, the smallest TCP segment every host must take (576 - 40), which
    /// §1 says both formats are designed to fit in.
    [<Literal>]
    val DefaultMaxLength: int = 536

    /// `MaxLength` = `DefaultMaxLength`, TLVs skipped.
    val defaultOptions: ProxyDecodeOptions

    /// Decodes a header from the start of `input` (v1 or v2, told apart by the first byte). Total: every input gives
    /// `NeedMore`, `Header` or a `ProxyError`, reading at most `MaxV1Length` bytes (v1) or the announced 16 + len
    /// (v2) bytes of it. An options value whose `MaxLength` is outside 232..65551 is brought into that range.
    val decode: options: ProxyDecodeOptions * input: System.ReadOnlySpan<byte> -> Result<ProxyDecoded, ProxyError>

    /// The receiver's view of a decoded header: the client's address and port when the header states one (a PROXY
    /// command over IP), or None when the connection's own endpoints apply (LOCAL, Unspecified, UNIX).
    val clientOf: header: ProxyHeader -> ProxyEndPoint option

    /// Writes `header` in its `Version`'s format: the v1 line (IPv6 in RFC 5952 text) or the v2 binary header (LOCAL
    /// as 0x20 0x00 with an empty block). `decode` reads it back as the same header.
    val encode: header: ProxyHeader -> Result<byte array, ProxyEncodeError>
