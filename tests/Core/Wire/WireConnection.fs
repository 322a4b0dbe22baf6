/// The connection state machine driven end to end by the in-memory pair: handshakes for every offered
/// pattern, message delivery under arbitrary interleavings and chunkings, tampering, truncation,
/// refusals, key updates, peer-key verdicts and application-protocol checks.
module HybridProtocol.Tests.WireConnection

open System
open Expecto
open HybridProtocol.Core
open HybridProtocol.Core.Noise
open HybridProtocol.Core.Wire
open HybridProtocol.Tests.WireDriver

let private smallRecords (client: ClientConfig, server: ServerConfig) =
    let rekey = { AfterRecords = 7L; AfterBytes = 60L }

    client.WithMaxRecordData(5).WithRekey(rekey), server.WithMaxRecordData(7).WithRekey(rekey)

let private clean (pair: Pair) =
    Expect.isNone pair.Client.Failure "client did not fail"
    Expect.isNone pair.Server.Failure "server did not fail"
    Expect.isTrue pair.Client.CleanlyClosed "client closed cleanly"
    Expect.isTrue pair.Server.CleanlyClosed "server closed cleanly"

/// Runs: both queue messages before the handshake, pump, client closes, pump, both transports end.
let private session chunking (clientMessages: byte[] list) (serverMessages: byte[] list) (pair: Pair) =
    for m in clientMessages do
        pair.Client.Send m

    for m in serverMessages do
        pair.Server.Send m

    Pair.pump chunking pair

    // An application closes an open connection (closing during the handshake is tested on its own).
    if pair.Client.State.IsOpen then
        pair.Client.Input Input.CloseRequested

    Pair.pump chunking pair
    Pair.endOfInput pair

let private messagesA = [ "hello"B; [||]; Array.init 40 byte ]
let private messagesB = [ "hi there"B; Array.init 23 (fun i -> byte (100 + i)); [||] ]

let handshakeTests =
    testList "handshake and delivery per pattern" [
        for inPlace in [ false; true ] do
            for name in protocols do
                for chunking in [ Whole; OneByte; RandomSplits 7 ] do
                    let reader = if inPlace then ", ReceiveHandshake" else ""

                    test $"{name} ({chunking}{reader})" {
                        let pair =
                            smallRecords (configs name)
                            |> fun (c, s) -> Pair.createWith inPlace (Connection.Client c) (Connection.Server s)

                        session chunking messagesA messagesB pair
                        clean pair
                        let ci = pair.Client.Completed.Value
                        let si = pair.Server.Completed.Value
                        Expect.equal ci.HandshakeHash si.HandshakeHash "both agree on the handshake hash"
                        Expect.equal ci.ProtocolName name "protocol"
                        Expect.equal ci.Remote.ApplicationProtocol "test/1" "application protocol"

                        match ci.RemoteStatic with
                        | Some key when (parse name).Pattern.Name.StartsWith "NN" ->
                            failtestf "NN has no server key %O" key
                        | Some key -> Expect.isTrue (key.EqualsKey (keyPair 2).Public) "the server's key"
                        | None -> Expect.stringStarts (parse name).Pattern.Name "NN" "only NN has no server key"

                        if initiatorSendsStatic name then
                            Expect.isTrue (si.RemoteStatic.Value.EqualsKey (keyPair 1).Public) "the client's key"

                        Expect.equal pair.Server.Delivered messagesA "server got the client's messages in order"
                        Expect.equal pair.Client.Delivered messagesB "client got the server's messages in order"

                        // Keys learned in the handshake were offered for verification; pinned ones were not.
                        let expectVerify = not (serverKeyPreKnown name) && not (name.Contains "_NN")
                        Expect.equal (pair.Client.Verified.Length = 1) expectVerify "client VerifyPeerKey"

                        Expect.equal
                            (pair.Server.Verified.Length = 1)
                            (initiatorSendsStatic name)
                            "server VerifyPeerKey"
                        // Automatic key updates happened (small interval) and every retired key was disposed.
                        Expect.isGreaterThan pair.Client.Retired.Length 2 "client retired keys"
                        Expect.isGreaterThan pair.Server.Retired.Length 2 "server retired keys"
                    }
    ]

