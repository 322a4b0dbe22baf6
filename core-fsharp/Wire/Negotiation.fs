namespace HybridProtocol.Core.Wire

open System
open System.Buffers.Binary
open System.Text

type HandshakePayload = {
    ApplicationProtocol: string
    MaxMessageSize: int
}

module HandshakePayload =
    [<Literal>]
    let Version = 1uy

    [<Literal>]
    let ApplicationProtocolField = 0x01uy

    [<Literal>]
    let MaxMessageSizeField = 0x02uy

    let internal isProtocolByte (b: byte) = b >= 0x20uy && b <= 0x7Euy

    let checkApplicationProtocol (name: string) =
        if
            name.Length > 255
            || not (name |> Seq.forall (fun c -> c < '\u0080' && isProtocolByte (byte c)))
        then
            Error(InvalidConfig(BadApplicationProtocol name.Length))
        else
            Ok name

    let encode (payload: HandshakePayload) : Result<byte[], WireError> =
        match checkApplicationProtocol payload.ApplicationProtocol with
        | Error e -> Error e
        | Ok _ when payload.MaxMessageSize < 1 -> Error(InvalidConfig(MessageSizeOutOfRange payload.MaxMessageSize))
        | Ok name ->
            let output = Array.zeroCreate (1 + 3 + name.Length + 3 + 4)
            output[0] <- Version
            output[1] <- ApplicationProtocolField
            BinaryPrimitives.WriteUInt16BigEndian(Span(output, 2, 2), uint16 name.Length)
            Encoding.ASCII.GetBytes(name, 0, name.Length, output, 4) |> ignore
            let at = 4 + name.Length
            output[at] <- MaxMessageSizeField
            BinaryPrimitives.WriteUInt16BigEndian(Span(output, at + 1, 2), 4us)
            BinaryPrimitives.WriteUInt32BigEndian(Span(output, at + 3, 4), uint32 payload.MaxMessageSize)
            Ok output

    let decode (input: ReadOnlySpan<byte>) : Result<HandshakePayload, WireError> =
        if input.IsEmpty then
            Error(Malformed TruncatedPayload)
        elif input[0] <> Version then
            Error(Malformed(UnsupportedPayloadVersion input[0]))
        else
            let mutable offset = 1
            let mutable last = -1
            let mutable protocol = ValueNone
            let mutable maxSize = ValueNone
            let mutable error = ValueNone

            while error.IsNone && offset < input.Length do
                if input.Length - offset < 3 then
                    error <- ValueSome TruncatedPayload
                else
                    let id = input[offset]
                    let length = int (BinaryPrimitives.ReadUInt16BigEndian(input.Slice(offset + 1, 2)))
                    let value = offset + 3

                    if int id <= last then
                        error <- ValueSome(FieldOutOfOrder id)
                    elif input.Length - value < length then
                        error <- ValueSome TruncatedPayload
                    else
                        let bytes = input.Slice(value, length)

                        match id with
                        | ApplicationProtocolField ->
                            if length > 255 || bytes.IndexOfAnyExceptInRange(0x20uy, 0x7Euy) >= 0 then
                                error <- ValueSome(BadField id)
                            else
                                protocol <- ValueSome(Encoding.ASCII.GetString bytes)
                        | MaxMessageSizeField ->
                            let size =
                                if length = 4 then
                                    BinaryPrimitives.ReadUInt32BigEndian bytes
                                else
                                    0u

                            if size < 1u || size > uint32 Int32.MaxValue then
                                error <- ValueSome(BadField id)
                            else
                                maxSize <- ValueSome(int size)
                        | _ -> ()

                        last <- int id
                        offset <- value + length

            match error, protocol, maxSize with
            | ValueSome e, _, _ -> Error(Malformed e)
            | _, ValueNone, _ -> Error(Malformed(MissingField ApplicationProtocolField))
            | _, _, ValueNone -> Error(Malformed(MissingField MaxMessageSizeField))
            | _, ValueSome name, ValueSome size ->
                Ok {
                    ApplicationProtocol = name
                    MaxMessageSize = size
                }
