/// The PROXY protocol codec (core-fsharp/Formats/ProxyProtocol): round trips for both versions, every truncation,
/// every wrong signature byte, version, command and family, lengths beyond the cap, v1 lines that break the
/// grammar, and the worked examples of HAProxy's proxy-protocol.txt as vectors.
module HybridProtocol.Tests.ProxyProtocolTests

open System
open System.Net
open System.Text
open Expecto
open HybridProtocol.Core.Formats
open HybridProtocol.Tests.TestSupport

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 300
}

let private keepAll = {
    MaxLength = 16 + 65535
    KeepTlvs = true
}

let private decode (options: ProxyDecodeOptions) (bytes: byte array) =
    ProxyProtocol.decode (options, ReadOnlySpan bytes)

let private endPoint (bytes: byte array) (port: uint16) = {
    Address = IPAddress bytes
    Port = port
}

/// A header of every shape the codec writes, chosen by `kind`, from arbitrary bytes.
let private headerFrom
    (kind: byte)
    (seed: byte array)
    (p1: uint16)
    (p2: uint16)
    (datagram: bool)
    (tlvs: (byte * byte array) list)
    =
    let seed = nonNullBytes seed

    let bytes n offset =
        Array.init n (fun i ->
            if seed.Length = 0 then
                byte (i + offset)
            else
                seed[(i + offset) % seed.Length])

    let transport = if datagram then Datagram else Stream

    let tlvs =
        tlvs
        |> List.truncate 8
        |> List.map (fun (t, v) -> {
            Type = t
            Value = nonNullBytes v |> Array.truncate 300
        })

    match kind % 5uy with
    | 0uy -> {
        Version = Version2
        Command = Local
        Tlvs = []
      }
    | 1uy -> {
        Version = Version2
        Command = Proxy Unspecified
        Tlvs = []
      }
    | 2uy -> {
        Version = Version2
        Command = Proxy(Ip(transport, endPoint (bytes 4 0) p1, endPoint (bytes 4 7) p2))
        Tlvs = tlvs
      }
    | 3uy -> {
        Version = Version2
        Command = Proxy(Ip(transport, endPoint (bytes 16 0) p1, endPoint (bytes 16 3) p2))
        Tlvs = tlvs
      }
    | _ -> {
        Version = Version2
        Command = Proxy(Unix(transport, bytes 108 0, bytes 108 1))
        Tlvs = tlvs
      }

/// The v1 headers: UNKNOWN, TCP4 and TCP6 (IPv6 with runs of zeroes, so the "::" forms are written and read).
let private v1HeaderFrom (kind: byte) (seed: byte array) (zeroes: byte) (p1: uint16) (p2: uint16) =
    let seed = nonNullBytes seed

    let bytes n offset =
        Array.init n (fun i ->
            if seed.Length = 0 then
                0uy
            else
                seed[(i + offset) % seed.Length])

    let v6 offset =
        let b = bytes 16 offset
        let from = int zeroes % 16
        let count = int (zeroes / 16uy) % (17 - from)
        Array.fill b from count 0uy
        b

    let command =
        match kind % 3uy with
        | 0uy -> Proxy Unspecified
        | 1uy -> Proxy(Ip(Stream, endPoint (bytes 4 0) p1, endPoint (bytes 4 5) p2))
        | _ -> Proxy(Ip(Stream, endPoint (v6 0) p1, endPoint (v6 9) p2))

    {
        Version = Version1
        Command = command
        Tlvs = []
    }

let private encoded header =
    match ProxyProtocol.encode header with
    | Ok bytes -> bytes
    | Error e -> failwithf "cannot encode %A: %A" header e

let private ascii (text: string) = Encoding.ASCII.GetBytes text

let private v1 text =
    decode ProxyProtocol.defaultOptions (ascii text)

let private isHeader expected consumed result =
    match result with
    | Ok(Header(h, n)) -> h = expected && n = consumed
    | _ -> false

let private sourceOf result =
    match result with
    | Ok(Header(h, _)) -> ProxyProtocol.clientOf h
    | _ -> None

