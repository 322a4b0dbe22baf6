namespace HybridProtocol.Core.Formats

open System
open System.Net
open System.Text

type ProxyVersion =
    | Version1
    | Version2

type ProxyTransport =
    | Stream
    | Datagram

[<NoComparison>]
type ProxyEndPoint = { Address: IPAddress; Port: uint16 }

[<NoComparison>]
type ProxyAddresses =
    | Unspecified
    | Ip of transport: ProxyTransport * source: ProxyEndPoint * destination: ProxyEndPoint
    | Unix of transport: ProxyTransport * source: byte array * destination: byte array

[<NoComparison>]
type ProxyCommand =
    | Local
    | Proxy of ProxyAddresses

type ProxyTlv = { Type: byte; Value: byte array }

[<NoComparison>]
type ProxyHeader = {
    Version: ProxyVersion
    Command: ProxyCommand
    Tlvs: ProxyTlv list
}

type ProxyV1Field =
    | InetProtocol
    | SourceAddress
    | DestinationAddress
    | SourcePort
    | DestinationPort
    | FieldCount

type ProxyError =
    | NotAProxyHeader
    | UnsupportedVersion of version: byte
    | UnknownCommand of command: byte
    | UnknownFamily of familyAndTransport: byte
    | HeaderTooLong of length: int * limit: int
    | AddressBlockTooShort of length: int * needed: int
    | MalformedTlv of offset: int
    | LineTooLong
    | BadLineEnd
    | BadV1Field of field: ProxyV1Field

[<NoComparison>]
type ProxyDecoded =
    | NeedMore of atLeast: int
    | Header of header: ProxyHeader * consumed: int

type ProxyDecodeOptions = { MaxLength: int; KeepTlvs: bool }

type ProxyEncodeError =
    | MixedFamilies
    | NotInVersion1
    | BadUnixAddress
    | BadTlvs
    | TooLong

