/// The transport engine (core-fsharp/Wire/Traffic.fs) on its own, the functions both the `Connection` state
/// machine and the C# facade drive: fragmentation and reassembly under any buffer sizes and any chunking, key
/// updates (asked for and automatic), the Close exchange, truncation, the close reason after a failure, bit
/// flips, the message limit, the idle rule, and no allocation per record.
module HybridProtocol.Tests.TrafficProperties

open System
open Expecto
open HybridProtocol.Core.Wire
open HybridProtocol.Tests.WireRecordLayer

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 150
}

let private engines (sender: RecordLimits) (receiver: RecordLimits) =
    let ti, tr = transports "Noise_NN_25519_ChaChaPoly_BLAKE2b"

    let create t limits =
        RecordLayer.Create(t, limits) |> Result.defaultWith (failwithf "%A")

    (Traffic.Create(create ti sender)).Send, (Traffic.Create(create tr receiver)).Receive

let private small = {
    MaxRecordData = 50
    LocalMaxMessageSize = 5000
    PeerMaxMessageSize = 5000
    Rekey = {
        AfterRecords = 7L
        AfterBytes = 1000L
    }
}

/// Seals a whole message through destinations of random sizes (NeedRoom answered with the room asked for).
let private sealMessage (random: Random) (half: SendHalf) (message: byte[]) =
    let wire = Collections.Generic.List<byte>()
    let mutable half = half
    let mutable offset = 0
    let mutable finished = false
    let mutable size = random.Next 200

    while not finished do
        let destination = Array.zeroCreate size

        match SendHalf.Message(half, ReadOnlySpan message, offset, Span destination) with
        | Wrote(next, written, consumed, last, _) ->
            half <- next
            offset <- consumed
            finished <- last
            wire.AddRange(destination[.. written - 1])
            size <- random.Next 200
        | NeedRoom needed -> size <- needed
        | SendRefused e -> failtestf "refused %A" e
        | SendFailed(e, _) -> failtestf "failed %A" e

    half, wire.ToArray()

/// What a receiver driver saw: messages, and the event that ended the run (or None when input ran out).
let private receiveAll (random: Random) (half: ReceiveHalf) (wire: byte[]) (endOfInput: bool) =
    let messages = Collections.Generic.List<byte[]>()
    let mutable half = half
    let mutable input = Array.empty<byte>
    let mutable fed = 0
    let mutable destination = Array.zeroCreate (random.Next 100)
    let mutable filled = 0
    let mutable ending = ValueNone

    while ending.IsNone do
        let r = ReceiveHalf.Receive(half, Span input, Span destination, filled)
        half <- r.Half
        input <- input[r.Consumed ..]
        filled <- r.Written

        match r.Event with
        | NeedData when fed < wire.Length ->
            let n = min (wire.Length - fed) (1 + random.Next 120)
            input <- Array.append input wire[fed .. fed + n - 1]
            fed <- fed + n
        | NeedData when endOfInput ->
            let e = ReceiveHalf.EndOfInput half
            half <- e.Half
            ending <- ValueSome e.Event
        | NeedData -> ending <- ValueSome NeedData
        | NeedSpace needed ->
            Expect.isGreaterThan needed destination.Length "NeedSpace asks for more than there is"
            let bigger = Array.zeroCreate needed
            destination[.. filled - 1].CopyTo(bigger, 0)
            destination <- bigger
        | MessageEnd ->
            messages.Add destination[.. filled - 1]
            filled <- 0
            destination <- Array.zeroCreate (random.Next 100)
        | KeyRetired _ -> ()
        | other -> ending <- ValueSome other

    List.ofSeq messages, ending.Value, half

let private messagesOf (random: Random) = [
    for _ in 1 .. random.Next 8 ->
        let m = Array.zeroCreate (random.Next 400)
        random.NextBytes m
        m
]

/// Seals the messages, with key updates at random between them, and optionally a Close at the end.
let private conversation (random: Random) (send: SendHalf) messages (close: CloseReason voption) =
    let mutable send = send
    let wire = Collections.Generic.List<byte>()

    for m in messages do
        if random.Next 4 = 0 then
            let buffer = Array.zeroCreate (SendHalf.ControlLength send)

            match SendHalf.UpdateKey(send, Span buffer) with
            | Wrote(next, written, _, _, _) ->
                send <- next
                wire.AddRange buffer[.. written - 1]
            | other -> failtestf "%A" other

        let next, bytes = sealMessage random send m
        send <- next
        wire.AddRange bytes

    match close with
    | ValueSome reason ->
        let buffer = Array.zeroCreate (SendHalf.ControlLength send)

        match SendHalf.Close(send, reason, Span buffer) with
        | Wrote(next, written, _, _, _) ->
            send <- next
            wire.AddRange buffer[.. written - 1]
        | other -> failtestf "%A" other
    | ValueNone -> ()

    send, wire.ToArray()

