namespace HybridProtocol.Core.Formats

open System
open System.Net

module internal ProxyV2 =

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
    let FixedLength = 16

    let private inet4Length = 12
    let private inet6Length = 36
    let private unixLength = 216
    let private unixPathLength = 108

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

    let decode (options: ProxyDecodeOptions) (input: ReadOnlySpan<byte>) : Result<ProxyDecoded, ProxyError> =
        let limit =
            min (FixedLength + 65535) (max (FixedLength + unixLength) options.MaxLength)

        let signature = min input.Length Signature.Length

        if not (input.Slice(0, signature).SequenceEqual(ReadOnlySpan(Signature, 0, signature))) then
            Error NotAProxyHeader
        elif input.Length <= Signature.Length then
            Ok(NeedMore(FixedLength - input.Length))
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
            elif input.Length < FixedLength then
                Ok(NeedMore(FixedLength - input.Length))
            else
                let length = uint16At input 14
                let total = FixedLength + length

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
                        let block = input.Slice(FixedLength, needed).ToArray()

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
                            match tlvs (input.Slice(FixedLength + needed, length - needed).ToArray()) 0 [] with
                            | Ok list -> Ok(header (Proxy addresses) list)
                            | Error at -> Error(MalformedTlv(FixedLength + needed + at))
                        else
                            Ok(header (Proxy addresses) [])

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

    let encode (header: ProxyHeader) =
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
                ProxyEndPoints.familyOf source destination
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
