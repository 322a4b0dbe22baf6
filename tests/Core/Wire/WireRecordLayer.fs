/// The record layer on its own: Seal/Open round trips, key updates (manual and automatic), limits,
/// tampering, close rules, and the allocation-free hot path.
module HybridProtocol.Tests.WireRecordLayer

open System
open Expecto
open HybridProtocol.Core
open HybridProtocol.Core.Noise
open HybridProtocol.Core.Wire
open HybridProtocol.Crypto
open HybridProtocol.Tests.WireDriver

/// The two TransportStates of an NN handshake run directly on the Noise core.
let transports (name: string) =
    let protocol = parse name
    let suite = NSecSuite.For protocol

    let init role e =
        HandshakeState.Initialize suite {
            Protocol = protocol
            Role = role
            Prologue = [||]
            LocalStatic = None
            LocalEphemeral = Some e
            RemoteStatic = None
            RemoteEphemeral = None
            Psks = []
        }
        |> Result.defaultWith (fun e -> failwithf "%A" e)

    let ok r =
        r |> Result.defaultWith (fun e -> failwithf "%A" e)

    let struct (m1, i) =
        HandshakeState.WriteMessage [||] (init Initiator (keyPair 3)) |> ok

    let struct (_, r) = HandshakeState.ReadMessage m1 (init Responder (keyPair 4)) |> ok

    match i, r with
    | Continue i, Continue r ->
        let struct (m2, r) = HandshakeState.WriteMessage [||] r |> ok
        let struct (_, i) = HandshakeState.ReadMessage m2 i |> ok

        match i, r with
        | Complete ti, Complete tr -> ti, tr
        | _ -> failwith "NN has two messages"
    | _ -> failwith "NN has two messages"

let limits = {
    MaxRecordData = 100
    LocalMaxMessageSize = 1000
    PeerMaxMessageSize = 1000
    Rekey = RekeyPolicy.Default
}

let layers (limits: RecordLimits) =
    let ti, tr = transports "Noise_NN_25519_ChaChaPoly_BLAKE2b"

    let create t =
        RecordLayer.Create(t, limits) |> Result.defaultWith (fun e -> failwithf "%A" e)

    create ti, create tr

let seal layer recordType (data: byte[]) =
    let buffer = Array.zeroCreate (RecordLayer.MaxSealLength(layer, data.Length))

    RecordLayer.Seal(layer, recordType, ReadOnlySpan data, Span buffer)
    |> Result.map (fun s -> s, Array.sub buffer 0 s.BytesWritten)

/// Opens one framed record (checks the length field first).
let openFramed layer (framed: byte[]) =
    let length = (int framed[0] <<< 8) ||| int framed[1]
    Expect.equal length (framed.Length - 2) "the length field covers the rest"
    let buffer = Array.zeroCreate (RecordLayer.OpenLength(layer, length))

    RecordLayer.Open(layer, ReadOnlySpan(framed, 2, length), Span buffer)
    |> Result.map (fun o -> o, Array.sub buffer 0 o.DataLength)

let get r =
    r |> Result.defaultWith (fun e -> failtestf "%A" e)

