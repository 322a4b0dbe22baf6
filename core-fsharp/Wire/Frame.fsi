/// Framing for a byte stream (Noise §13 "Length fields": "applications are recommended to add a 16-bit
/// big-endian length field prior to each message"). Every handshake and transport message is a frame:
///
///     +--------+--------+=====================+
///     | len hi | len lo |  len bytes of body  |      1 <= len <= 65535 (or a smaller configured limit)
///     +--------+--------+=====================+
///
/// `Frame.TryReadHeader` is what the transport engine (Traffic.fs) reads each record's length with;
/// `Frame.decode` is what the handshake phase of the Connection state machine reads its frames with.
namespace HybridProtocol.Core.Wire

/// What `Frame.decode` found at the start of its input.
[<NoComparison>]
type FrameDecode =

    /// The input holds no complete frame yet: at least `needed` more bytes are required.
    | NeedMore of needed: int

    /// A complete frame: its body, and the number of input bytes it used (2 + body length).
    | FrameComplete of body: byte array * consumed: int

module Frame =

    /// Bytes of the length field.
    [<Literal>]
    val HeaderLength: int = 2

    /// Noise §3: "All Noise messages are less than or equal to 65535 bytes in length."
    [<Literal>]
    val MaxLength: int = 65535

    /// Checks a body length read from the wire against the limit. Zero is never valid in this protocol:
    /// every handshake message holds at least an ephemeral key or a tag, every record a tag.
    val internal checkLength: length: int * maxLength: int -> Result<int, WireError>

    /// Writes the 2-byte big-endian length field for a body of `length` bytes.
    val WriteHeader: length: int * destination: System.Span<byte> -> unit

    /// Reads the length field at the start of `input`: ValueNone when fewer than 2 bytes are there, the
    /// checked body length otherwise. Allocation-free; the transport engine calls this per record.
    val TryReadHeader: input: System.ReadOnlySpan<byte> * maxLength: int -> Result<int voption, WireError>

    /// Encodes one frame. Refuses an empty body or one longer than 65535 bytes.
    val encode: body: System.ReadOnlySpan<byte> -> Result<byte array, WireError>

    /// Decodes the frame at the start of `input` (total: any input gives a value or a typed error).
    /// The length is checked against `maxLength` before anything is allocated.
    val decode: input: System.ReadOnlySpan<byte> * maxLength: int -> Result<FrameDecode, WireError>