[<Tests>]
let tests =
    testList "Traffic engine" [
        testPropertyWithConfig config "any buffer sizes and chunking: the messages arrive whole, in order, then Close"
        <| fun (seed: int) ->
            let random = Random seed
            let send, receive = engines small small
            let messages = messagesOf random
            let send, wire = conversation random send messages (ValueSome CloseReason.Normal)
            let got, ending, receive = receiveAll random receive wire true
            Expect.equal got messages "every message, in order"

            match ending with
            | PeerClosed answer ->
                Expect.equal answer CloseReason.Normal "the peer's Close is answered with a Normal Close"
            | other -> failtest $"the peer's Close ends it: %A{other}"

            Expect.isTrue send.Closed "nothing more can be sent after Close"
            Expect.isTrue (ReceiveHalf.EndOfInput receive).Event.IsPeerClosed "an end of input after Close is clean"

            match SendHalf.Message(send, ReadOnlySpan [| 1uy |], 0, Span(Array.zeroCreate 100)) with
            | SendRefused ConnectionClosed -> ()
            | other -> failtestf "a send after Close: %A" other

        testPropertyWithConfig config "an end of input without Close is Truncated, and no Close is sent"
        <| fun (seed: int) ->
            let random = Random seed
            let send, receive = engines small small
            let messages = messagesOf random
            let _, wire = conversation random send messages (ValueSome CloseReason.Normal)
            let cut = random.Next wire.Length
            let got, ending, _ = receiveAll random receive wire[.. cut - 1] true
            Expect.isTrue (List.length got <= messages.Length && got = List.take got.Length messages) "a prefix"

            match ending with
            | Fatal(Truncated, ValueNone) -> ()
            | other -> failtestf "%A" other

        testPropertyWithConfig
            config
            "a flipped bit fails the receive with a reason to send; nothing false is delivered"
        <| fun (seed: int) ->
            let random = Random seed
            let send, receive = engines small small
            let messages = messagesOf random @ [ [| 7uy |] ]
            let _, wire = conversation random send messages (ValueSome CloseReason.Normal)
            let position = random.Next wire.Length
            wire[position] <- wire[position] ^^^ (1uy <<< random.Next 8)
            let got, ending, _ = receiveAll random receive wire true
            // A flip in the Close record still lets every message through.
            Expect.isTrue (got.Length <= messages.Length && got = List.take got.Length messages) "a prefix"

            match ending with
            | Fatal(_, ValueSome CloseReason.ProtocolViolation)
            | Fatal(MessageTooLarge _, ValueSome CloseReason.MessageTooLarge)
            | Fatal(Truncated, ValueNone) -> ()
            | other -> failtestf "%A" other

        test "a message over the receiver's limit fails with MessageTooLarge, and says so in the Close" {
            let send, receive = engines small { small with LocalMaxMessageSize = 120 }
            let _, wire = conversation (Random 1) send [ Array.create 121 1uy ] ValueNone
            let got, ending, _ = receiveAll (Random 2) receive wire true
            Expect.isEmpty got "nothing delivered"

            match ending with
            | Fatal(MessageTooLarge(_, 120L), ValueSome CloseReason.MessageTooLarge) -> ()
            | other -> failtestf "%A" other
        }

        test
            "a message that breaks part-way (the sending nonce runs out) fails the connection with the Close the engine chose; at offset 0 it is refused" {
            let ti, _ = transports "Noise_NN_25519_ChaChaPoly_BLAKE2b"

            let nearTheEnd = {
                ti with
                    Send =
                        ti.Send
                        |> ValueOption.map (HybridProtocol.Core.Noise.CipherState.SetNonce(UInt64.MaxValue - 3UL))
            }

            let layer =
                RecordLayer.Create(
                    nearTheEnd,
                    {
                        small with
                            Rekey = HybridProtocol.Core.Wire.RekeyPolicy.Default
                    }
                )
                |> Result.defaultWith (failwithf "%A")

            let send = (Traffic.Create layer).Send
            let message = Array.create 200 1uy
            let buffer = Array.zeroCreate 4096

            match SendHalf.Message(send, ReadOnlySpan message, 0, Span buffer) with
            | Wrote(half, written, consumed, false, _) ->
                Expect.isGreaterThan written 0 "records sealed first"
                Expect.isLessThan consumed message.Length "not the whole message"

                match SendHalf.Message(half, ReadOnlySpan message, consumed, Span buffer) with
                | SendFailed(Noise(HybridProtocol.Core.Noise.State HybridProtocol.Core.Noise.NonceExhausted),
                             ValueSome CloseReason.ProtocolViolation) -> ()
                | other -> failtestf "part-way: %A" other

                match SendHalf.Message(half, ReadOnlySpan message, 0, Span buffer) with
                | SendRefused(Noise(HybridProtocol.Core.Noise.State HybridProtocol.Core.Noise.NonceExhausted)) -> ()
                | other -> failtestf "a new message: %A" other
            | other -> failtestf "first call: %A" other
        }

        test "a message over the peer's limit is refused before anything is sealed" {
            let send, _ = engines { small with PeerMaxMessageSize = 10 } small

            match SendHalf.Message(send, ReadOnlySpan(Array.zeroCreate 11), 0, Span(Array.zeroCreate 1000)) with
            | SendRefused(MessageTooLarge(11L, 10L)) -> ()
            | other -> failtestf "%A" other

            Expect.equal send.Nonce 0UL "the half is unchanged"
        }

        test "a Close with a reason fails the receiver with ClosedByPeer and no reply" {
            let send, receive = engines small small

            let _, wire =
                conversation (Random 3) send [ "hi"B ] (ValueSome CloseReason.AuthenticationFailed)

            let got, ending, _ = receiveAll (Random 4) receive wire true
            Expect.equal got [ "hi"B ] "the message before it"

            match ending with
            | Fatal(ClosedByPeer CloseReason.AuthenticationFailed, ValueNone) -> ()
            | other -> failtestf "%A" other
        }

        test "the close reason after a failure comes from the engine" {
            Expect.equal (Traffic.CloseReasonFor(MessageTooLarge(1L, 0L))) CloseReason.MessageTooLarge "too large"
            Expect.equal (Traffic.CloseReasonFor PeerKeyRejected) CloseReason.AuthenticationFailed "key"
            Expect.equal (Traffic.CloseReasonFor(IdleTimeout 5L)) CloseReason.IdleTimeout "idle"
            Expect.equal (Traffic.CloseReasonFor(Malformed EmptyFrame)) CloseReason.ProtocolViolation "bad bytes"
        }

        testPropertyWithConfig config "the idle rule: expired exactly when the timeout has passed"
        <| fun (last: int64) (elapsed: uint16) (timeout: int16) ->
            let now = last + int64 elapsed

            match Traffic.Idle(last, now, int64 timeout) with
            | IdleExpired(CloseReason.IdleTimeout, IdleTimeout t) ->
                Expect.isTrue (timeout > 0s && int64 elapsed >= int64 timeout) "expired only after the timeout"
                Expect.equal t (int64 timeout) "the error names it"
            | Active remaining ->
                Expect.isTrue (timeout <= 0s || int64 elapsed < int64 timeout) "active before it"
                Expect.isGreaterThan remaining 0L "a positive wait"
            | other -> failtestf "%A" other

        test "sending and receiving allocate nothing per record" {
            let limits = {
                small with
                    MaxRecordData = 1000
                    LocalMaxMessageSize = 1 <<< 20
                    PeerMaxMessageSize = 1 <<< 20
                    Rekey = RekeyPolicy.Default
            }

            let mutable send, receive = engines limits limits
            let message = Array.create 1000 5uy
            let wire = Array.zeroCreate (int (SendHalf.MessageLength(send, message.Length)))
            let destination = Array.zeroCreate 1000

            let once () =
                match SendHalf.Message(send, ReadOnlySpan message, 0, Span wire) with
                | Wrote(next, written, _, _, _) ->
                    send <- next
                    let r = ReceiveHalf.Receive(receive, Span(wire, 0, written), Span destination, 0)
                    receive <- r.Half
                | _ -> ()

            for _ in 1..100 do
                once ()

            // The smallest of a few rounds counts (a round can see the runtime's own one-off allocations).
            let round () =
                let before = GC.GetAllocatedBytesForCurrentThread()
                let mutable i = 0

                while i < 1000 do
                    once ()
                    i <- i + 1

                GC.GetAllocatedBytesForCurrentThread() - before

            let allocated = List.min [ round (); round (); round () ]

            Expect.equal allocated 0L "0 bytes for 1000 records each way"
            Expect.equal destination message "intact"
        }
    ]