let roundTrips =
    testList "round trip" [
        testPropertyWithConfig config "v2: decode (encode h) = h, consuming the whole header and nothing after it"
        <| fun kind seed p1 p2 datagram tlvs (after: byte array) ->
            let header = headerFrom kind seed p1 p2 datagram tlvs
            let bytes = encoded header

            decode keepAll bytes |> isHeader header bytes.Length
            && decode keepAll (Array.append bytes (nonNullBytes after))
               |> isHeader header bytes.Length

        testPropertyWithConfig config "v2 with TLVs skipped: the same header without them, the same length"
        <| fun kind seed p1 p2 datagram tlvs ->
            let header = headerFrom kind seed p1 p2 datagram tlvs
            let bytes = encoded header

            decode { keepAll with KeepTlvs = false } bytes
            |> isHeader { header with Tlvs = [] } bytes.Length

        testPropertyWithConfig config "v1: decode (encode h) = h, at most 107 bytes, nothing after it read"
        <| fun kind seed zeroes p1 p2 (after: byte array) ->
            let header = v1HeaderFrom kind seed zeroes p1 p2
            let bytes = encoded header

            bytes.Length <= ProxyProtocol.MaxV1Length
            && decode keepAll bytes |> isHeader header bytes.Length
            && decode keepAll (Array.append bytes (nonNullBytes after))
               |> isHeader header bytes.Length

        testPropertyWithConfig
            config
            "every strict prefix of a header asks for more (v2: exactly the missing bytes once the length is in)"
        <| fun v2 kind seed zeroes p1 p2 datagram tlvs ->
            let bytes =
                encoded (
                    if v2 then
                        headerFrom kind seed p1 p2 datagram tlvs
                    else
                        v1HeaderFrom kind seed zeroes p1 p2
                )

            [ 0 .. bytes.Length - 1 ]
            |> List.forall (fun cut ->
                match decode keepAll bytes[.. cut - 1] with
                | Ok(NeedMore n) -> n >= 1 && (not v2 || cut < 16 || n = bytes.Length - cut)
                | _ -> false)

        test "what v1 cannot carry is refused by the encoder" {
            let local = {
                Version = Version1
                Command = Local
                Tlvs = []
            }

            let udp = {
                local with
                    Command =
                        Proxy(
                            Ip(Datagram, endPoint [| 1uy; 2uy; 3uy; 4uy |] 1us, endPoint [| 1uy; 2uy; 3uy; 4uy |] 2us)
                        )
            }

            let mixed = {
                local with
                    Command =
                        Proxy(Ip(Stream, endPoint [| 1uy; 2uy; 3uy; 4uy |] 1us, endPoint (Array.zeroCreate 16) 2us))
            }

            Expect.equal (ProxyProtocol.encode local) (Error NotInVersion1) "LOCAL"
            Expect.equal (ProxyProtocol.encode udp) (Error NotInVersion1) "UDP"
            Expect.equal (ProxyProtocol.encode mixed) (Error MixedFamilies) "mixed families"

            Expect.equal
                (ProxyProtocol.encode { mixed with Version = Version2 })
                (Error MixedFamilies)
                "mixed families, v2"

            Expect.equal
                (ProxyProtocol.encode {
                    local with
                        Version = Version2
                        Tlvs = [ { Type = 4uy; Value = [||] } ]
                })
                (Error BadTlvs)
                "TLVs after LOCAL"

            Expect.equal
                (ProxyProtocol.encode {
                    local with
                        Version = Version2
                        Command = Proxy(Unix(Stream, [| 1uy |], Array.zeroCreate 108))
                })
                (Error BadUnixAddress)
                "short UNIX path"
        }
    ]

let private v2Of (versionCommand: byte) (family: byte) (length: int) =
    Array.concat [
        ProxyProtocol.Signature
        [| versionCommand; family; byte (length >>> 8); byte length |]
        Array.zeroCreate length
    ]