/// One scheduled action of the interleaving property.
let private act
    (pair: Pair)
    (sentByClient: byte[] list ref)
    (sentByServer: byte[] list ref)
    (seed: int)
    (k: int, data: byte[])
    =
    let data = WireCodecs.nonNull data

    let data =
        if k % 11 = 0 then
            Array.init (data.Length * 5 + 20) (fun i -> byte (i * 7))
        else
            data

    let rng = Random(seed + k)

    match abs k % 6 with
    | 0 ->
        pair.Client.Send data
        sentByClient.Value <- sentByClient.Value @ [ data ]
    | 1 ->
        pair.Server.Send data
        sentByServer.Value <- sentByServer.Value @ [ data ]
    | 2 ->
        for piece in chunk (RandomSplits seed) (pair.ToServer.Carry(pair.Client.DrainSome(rng.Next 60))) do
            pair.Server.Input(Input.Received(ReadOnlyMemory piece))
    | 3 ->
        for piece in chunk (RandomSplits seed) (pair.ToClient.Carry(pair.Server.DrainSome(rng.Next 60))) do
            pair.Client.Input(Input.Received(ReadOnlyMemory piece))
    | 4 -> pair.Client.Input Input.UpdateKey
    | _ -> pair.Server.Input Input.UpdateKey

/// What an end wrote before its handshake completed (its preamble or status and its handshake frames).
/// What an end produced before its handshake completed.
let private beforeCompletion (party: Party) =
    party.Events
    |> List.takeWhile (function
        | Output.HandshakeCompleted _ -> false
        | _ -> true)

/// What an end wrote before its handshake completed (its preamble or status and its handshake frames).
let private handshakeBytes (party: Party) =
    beforeCompletion party
    |> List.choose (function
        | Output.Transmit bytes -> Some bytes
        | _ -> None)
    |> Array.concat

let propertyTests =
    testList "interleavings" [
        testPropertyWithConfig
            { WireCodecs.config with maxTest = 100 }
            "ReceiveHandshake consumes the peer's handshake bytes and not one byte behind them, however they are split"
        <| fun (seed: int) (behind: byte[]) (which: int) (client: bool) ->
            let behind = WireCodecs.nonNull behind
            let name = protocols[abs (which % protocols.Length)]
            // A reference run gives the bytes each end writes until its handshake completes.
            let reference = pairOf <|| configs name
            Pair.pump Whole reference
            let peer = handshakeBytes (if client then reference.Server else reference.Client)
            let c, s = configs name

            let struct (start, outputs) =
                (if client then Connection.Client c else Connection.Server s)
                |> Result.defaultWith (failwithf "%A")

            // The end reads as the facade does (its own buffer, ReceiveHandshake); whatever follows the last frame
            // (here: bytes no peer would send) is not the handshake's to read, and goes to the engine after it.
            let p = Party("under test", start, outputs, true)

            for piece in chunk (RandomSplits seed) (Array.append peer behind) do
                p.Input(Input.Received(ReadOnlyMemory piece))

            p.Completed.IsSome
            && p.HandshakeConsumed = peer.Length
            && beforeCompletion p
               |> List.forall (function
                   | Output.Failed _
                   | Output.Rejected _
                   | Output.Deliver _ -> false
                   | _ -> true)
        testPropertyWithConfig
            { WireCodecs.config with maxTest = 150 }
            "arbitrary interleavings of sends both ways, any chunking, deliver exactly the messages in order"
        <| fun (steps: (int * byte[]) list) (seed: int) (which: int) ->
            let name = protocols[abs (which % protocols.Length)]
            let pair = pairOf <|| smallRecords (configs name)
            let sentByClient = ref []
            let sentByServer = ref []
            steps |> List.iter (act pair sentByClient sentByServer seed)
            Pair.pump (RandomSplits seed) pair
            pair.Server.Input Input.CloseRequested
            Pair.pump (if seed % 2 = 0 then OneByte else RandomSplits(seed + 1)) pair
            Pair.endOfInput pair

            pair.Server.Delivered = sentByClient.Value
            && pair.Client.Delivered = sentByServer.Value
            && pair.Client.CleanlyClosed
            && pair.Server.CleanlyClosed
            && pair.Client.Rejections.IsEmpty
            && pair.Server.Rejections.IsEmpty
    ]

/// The baseline session of the tampering tests, byte by byte so that delivery offsets are exact.
let private baseline name =
    let pair = pairOf <|| configs name
    session OneByte messagesA messagesB pair
    clean pair
    pair