module ProxyProtocol =

    // §2.2: \x0D \x0A \x0D \x0A \x00 \x0D \x0A \x51 \x55 \x49 \x54 \x0A
    let Signature = [|
        0x0Duy
        0x0Auy
        0x0Duy
        0x0Auy
        0x00uy
        0x0Duy
        0x0Auy
        0x51uy
        0x55uy
        0x49uy
        0x54uy
        0x0Auy
    |]

    [<Literal>]
    let MaxV1Length = 107

    [<Literal>]
    let V2FixedLength = 16

    [<Literal>]
    let DefaultMaxLength = 536

    let defaultOptions = {
        MaxLength = DefaultMaxLength
        KeepTlvs = false
    }

    // §2.1: "PROXY" followed by exactly one space.
    let private v1Prefix = "PROXY "B

    let private inet4Length = 12
    let private inet6Length = 36
    let private unixLength = 216
    let private unixPathLength = 108

    // ---- v1 text (§2.1) ----

    let private isDigit (c: char) = c >= '0' && c <= '9'

    let private isHex (c: char) =
        isDigit c || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')

    /// A decimal number of at most `maxDigits` digits and at most `max`, with no heading zero ("in order to avoid
    /// any possible confusion with octal numbers").
    let private decimal (maxDigits: int) (max: int) (text: string) =
        if
            text.Length = 0
            || text.Length > maxDigits
            || not (Seq.forall isDigit text)
            || (text.Length > 1 && text[0] = '0')
        then
            None
        else
            let value = int text
            if value <= max then Some value else None

    /// "exactly 4 integers in the range [0..255] inclusive written in decimal representation separated by exactly
    /// one dot between each other".
    let private ipv4Bytes (text: string) =
        let parts = text.Split '.'

        if parts.Length <> 4 then
            None
        else
            let values = parts |> Array.map (decimal 3 255)

            if Array.forall Option.isSome values then
                Some(values |> Array.map (Option.get >> byte))
            else
                None

    /// RFC 4291 §2.2 text: groups of 1-4 hex digits separated by colons, at most one "::" standing for one or more
    /// zero groups, optionally ending in a dotted IPv4 address for the last 32 bits; 128 bits in all.
    let private ipv6Bytes (text: string) =
        let groupsOf (part: string) (mayEndInIpv4: bool) =
            if part.Length = 0 then
                Some []
            else
                let items = part.Split ':' |> List.ofArray
                let last = List.length items - 1

                let parsed =
                    items
                    |> List.mapi (fun i item ->
                        if i = last && mayEndInIpv4 && item.Contains '.' then
                            ipv4Bytes item
                            |> Option.map (fun b -> [ (int b[0] <<< 8) ||| int b[1]; (int b[2] <<< 8) ||| int b[3] ])
                        elif item.Length >= 1 && item.Length <= 4 && Seq.forall isHex item then
                            Some [ Convert.ToInt32(item, 16) ]
                        else
                            None)

                if List.forall Option.isSome parsed then
                    Some(parsed |> List.collect Option.get)
                else
                    None

        let toBytes (groups: int list) =
            groups |> List.collect (fun g -> [ byte (g >>> 8); byte g ]) |> Array.ofList

        match text.IndexOf "::" with
        | -1 ->
            match groupsOf text true with
            | Some groups when groups.Length = 8 -> Some(toBytes groups)
            | _ -> None
        | at ->
            let head = text.Substring(0, at)
            let tail = text.Substring(at + 2)

            if tail.Contains "::" || head.EndsWith ":" || tail.StartsWith ":" then
                None
            else
                match groupsOf head false, groupsOf tail true with
                | Some h, Some t when h.Length + t.Length <= 7 ->
                    Some(toBytes (h @ List.replicate (8 - h.Length - t.Length) 0 @ t))
                | _ -> None

    let private v1Line (line: string) : Result<ProxyCommand, ProxyError> =
        if line = "UNKNOWN" || line.StartsWith "UNKNOWN " then
            // "the receiver must ignore anything presented before the CRLF is found"
            Ok(Proxy Unspecified)
        else
            let fields = line.Split ' '

            let parse =
                match fields[0] with
                | "TCP4" -> Some ipv4Bytes
                | "TCP6" -> Some ipv6Bytes
                | _ -> None

            match parse with
            | None -> Error(BadV1Field InetProtocol)
            | Some _ when fields.Length <> 5 -> Error(BadV1Field FieldCount)
            | Some parse ->
                let endPoint address port =
                    Option.map2
                        (fun a p -> {
                            Address = IPAddress(a: byte array)
                            Port = uint16 p
                        })
                        address
                        port

                match parse fields[1], parse fields[2], decimal 5 65535 fields[3], decimal 5 65535 fields[4] with
                | None, _, _, _ -> Error(BadV1Field SourceAddress)
                | _, None, _, _ -> Error(BadV1Field DestinationAddress)
                | _, _, None, _ -> Error(BadV1Field SourcePort)
                | _, _, _, None -> Error(BadV1Field DestinationPort)
                | source, destination, sourcePort, destinationPort ->
                    match endPoint source sourcePort, endPoint destination destinationPort with
                    | Some s, Some d -> Ok(Proxy(Ip(Stream, s, d)))
                    | _ -> Error(BadV1Field FieldCount)

    /// Whether the protocol word seen so far (up to a space or the end of what arrived) can still become one.
    let private protocolPrefixOk (input: ReadOnlySpan<byte>) =
        let rest = input.Slice(v1Prefix.Length)
        let space = rest.IndexOfAny(" \r\n"B)

        let word =
            Encoding.ASCII.GetString(if space < 0 then rest else rest.Slice(0, space))

        [ "TCP4"; "TCP6"; "UNKNOWN" ]
        |> List.exists (fun p -> (if space < 0 then p.StartsWith word else p = word))

    let private decodeV1 (input: ReadOnlySpan<byte>) : Result<ProxyDecoded, ProxyError> =
        let seen = min input.Length MaxV1Length
        let prefix = min seen v1Prefix.Length

        if not (input.Slice(0, prefix).SequenceEqual(ReadOnlySpan(v1Prefix, 0, prefix))) then
            Error NotAProxyHeader
        elif seen <= v1Prefix.Length then
            Ok(NeedMore 1)
        elif not (protocolPrefixOk (input.Slice(0, seen))) then
            Error(BadV1Field InetProtocol)
        else
            let window = input.Slice(0, seen)
            let stop = window.IndexOfAny("\r\n"B)

            if stop < 0 then
                // The CR of a line of at most 107 bytes is among its first 106.
                if seen >= MaxV1Length - 1 then
                    Error LineTooLong
                else
                    Ok(NeedMore 1)
            elif window[stop] = '\n'B then
                Error BadLineEnd
            elif stop + 1 >= MaxV1Length then
                Error LineTooLong
            elif stop + 1 >= seen then
                Ok(NeedMore 1)
            elif window[stop + 1] <> '\n'B then
                Error BadLineEnd
            else
                let line =
                    Encoding.ASCII.GetString(window.Slice(v1Prefix.Length, stop - v1Prefix.Length))

                v1Line line
                |> Result.map (fun command ->
                    Header(
                        {
                            Version = Version1
                            Command = command
                            Tlvs = []
                        },
                        stop + 2
                    ))

    // ---- v2 binary (§2.2) ----

    let private uint16At (input: ReadOnlySpan<byte>) (at: int) =
        (int input[at] <<< 8) ||| int input[at + 1]

    let rec private tlvs (block: byte array) (offset: int) (acc: ProxyTlv list) : Result<ProxyTlv list, int> =
        if offset = block.Length then
            Ok(List.rev acc)
        elif offset + 3 > block.Length then
            Error offset
        else
            let length = (int block[offset + 1] <<< 8) ||| int block[offset + 2]

            if offset + 3 + length > block.Length then
                Error offset
            else
                let tlv = {
                    Type = block[offset]
                    Value = block[offset + 3 .. offset + 2 + length]
                }

                tlvs block (offset + 3 + length) (tlv :: acc)

    let private decodeV2 (options: ProxyDecodeOptions) (input: ReadOnlySpan<byte>) : Result<ProxyDecoded, ProxyError> =
        let limit =
            min (V2FixedLength + 65535) (max (V2FixedLength + unixLength) options.MaxLength)

        let signature = min input.Length Signature.Length

        if not (input.Slice(0, signature).SequenceEqual(ReadOnlySpan(Signature, 0, signature))) then
            Error NotAProxyHeader
        elif input.Length <= Signature.Length then
            Ok(NeedMore(V2FixedLength - input.Length))
        else
            let version = input[12] >>> 4
            let command = input[12] &&& 0x0Fuy

            if version <> 2uy then
                Error(UnsupportedVersion version)
            elif command > 1uy then
                Error(UnknownCommand command)
            elif input.Length = 13 then
                Ok(NeedMore 3)
            elif command = 1uy && ((input[13] >>> 4) > 3uy || (input[13] &&& 0x0Fuy) > 2uy) then
                Error(UnknownFamily input[13])
            elif input.Length < V2FixedLength then
                Ok(NeedMore(V2FixedLength - input.Length))
            else
                let length = uint16At input 14
                let total = V2FixedLength + length

                if total > limit then
                    Error(HeaderTooLong(total, limit))
                elif input.Length < total then
                    Ok(NeedMore(total - input.Length))
                else
                    let header command tlvs =
                        Header(
                            {
                                Version = Version2
                                Command = command
                                Tlvs = tlvs
                            },
                            total
                        )

                    let family = input[13] >>> 4
                    let transport = if (input[13] &&& 0x0Fuy) = 1uy then Stream else Datagram

                    let needed =
                        match family with
                        | 1uy -> inet4Length
                        | 2uy -> inet6Length
                        | _ -> unixLength

                    if command = 0uy then
                        // LOCAL: "discard the protocol block including the family which is ignored"
                        Ok(header Local [])
                    elif family = 0uy || (input[13] &&& 0x0Fuy) = 0uy then
                        // AF_UNSPEC or UNSPEC: "The receiver should ignore address information."
                        Ok(header (Proxy Unspecified) [])
                    elif length < needed then
                        Error(AddressBlockTooShort(length, needed))
                    else
                        let block = input.Slice(V2FixedLength, needed).ToArray()

                        let addresses =
                            match family with
                            | 1uy
                            | 2uy ->
                                let size = (needed - 4) / 2

                                let endPoint (at: int) (portAt: int) = {
                                    Address = IPAddress(block[at .. at + size - 1])
                                    Port = uint16 ((int block[portAt] <<< 8) ||| int block[portAt + 1])
                                }

                                Ip(transport, endPoint 0 (2 * size), endPoint size (2 * size + 2))
                            | _ ->
                                Unix(transport, block[0 .. unixPathLength - 1], block[unixPathLength .. unixLength - 1])

                        if options.KeepTlvs then
                            match tlvs (input.Slice(V2FixedLength + needed, length - needed).ToArray()) 0 [] with
                            | Ok list -> Ok(header (Proxy addresses) list)
                            | Error at -> Error(MalformedTlv(V2FixedLength + needed + at))
                        else
                            Ok(header (Proxy addresses) [])

    let decode (options: ProxyDecodeOptions, input: ReadOnlySpan<byte>) : Result<ProxyDecoded, ProxyError> =
        if input.IsEmpty then Ok(NeedMore 1)
        elif input[0] = v1Prefix[0] then decodeV1 input
        elif input[0] = Signature[0] then decodeV2 options input
        else Error NotAProxyHeader

    let clientOf (header: ProxyHeader) =
        match header.Command with
        | Proxy(Ip(_, source, _)) -> Some source
        | _ -> None

    // ---- encoding ----

    /// RFC 5952 §4: lower-case hex without heading zeroes, the longest run of two or more zero groups (the first of
    /// equal runs) as "::".
    let private ipv6Text (bytes: byte array) =
        let groups =
            Array.init 8 (fun i -> (int bytes[2 * i] <<< 8) ||| int bytes[2 * i + 1])

        let runAt i =
            Seq.initInfinite (fun k -> i + k)
            |> Seq.takeWhile (fun k -> k < 8 && groups[k] = 0)
            |> Seq.length

        let start, run =
            Seq.init 8 (fun i -> i, runAt i)
            |> Seq.fold (fun (bs, br) (i, r) -> if r > br then (i, r) else (bs, br)) (-1, 1)

        let hex (gs: int seq) =
            gs |> Seq.map (fun g -> g.ToString "x") |> String.concat ":"

        if start < 0 then
            hex groups
        else
            hex groups[.. start - 1] + "::" + hex groups[start + run ..]

    let private familyOf (source: ProxyEndPoint) (destination: ProxyEndPoint) =
        let s = source.Address.GetAddressBytes()
        let d = destination.Address.GetAddressBytes()

        if s.Length = d.Length then
            Ok(s, d)
        else
            Error MixedFamilies

    let private encodeV1 (header: ProxyHeader) =
        match header.Command, header.Tlvs with
        | Proxy Unspecified, [] -> Ok "PROXY UNKNOWN\r\n"B
        | Proxy(Ip(Stream, source, destination)), [] ->
            familyOf source destination
            |> Result.map (fun (s, d) ->
                let protocol, text =
                    if s.Length = 4 then
                        "TCP4", (fun (b: byte array) -> b |> Array.map string |> String.concat ".")
                    else
                        "TCP6", ipv6Text

                Encoding.ASCII.GetBytes(
                    String.Join(
                        " ",
                        [
                            "PROXY"
                            protocol
                            text s
                            text d
                            string source.Port
                            string destination.Port
                        ]
                    )
                    + "\r\n"
                ))
        | _ -> Error NotInVersion1

    let private encodeTlvs (tlvs: ProxyTlv list) =
        if tlvs |> List.exists (fun t -> t.Value.Length > 65535) then
            Error BadTlvs
        else
            Ok(
                tlvs
                |> List.collect (fun t ->
                    [ t.Type; byte (t.Value.Length >>> 8); byte t.Value.Length ]
                    @ List.ofArray t.Value)
                |> Array.ofList
            )

    let private encodeV2 (header: ProxyHeader) =
        let port (p: uint16) = [| byte (p >>> 8); byte p |]

        let transportBits t =
            match t with
            | Stream -> 1uy
            | Datagram -> 2uy

        let block =
            match header.Command, header.Tlvs with
            | Local, [] -> Ok(0x20uy, 0x00uy, [||])
            | Proxy Unspecified, [] -> Ok(0x21uy, 0x00uy, [||])
            | Local, _
            | Proxy Unspecified, _ -> Error BadTlvs
            | Proxy(Ip(transport, source, destination)), _ ->
                familyOf source destination
                |> Result.map (fun (s, d) ->
                    let family = if s.Length = 4 then 0x10uy else 0x20uy

                    0x21uy,
                    family ||| transportBits transport,
                    Array.concat [ s; d; port source.Port; port destination.Port ])
            | Proxy(Unix(transport, source, destination)), _ ->
                if source.Length = unixPathLength && destination.Length = unixPathLength then
                    Ok(0x21uy, 0x30uy ||| transportBits transport, Array.append source destination)
                else
                    Error BadUnixAddress

        block
        |> Result.bind (fun (versionCommand, family, addresses) ->
            encodeTlvs header.Tlvs
            |> Result.bind (fun tlvBytes ->
                let length = addresses.Length + tlvBytes.Length

                if length > 65535 then
                    Error TooLong
                else
                    Ok(
                        Array.concat [
                            Signature
                            [| versionCommand; family; byte (length >>> 8); byte length |]
                            addresses
                            tlvBytes
                        ]
                    )))

    let encode (header: ProxyHeader) =
        match header.Version with
        | Version1 -> encodeV1 header
        | Version2 -> encodeV2 header
