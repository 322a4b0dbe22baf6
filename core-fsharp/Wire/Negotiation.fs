/// What the two ends agree on during the handshake, carried in the payload of each party's LAST handshake
/// message (specs/PROTOCOL.md §6). Every other handshake payload is empty.
///
///     version=0x01 | field* ;  field = id (u8) | length (u16 big-endian) | value
///       0x01 application protocol   0..255 bytes of printable ASCII (0x20..0x7E)   required
///       0x02 max message size       u32 big-endian, 1..2^31-1                       required
///       0x10 endorsement            1..65535 bytes (specs/PROTOCOL.md §6a)           optional, server only
///
/// Fields come in strictly ascending id order, each at most once. Unknown ids are skipped (Noise §13
/// "Extensibility": fields can be added that older implementations ignore); the whole payload is covered by
/// the handshake hash, so skipping cannot be exploited to change what was agreed.
///
/// Internal to the core (its handshake encodes and decodes these); tests reach it through InternalsVisibleTo.
namespace HybridProtocol.Core.Wire

open System
open System.Buffers.Binary
open System.Text

/// One party's announced parameters.
type HandshakePayload = {
    /// The application protocol this party speaks (like TLS ALPN, RFC 7301); both ends must name the same.
    ApplicationProtocol: string
    /// The largest message (reassembled, in bytes) this party accepts; the peer never sends a larger one.
    MaxMessageSize: int
    /// Server: the authority's endorsement of its static key (field 0x10).
    Endorsement: byte array option
}

module HandshakePayload =
    /// The payload layout this code writes and reads.
    [<Literal>]
    let Version = 1uy

    [<Literal>]
    let ApplicationProtocolField = 0x01uy

    [<Literal>]
    let MaxMessageSizeField = 0x02uy

    [<Literal>]
    let EndorsementField = 0x10uy

    let internal isProtocolByte (b: byte) = b >= 0x20uy && b <= 0x7Euy

    /// Checks an application protocol name: 0..255 bytes of printable ASCII.
    let checkApplicationProtocol (name: string) =
        if
            name.Length > 255
            || not (name |> Seq.forall (fun c -> c < '\u0080' && isProtocolByte (byte c)))
        then
            Error(InvalidConfig(BadApplicationProtocol name.Length))
        else
            Ok name

    /// Encodes a payload. Refuses values the decoder would refuse.
    let encode (payload: HandshakePayload) : Result<byte[], WireError> =
        match checkApplicationProtocol payload.ApplicationProtocol with
        | Error e -> Error e
        | Ok _ when payload.MaxMessageSize < 1 -> Error(InvalidConfig(MessageSizeOutOfRange payload.MaxMessageSize))
        | Ok _ when payload.Endorsement |> Option.exists (fun e -> e.Length < 1 || e.Length > 65535) ->
            Error(
                InvalidConfig(
                    BadEndorsementLength(payload.Endorsement |> Option.map Array.length |> Option.defaultValue 0)
                )
            )
        | Ok name ->
            let endorsement = payload.Endorsement |> Option.defaultValue [||]
            let extra = if endorsement.Length > 0 then 3 + endorsement.Length else 0
            let output = Array.zeroCreate (1 + 3 + name.Length + 3 + 4 + extra)
            output[0] <- Version
            output[1] <- ApplicationProtocolField
            BinaryPrimitives.WriteUInt16BigEndian(Span(output, 2, 2), uint16 name.Length)
            Encoding.ASCII.GetBytes(name, 0, name.Length, output, 4) |> ignore
            let at = 4 + name.Length
            output[at] <- MaxMessageSizeField
            BinaryPrimitives.WriteUInt16BigEndian(Span(output, at + 1, 2), 4us)
            BinaryPrimitives.WriteUInt32BigEndian(Span(output, at + 3, 4), uint32 payload.MaxMessageSize)

            if endorsement.Length > 0 then
                let at = at + 7
                output[at] <- EndorsementField
                BinaryPrimitives.WriteUInt16BigEndian(Span(output, at + 1, 2), uint16 endorsement.Length)
                Array.blit endorsement 0 output (at + 3) endorsement.Length

            Ok output

    /// Decodes a payload (total: any input gives a value or a typed error).
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
                    Endorsement = endorsement
                }