let private tamperRun name (toServer: bool) (offset: int) =
    let pair = pairOf <|| configs name
    let link = if toServer then pair.ToServer else pair.ToClient
    link.Tamper <- fun i b -> if i = offset then b ^^^ (1uy <<< (offset % 8)) else b
    session Whole messagesA messagesB pair
    pair

let tamperTests =
    testList "tampering" [
        for name in
            [
                "Noise_XX_25519_ChaChaPoly_BLAKE2b"
                "Noise_NN_25519_AESGCM_SHA256"
                "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2b"
            ] do
            for toServer in [ true; false ] do
                let direction = if toServer then "client to server" else "server to client"

                test $"{name}: flipping a bit of any byte {direction} ends in a typed error, nothing after it delivered" {
                    let reference = baseline name
                    let receiver (p: Pair) = if toServer then p.Server else p.Client
                    let length = (if toServer then reference.ToServer else reference.ToClient).Offset
                    // Every byte for XX; every third for the others to keep the suite fast.
                    let stride = if name.Contains "_XX_" then 1 else 3

                    for offset in 0..stride .. length - 1 do
                        let pair = tamperRun name toServer offset
                        let r = receiver pair
                        let before = receiver reference

                        let expected =
                            List.zip before.Delivered before.DeliveredAt
                            |> List.filter (fun (_, at) -> at <= offset)
                            |> List.map fst

                        Expect.isSome r.Failure $"offset {offset}: the receiver failed"
                        Expect.isFalse r.CleanlyClosed $"offset {offset}: not a clean close"
                        Expect.equal r.Delivered expected $"offset {offset}: only messages complete before the flip"

                    printfn $"Tampering {name} {direction}: {(length + stride - 1) / stride} positions flipped"
                }
    ]

let truncationTests =
    testList "truncation" [
        for name in [ "Noise_XX_25519_ChaChaPoly_BLAKE2b"; "Noise_NK_25519_ChaChaPoly_SHA256" ] do
            for toServer in [ true; false ] do
                let side = if toServer then "client" else "server"

                test $"{name}: cutting the {side}'s stream anywhere gives Truncated, unless Close arrived" {
                    let total =
                        ((baseline name)
                         |> fun p -> if toServer then p.ToServer.Offset else p.ToClient.Offset)

                    for cut in 0..total do
                        let pair = pairOf <|| configs name
                        (if toServer then pair.ToServer else pair.ToClient).CutAt <- cut
                        session Whole messagesA messagesB pair
                        let receiver = if toServer then pair.Server else pair.Client

                        if cut = total then
                            Expect.isTrue receiver.CleanlyClosed "everything arrived: clean close"
                        elif cut = 0 && not toServer then
                            // not even the status byte: the server never answered (issue 26 item 5)
                            Expect.equal receiver.Failure (Some ClosedBeforeAnswer) "no status: closed before answering"
                            Expect.isFalse receiver.CleanlyClosed "not clean"
                        else
                            Expect.equal
                                receiver.Failure
                                (Some(truncationOf name (not toServer) receiver))
                                $"cut at {cut} of {total}"

                            Expect.isFalse receiver.CleanlyClosed "not clean"
                }
    ]

let private refusal (accepted: string list) (serverPsk: bool) (clientName: string) =
    let client, _ = configs clientName
    let _, server = configs accepted.Head

    let server = {
        server with
            AcceptedProtocols = List.map parse accepted
            Psk = if serverPsk then Some psk else None
    }

    let pair = pairOf client server
    session Whole [ "never"B ] [] pair
    pair

