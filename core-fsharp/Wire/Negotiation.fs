namespace HybridProtocol.Core.Wire

open System
open System.Buffers.Binary
open System.Text

type HandshakePayload = {
    ApplicationProtocol: string
    MaxMessageSize: int
    KeyAnnouncement: byte array option
    Endorsement: byte array option
}

module HandshakePayload =
    [<Literal>]
    let Version = 1uy

    [<Literal>]
    let ApplicationProtocolField = 0x01uy

    [<Literal>]
    let MaxMessageSizeField = 0x02uy

    [<Literal>]
    let KeyAnnouncementField = 0x04uy

    [<Literal>]
    let EndorsementField = 0x10uy

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
        | Ok _ when
            (match payload.KeyAnnouncement with
             | Some a -> a.Length < 1 || a.Length > 65535
             | None -> false)
            ->
            Error(Malformed(BadField KeyAnnouncementField))
        | Ok _ when payload.Endorsement |> Option.exists (fun e -> e.Length < 1 || e.Length > 65535) ->
            Error(
                InvalidConfig(
                    BadEndorsementLength(payload.Endorsement |> Option.map Array.length |> Option.defaultValue 0)
                )
            )
        | Ok name ->
            let announcement = payload.KeyAnnouncement |> Option.defaultValue [||]
            let endorsement = payload.Endorsement |> Option.defaultValue [||]

            let fieldLength (value: byte array option) =
                match value with
                | Some v -> 3 + v.Length
                | None -> 0

            let extra = fieldLength payload.KeyAnnouncement + fieldLength payload.Endorsement
            let output = Array.zeroCreate (1 + 3 + name.Length + 3 + 4 + extra)
            output[0] <- Version
            output[1] <- ApplicationProtocolField
            BinaryPrimitives.WriteUInt16BigEndian(Span(output, 2, 2), uint16 name.Length)
            Encoding.ASCII.GetBytes(name, 0, name.Length, output, 4) |> ignore
            let at = 4 + name.Length
            output[at] <- MaxMessageSizeField
            BinaryPrimitives.WriteUInt16BigEndian(Span(output, at + 1, 2), 4us)
            BinaryPrimitives.WriteUInt32BigEndian(Span(output, at + 3, 4), uint32 payload.MaxMessageSize)

            let announcementAt = at + 7

            if payload.KeyAnnouncement.IsSome then
                output[announcementAt] <- KeyAnnouncementField
                BinaryPrimitives.WriteUInt16BigEndian(Span(output, announcementAt + 1, 2), uint16 announcement.Length)
                announcement.CopyTo(output, announcementAt + 3)

            let endorsementAt = announcementAt + fieldLength payload.KeyAnnouncement

            if payload.Endorsement.IsSome then
                output[endorsementAt] <- EndorsementField
                BinaryPrimitives.WriteUInt16BigEndian(Span(output, endorsementAt + 1, 2), uint16 endorsement.Length)
                endorsement.CopyTo(output, endorsementAt + 3)

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
            let mutable announcement = None
            let mutable endorsement = None
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
                        | KeyAnnouncementField ->
                            if length = 0 then
                                error <- ValueSome(BadField id)
                            else
                                announcement <- Some(bytes.ToArray())
                        | EndorsementField ->
                            if length = 0 then
                                error <- ValueSome(BadField id)
                            else
                                endorsement <- Some(bytes.ToArray())
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
                    KeyAnnouncement = announcement
                    Endorsement = endorsement
                }
