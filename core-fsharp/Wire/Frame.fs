namespace HybridProtocol.Core.Wire

open System
open System.Buffers.Binary

[<NoComparison>]
type FrameDecode =
    | NeedMore of needed: int
    | FrameComplete of body: byte[] * consumed: int

module Frame =
    [<Literal>]
    let HeaderLength = 2

    [<Literal>]
    let MaxLength = 65535

    let checkLength (length: int, maxLength: int) =
        if length = 0 then
            Error(Malformed EmptyFrame)
        elif length > maxLength then
            Error(Malformed(FrameTooLong(length, maxLength)))
        else
            Ok length

    let WriteHeader (length: int, destination: Span<byte>) =
        BinaryPrimitives.WriteUInt16BigEndian(destination, uint16 length)

    let TryReadHeader (input: ReadOnlySpan<byte>, maxLength: int) : Result<int voption, WireError> =
        if input.Length < HeaderLength then
            Ok ValueNone
        else
            checkLength (int (BinaryPrimitives.ReadUInt16BigEndian input), maxLength)
            |> Result.map ValueSome

    let encode (body: ReadOnlySpan<byte>) : Result<byte[], WireError> =
        match checkLength (body.Length, MaxLength) with
        | Error e -> Error e
        | Ok length ->
            let frame = Array.zeroCreate (HeaderLength + length)
            WriteHeader(length, Span frame)
            body.CopyTo(Span(frame, HeaderLength, length))
            Ok frame

    let decode (input: ReadOnlySpan<byte>, maxLength: int) : Result<FrameDecode, WireError> =
        match TryReadHeader(input, maxLength) with
        | Error e -> Error e
        | Ok ValueNone -> Ok(NeedMore(HeaderLength - input.Length))
        | Ok(ValueSome length) when input.Length < HeaderLength + length ->
            Ok(NeedMore(HeaderLength + length - input.Length))
        | Ok(ValueSome length) -> Ok(FrameComplete(input.Slice(HeaderLength, length).ToArray(), HeaderLength + length))