let malformed =
    testList "malformed" [
        testPropertyWithConfig config "any input: a typed answer, never beyond the input nor the format's bound"
        <| fun (input: byte array) (cap: uint16) (keep: bool) ->
            let input = nonNullBytes input

            let options = { MaxLength = int cap; KeepTlvs = keep }

            match decode options input with
            | Ok(Header(_, n)) -> n <= input.Length && n <= 16 + 65535 && (input[0] <> 'P'B || n <= 107)
            | Ok(NeedMore n) -> n >= 1
            | Error _ -> true

        testPropertyWithConfig config "every wrong byte of the v2 signature is refused as soon as it arrives"
        <| fun (at: byte) (value: byte) ->
            let at = int at % 12
            let bytes = v2Of 0x21uy 0x11uy 12

            if value = bytes[at] then
                true
            else
                bytes[at] <- value
                // A first byte "P" could start a v1 line: refused at the next byte instead.
                (at = 0 && value = 'P'B || decode keepAll bytes[..at] = Error NotAProxyHeader)
                && decode keepAll bytes = Error NotAProxyHeader

        testPropertyWithConfig config "every wrong byte of v1's \"PROXY \" is refused as soon as it arrives"
        <| fun (at: byte) (value: byte) ->
            let at = int at % 6
            let bytes = ascii "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n"

            if value = bytes[at] || (at = 0 && value = 0x0Duy) then
                true
            else
                bytes[at] <- value
                decode keepAll bytes[..at] = Error NotAProxyHeader

        testPropertyWithConfig
            config
            "a version other than 2 and a command other than LOCAL or PROXY are refused at the 13th byte"
        <| fun (versionCommand: byte) ->
            let bytes = v2Of versionCommand 0x11uy 12
            let version = versionCommand >>> 4
            let command = versionCommand &&& 0x0Fuy

            let expected =
                if version <> 2uy then Error(UnsupportedVersion version)
                elif command > 1uy then Error(UnknownCommand command)
                else Ok(NeedMore 3)

            decode keepAll bytes[..12] = expected

        testPropertyWithConfig
            config
            "a family above 3 or a transport above 2 is refused for PROXY and ignored for LOCAL"
        <| fun (family: byte) ->
            let bad = (family >>> 4) > 3uy || (family &&& 0x0Fuy) > 2uy
            let proxy = decode keepAll (v2Of 0x21uy family 216)
            let local = decode keepAll (v2Of 0x20uy family 216)

            local
            |> isHeader
                {
                    Version = Version2
                    Command = Local
                    Tlvs = []
                }
                232
            && (if bad then
                    proxy = Error(UnknownFamily family)
                else
                    match proxy with
                    | Ok(Header _) -> true
                    | _ -> false)

        testPropertyWithConfig config "a v2 length beyond the cap is refused from the 16 fixed bytes alone"
        <| fun (cap: uint16) (length: uint16) ->
            let limit = min 65551 (max 232 (int cap))
            let bytes = v2Of 0x21uy 0x11uy (int length)

            let options = {
                MaxLength = int cap
                KeepTlvs = false
            }

            let answer = decode options bytes[..15]

            if 16 + int length > limit then
                answer = Error(HeaderTooLong(16 + int length, limit))
            else
                answer =
                    (if length = 0us then
                         decode options bytes
                     else
                         Ok(NeedMore(int length)))

        test "an address block shorter than its family is refused" {
            Expect.equal (decode keepAll (v2Of 0x21uy 0x11uy 11)) (Error(AddressBlockTooShort(11, 12))) "IPv4"
            Expect.equal (decode keepAll (v2Of 0x21uy 0x21uy 35)) (Error(AddressBlockTooShort(35, 36))) "IPv6"
            Expect.equal (decode keepAll (v2Of 0x21uy 0x31uy 215)) (Error(AddressBlockTooShort(215, 216))) "UNIX"
        }

        test "a TLV that runs past the header is refused when kept, and skipped unread otherwise" {
            // 12 address bytes, then type 0x04 claiming 5 bytes where 2 remain.
            let bytes = v2Of 0x21uy 0x11uy 17
            bytes[28] <- 0x04uy
            bytes[30] <- 5uy
            Expect.equal (decode keepAll bytes) (Error(MalformedTlv 28)) "kept"
            let truncatedType = v2Of 0x21uy 0x11uy 14
            Expect.equal (decode keepAll truncatedType) (Error(MalformedTlv 28)) "a TLV with no room for its length"

            Expect.isTrue
                (decode ProxyProtocol.defaultOptions bytes
                 |> isHeader
                     {
                         Version = Version2
                         Command =
                             Proxy(Ip(Stream, endPoint (Array.zeroCreate 4) 0us, endPoint (Array.zeroCreate 4) 0us))
                         Tlvs = []
                     }
                     33)
                "skipped"
        }

        test "v1: numbers, ports and addresses outside the grammar are refused" {
            let cases = [
                "PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n", BadV1Field SourceAddress
                "PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n", BadV1Field SourceAddress
                "PROXY TCP4 1.2.3 5.6.7.8 1 2\r\n", BadV1Field SourceAddress
                "PROXY TCP4 1.2.3.4.5 5.6.7.8 1 2\r\n", BadV1Field SourceAddress
                "PROXY TCP4 1.2.3.-4 5.6.7.8 1 2\r\n", BadV1Field SourceAddress
                "PROXY TCP4 ::1 5.6.7.8 1 2\r\n", BadV1Field SourceAddress
                "PROXY TCP4 1.2.3.4 5.6.7.0x8 1 2\r\n", BadV1Field DestinationAddress
                "PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n", BadV1Field SourcePort
                "PROXY TCP4 1.2.3.4 5.6.7.8 080 2\r\n", BadV1Field SourcePort
                "PROXY TCP4 1.2.3.4 5.6.7.8 +80 2\r\n", BadV1Field SourcePort
                "PROXY TCP4 1.2.3.4 5.6.7.8 1 99999\r\n", BadV1Field DestinationPort
                "PROXY TCP4 1.2.3.4 5.6.7.8 1 \r\n", BadV1Field DestinationPort
                "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", BadV1Field FieldCount
                "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", BadV1Field FieldCount
                "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", BadV1Field FieldCount
                "PROXY TCP6 1.2.3.4 ::1 1 2\r\n", BadV1Field SourceAddress
                "PROXY TCP6 ::1 1:2:3:4:5:6:7:8:9 1 2\r\n", BadV1Field DestinationAddress
                "PROXY TCP6 1::2::3 ::1 1 2\r\n", BadV1Field SourceAddress
                "PROXY TCP6 12345::1 ::1 1 2\r\n", BadV1Field SourceAddress
                "PROXY TCP6 :::1 ::1 1 2\r\n", BadV1Field SourceAddress
                "PROXY TCP6 1:2:3:4:5:6:7 ::1 1 2\r\n", BadV1Field SourceAddress
                "PROXY TCP6 ::1%eth0 ::1 1 2\r\n", BadV1Field SourceAddress
                "PROXY TCP6 1:2:3:4:5:6:7:8:: ::1 1 2\r\n", BadV1Field SourceAddress
                "PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", BadV1Field InetProtocol
                "PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", BadV1Field InetProtocol
                "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", BadLineEnd
                "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", BadLineEnd
                "PROXY UNKNOWN\n", BadLineEnd
            ]

            for text, expected in cases do
                Expect.equal (v1 text) (Error expected) text
        }

        test "v1: an unknown protocol word and a lone line end are refused before the line is complete" {
            Expect.equal (v1 "PROXY TCP5") (Error(BadV1Field InetProtocol)) "protocol"
            Expect.equal (v1 "PROXY X") (Error(BadV1Field InetProtocol)) "one letter"
            Expect.equal (v1 "PROXY TCP4 1.2.3.4\n") (Error BadLineEnd) "lone LF"
            Expect.equal (v1 "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r") (Ok(NeedMore 1)) "CR waits for its LF"
        }

        test "v1: no CRLF within 107 bytes is LineTooLong, also when the CRLF would end at byte 108" {
            Expect.equal (v1 ("PROXY UNKNOWN " + String('x', 200))) (Error LineTooLong) "no line end"
            Expect.equal (v1 ("PROXY UNKNOWN " + String('x', 92) + "\r\n")) (Error LineTooLong) "108 bytes"
            Expect.equal (v1 ("PROXY UNKNOWN " + String('x', 92))) (Error LineTooLong) "106 bytes and a CR to come"
        }
    ]