let tests =
    testList "Record layer" [
        testPropertyWithConfig WireCodecs.config "Open (Seal record) gives the record back, with the tag added"
        <| fun (typeIndex: int) (data: byte[]) ->
            let recordType = WireCodecs.recordTypes[abs (typeIndex % 4)]
            let data = WireCodecs.nonNull data |> Array.truncate 100

            let data =
                match recordType with
                | RecordType.Data when data.Length = 0 -> [| 9uy |]
                | RecordType.KeyUpdate -> [||]
                | RecordType.Close -> Array.truncate 1 data
                | _ -> data

            let sender, receiver = layers limits
            let result, framed = seal sender recordType data |> get
            let opened, plaintext = openFramed receiver framed |> get

            framed.Length = 2 + data.Length + 1 + 16
            && opened.Type = recordType
            && (recordType = RecordType.Close || plaintext = data)
            && (recordType <> RecordType.KeyUpdate
                || result.RetiredKey.IsSome && opened.RetiredKey.IsSome)

        test "Open works in place (frame body and destination the same memory)" {
            let sender, receiver = layers limits
            let _, framed = seal sender RecordType.EndOfMessage "in place"B |> get
            let body = Span(framed, 2, framed.Length - 2)
            let opened = RecordLayer.Open(receiver, Span<byte>.op_Implicit body, body) |> get
            Expect.equal (Array.sub framed 2 opened.DataLength) "in place"B "data at offset 0"
        }

        test "a KeyUpdate changes the sending key: the same plaintext at the same nonce encrypts differently" {
            let sender, receiver = layers limits
            // Path A: KeyUpdate (nonce 0), then "x" at nonce 1 under the new key.
            let afterUpdate, updateRecord = seal sender RecordType.KeyUpdate [||] |> get
            let _, a = seal afterUpdate.Layer RecordType.EndOfMessage "x"B |> get
            // Path B: "y" (nonce 0), then "x" at nonce 1 under the old key.
            let afterData, _ = seal sender RecordType.EndOfMessage "y"B |> get
            let _, b = seal afterData.Layer RecordType.EndOfMessage "x"B |> get
            Expect.equal afterUpdate.Layer.SendNonce afterData.Layer.SendNonce "same nonce"
            Expect.notEqual a b "different key, different ciphertext"
            Expect.isTrue afterUpdate.RetiredKey.IsSome "the old key is handed back"
            // The receiver follows: open the KeyUpdate, then "x".
            let opened, _ = openFramed receiver updateRecord |> get
            Expect.equal opened.Type RecordType.KeyUpdate "key update"
            Expect.isTrue opened.RetiredKey.IsSome "the old receiving key is handed back"
            let _, x = openFramed opened.Layer a |> get
            Expect.equal x "x"B "readable under the new key"
            // A receiver that skipped the update cannot read it.
            Expect.isError (openFramed receiver a) "the old key does not open it"
        }

        test "automatic key update after the configured number of records or bytes" {
            let policy = {
                limits with
                    Rekey = {
                        AfterRecords = 3L
                        AfterBytes = 1000L
                    }
            }

            let mutable sender, receiver = layers policy
            let mutable updates = 0

            for i in 1..10 do
                let result, framed = seal sender RecordType.EndOfMessage [| byte i |] |> get
                sender <- result.Layer

                if result.RetiredKey.IsSome then
                    updates <- updates + 1
                    Expect.equal framed.Length (2 * (2 + 1 + 16) + 1) "the record and a KeyUpdate"

                // Split the framed records and open them in order.
                let mutable offset = 0

                while offset < framed.Length do
                    let length = (int framed[offset] <<< 8) ||| int framed[offset + 1]
                    let opened, data = openFramed receiver framed[offset .. offset + 1 + length] |> get
                    receiver <- opened.Layer

                    if opened.Type = RecordType.EndOfMessage then
                        Expect.equal data [| byte i |] "message"

                    offset <- offset + 2 + length

            Expect.equal updates 3 "after records 3, 6 and 9"

            let bytesPolicy = {
                limits with
                    Rekey = {
                        AfterRecords = 1000L
                        AfterBytes = 50L
                    }
            }

            let sender, _ = layers bytesPolicy
            let first, _ = seal sender RecordType.Data (Array.zeroCreate 49) |> get
            Expect.isTrue first.RetiredKey.IsNone "49 bytes"
            let second, _ = seal first.Layer RecordType.Data [| 1uy |] |> get
            Expect.isTrue second.RetiredKey.IsSome "50 bytes"
        }

        test "message limits: the sender refuses past the peer's, the receiver past its own" {
            let small = {
                limits with
                    PeerMaxMessageSize = 150
                    LocalMaxMessageSize = 150
            }

            let sender, _ = layers small
            let s1, _ = seal sender RecordType.Data (Array.zeroCreate 100) |> get

            Expect.equal
                (seal s1.Layer RecordType.EndOfMessage (Array.zeroCreate 51) |> Result.map ignore)
                (Error(MessageTooLarge(151L, 150L)))
                "sender"

            Expect.equal
                (seal sender RecordType.Data (Array.zeroCreate 101) |> Result.map ignore)
                (Error(MessageTooLarge(101L, 100L)))
                "record size"

            // A sender that believes the peer accepts more (a misbehaving peer) meets the receiver's check.
            let loose, _ = layers { small with PeerMaxMessageSize = 1000 }
            let a, r1 = seal loose RecordType.Data (Array.zeroCreate 100) |> get
            let _, r2 = seal a.Layer RecordType.EndOfMessage (Array.zeroCreate 51) |> get
            let _, strictReceiver = layers small
            let o1, _ = openFramed strictReceiver r1 |> get
            Expect.equal o1.Layer.IncomingMessageLength 100L "first fragment counted"
            Expect.equal (openFramed o1.Layer r2 |> Result.map ignore) (Error(MessageTooLarge(151L, 150L))) "receiver"
        }

        testPropertyWithConfig
            WireCodecs.config
            "any flipped bit in a sealed record makes Open fail, typed, writing nothing"
        <| fun (position: int) (bit: int) ->
            let sender, receiver = layers limits
            let _, framed = seal sender RecordType.EndOfMessage "secret data"B |> get
            let body = framed[2..]
            let position = abs (position % body.Length)
            body[position] <- body[position] ^^^ (1uy <<< abs (bit % 8))
            let destination = Array.create body.Length 0xEEuy

            match RecordLayer.Open(receiver, ReadOnlySpan body, Span destination) with
            | Error(Noise Decrypt) -> destination |> Array.take (body.Length - 16) |> Array.forall ((=) 0uy)
            | _ -> false

        test "nothing is sealed after Close; an authenticated record after the peer's Close is UnexpectedRecord" {
            let sender, receiver = layers limits

            let closed, closeRecord =
                seal sender RecordType.Close [| byte CloseReason.ProtocolViolation |] |> get

            Expect.isTrue closed.Layer.SendClosed "send side closed"

            Expect.equal
                (seal closed.Layer RecordType.EndOfMessage [||] |> Result.map ignore)
                (Error ConnectionClosed)
                "seal"

            let opened, _ = openFramed receiver closeRecord |> get
            Expect.equal opened.CloseReason CloseReason.ProtocolViolation "reason"
            // A misbehaving sender: a record under the same key at the next nonce, as if Close had not been sent.
            let first, _ = seal sender RecordType.EndOfMessage "a"B |> get
            let _, late = seal first.Layer RecordType.EndOfMessage "late"B |> get

            Expect.equal
                (openFramed opened.Layer late |> Result.map ignore)
                (Error(UnexpectedRecord RecordType.EndOfMessage))
                "open after Close"
        }

        test "a frame too short for a tag, and a too-small destination, are typed errors" {
            let _, receiver = layers limits
            let short = Array.zeroCreate 16

            Expect.equal
                (RecordLayer.Open(receiver, ReadOnlySpan short, Span(Array.zeroCreate 16))
                 |> Result.map ignore)
                (Error(Malformed(RecordTooShort 16)))
                "16 bytes"

            let sender, _ = layers limits

            Expect.equal
                (RecordLayer.Seal(sender, RecordType.EndOfMessage, ReadOnlySpan [| 1uy |], Span(Array.zeroCreate 10))
                 |> Result.map ignore)
                (Error(BufferTooSmall 20))
                "destination"
        }

        test "Seal and Open do not allocate per record in steady state" {
            let sender, receiver =
                layers {
                    limits with
                        MaxRecordData = 1024
                        LocalMaxMessageSize = 4096
                        PeerMaxMessageSize = 4096
                }

            let payload = Array.create 1024 7uy
            let wire = Array.zeroCreate (RecordLayer.MaxSealLength(sender, payload.Length))
            let plain = Array.zeroCreate 2048
            let mutable sender = sender
            let mutable receiver = receiver

            let run count =
                for _ in 1..count do
                    match RecordLayer.Seal(sender, RecordType.EndOfMessage, ReadOnlySpan payload, Span wire) with
                    | Ok s ->
                        sender <- s.Layer

                        match RecordLayer.Open(receiver, ReadOnlySpan(wire, 2, s.BytesWritten - 2), Span plain) with
                        | Ok o -> receiver <- o.Layer
                        | Error e -> failtestf "%A" e
                    | Error e -> failtestf "%A" e

            run 100 // warm up (JIT, tiering)

            // The smallest of 3 rounds counts: a tier-up or on-stack replacement finishing during one round (seen
            // under heavy machine load, about 8 KB once) is not per record, while one allocation per record would
            // put at least 10,000 bytes into every round.
            let round () =
                let before = GC.GetAllocatedBytesForCurrentThread()
                run 10_000
                GC.GetAllocatedBytesForCurrentThread() - before

            let allocated = List.init 3 (fun _ -> round ()) |> List.min

            printfn
                $"Record layer: 10,000 records of 1 KiB sealed and opened, {allocated} bytes allocated (least of 3 rounds)"

            Expect.isLessThan allocated 1000L "no allocation per record"
        }
    ]

[<Tests>]
let recordLayerTests = tests
