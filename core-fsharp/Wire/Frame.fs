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

/// Where the streaming decoder is inside the current frame.
[<NoComparison; NoEquality>]
type private DecoderPhase =
    /// Waiting for the length field; `high` is its first byte when only that one has arrived (else -1).
    | Header of high: int
    /// Waiting for the body: `chunks` (newest first) hold `buffered` of its `length` bytes.
    | Body of length: int * chunks: ReadOnlyMemory<byte> list * buffered: int

/// A streaming frame decoder: feed it bytes in any chunking (one byte at a time, many frames at once) and
/// it returns the complete frame bodies in order. An immutable value: `Feed` returns the next decoder.
/// Memory held is at most one frame (checked length) plus the bytes of the current chunk.
[<NoComparison; NoEquality>]
type FrameDecoder = private {
    maxLength: int
    phase: DecoderPhase
}

/// What `FrameDecoder.Feed` produced: the next decoder, the frames completed (in order), and the error
/// that stopped decoding, if any (the frames before it are valid and come first).
[<NoComparison; NoEquality>]
type FeedResult = {
    Decoder: FrameDecoder
    Frames: byte[] list
    Error: WireError option
}

module FrameDecoder =
    /// A decoder that accepts bodies of 1..maxLength bytes (maxLength at most 65535).
    let Create (maxLength: int) : Result<FrameDecoder, WireError> =
        if maxLength < 1 || maxLength > Frame.MaxLength then
            Error(InvalidConfig $"frame limit {maxLength} is outside 1..{Frame.MaxLength}")
        else
            Ok {
                maxLength = maxLength
                phase = Header -1
            }

    /// The largest body this decoder accepts.
    let MaxLength (decoder: FrameDecoder) = decoder.maxLength

    /// Whether the decoder holds part of a frame (so an end of input now cuts a frame in two).
    let HasPartialFrame (decoder: FrameDecoder) =
        match decoder.phase with
        | Header -1 -> false
        | _ -> true

    /// The bytes received but not yet part of a complete frame, as they arrived (for handing the stream over
    /// to another reader, e.g. the facade's allocation-free transport loop).
    let Buffered (decoder: FrameDecoder) : byte[] =
        match decoder.phase with
        | Header -1 -> [||]
        | Header high -> [| byte high |]
        | Body(length, chunks, buffered) ->
            let output = Array.zeroCreate (Frame.HeaderLength + buffered)
            Frame.WriteHeader(length, Span output)
            let mutable offset = output.Length

            for chunk in chunks do
                offset <- offset - chunk.Length
                chunk.Span.CopyTo(Span(output, offset, chunk.Length))

            output

    /// Feeds a chunk of received bytes. The chunk is copied once; the caller may reuse its buffer.
    let Feed (decoder: FrameDecoder, chunk: ReadOnlySpan<byte>) : FeedResult =
        let limit = decoder.maxLength

        let rec go phase (input: ReadOnlyMemory<byte>) frames =
            let stop phase error = {
                Decoder = { decoder with phase = phase }
                Frames = List.rev frames
                Error = error
            }

            if input.IsEmpty then
                stop phase None
            else
                match phase with
                | Header -1 when input.Length >= 2 ->
                    let length = (int input.Span[0] <<< 8) ||| int input.Span[1]

                    match Frame.checkLength (length, limit) with
                    | Error e -> stop phase (Some e)
                    | Ok length -> go (Body(length, [], 0)) (input.Slice 2) frames
                | Header -1 -> go (Header(int input.Span[0])) (input.Slice 1) frames
                | Header high ->
                    match Frame.checkLength ((high <<< 8) ||| int input.Span[0], limit) with
                    | Error e -> stop phase (Some e)
                    | Ok length -> go (Body(length, [], 0)) (input.Slice 1) frames
                | Body(length, chunks, buffered) ->
                    let missing = length - buffered

                    if input.Length < missing then
                        stop (Body(length, input :: chunks, buffered + input.Length)) None
                    else
                        // The length was checked when the header arrived: this allocation is bounded.
                        let body = Array.zeroCreate length
                        input.Span.Slice(0, missing).CopyTo(Span(body, buffered, missing))
                        let mutable offset = buffered

                        for piece in chunks do
                            offset <- offset - piece.Length
                            piece.Span.CopyTo(Span(body, offset, piece.Length))

                        go (Header -1) (input.Slice missing) (body :: frames)

        go decoder.phase (ReadOnlyMemory(chunk.ToArray())) []