let refusalTests =
    let xx = "Noise_XX_25519_ChaChaPoly_BLAKE2b"

    testList "refusals" [
        for accepted, serverPsk, requested, code in
            [
                [ xx ], false, "Noise_XX_25519_AESGCM_SHA256", RefusalCode.UnsupportedSuite
                [ xx ], false, "Noise_IK_25519_ChaChaPoly_BLAKE2b", RefusalCode.UnsupportedPattern
                [ xx ], false, "Noise_NN_25519_ChaChaPoly_BLAKE2b", RefusalCode.ClientAuthenticationRequired
                [ xx ], false, "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b", RefusalCode.PskNotConfigured
                [ "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b" ], true, xx, RefusalCode.PskRequired
                [ "Noise_NX_25519_ChaChaPoly_BLAKE2b" ],
                false,
                "Noise_XN_25519_ChaChaPoly_BLAKE2b",
                RefusalCode.UnsupportedPattern
            ] do
            test $"{requested} against {accepted}: {code}" {
                let pair = refusal accepted serverPsk requested

                match pair.Client.Failure with
                | Some(Refused(c, version, supported)) ->
                    Expect.equal c code "the code reaches the client"
                    Expect.equal version 1uy "server version"
                    Expect.equal supported accepted "what the server accepts"
                | other -> failtestf "client: %A" other

                Expect.equal pair.Server.Failure (Some(RefusedPeer(code, requested))) "server side"
                Expect.isEmpty pair.Server.Delivered "nothing delivered"
                Expect.isNone pair.Client.Completed "no handshake"
            }

        test "a tampered version byte is refused as UnsupportedVersion" {
            let pair = pairOf <|| configs xx
            pair.ToServer.Tamper <- fun i b -> if i = 4 then 2uy else b
            session Whole [] [] pair
            Expect.equal pair.Client.Failure (Some(Refused(RefusalCode.UnsupportedVersion, 1uy, [ xx ]))) "client"
        }

        test "a tampered magic is refused as MalformedPreamble" {
            let pair = pairOf <|| configs xx
            pair.ToServer.Tamper <- fun i b -> if i = 0 then 0uy else b
            session Whole [] [] pair
            Expect.equal pair.Client.Failure (Some(Refused(RefusalCode.MalformedPreamble, 1uy, [ xx ]))) "client"
        }

        test "a preamble rewritten to another accepted suite makes the handshake fail (prologue binding)" {
            let sha256 = "Noise_XX_25519_AESGCM_SHA256"
            let sha512 = "Noise_XX_25519_AESGCM_SHA512"
            let client, server = configs sha256

            let pair =
                pairOf client {
                    server with
                        AcceptedProtocols = [ parse sha256; parse sha512 ]
                }

            let original = Text.Encoding.ASCII.GetBytes sha256
            let replaced = Text.Encoding.ASCII.GetBytes sha512

            pair.ToServer.Tamper <-
                fun i b ->
                    if i >= 6 && i < 6 + original.Length then
                        replaced[i - 6]
                    else
                        b

            session Whole [ "secret"B ] [ "secret"B ] pair
            Expect.equal pair.Client.Failure (Some(Noise HybridProtocol.Core.Noise.Decrypt)) "client sees the tampering"
            Expect.isSome pair.Server.Failure "server failed too"
            Expect.isEmpty pair.Client.Delivered "nothing delivered to the client"
            Expect.isEmpty pair.Server.Delivered "nothing delivered to the server"
        }

        test "a downgrade from XX to NX (same length is impossible, so a different accepted pattern) fails too" {
            // The man in the middle cannot rewrite the name without changing the prologue: even a pattern the
            // server accepts yields a handshake the client cannot complete.
            let xx = "Noise_XX_25519_ChaChaPoly_BLAKE2b"
            let nx = "Noise_NX_25519_ChaChaPoly_BLAKE2b"
            let client, server = configs xx

            let pair =
                pairOf client {
                    server with
                        AcceptedProtocols = [ parse xx; parse nx ]
                }

            pair.ToServer.Tamper <- fun i b -> if i = 12 then byte 'N' else b
            session Whole [ "secret"B ] [ "secret"B ] pair
            Expect.isSome pair.Client.Failure "client failed"
            Expect.isEmpty pair.Client.Delivered "nothing delivered to the client"
            Expect.isEmpty pair.Server.Delivered "nothing delivered to the server"
        }
    ]