/// The worked examples of proxy-protocol.txt §2.1 and §2.2.
let vectors =
    let full6 = String.Join(":", Array.create 8 "ffff")

    testList "spec examples" [
        test "§2.1 the longest lines a receiver must take: TCP4 56, TCP6 104, UNKNOWN 15 and 107 bytes" {
            let max4 = v1 "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n"
            let all = IPAddress(Array.create 16 0xFFuy)

            Expect.isTrue
                (max4
                 |> isHeader
                     {
                         Version = Version1
                         Command =
                             Proxy(
                                 Ip(
                                     Stream,
                                     endPoint (Array.create 4 255uy) 65535us,
                                     endPoint (Array.create 4 255uy) 65535us
                                 )
                             )
                         Tlvs = []
                     }
                     56)
                "TCP4"

            let max6 = v1 $"PROXY TCP6 {full6} {full6} 65535 65535\r\n"

            match max6 with
            | Ok(Header({ Command = Proxy(Ip(Stream, s, d)) }, 104)) ->
                Expect.equal (s.Address, s.Port, d.Address, d.Port) (all, 65535us, all, 65535us) "TCP6"
            | other -> failtestf "TCP6: %A" other

            let unknown = {
                Version = Version1
                Command = Proxy Unspecified
                Tlvs = []
            }

            Expect.isTrue (v1 "PROXY UNKNOWN\r\n" |> isHeader unknown 15) "UNKNOWN short form"
            let worst = $"PROXY UNKNOWN {full6} {full6} 65535 65535\r\n"
            Expect.equal worst.Length 107 "the worst case is 107 bytes"
            Expect.isTrue (v1 worst |> isHeader unknown 107) "UNKNOWN worst case"
        }

        test "§2.1 the example before an HTTP request: the line is consumed, the request is not" {
            let text =
                "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\nGET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n"

            let answer = v1 text

            match answer with
            | Ok(Header(_, consumed)) ->
                Expect.equal consumed 47 "the line's length"
                Expect.equal (text.Substring consumed) "GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n" "what follows"
            | other -> failtestf "%A" other

            Expect.equal (sourceOf answer) (Some(endPoint [| 192uy; 168uy; 0uy; 1uy |] 56324us)) "the client"
        }

        test "§2.2 the 13 bytes that identify version 2, and the three address block sizes" {
            let prefix = [|
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
                0x20uy
            |]

            Expect.equal (decode keepAll prefix) (Ok(NeedMore 3)) "LOCAL"

            Expect.equal (decode keepAll (Array.append prefix[..11] [| 0x21uy |])) (Ok(NeedMore 3)) "PROXY"

            for family, size in [ 0x11uy, 12; 0x12uy, 12; 0x21uy, 36; 0x22uy, 36; 0x31uy, 216; 0x32uy, 216 ] do
                match decode keepAll (v2Of 0x21uy family size) with
                | Ok(Header(_, n)) -> Expect.equal n (16 + size) $"family {family:x2}"
                | other -> failtestf "family %02x: %A" family other
        }

        test "§2.2 a TCP over IPv4 header, byte by byte: 127.0.0.1:56324 to 127.0.0.2:443 with a NOOP TLV" {
            let bytes =
                Array.concat [
                    ProxyProtocol.Signature
                    [| 0x21uy; 0x11uy; 0x00uy; 0x0Fuy |]
                    [| 127uy; 0uy; 0uy; 1uy; 127uy; 0uy; 0uy; 2uy; 0xDCuy; 0x04uy; 0x01uy; 0xBBuy |]
                    [| 0x04uy; 0x00uy; 0x00uy |]
                    "HYBR"B
                ]

            let expected = {
                Version = Version2
                Command =
                    Proxy(
                        Ip(
                            Stream,
                            endPoint [| 127uy; 0uy; 0uy; 1uy |] 56324us,
                            endPoint [| 127uy; 0uy; 0uy; 2uy |] 443us
                        )
                    )
                Tlvs = [ { Type = 0x04uy; Value = [||] } ]
            }

            Expect.isTrue (decode keepAll bytes |> isHeader expected 31) "decoded, HYBR left"
            Expect.equal (ProxyProtocol.encode expected) (Ok bytes[..30]) "encoded"
        }

        test "§2.2 LOCAL: the connection's own endpoints, whatever the block holds; len is always honoured" {
            let bytes = v2Of 0x20uy 0x11uy 12

            Expect.isTrue
                (decode keepAll bytes
                 |> isHeader
                     {
                         Version = Version2
                         Command = Local
                         Tlvs = []
                     }
                     28)
                "skipped"

            Expect.equal (sourceOf (decode keepAll bytes)) None "no client address"
        }
    ]

[<Tests>]
let tests = testList "Core.Formats.ProxyProtocol" [ roundTrips; malformed; vectors ]
