namespace HybridProtocol.Core.Wire

open System
open System.Text

type Preamble = { ProtocolName: string }

[<NoComparison>]
type Decoded<'T> =
    | Incomplete of needed: int
    | Decoded of value: 'T * consumed: int

type Refusal = {
    Code: RefusalCode
    ServerVersion: byte
    Supported: string list
}

type ServerStatus =
    | Accepted
    | Declined of Refusal

module Preamble =
    let Magic = "HYBR"B

    [<Literal>]
    let Version = 1uy

    let ContextLabel = "HybridProtocol/1"B

    [<Literal>]
    let MaxLength = 261

    let internal isNameByte (b: byte) = b >= 0x21uy && b <= 0x7Euy

    let internal checkName (name: string) =
        if String.IsNullOrEmpty name then
            Error(Malformed EmptyProtocolName)
        elif
            name.Length > 255
            || not (name |> Seq.forall (fun c -> c < '\u0080' && isNameByte (byte c)))
        then
            Error(Malformed NonAsciiName)
        else
            Ok name

    let encode (preamble: Preamble) : Result<byte[], WireError> =
        checkName preamble.ProtocolName
        |> Result.map (fun name ->
            Array.concat [ Magic; [| Version; byte name.Length |]; Encoding.ASCII.GetBytes name ])

    let decode (input: ReadOnlySpan<byte>) : Result<Decoded<Preamble>, WireError> =
        let magicSeen = min input.Length Magic.Length

        if not (input.Slice(0, magicSeen).SequenceEqual(ReadOnlySpan(Magic, 0, magicSeen))) then
            Error(Malformed BadMagic)
        elif input.Length < 5 then
            Ok(Incomplete(5 - input.Length))
        elif input[4] <> Version then
            Error(Malformed(UnknownVersion input[4]))
        elif input.Length < 6 then
            Ok(Incomplete 1)
        else
            let length = int input[5]

            if length = 0 then
                Error(Malformed EmptyProtocolName)
            elif input.Length < 6 + length then
                Ok(Incomplete(6 + length - input.Length))
            else
                let name = input.Slice(6, length)

                if name.IndexOfAnyExceptInRange(0x21uy, 0x7Euy) >= 0 then
                    Error(Malformed NonAsciiName)
                else
                    Ok(
                        Decoded(
                            {
                                ProtocolName = Encoding.ASCII.GetString name
                            },
                            6 + length
                        )
                    )

    let firstFlight (input: ReadOnlySpan<byte>) : Result<Decoded<unit>, WireError> =
        match decode input with
        | Error e -> Error e
        | Ok(Incomplete needed) -> Ok(Incomplete needed)
        | Ok(Decoded(_, consumed)) ->
            match Frame.TryReadHeader(input.Slice consumed, Frame.MaxLength) with
            | Error e -> Error e
            | Ok ValueNone -> Ok(Incomplete(consumed + Frame.HeaderLength - input.Length))
            | Ok(ValueSome length) ->
                let total = consumed + Frame.HeaderLength + length

                if input.Length >= total then
                    Ok(Decoded((), total))
                else
                    Ok(Incomplete(total - input.Length))

    let prologue (preambleBytes: byte[]) = Array.append ContextLabel preambleBytes

module ServerStatus =
    [<Literal>]
    let AcceptedByte = 0x00uy

    [<Literal>]
    let MaxRefusalCode = 0x1Fuy

    let private notAStatus (input: ReadOnlySpan<byte>) =
        Error(Malformed(NotAStatus(input.Slice(0, min input.Length 32).ToArray())))

    let encode (status: ServerStatus) : Result<byte[], WireError> =
        match status with
        | Accepted -> Ok [| AcceptedByte |]
        | Declined refusal when byte refusal.Code = AcceptedByte ->
            Error(InvalidConfig(RefusalCodeOutOfRange AcceptedByte))
        | Declined refusal when byte refusal.Code > MaxRefusalCode ->
            Error(InvalidConfig(RefusalCodeOutOfRange(byte refusal.Code)))
        | Declined refusal when refusal.ServerVersion = 0uy -> Error(InvalidConfig RefusalVersionZero)
        | Declined refusal ->
            let names = refusal.Supported |> List.truncate 255

            match
                names
                |> List.tryPick (fun n ->
                    match Preamble.checkName n with
                    | Ok _ -> None
                    | Error e -> Some e)
            with
            | Some e -> Error e
            | None ->
                Ok(
                    Array.concat [
                        [| byte refusal.Code; refusal.ServerVersion; byte names.Length |]
                        for name in names do
                            [| byte name.Length |]
                            Encoding.ASCII.GetBytes name
                    ]
                )

    let decode (input: ReadOnlySpan<byte>) : Result<Decoded<ServerStatus>, WireError> =
        if input.IsEmpty then
            Ok(Incomplete 1)
        elif input[0] = AcceptedByte then
            Ok(Decoded(Accepted, 1))
        elif input[0] > MaxRefusalCode || (input.Length >= 2 && input[1] = 0uy) then
            notAStatus input
        elif input.Length < 3 then
            Ok(Incomplete(3 - input.Length))
        else
            let count = int input[2]
            let mutable offset = 3
            let mutable found = 0
            let mutable names = []
            let mutable outcome = ValueNone

            while outcome.IsNone && found < count do
                if input.Length <= offset then
                    outcome <- ValueSome(Ok(Incomplete 1))
                else
                    let length = int input[offset]

                    if length = 0 then
                        outcome <- ValueSome(Error(Malformed BadRefusal))
                    elif input.Length < offset + 1 + length then
                        outcome <- ValueSome(Ok(Incomplete(offset + 1 + length - input.Length)))
                    else
                        let name = input.Slice(offset + 1, length)

                        if name.IndexOfAnyExceptInRange(0x21uy, 0x7Euy) >= 0 then
                            outcome <- ValueSome(Error(Malformed BadRefusal))
                        else
                            names <- Encoding.ASCII.GetString name :: names
                            found <- found + 1
                            offset <- offset + 1 + length

            match outcome with
            | ValueSome result -> result
            | ValueNone ->
                Ok(
                    Decoded(
                        Declined {
                            Code = LanguagePrimitives.EnumOfValue input[0]
                            ServerVersion = input[1]
                            Supported = List.rev names
                        },
                        offset
                    )
                )
