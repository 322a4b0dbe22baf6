namespace HybridProtocol.Core.Formats

open System
open System.Net
open System.Text

module internal ProxyV1 =

    [<Literal>]
    let MaxLength = 107

    // §2.1: "PROXY" followed by exactly one space.
    let Prefix = "PROXY "B

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
        let rest = input.Slice(Prefix.Length)
        let space = rest.IndexOfAny(" \r\n"B)

        let word =
            Encoding.ASCII.GetString(if space < 0 then rest else rest.Slice(0, space))

        [ "TCP4"; "TCP6"; "UNKNOWN" ]
        |> List.exists (fun p -> (if space < 0 then p.StartsWith word else p = word))

    let decode (input: ReadOnlySpan<byte>) : Result<ProxyDecoded, ProxyError> =
        let seen = min input.Length MaxLength
        let prefix = min seen Prefix.Length

        if not (input.Slice(0, prefix).SequenceEqual(ReadOnlySpan(Prefix, 0, prefix))) then
            Error NotAProxyHeader
        elif seen <= Prefix.Length then
            Ok(NeedMore 1)
        elif not (protocolPrefixOk (input.Slice(0, seen))) then
            Error(BadV1Field InetProtocol)
        else
            let window = input.Slice(0, seen)
            let stop = window.IndexOfAny("\r\n"B)

            if stop < 0 then
                // The CR of a line of at most 107 bytes is among its first 106.
                if seen >= MaxLength - 1 then
                    Error LineTooLong
                else
                    Ok(NeedMore 1)
            elif window[stop] = '\n'B then
                Error BadLineEnd
            elif stop + 1 >= MaxLength then
                Error LineTooLong
            elif stop + 1 >= seen then
                Ok(NeedMore 1)
            elif window[stop + 1] <> '\n'B then
                Error BadLineEnd
            else
                let line =
                    Encoding.ASCII.GetString(window.Slice(Prefix.Length, stop - Prefix.Length))

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

    let encode (header: ProxyHeader) =
        match header.Command, header.Tlvs with
        | Proxy Unspecified, [] -> Ok "PROXY UNKNOWN\r\n"B
        | Proxy(Ip(Stream, source, destination)), [] ->
            ProxyEndPoints.familyOf source destination
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
