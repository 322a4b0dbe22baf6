/// What the two ends agree on during the handshake, carried in the payload of each party's LAST handshake
/// message (specs/PROTOCOL.md §6). Every other handshake payload is empty.
///
///     version=0x01 | field* ;  field = id (u8) | length (u16 big-endian) | value
///       0x01 application protocol   0..255 bytes of printable ASCII (0x20..0x7E)   required
///       0x02 max message size       u32 big-endian, 1..2^31-1                       required
///       0x04 key announcement       1..65535 bytes (`KeyAnnouncement`, §6a)          optional, server only
///       0x10 endorsement            1..65535 bytes (specs/PROTOCOL.md §6b)           optional, server only
///
/// Fields come in strictly ascending id order, each at most once. Unknown ids are skipped (Noise §13
/// "Extensibility": fields can be added that older implementations ignore); the whole payload is covered by
/// the handshake hash, so skipping cannot be exploited to change what was agreed.
///
/// Internal to the core (its handshake encodes and decodes these); tests reach it through InternalsVisibleTo.
namespace HybridProtocol.Core.Wire

/// One party's announced parameters.
type HandshakePayload = {

    /// The application protocol this party speaks (like TLS ALPN, RFC 7301); both ends must name the same.
    ApplicationProtocol: string

    /// The largest message (reassembled, in bytes) this party accepts; the peer never sends a larger one.
    MaxMessageSize: int

    /// The raw value of field 0x04: the server's other static keys, each with its proof of possession for this
    /// connection (specs/PROTOCOL.md §6a; `KeyAnnouncement` decodes and checks it). None when absent.
    KeyAnnouncement: byte array option
    /// Server: the authority's endorsement of its static key (field 0x10), carried as bytes; the client's
    /// `EndorsementCheck` reads them.
    Endorsement: byte array option
}

/// The codec; the core's handshake uses it (specs/PROTOCOL.md §6), nothing outside the core does.
module internal HandshakePayload =

    /// The payload layout this code writes and reads.
    [<Literal>]
    val Version: byte = 1uy

    [<Literal>]
    val ApplicationProtocolField: byte = 1uy

    [<Literal>]
    val MaxMessageSizeField: byte = 2uy

    [<Literal>]
    val KeyAnnouncementField: byte = 4uy

    [<Literal>]
    val EndorsementField: byte = 0x10uy

    val internal isProtocolByte: b: byte -> bool

    /// Checks an application protocol name: 0..255 bytes of printable ASCII.
    val checkApplicationProtocol: name: string -> Result<string, WireError>

    /// Encodes a payload. Refuses values the decoder would refuse.
    val encode: payload: HandshakePayload -> Result<byte array, WireError>

    /// Decodes a payload (total: any input gives a value or a typed error).
    val decode: input: System.ReadOnlySpan<byte> -> Result<HandshakePayload, WireError>
