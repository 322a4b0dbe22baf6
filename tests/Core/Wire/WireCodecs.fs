/// Every wire codec as a pair: decode (encode x) = x, and malformed input gives a typed error (never an
/// exception). Also the streaming frame decoder under arbitrary chunkings.
module HybridProtocol.Tests.WireCodecs

open System
open Expecto
open HybridProtocol.Core.Wire

let config = {
    FsCheckConfig.defaultConfig with
        maxTest = 300
}

/// Printable ASCII without space, from arbitrary bytes (1..255 characters).
let nameFrom (seed: byte[]) =
    let seed = if seed.Length = 0 then [| 0uy |] else seed
    String(seed |> Array.truncate 255 |> Array.map (fun b -> char (0x21 + int b % 94)))

let protocolFrom (seed: byte[]) =
    String(seed |> Array.truncate 255 |> Array.map (fun b -> char (0x20 + int b % 95)))

let nonNull (b: byte[]) =
    match box b with
    | null -> [||]
    | _ -> b

/// Splits `data` at the cut points chosen by `seed` (cuts may coincide: empty chunks are allowed too).
let splitAt (cuts: int list) (data: byte[]) =
    let points =
        cuts
        |> List.map (fun c -> abs (c % (data.Length + 1)))
        |> List.append [ 0; data.Length ]
        |> List.sort

    points |> List.pairwise |> List.map (fun (a, b) -> data[a .. b - 1])

