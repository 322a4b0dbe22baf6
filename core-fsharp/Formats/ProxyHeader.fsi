/// The PROXY protocol header (HAProxy's proxy-protocol.txt) as values: what `ProxyProtocol.decode` reads and
/// `ProxyProtocol.encode` writes (see ProxyProtocol.fsi), and their errors.
namespace HybridProtocol.Core.Formats

open System.Net

/// The protocol version of a header (§2.1 human-readable, §2.2 binary).
type ProxyVersion =
    | Version1
    | Version2

/// The transport the balancer's client used (v2's low nibble of the 14th byte; v1 knows only TCP = Stream).
type ProxyTransport =
    | Stream
    | Datagram

/// One end of the client's original connection: an IPv4 or IPv6 address (its bytes; no scope) and a port.
[<NoComparison>]
type ProxyEndPoint = { Address: IPAddress; Port: uint16 }

/// The original connection's ends, as the header states them.
[<NoComparison>]
type ProxyAddresses =

    /// v1 "UNKNOWN", or v2 AF_UNSPEC / UNSPEC transport: the balancer does not say; the receiver uses the
    /// connection's own endpoints (§2.1 "as if there were no PROXY protocol header", §2.2 "should ignore address
    /// information").
    | Unspecified

    /// TCP or UDP over IPv4 or IPv6 (v1 TCP4 / TCP6, v2 0x11 0x12 0x21 0x22); both ends of one family.
    | Ip of transport: ProxyTransport * source: ProxyEndPoint * destination: ProxyEndPoint

    /// AF_UNIX (v2 0x31 0x32): the two socket paths, exactly 108 bytes each as sent.
    | Unix of transport: ProxyTransport * source: byte array * destination: byte array

/// What the header says the connection is (v2 §2.2, the 13th byte's low nibble; a v1 header is always Proxy).
[<NoComparison>]
type ProxyCommand =

    /// LOCAL: the balancer opened this connection itself (a health check). The receiver must accept it and use
    /// the real connection endpoints; the address block and its family are ignored.
    | Local

    /// PROXY: relayed on behalf of a client, whose original endpoints these are.
    | Proxy of ProxyAddresses

/// A v2 Type-Length-Value vector (§2.2): e.g. 0x01 ALPN, 0x02 AUTHORITY, 0x03 CRC32C, 0x04 NOOP, 0x05 UNIQUE_ID.
type ProxyTlv = { Type: byte; Value: byte array }

/// A decoded header. `Tlvs` lists the v2 vectors after the addresses when the decoder keeps them, in order; it is
/// empty for v1, for LOCAL and Unspecified headers (whose address block has no known end, so nothing after it is
/// read), and when the decoder skips them.
[<NoComparison>]
type ProxyHeader = {
    Version: ProxyVersion
    Command: ProxyCommand
    Tlvs: ProxyTlv list
}

/// Which part of a v1 line was wrong.
type ProxyV1Field =
    | InetProtocol
    | SourceAddress
    | DestinationAddress
    | SourcePort
    | DestinationPort

    /// Not exactly four single-space-separated fields after the protocol.
    | FieldCount

/// Why a header was refused (each a "must" of the spec; the receiver then aborts the connection, §2.1).
type ProxyError =

    /// The first bytes match neither the v1 "PROXY " nor the v2 signature: no header here (§2.2, "Identifying the
    /// protocol version"; a required header is then missing).
    | NotAProxyHeader

    /// A v2 version nibble other than 2 (§2.2: "the receiver must only accept this value").
    | UnsupportedVersion of version: byte

    /// A v2 command nibble other than LOCAL (0) and PROXY (1): "Receivers must drop connections presenting
    /// unexpected values here."
    | UnknownCommand of command: byte

    /// A v2 family above 3 or transport above 2 ("must be rejected as invalid by receivers"), for a PROXY command.
    | UnknownFamily of familyAndTransport: byte

    /// A v2 header of 16 + len bytes over the receiver's cap (bounded memory before the rest arrives).
    | HeaderTooLong of length: int * limit: int

    /// A v2 address block shorter than its family needs (12, 36 or 216 bytes).
    | AddressBlockTooShort of length: int * needed: int

    /// A v2 TLV whose length runs past the header's end, at this offset from the header's start.
    | MalformedTlv of offset: int

    /// No CRLF within the first 107 bytes of a v1 line (§2.1: "the receiver should declare the line invalid").
    | LineTooLong

    /// A v1 line with a CR not followed by LF, or an LF not preceded by CR (§2.1: "must not tolerate a single CR or
    /// LF character to end the line").
    | BadLineEnd

    /// A v1 field that does not match the grammar: unknown protocol, an address that is not a canonical IPv4 (four
    /// decimal numbers 0-255 without leading zeroes) or IPv6 (RFC 4291 text) address of the protocol's family, a
    /// port that is not 0-65535 without leading zeroes, or not four fields.
    | BadV1Field of field: ProxyV1Field

/// What the decoder found at the start of its input.
[<NoComparison>]
type ProxyDecoded =

    /// A header may be here but is not complete: at least `atLeast` more bytes are needed (v1 asks for 1 at a time;
    /// a decoder with no more to come must treat this as a truncated header, §2.2 "must also reject incoming
    /// connections containing partial protocol headers").
    | NeedMore of atLeast: int

    /// A complete header, which took the first `consumed` bytes of the input.
    | Header of header: ProxyHeader * consumed: int

/// How the decoder reads v2 headers.
type ProxyDecodeOptions = {

    /// The longest v2 header accepted, 16 + len (at least 16 + 216, the UNIX address block; at most 16 + 65535).
    MaxLength: int

    /// Keep the TLVs after a PROXY header's addresses (checked to fill the header exactly), or skip them unread.
    KeepTlvs: bool
}

/// Why a header cannot be written.
type ProxyEncodeError =

    /// Both ends of an Ip header must be IPv4, or both IPv6.
    | MixedFamilies

    /// v1 carries only PROXY over TCP (or UNKNOWN), and no TLVs.
    | NotInVersion1

    /// UNIX addresses are exactly 108 bytes each.
    | BadUnixAddress

    /// TLVs follow only a PROXY header with addresses (a receiver skips the address block of LOCAL and Unspecified
    /// headers whole), and a TLV value is at most 65535 bytes.
    | BadTlvs

    /// 16 + len would exceed 16 + 65535.
    | TooLong

/// The address bytes of both ends of a header, which must be of one family (both encoders).
module internal ProxyEndPoints =

    /// Both ends' address bytes, or `MixedFamilies` when one is IPv4 and the other IPv6.
    val familyOf:
        source: ProxyEndPoint -> destination: ProxyEndPoint -> Result<byte array * byte array, ProxyEncodeError>
