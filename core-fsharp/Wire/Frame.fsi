/// Framing for a byte stream (Noise §13 "Length fields": "applications are recommended to add a 16-bit
/// big-endian length field prior to each message"). Every handshake and transport message is a frame:
///
///     +--------+--------+=====================+
///     | len hi | len lo |  len bytes of body  |      1 <= len <= 65535 (or a smaller configured limit)
///     +--------+--------+=====================+
///
/// C# use: `Frame.WriteHeader(length, span)` and `Frame.TryReadHeader(span, maxLength)` for the
/// allocation-free hot path (the facade keeps its own buffer); `FrameDecoder.Create(max)` and
/// `FrameDecoder.Feed(decoder, chunk)` for the streaming decoder the Connection state machine uses.
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
    /// checked body length otherwise. Allocation-free; the facade's receive loop calls this.
    val TryReadHeader: input: System.ReadOnlySpan<byte> * maxLength: int -> Result<int voption, WireError>

    /// Encodes one frame. Refuses an empty body or one longer than 65535 bytes.
    val encode: body: System.ReadOnlySpan<byte> -> Result<byte array, WireError>

    /// Decodes the frame at the start of `input` (total: any input gives a value or a typed error).
    /// The length is checked against `maxLength` before anything is allocated.
    val decode: input: System.ReadOnlySpan<byte> * maxLength: int -> Result<FrameDecode, WireError>


/// A streaming frame decoder: feed it bytes in any chunking (one byte at a time, many frames at once) and
/// it returns the complete frame bodies in order. An immutable value: `Feed` returns the next decoder.
/// Memory held is at most one frame (checked length) plus the bytes of the current chunk.
[<NoComparison; NoEquality>]
type FrameDecoder

/// What `FrameDecoder.Feed` produced: the next decoder, the frames completed (in order), and the error
/// that stopped decoding, if any (the frames before it are valid and come first).
[<NoComparison; NoEquality>]
type FeedResult = {
    Decoder: FrameDecoder
    Frames: byte array list
    Error: WireError option
}

module FrameDecoder =

    /// A decoder that accepts bodies of 1..maxLength bytes (maxLength at most 65535).
    val Create: maxLength: int -> Result<FrameDecoder, WireError>

    /// The largest body this decoder accepts.
    val MaxLength: decoder: FrameDecoder -> int

    /// Whether the decoder holds part of a frame (so an end of input now cuts a frame in two).
    val HasPartialFrame: decoder: FrameDecoder -> bool

    /// The bytes received but not yet part of a complete frame, as they arrived (for handing the stream over
    /// to another reader, e.g. the facade's allocation-free transport loop).
    val Buffered: decoder: FrameDecoder -> byte array

    /// Feeds a chunk of received bytes. The chunk is copied once; the caller may reuse its buffer.
    val Feed: decoder: FrameDecoder * chunk: System.ReadOnlySpan<byte> -> FeedResult