let private isTyped (result: Result<'a, WireError>) =
    match result with
    | Ok _
    | Error _ -> true

let frameTests =
    testList "Frame" [
        testPropertyWithConfig config "decode (encode body) = body, consuming 2 + length" (fun (body: byte[]) ->
            let body = if body.Length = 0 then [| 7uy |] else body

            match Frame.encode (ReadOnlySpan body) with
            | Ok frame ->
                match Frame.decode (ReadOnlySpan frame, Frame.MaxLength) with
                | Ok(FrameComplete(decoded, consumed)) -> decoded = body && consumed = body.Length + 2
                | _ -> false
            | Error _ -> false)

        testPropertyWithConfig config "every strict prefix of a frame asks for exactly the missing bytes"
        <| fun (body: byte[]) (cut: int) ->
            let body = if body.Length = 0 then [| 1uy |] else body
            let frame = Frame.encode (ReadOnlySpan body) |> Result.defaultWith (fun _ -> [||])
            let cut = abs (cut % frame.Length)

            match Frame.decode (ReadOnlySpan(frame, 0, cut), Frame.MaxLength) with
            | Ok(NeedMore needed) -> needed = (if cut < 2 then 2 - cut else frame.Length - cut)
            | _ -> false

        test "a zero-length frame is refused on encode and decode" {
            Expect.equal (Frame.encode ReadOnlySpan.Empty) (Error(Malformed EmptyFrame)) "encode"
            Expect.equal (Frame.decode (ReadOnlySpan [| 0uy; 0uy; 1uy |], 100)) (Error(Malformed EmptyFrame)) "decode"
        }

        testPropertyWithConfig config "a length over the limit is refused before any body arrives"
        <| fun (limit: uint16) (excess: uint16) ->
            let limit = max 1 (int limit % 65535)
            let length = min 65535 (limit + 1 + int excess)

            if length <= limit then
                true
            else
                let header = [| byte (length >>> 8); byte length |]

                Frame.decode (ReadOnlySpan header, limit) = Error(Malformed(FrameTooLong(length, limit)))

        testPropertyWithConfig
            config
            "decode of arbitrary bytes is total and typed"
            (fun (input: byte[]) (limit: uint16) ->
                let input = nonNull input

                match Frame.decode (ReadOnlySpan input, max 1 (int limit)) with
                | Ok(NeedMore n) -> n > 0
                | Ok(FrameComplete(body, consumed)) -> body.Length + 2 = consumed && consumed <= input.Length
                | Error(Malformed EmptyFrame)
                | Error(Malformed(FrameTooLong _)) -> true
                | Error _ -> false)
    ]

let preambleTests =
    testList "Preamble" [
        testPropertyWithConfig config "decode (encode p) = p" (fun (seed: byte[]) ->
            let preamble = { ProtocolName = nameFrom seed }

            match Preamble.encode preamble with
            | Ok bytes -> Preamble.decode (ReadOnlySpan bytes) = Ok(Decoded(preamble, bytes.Length))
            | Error _ -> false)

        test "the layout is magic, version, length, name" {
            let bytes =
                Preamble.encode {
                    ProtocolName = "Noise_NN_25519_ChaChaPoly_BLAKE2b"
                }
                |> Result.defaultWith (fun e -> failtestf "%A" e)

            Expect.equal bytes[0..5] [| 0x48uy; 0x59uy; 0x42uy; 0x52uy; 1uy; 33uy |] "HYBR 01 21"
            Expect.equal bytes.Length 39 "6 + 33"
        }

        testPropertyWithConfig config "every strict prefix is Incomplete" (fun (seed: byte[]) (cut: int) ->
            let bytes =
                Preamble.encode { ProtocolName = nameFrom seed } |> Result.defaultValue [||]

            let cut = abs (cut % bytes.Length)

            match Preamble.decode (ReadOnlySpan(bytes, 0, cut)) with
            | Ok(Incomplete n) -> n > 0
            | _ -> false)

        testPropertyWithConfig config "a wrong magic, version, empty or non-ASCII name is refused, typed"
        <| fun (seed: byte[]) (position: int) (value: byte) ->
            let bytes =
                Preamble.encode { ProtocolName = nameFrom seed } |> Result.defaultValue [||]

            let position = abs (position % bytes.Length)
            let tampered = Array.copy bytes
            tampered[position] <- value

            match position, Preamble.decode (ReadOnlySpan tampered) with
            | _, Ok(Decoded(p, _)) when tampered = bytes -> p.ProtocolName = nameFrom seed
            | p, Error(Malformed BadMagic) -> p < 4
            | 4, Error(Malformed(UnknownVersion v)) -> v = value
            | 5, Error(Malformed EmptyProtocolName) -> value = 0uy
            | 5, Ok(Incomplete _) -> int value > bytes.Length - 6
            | 5, Ok(Decoded(p, used)) -> used = 6 + int value && p.ProtocolName.Length = int value
            | p, Error(Malformed NonAsciiName) -> p >= 5 && (value < 0x21uy || value > 0x7Euy)
            | _, Ok(Decoded(p, _)) -> position >= 6 && value >= 0x21uy && value <= 0x7Euy
            | _ -> false

        testPropertyWithConfig config "decode of arbitrary bytes is total and typed" (fun (input: byte[]) ->
            match Preamble.decode (ReadOnlySpan(nonNull input)) with
            | Ok _ -> true
            | Error(Malformed _) -> true
            | Error _ -> false)

        test "the prologue is the context label then the preamble bytes" {
            Expect.equal (Preamble.prologue [| 1uy |]) (Array.append "HybridProtocol/1"B [| 1uy |]) "label || preamble"
        }
    ]

let refusalCodes = [
    RefusalCode.UnsupportedVersion
    RefusalCode.MalformedPreamble
    RefusalCode.UnsupportedPattern
    RefusalCode.UnsupportedSuite
    RefusalCode.PskRequired
    RefusalCode.PskNotConfigured
    RefusalCode.ClientAuthenticationRequired
    RefusalCode.ServerBusy
]

let statusTests =
    testList "ServerStatus" [
        test "accepted is the single byte 0x00" {
            Expect.equal (ServerStatus.encode Accepted) (Ok [| 0uy |]) "0x00"
            Expect.equal (ServerStatus.decode (ReadOnlySpan [| 0uy; 9uy |])) (Ok(Decoded(Accepted, 1))) "one byte"
        }

        testPropertyWithConfig config "decode (encode refusal) = refusal, for every code 0x01..0x1F (known or not)"
        <| fun (code: byte) (version: byte) (names: byte[] list) ->
            let refusal = {
                Code = LanguagePrimitives.EnumOfValue(1uy + code % 0x1Fuy)
                ServerVersion = max 1uy version
                Supported = names |> List.truncate 255 |> List.map nameFrom
            }

            match ServerStatus.encode (Declined refusal) with
            | Ok bytes -> ServerStatus.decode (ReadOnlySpan bytes) = Ok(Decoded(Declined refusal, bytes.Length))
            | Error _ -> false

        testPropertyWithConfig
            config
            "every strict prefix of a refusal is Incomplete"
            (fun (names: byte[] list) (cut: int) ->
                let refusal = {
                    Code = RefusalCode.UnsupportedSuite
                    ServerVersion = 1uy
                    Supported = names |> List.truncate 20 |> List.map nameFrom
                }

                let bytes = ServerStatus.encode (Declined refusal) |> Result.defaultValue [||]
                let cut = abs (cut % bytes.Length)

                match ServerStatus.decode (ReadOnlySpan(bytes, 0, cut)) with
                | Ok(Incomplete n) -> n > 0
                | _ -> false)

        test "an empty or non-ASCII name in a refusal is malformed" {
            Expect.equal
                (ServerStatus.decode (ReadOnlySpan [| 3uy; 1uy; 1uy; 0uy |]))
                (Error(Malformed BadRefusal))
                "empty name"

            Expect.equal
                (ServerStatus.decode (ReadOnlySpan [| 3uy; 1uy; 1uy; 1uy; 0x80uy |]))
                (Error(Malformed BadRefusal))
                "non-ASCII"
        }

        testPropertyWithConfig config "decode of arbitrary bytes is total and typed" (fun (input: byte[]) ->
            match ServerStatus.decode (ReadOnlySpan(nonNull input)) with
            | Ok _
            | Error(Malformed BadRefusal)
            | Error(Malformed(NotAStatus _)) -> true
            | Error _ -> false)

        testPropertyWithConfig
            config
            "a first byte of 0x20 or more cannot be a status: refused at once, with what arrived"
            (fun (first: byte) (rest: byte[]) ->
                let first = 0x20uy + first % 0xE0uy
                let input = Array.append [| first |] (nonNull rest)

                ServerStatus.decode (ReadOnlySpan(input, 0, 1)) = Error(Malformed(NotAStatus [| first |]))
                && ServerStatus.decode (ReadOnlySpan input) = Error(Malformed(NotAStatus(Array.truncate 32 input))))

        test "an SSH banner, an HTTP response and a refusal with version 0 are not a status" {
            let ssh = "SSH-2.0-OpenSSH_9.6\r\n"B
            let http = "HTTP/1.1 400 Bad Request\r\n\r\n"B
            Expect.equal (ServerStatus.decode (ReadOnlySpan ssh)) (Error(Malformed(NotAStatus ssh))) "SSH"
            Expect.equal (ServerStatus.decode (ReadOnlySpan http)) (Error(Malformed(NotAStatus http))) "HTTP"

            Expect.equal
                (ServerStatus.decode (ReadOnlySpan [| 3uy; 0uy |]))
                (Error(Malformed(NotAStatus [| 3uy; 0uy |])))
                "version 0"

            Expect.equal (ServerStatus.decode (ReadOnlySpan [| 0x1Fuy |])) (Ok(Incomplete 2)) "0x1F can be a refusal"
        }

        test "the refusal codes keep their byte values" {
            Expect.equal (refusalCodes |> List.map byte) [ 1uy .. 8uy ] "0x01..0x08 in order"
        }
    ]

let recordTypes = [
    RecordType.Data
    RecordType.EndOfMessage
    RecordType.KeyUpdate
    RecordType.Close
]

let recordTests =
    testList "Record" [
        testPropertyWithConfig config "decode (encode record) = record for every valid record"
        <| fun (typeIndex: int) (data: byte[]) ->
            let recordType = recordTypes[abs (typeIndex % 4)]
            let data = nonNull data

            let data =
                match recordType with
                | RecordType.Data when data.Length = 0 -> [| 1uy |]
                | RecordType.KeyUpdate -> [||]
                | RecordType.Close -> Array.truncate 1 data
                | _ -> data

            let record = { Type = recordType; Data = data }

            match Record.encode record with
            | Ok bytes ->
                bytes[bytes.Length - 1] = byte recordType
                && Record.decode (ReadOnlySpan bytes) = Ok record
            | Error _ -> false

        testPropertyWithConfig
            config
            "an unknown type byte is refused, naming the byte"
            (fun (t: byte) (data: byte[]) ->
                let plaintext = Array.append (nonNull data) [| t |]

                match Record.decode (ReadOnlySpan plaintext) with
                | Error(Malformed(UnknownRecordType b)) -> b = t && (t = 0uy || t > 4uy)
                | Ok r -> byte r.Type = t
                | Error(Malformed EmptyDataRecord) -> t = 1uy
                | Error(Malformed KeyUpdateNotEmpty) -> t = 3uy
                | Error(Malformed(BadCloseRecord _)) -> t = 4uy
                | Error _ -> false)

        test "type rules: Data non-empty, KeyUpdate empty, Close at most one byte, no empty plaintext" {
            Expect.equal (Record.decode (ReadOnlySpan [| 1uy |])) (Error(Malformed EmptyDataRecord)) "empty Data"
            Expect.equal (Record.decode (ReadOnlySpan [| 5uy; 3uy |])) (Error(Malformed KeyUpdateNotEmpty)) "KeyUpdate"
            Expect.equal (Record.decode (ReadOnlySpan [| 1uy; 2uy; 4uy |])) (Error(Malformed(BadCloseRecord 2))) "Close"
            Expect.equal (Record.decode ReadOnlySpan.Empty) (Error(Malformed(RecordTooShort 0))) "empty"

            Expect.equal
                (Record.decode (ReadOnlySpan [| 2uy |]))
                (Ok {
                    Type = RecordType.EndOfMessage
                    Data = [||]
                })
                "an empty message is one empty EndOfMessage"
        }
    ]

let payloadTests =
    testList "HandshakePayload" [
        testPropertyWithConfig config "decode (encode payload) = payload" (fun (seed: byte[]) (size: int) ->
            let payload = {
                ApplicationProtocol = protocolFrom seed
                MaxMessageSize = max 1 (abs (size % Int32.MaxValue))
                KeyAnnouncement = None
                Endorsement = None
            }

            match HandshakePayload.encode payload with
            | Ok bytes -> HandshakePayload.decode (ReadOnlySpan bytes) = Ok payload
            | Error _ -> false)

        test "the layout is version, then id/length/value fields in ascending order" {
            let bytes =
                HandshakePayload.encode {
                    ApplicationProtocol = "ab"
                    MaxMessageSize = 0x01020304
                    KeyAnnouncement = None
                    Endorsement = None
                }
                |> Result.defaultWith (fun e -> failtestf "%A" e)

            Expect.equal
                bytes
                [| 1uy; 1uy; 0uy; 2uy; 0x61uy; 0x62uy; 2uy; 0uy; 4uy; 1uy; 2uy; 3uy; 4uy |]
                "01 | 01 0002 'ab' | 02 0004 01020304"
        }

        testPropertyWithConfig config "every strict prefix is refused (truncated or missing field)"
        <| fun (seed: byte[]) (cut: int) ->
            let bytes =
                HandshakePayload.encode {
                    ApplicationProtocol = protocolFrom seed
                    MaxMessageSize = 1000
                    KeyAnnouncement = None
                    Endorsement = None
                }
                |> Result.defaultValue [||]

            let cut = abs (cut % bytes.Length)

            match HandshakePayload.decode (ReadOnlySpan(bytes, 0, cut)) with
            | Error(Malformed TruncatedPayload)
            | Error(Malformed(MissingField _)) -> true
            | _ -> false

        test "unknown fields are skipped; repeated, out-of-order and impossible ones are refused" {
            let unknown = [|
                1uy
                1uy
                0uy
                0uy
                2uy
                0uy
                4uy
                0uy
                0uy
                0uy
                9uy
                7uy
                0uy
                1uy
                0xFFuy
            |]

            Expect.equal
                (HandshakePayload.decode (ReadOnlySpan unknown))
                (Ok {
                    ApplicationProtocol = ""
                    MaxMessageSize = 9
                    KeyAnnouncement = None
                    Endorsement = None
                })
                "field 7 skipped"

            let repeated = [| 1uy; 1uy; 0uy; 0uy; 1uy; 0uy; 0uy |]

            Expect.equal
                (HandshakePayload.decode (ReadOnlySpan repeated))
                (Error(Malformed(FieldOutOfOrder 1uy)))
                "repeated"

            let zero = [| 1uy; 1uy; 0uy; 0uy; 2uy; 0uy; 4uy; 0uy; 0uy; 0uy; 0uy |]
            Expect.equal (HandshakePayload.decode (ReadOnlySpan zero)) (Error(Malformed(BadField 2uy))) "size 0"
            let huge = [| 1uy; 1uy; 0uy; 0uy; 2uy; 0uy; 4uy; 0x80uy; 0uy; 0uy; 0uy |]
            Expect.equal (HandshakePayload.decode (ReadOnlySpan huge)) (Error(Malformed(BadField 2uy))) "size 2^31"
            let control = [| 1uy; 1uy; 0uy; 1uy; 0x0Auy; 2uy; 0uy; 4uy; 0uy; 0uy; 0uy; 1uy |]
            Expect.equal (HandshakePayload.decode (ReadOnlySpan control)) (Error(Malformed(BadField 1uy))) "newline"

            Expect.equal
                (HandshakePayload.decode (ReadOnlySpan [| 2uy |]))
                (Error(Malformed(UnsupportedPayloadVersion 2uy)))
                "version"

            Expect.equal
                (HandshakePayload.decode (ReadOnlySpan [| 1uy; 2uy; 0uy; 4uy; 0uy; 0uy; 0uy; 1uy |]))
                (Error(Malformed(MissingField 1uy)))
                "no application protocol"
        }

        testPropertyWithConfig config "decode of arbitrary bytes is total and typed" (fun (input: byte[]) ->
            match HandshakePayload.decode (ReadOnlySpan(nonNull input)) with
            | Ok _
            | Error(Malformed _) -> true
            | Error _ -> false)
    ]

[<Tests>]
let tests =
    testList "Wire codecs" [ frameTests; preambleTests; statusTests; recordTests; payloadTests ]
