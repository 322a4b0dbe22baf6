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

open System
open System.Buffers.Binary

/// What `Frame.decode` found at the start of its input.
[<NoComparison>]
type FrameDecode =
    /// The input holds no complete frame yet: at least `needed` more bytes are required.
    | NeedMore of needed: int
    /// A complete frame: its body, and the number of input bytes it used (2 + body length).
    | FrameComplete of body: byte[] * consumed: int

module Frame =
    /// Bytes of the length field.
    [<Literal>]
    let HeaderLength = 2

    /// Noise §3: "All Noise messages are less than or equal to 65535 bytes in length."
    [<Literal>]
    let MaxLength = 65535

    /// Checks a body length read from the wire against the limit. Zero is never valid in this protocol:
    /// every handshake message holds at least an ephemeral key or a tag, every record a tag.
    let checkLength (length: int, maxLength: int) =
        if length = 0 then
            Error(Malformed EmptyFrame)
        elif length > maxLength then
            Error(Malformed(FrameTooLong(length, maxLength)))
        else
            Ok length

    /// Writes the 2-byte big-endian length field for a body of `length` bytes.
    let WriteHeader (length: int, destination: Span<byte>) =
        BinaryPrimitives.WriteUInt16BigEndian(destination, uint16 length)

    /// Reads the length field at the start of `input`: ValueNone when fewer than 2 bytes are there, the
    /// checked body length otherwise. Allocation-free; the facade's receive loop calls this.
    let TryReadHeader (input: ReadOnlySpan<byte>, maxLength: int) : Result<int voption, WireError> =
        if input.Length < HeaderLength then
            Ok ValueNone
        else
            checkLength (int (BinaryPrimitives.ReadUInt16BigEndian input), maxLength)
            |> Result.map ValueSome

    /// Encodes one frame. Refuses an empty body or one longer than 65535 bytes.
    let encode (body: ReadOnlySpan<byte>) : Result<byte[], WireError> =
        match checkLength (body.Length, MaxLength) with
        | Error e -> Error e
        | Ok length ->
            let frame = Array.zeroCreate (HeaderLength + length)
            WriteHeader(length, Span frame)
            body.CopyTo(Span(frame, HeaderLength, length))
            Ok frame

    /// Decodes the frame at the start of `input` (total: any input gives a value or a typed error).
    /// The length is checked against `maxLength` before anything is allocated.
    let decode (input: ReadOnlySpan<byte>, maxLength: int) : Result<FrameDecode, WireError> =
        match TryReadHeader(input, maxLength) with
        | Error e -> Error e
        | Ok ValueNone -> Ok(NeedMore(HeaderLength - input.Length))
        | Ok(ValueSome length) when input.Length < HeaderLength + length ->
            Ok(NeedMore(HeaderLength + length - input.Length))
        | Ok(ValueSome length) -> Ok(FrameComplete(input.Slice(HeaderLength, length).ToArray(), HeaderLength + length))