let behaviourTests =
    testList "behaviour" [
        test "manual KeyUpdate: the stream keeps working and each side retires one key per update" {
            let pair = pairOf <|| configs "Noise_XX_25519_ChaChaPoly_BLAKE2b"
            Pair.pump Whole pair
            let clientRetired = pair.Client.Retired.Length
            let serverRetired = pair.Server.Retired.Length

            for i in 1..3 do
                pair.Client.Input Input.UpdateKey
                pair.Client.Send [| byte i |]
                Pair.pump OneByte pair

            Expect.equal (pair.Client.Retired.Length - clientRetired) 3 "client retired its old sending keys"
            Expect.equal (pair.Server.Retired.Length - serverRetired) 3 "server retired its old receiving keys"
            Expect.equal pair.Server.Delivered [ [| 1uy |]; [| 2uy |]; [| 3uy |] ] "messages still arrive"
        }

        test "VerifyPeerKey answered with reject: PeerKeyRejected, nothing delivered (NX, XX client; XX, IK server)" {
            for name, rejectingClient in
                [
                    "Noise_NX_25519_ChaChaPoly_BLAKE2b", true
                    "Noise_XX_25519_ChaChaPoly_BLAKE2b", true
                    "Noise_XX_25519_ChaChaPoly_BLAKE2b", false
                    "Noise_IK_25519_ChaChaPoly_BLAKE2b", false
                ] do
                let pair = pairOf <|| configs name
                (if rejectingClient then pair.Client else pair.Server).Verdict <- fun _ -> false
                session Whole messagesA messagesB pair

                let rejecting, other =
                    if rejectingClient then
                        pair.Client, pair.Server
                    else
                        pair.Server, pair.Client

                Expect.equal rejecting.Failure (Some PeerKeyRejected) $"{name}: the rejecting side"
                Expect.isEmpty pair.Client.Delivered $"{name}: nothing delivered to the client"
                Expect.isEmpty pair.Server.Delivered $"{name}: nothing delivered to the server"

                match other.Failure with
                | Some(ClosedByPeer CloseReason.AuthenticationFailed)
                | Some(HandshakeTruncated _)
                | Some Truncated -> ()
                | f -> failtestf "%s: the other side: %A" name f
        }

        test "a pinned key that differs from the transmitted one is rejected without asking" {
            let client, server = configs "Noise_XX_25519_ChaChaPoly_BLAKE2b"
            let pair = pairOf (client.WithRemoteStatic (keyPair 9).Public) server
            session Whole messagesA messagesB pair
            Expect.equal pair.Client.Failure (Some PeerKeyRejected) "client"
            Expect.isEmpty pair.Client.Verified "no VerifyPeerKey"
            Expect.isEmpty pair.Client.Delivered "nothing delivered"
        }

        test "a wrong pinned key in NK: the server cannot decrypt, the client sees the connection cut" {
            let client, server = configs "Noise_NK_25519_ChaChaPoly_BLAKE2b"
            let pair = pairOf (client.WithRemoteStatic (keyPair 9).Public) server
            session Whole messagesA messagesB pair
            Expect.equal pair.Server.Failure (Some(Noise HybridProtocol.Core.Noise.Decrypt)) "server"

            Expect.equal
                pair.Client.Failure
                (Some(HandshakeTruncated HandshakeTruncation.PinnedKeyNotAccepted))
                "client: its pinned key was not accepted"

            Expect.isEmpty pair.Client.Delivered "nothing delivered"
        }

        test "different application protocols: both ends fail with ApplicationProtocolMismatch, nothing delivered" {
            for name in [ "Noise_NN_25519_ChaChaPoly_BLAKE2b"; "Noise_XX_25519_ChaChaPoly_BLAKE2b" ] do
                let client, server = configs name

                let pair =
                    pairOf
                        {
                            client with
                                ApplicationProtocol = "chat/2"
                        }
                        server

                session Whole messagesA messagesB pair
                Expect.equal pair.Client.Failure (Some(ApplicationProtocolMismatch("chat/2", "test/1"))) "client"

                match pair.Server.Failure with
                | Some(ApplicationProtocolMismatch("test/1", "chat/2"))
                | Some(ClosedByPeer CloseReason.ApplicationProtocolMismatch) -> ()
                | f -> failtestf "server: %A" f

                Expect.isEmpty pair.Client.Delivered "nothing delivered to the client"
                Expect.isEmpty pair.Server.Delivered "nothing delivered to the server"
        }

        test "EOF without Close is Truncated; after Failed every input returns the same error" {
            let pair = pairOf <|| configs "Noise_NN_25519_ChaChaPoly_BLAKE2b"
            pair.Client.Send "x"B
            Pair.pump Whole pair
            Pair.endOfInput pair
            Expect.equal pair.Server.Failure (Some Truncated) "server"
            let before = pair.Server.Events.Length
            pair.Server.Send "more"B
            pair.Server.Input(Input.Received(ReadOnlyMemory [| 1uy; 2uy |]))
            pair.Server.Input Input.CloseRequested

            let after =
                pair.Server.Events
                |> List.skip before
                |> List.map (function
                    | Output.Failed e -> Some e
                    | _ -> None)

            Expect.equal after [ Some Truncated; Some Truncated; Some Truncated ] "the same error each time"
        }

        test "a message over the peer's limit is Rejected and the connection stays usable" {
            let client, server = configs "Noise_NN_25519_ChaChaPoly_BLAKE2b"
            let pair = pairOf client (server.WithMaxMessageSize 10)
            Pair.pump Whole pair
            pair.Client.Send(Array.zeroCreate 11)
            Expect.equal pair.Client.Rejections [ MessageTooLarge(11L, 10L) ] "rejected locally"
            pair.Client.Send(Array.zeroCreate 10)
            Pair.pump Whole pair
            Expect.equal pair.Server.Delivered [ Array.zeroCreate 10 ] "the next one arrives"
        }

        test "sends after our Close are Rejected; the peer's messages still arrive until its Close" {
            let pair = pairOf <|| configs "Noise_NN_25519_ChaChaPoly_BLAKE2b"
            Pair.pump Whole pair
            pair.Client.Input Input.CloseRequested
            pair.Client.Send "late"B
            Expect.equal pair.Client.Rejections [ ConnectionClosed ] "rejected"
            // The server sends before it has seen the client's Close.
            pair.Server.Send "still"B
            Pair.pump Whole pair
            Expect.equal pair.Client.Delivered [ "still"B ] "delivered while closing"
            clean pair
        }

        test "a handshake payload where none belongs is a protocol error (rogue client on the raw Noise core)" {
            let name = "Noise_XX_25519_ChaChaPoly_BLAKE2b"
            let _, server = configs name

            let preamble =
                Preamble.encode { ProtocolName = name } |> Result.defaultWith (failwithf "%A")

            let rogue =
                HandshakeState.Initialize (HybridProtocol.Crypto.NSecSuite.For(parse name)) {
                    Protocol = parse name
                    Role = Initiator
                    Prologue = Preamble.prologue preamble
                    LocalStatic = Some(keyPair 1)
                    LocalEphemeral = Some(keyPair 3)
                    RemoteStatic = None
                    RemoteEphemeral = None
                    Psks = []
                }
                |> Result.defaultWith (failwithf "%A")

            // Message 1 of XX must carry an empty payload: the client's parameters belong in message 3.
            let struct (message, _) =
                HandshakeState.WriteMessage "smuggled"B rogue
                |> Result.defaultWith (failwithf "%A")

            let frame =
                Frame.encode (ReadOnlySpan message) |> Result.defaultWith (failwithf "%A")

            let struct (state, _) =
                Connection.Server server |> Result.defaultWith (failwithf "%A")

            let struct (state, outputs) =
                Connection.Step(state, Input.Received(ReadOnlyMemory(Array.append preamble frame)))

            match state with
            | Failed e -> Expect.equal e (Malformed(UnexpectedHandshakePayload 0)) "typed error"
            | _ -> failtest "the server should have failed"

            Expect.isFalse
                (outputs
                 |> List.exists (function
                     | Output.Deliver _ -> true
                     | _ -> false))
                "nothing delivered"
        }

        test "Traffic: a driver continues with the same engine (SendHalf/ReceiveHalf) on the same stream" {
            let pair = pairOf <|| configs "Noise_IK_25519_ChaChaPoly_BLAKE2b"
            pair.Server.Send "first"B
            Pair.pump Whole pair
            Expect.equal pair.Client.Delivered [ "first"B ] "delivered by the state machine"
            pair.Server.Send "second"B
            let stream = pair.Server.Drain()

            // Nothing is handed over but the halves: a state that holds received bytes (half a record given to Step)
            // cannot hand over (they would be lost), one that holds none can.
            let struct (holding, _) =
                Connection.Step(pair.Client.State, Input.Received(ReadOnlyMemory stream[..4]))

            Expect.equal (Connection.Traffic holding |> Result.map ignore) (Error ConnectionClosed) "bytes held"

            let engine =
                Connection.Traffic pair.Client.State |> Result.defaultWith (failwithf "%A")

            let destination = Array.zeroCreate 64

            let r = ReceiveHalf.Receive(engine.Receive, Span stream, Span destination, 0)

            Expect.isTrue r.Event.IsMessageEnd "a whole message"
            Expect.equal destination[.. r.Written - 1] "second"B "its data at the start of the destination"
            Expect.equal r.Consumed stream.Length "the whole record consumed"
            // And the other way: the driver seals, the server's state machine delivers.
            let buffer = Array.zeroCreate 64

            match SendHalf.Message(engine.Send, ReadOnlySpan "reply"B, 0, Span buffer) with
            | Wrote(_, written, consumed, finished, _) ->
                Expect.isTrue finished "one record"
                Expect.equal consumed 5 "all of it"
                pair.Server.Input(Input.Received(ReadOnlyMemory(buffer, 0, written)))
            | other -> failtestf "%A" other

            Expect.equal pair.Server.Delivered [ "reply"B ] "delivered"
        }

        test
            "ReceiveHandshake after Step held part of a frame: the held bytes come first, only the caller's are counted" {
            let name = "Noise_XX_25519_ChaChaPoly_BLAKE2b"
            let reference = pairOf <|| configs name
            Pair.pump Whole reference
            // The server's status and message 2: the client learns the server's key from it and asks for a verdict.
            let peer = handshakeBytes reference.Server

            let struct (start, _) =
                Connection.Client(fst (configs name)) |> Result.defaultWith (failwithf "%A")

            let struct (holding, _) =
                Connection.Step(start, Input.Received(ReadOnlyMemory peer[..9]))

            // Still part of the frame: nothing of the caller's is consumed (the caller keeps its bytes).
            let struct (still, consumed, outputs) =
                Connection.ReceiveHandshake(holding, ArraySegment(peer, 10, 5))

            Expect.equal consumed 0 "an incomplete frame"
            Expect.isEmpty outputs "nothing to do"

            let struct (next, consumed, outputs) =
                Connection.ReceiveHandshake(still, ArraySegment(peer, 10, peer.Length - 10))

            Expect.equal consumed (peer.Length - 10) "the rest of the frame, after the held part"

            Expect.isTrue
                (outputs
                 |> List.exists (function
                     | Output.VerifyPeerKey _ -> true
                     | _ -> false))
                "message 2 read: the server's key awaits its verdict"

            Expect.isTrue next.IsAwaitingVerdict "stopped at the verdict"
        }

        test "a verdict nobody asked for is Rejected and changes nothing" {
            let pair = pairOf <|| configs "Noise_NN_25519_ChaChaPoly_BLAKE2b"
            Pair.pump Whole pair
            pair.Client.Input(Input.PeerKeyVerdict true)
            Expect.equal pair.Client.Rejections [ NoVerdictPending ] "rejected"
            Expect.isTrue pair.Client.State.IsOpen "still open"
        }

        test "closing during the handshake fails with ClosedDuringHandshake and retires the handshake key" {
            let pair = pairOf <|| configs "Noise_XX_25519_ChaChaPoly_BLAKE2b"
            // The server has read message 1 and written message 2: it holds a handshake key.
            pair.Server.Input(Input.Received(ReadOnlyMemory(pair.Client.Drain())))
            let retired = pair.Server.Retired.Length
            pair.Server.Input Input.CloseRequested
            Expect.equal pair.Server.Failure (Some ClosedDuringHandshake) "typed"
            Expect.equal (pair.Server.Retired.Length - retired) 1 "the handshake key is handed back"
        }

        test "a 16 MiB message through Step arrives intact (the convenience path's throughput)" {
            let client, server = configs "Noise_NN_25519_ChaChaPoly_BLAKE2b"
            let pair = pairOf client server
            Pair.pump Whole pair
            let message = Array.init (16 * 1024 * 1024) (fun i -> byte (i * 31 + i / 4096))
            let watch = Diagnostics.Stopwatch.StartNew()
            pair.Client.Send message
            let wire = pair.Client.Drain()

            for piece in Array.chunkBySize 65536 wire do
                pair.Server.Input(Input.Received(ReadOnlyMemory piece))

            let elapsed = watch.Elapsed.TotalSeconds
            Expect.equal pair.Server.Delivered.Length 1 "one message"
            Expect.isTrue (pair.Server.Delivered.Head.AsSpan().SequenceEqual(ReadOnlySpan message)) "intact"
            printfn $"Connection.Step: 16 MiB message sealed and opened in {elapsed:F2} s ({16.0 / elapsed:F0} MiB/s)"
        }
    ]

[<Tests>]
let tests =
    testList "Wire connection" [
        handshakeTests
        propertyTests
        tamperTests
        truncationTests
        refusalTests
        behaviourTests
    ]
