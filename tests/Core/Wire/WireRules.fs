/// The rules specs/PROTOCOL.md §12 states that no other test checks on its own: the byte order of the u32
/// payload field, the payload version, an explicit Close reason 00, and what a listener waits for before it
/// answers (the first flight: preamble and a whole first handshake frame).
module HybridProtocol.Tests.WireRules

open System
open Expecto
open HybridProtocol.Core.Wire
open HybridProtocol.Tests.WireDriver

/// A finished XX handshake between the in-memory pair, and the client's send half taken out of its state.
let private openPair (rekey: RekeyPolicy) =
    let client, server = configs "Noise_XX_25519_ChaChaPoly_BLAKE2b"
    let pair = pairOf (client.WithMaxRecordData(4).WithRekey rekey) server
    Pair.pump Whole pair
    Expect.isTrue pair.Client.State.IsOpen "client open"

    match Connection.Traffic pair.Client.State with
    | Ok start -> pair, start.Send
    | Error e -> failtestf "%A" e

/// Seals what one call of the engine writes into a destination of `room` bytes.
let private sealStep (half: SendHalf) (message: byte[]) (offset: int) (room: int) =
    let destination = Array.zeroCreate room

    match SendHalf.Message(half, ReadOnlySpan message, offset, Span destination) with
    | Wrote(next, written, consumed, finished, _) -> next, Array.sub destination 0 written, consumed, finished
    | other -> failtestf "%A" other

let private preamble name =
    Preamble.encode { ProtocolName = name }
    |> Result.defaultWith (fun e -> failtestf "%A" e)

[<Tests>]
let tests =
    testList "Wire rules" [
        test "payload field 02 (largest message) is a u32 in big-endian order" {
            let bytes =
                HandshakePayload.encode {
                    ApplicationProtocol = "a"
                    MaxMessageSize = 0x01020304
                    KeyAnnouncement = None
                    Endorsement = None
                }
                |> Result.defaultWith (fun e -> failtestf "%A" e)

            Expect.equal
                bytes
                [|
                    0x01uy
                    0x01uy
                    0x00uy
                    0x01uy
                    0x61uy
                    0x02uy
                    0x00uy
                    0x04uy
                    1uy
                    2uy
                    3uy
                    4uy
                |]
                "01 | 01 0001 'a' | 02 0004 01020304"

            Expect.equal
                (HandshakePayload.decode (ReadOnlySpan bytes))
                (Ok {
                    ApplicationProtocol = "a"
                    MaxMessageSize = 0x01020304
                    KeyAnnouncement = None
                    Endorsement = None
                })
                "decoded in the same order"
        }

        test "a handshake payload whose version is not 01 is Malformed (UnsupportedPayloadVersion v)" {
            for version in [ 0uy; 2uy; 0xFFuy ] do
                let bytes = [|
                    version
                    0x01uy
                    0x00uy
                    0x00uy
                    0x02uy
                    0x00uy
                    0x04uy
                    0uy
                    0uy
                    1uy
                    0uy
                |]

                Expect.equal
                    (HandshakePayload.decode (ReadOnlySpan bytes))
                    (Error(Malformed(UnsupportedPayloadVersion version)))
                    $"version {version}"
        }

        test "a Close record with the explicit reason byte 00 is Normal, as a Close without one" {
            Expect.equal (Record.CloseReasonOf(ReadOnlySpan [| 0uy |])) CloseReason.Normal "explicit 00"
            Expect.equal (Record.CloseReasonOf(ReadOnlySpan [||])) CloseReason.Normal "absent"

            Expect.equal
                (Record.decode (ReadOnlySpan [| 0uy; byte RecordType.Close |]))
                (Ok {
                    Type = RecordType.Close
                    Data = [| 0uy |]
                })
                "a one-byte Close is well formed"
        }

        test "a Close (Normal) between the Data records of a message is a clean end; the partial message is dropped" {
            let pair, half = openPair RekeyPolicy.Default
            let message = Array.init 10 byte
            // Room for one 4-byte Data record at a time: two Data records, the EndOfMessage never sealed.
            let room = SendHalf.RecordRoom(half, message.Length)
            let half, first, consumed, finished = sealStep half message 0 room
            let half, second, consumed, _ = sealStep half message consumed room
            Expect.isFalse finished "the message is not finished"
            Expect.equal consumed 8 "two Data records of 4 bytes"
            let closeBytes = Array.zeroCreate (SendHalf.ControlLength half)

            let close =
                match SendHalf.Close(half, CloseReason.Normal, Span closeBytes) with
                | Wrote(_, written, _, _, _) -> Array.sub closeBytes 0 written
                | other -> failtestf "%A" other

            pair.Server.Input(Input.Received(ReadOnlyMemory(Array.concat [ first; second; close ])))
            Expect.isEmpty pair.Server.Delivered "nothing delivered"
            Expect.isNone pair.Server.Failure "no failure"
            Expect.isTrue pair.Server.CleanlyClosed "a clean end"
            Expect.isGreaterThan pair.Server.Outbox.Count 0 "the server answers with its Close"
        }

        test "automatic key update: the KeyUpdate follows the AfterRecords-th record under the same key" {
            let after = 3L

            let _, half =
                openPair {
                    AfterRecords = after
                    AfterBytes = Int64.MaxValue
                }
            // Every record of a 2-byte message fits one record: count the records before the key is retired.
            let mutable half = half
            let mutable sealedUnderFirstKey = 0
            let mutable retired = false
            let message = [| 1uy; 2uy |]

            while not retired do
                let destination =
                    Array.zeroCreate (int (SendHalf.MessageLength(half, message.Length)))

                match SendHalf.Message(half, ReadOnlySpan message, 0, Span destination) with
                | Wrote(next, written, _, _, key) ->
                    // One EndOfMessage record of 2 + 1 + 16 bytes and a 2-byte length; with an update, also
                    // the KeyUpdate's 2 + 1 + 16 bytes, sealed under the old key.
                    sealedUnderFirstKey <- sealedUnderFirstKey + written / 19
                    retired <- key.IsSome
                    half <- next
                | other -> failtestf "%A" other

            Expect.equal (int64 sealedUnderFirstKey) (after + 1L) "AfterRecords records, then the KeyUpdate"
        }

        test "a listener answers only a complete first flight: preamble and a whole first frame" {
            let name = "Noise_XX_25519_ChaChaPoly_BLAKE2b"
            let p = preamble name
            let frame = Array.append [| 0uy; 32uy |] (Array.create 32 7uy)
            let flight = Array.append p frame

            for length in 0 .. flight.Length - 1 do
                match Preamble.firstFlight (ReadOnlySpan(flight, 0, length)) with
                | Ok(Incomplete needed) -> Expect.isGreaterThan needed 0 $"{length} bytes: more needed"
                | other -> failtestf "%d bytes: %A" length other

            Expect.equal (Preamble.firstFlight (ReadOnlySpan flight)) (Ok(Decoded((), flight.Length))) "whole flight"

            // A preamble that can be no first flight is judged at once, so its refusal needs no frame.
            for bad in [ "XYZ"B; [| 0x48uy; 0x59uy; 0x42uy; 0x52uy; 2uy |] ] do
                Expect.isError (Preamble.firstFlight (ReadOnlySpan bad)) $"%A{bad}"
        }
    ]
