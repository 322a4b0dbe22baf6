/// An active attacker at the protocol level (issue 7): the pure connection state machine, driven by the
/// in-memory pair of tests/Support/WireDriver.fs, against tampering at every byte, truncation at every boundary,
/// replayed, reordered, dropped, duplicated, reflected and spliced records, key substitution in each
/// authentication mode, downgrades, garbage and low-order X25519 keys. Fixed keys, no clock: deterministic.
/// specs/SECURITY-TESTS.md lists what each test shows and the numbers it prints.
module HybridProtocol.Tests.AdversarialProtocol

open System
open Expecto
open HybridProtocol.Core
open HybridProtocol.Core.Noise
open HybridProtocol.Core.Wire
open HybridProtocol.Tests.TestSupport
open HybridProtocol.Tests.WireDriver

let xx = "Noise_XX_25519_ChaChaPoly_BLAKE2b"

/// XX's hfs twin (Noise HFS with ML-KEM-768), the facade's default for mutual authentication: the same attacks
/// run on it, over a handshake with 2.3 KB of KEM public key and ciphertext in it.
let xxHfs = "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b"

/// Tiny records and frequent automatic key updates: a short session holds every record type many times.
let attackConfigs name =
    let client, server = configs name

    let rekey = {
        AfterRecords = 6L
        AfterBytes = 1000L
    }

    client.WithMaxRecordData(8).WithRekey(rekey), server.WithMaxRecordData(8).WithRekey(rekey)

let clientMessages = [
    "first message from the client"B
    [||]
    Array.init 50 (fun i -> byte (i * 7))
    "a fourth one, long enough for 4"B
    "last"B
]

let serverMessages = [
    "server hello: a message of several records"B
    Array.init 33 byte
    [||]
    "bye, and thanks for all the records"B
]

/// The recorded session: messages queued before the handshake, explicit key updates both ways, more
/// messages, the client's Close and the server's answer.
let script (chunking: Chunking) (pair: Pair) =
    pair.Client.Send clientMessages[0]
    pair.Client.Send clientMessages[1]
    Pair.pump chunking pair
    pair.Client.Input Input.UpdateKey
    pair.Server.Send serverMessages[0]
    pair.Server.Input Input.UpdateKey
    Pair.pump chunking pair

    for m in clientMessages[2..] do
        pair.Client.Send m

    for m in serverMessages[1..] do
        pair.Server.Send m

    pair.Server.Input Input.UpdateKey
    pair.Client.Input Input.UpdateKey
    Pair.pump chunking pair

    if pair.Client.State.IsOpen then
        pair.Client.Input Input.CloseRequested

    Pair.pump chunking pair
    Pair.endOfInput pair

let sessionOf (client: ClientConfig, server: ServerConfig) chunking =
    let pair = pairOf client server
    script chunking pair
    pair

/// One direction of a recorded session: the cleartext head (preamble or status byte), then the frames.
type Stream = {
    Head: byte[]
    /// Each frame with its 2-byte length field.
    Frames: byte[] list
}

let bytesOf (s: Stream) = Array.concat (s.Head :: s.Frames)

let splitFrames (headLength: int) (bytes: byte[]) =
    let rec frames offset acc =
        if offset >= bytes.Length then
            List.rev acc
        else
            let length = 2 + ((int bytes[offset] <<< 8) ||| int bytes[offset + 1])
            frames (offset + length) (bytes[offset .. offset + length - 1] :: acc)

    {
        Head = bytes[0 .. headLength - 1]
        Frames = frames headLength []
    }

let toServerStream (carried: byte[]) =
    splitFrames (6 + int carried[5]) carried

let toClientStream (carried: byte[]) = splitFrames 1 carried

let party name (result: Result<struct (Connection * Output list), WireError>) =
    match result with
    | Ok(struct (state, outputs)) -> Party(name, state, outputs)
    | Error e -> failwithf "%s config refused: %A" name e

/// A lone receiver fed a whole stream, then end of input. Its own outputs go nowhere: the peer's stream is
/// fixed, and with fixed keys the receiver behaves as in the recorded session.
let feed (receiver: Party) (chunks: byte[] list) =
    for c in chunks do
        if c.Length > 0 then
            receiver.Input(Input.Received(ReadOnlyMemory c))

    receiver.Input Input.EndOfInput
    receiver

let freshServer (server: ServerConfig) =
    party "server" (Connection.Server server)

let freshClient (client: ClientConfig) =
    party "client" (Connection.Client client)

/// The honest session of a protocol, recorded byte by byte so that delivery offsets are exact.
type Recorded = {
    Name: string
    Pair: Pair
    ToServer: Stream
    ToClient: Stream
    /// Messages the server / client has delivered after the head and the first k frames.
    ServerDeliveredAfter: int[]
    ClientDeliveredAfter: int[]
}

let deliveredAfter (fresh: unit -> Party) (s: Stream) =
    let p = fresh ()
    p.Input(Input.Received(ReadOnlyMemory s.Head))

    [|
        yield p.Delivered.Length
        for f in s.Frames do
            p.Input(Input.Received(ReadOnlyMemory f))
            yield p.Delivered.Length
    |]

let record name =
    let client, server = attackConfigs name
    let pair = sessionOf (client, server) OneByte
    let toServer = toServerStream pair.ToServer.Carried
    let toClient = toClientStream pair.ToClient.Carried

    {
        Name = name
        Pair = pair
        ToServer = toServer
        ToClient = toClient
        ServerDeliveredAfter = deliveredAfter (fun () -> freshServer server) toServer
        ClientDeliveredAfter = deliveredAfter (fun () -> freshClient client) toClient
    }

let recordedXX = lazy (record xx)
let recordedXXhfs = lazy (record xxHfs)

let handshakeFramesFrom (name: string) (toServer: bool) =
    (parse name).Pattern.Messages
    |> List.indexed
    |> List.filter (fun (i, _) -> (i % 2 = 0) = toServer)
    |> List.length

/// The honest receiver's messages, first `count` of them.
let prefix (messages: byte[] list) count = List.truncate count messages

/// Frames shared from the start by two frame lists.
let commonPrefix (a: byte[] list) (b: byte[] list) =
    Seq.zip a b |> Seq.takeWhile (fun (x, y) -> x = y) |> Seq.length

let honestSessionTests =
    testList "recorded session" [
        test "the recorded XX session is clean and has at least 20 transport records each way, of every type" {
            let r = recordedXX.Force()
            Expect.isNone r.Pair.Client.Failure "client"
            Expect.isNone r.Pair.Server.Failure "server"
            Expect.isTrue (r.Pair.Client.CleanlyClosed && r.Pair.Server.CleanlyClosed) "clean close"
            Expect.equal r.Pair.Server.Delivered clientMessages "server delivered"
            Expect.equal r.Pair.Client.Delivered serverMessages "client delivered"
            let c2s = r.ToServer.Frames.Length - handshakeFramesFrom xx true
            let s2c = r.ToClient.Frames.Length - handshakeFramesFrom xx false
            Expect.isGreaterThanOrEqual c2s 20 "client records"
            Expect.isGreaterThanOrEqual s2c 20 "server records"
            // Record types, seen from the receiving ends: key updates retire receiving keys.
            Expect.isGreaterThan r.Pair.Server.Retired.Length 3 "key updates reached the server"
            Expect.isGreaterThan r.Pair.Client.Retired.Length 3 "key updates reached the client"

            printfn
                $"Recorded session {xx}: {r.ToServer.Frames.Length} frames ({c2s} records) client to server, {r.ToClient.Frames.Length} frames server to client ({s2c} records), {r.Pair.ToServer.Offset} + {r.Pair.ToClient.Offset} bytes"
        }
    ]

/// A fresh session whose link in one direction flips one bit at `offset`.
let tamperRun name (toServer: bool) (offset: int) =
    let pair = pairOf <|| attackConfigs name
    let link = if toServer then pair.ToServer else pair.ToClient
    link.Tamper <- fun i b -> if i = offset then b ^^^ (1uy <<< (offset % 8)) else b
    script Whole pair
    pair

/// The honest receiver's messages that were complete within the first `count` bytes it received.
let completeWithin (honest: Party) (count: int) =
    List.zip honest.Delivered honest.DeliveredAt
    |> List.filter (fun (_, at) -> at <= count)
    |> List.map fst

let tamperTests =
    testList "tamper every byte" [
        for name in
            [
                xx
                "Noise_IKpsk2_25519_AESGCM_SHA256"
                "Noise_NK_25519_ChaChaPoly_SHA512"
                xxHfs
            ] do
            for toServer in [ true; false ] do
                let direction = if toServer then "client to server" else "server to client"

                test
                    $"{name} {direction}: each flipped bit ends in a typed error, nothing from that record on is delivered" {
                    let honest = sessionOf (attackConfigs name) OneByte
                    let receiverOf (p: Pair) = if toServer then p.Server else p.Client
                    let length = (if toServer then honest.ToServer else honest.ToClient).Offset
                    let mutable tried = 0
                    let errors = Collections.Generic.Dictionary<string, int>()

                    for offset in 0 .. length - 1 do
                        let r = receiverOf (tamperRun name toServer offset)
                        tried <- tried + 1

                        match r.Failure with
                        | Some e ->
                            let key = (sprintf "%A" e).Split(' ', '(')[0]

                            errors[key] <-
                                (match errors.TryGetValue key with
                                 | true, n -> n + 1
                                 | _ -> 1)
                        | None -> failtestf "offset %d: no failure" offset

                        Expect.isFalse r.CleanlyClosed $"offset {offset}: not a clean close"

                        Expect.equal
                            r.Delivered
                            (completeWithin (receiverOf honest) offset)
                            $"offset {offset}: only messages complete before the flip"

                    let summary =
                        errors |> Seq.map (fun kv -> $"{kv.Key} {kv.Value}") |> String.concat ", "

                    printfn $"Tamper {name} {direction}: {tried} of {length} positions flipped ({summary})"
                }
    ]

let truncationTests =
    testList "truncate every boundary" [
        for name in [ xx; "Noise_IK_25519_ChaChaPoly_BLAKE2b"; xxHfs ] do
            for toServer in [ true; false ] do
                let side = if toServer then "client" else "server"

                test $"{name}: the {side}'s stream cut anywhere gives Truncated unless its Close arrived" {
                    let honest = sessionOf (attackConfigs name) OneByte
                    let total = (if toServer then honest.ToServer else honest.ToClient).Offset

                    for cut in 0..total do
                        let pair = pairOf <|| attackConfigs name
                        (if toServer then pair.ToServer else pair.ToClient).CutAt <- cut
                        script Whole pair

                        let receiver, honestReceiver =
                            if toServer then
                                pair.Server, honest.Server
                            else
                                pair.Client, honest.Client

                        if cut = total then
                            Expect.isTrue receiver.CleanlyClosed "everything arrived: clean close"
                        elif cut = 0 && not toServer then
                            // [P14]: no byte of the server's answer: it closed before answering, no key is blamed.
                            Expect.equal receiver.Failure (Some ClosedBeforeAnswer) "cut at 0: closed before answering"
                        else
                            Expect.equal
                                receiver.Failure
                                (Some(truncationOf name (not toServer) receiver))
                                $"cut at {cut} of {total}"

                            Expect.isFalse receiver.CleanlyClosed $"cut at {cut}: not clean"

                        Expect.equal receiver.Delivered (completeWithin honestReceiver cut) $"cut at {cut}: delivered"

                    printfn $"Truncate {name} {side}'s stream: {total + 1} cut points"
                }

        test
            "a server that closes before answering (no status byte) is reported as closed before answering, in the reference driver" {
            for name in
                [
                    xx
                    "Noise_IK_25519_ChaChaPoly_BLAKE2b"
                    xxHfs
                    "Noise_NK_25519_ChaChaPoly_BLAKE2b"
                ] do
                let pair = pairOf <|| attackConfigs name
                pair.ToClient.CutAt <- 0
                script Whole pair
                Expect.equal pair.Client.Failure (Some ClosedBeforeAnswer) $"{name}: never a key or handshake error"
                Expect.isEmpty pair.Client.Delivered $"{name}: nothing delivered"
        }
    ]

/// Every way to drop, duplicate (replay) or move (reorder) one frame of a stream.
let manipulations (frames: byte[] list) = [
    let n = frames.Length
    let at = List.toArray frames

    for i in 0 .. n - 1 do
        $"drop {i}", List.removeAt i frames

    for i in 0 .. n - 1 do
        for j in 0..n do
            $"duplicate {i} at {j}", List.insertAt j at[i] frames

    for i in 0 .. n - 1 do
        for j in 0 .. n - 1 do
            if i <> j then
                $"move {i} to {j}", List.insertAt j at[i] (List.removeAt i frames)
]

/// The receiver of a manipulated stream: if the honest frames are not all there, in order, from the start,
/// it fails with a typed error and delivers exactly the messages of the unchanged prefix; if they are
/// (extra frames after the authenticated Close), the connection had already ended cleanly.
let judge
    (label: string)
    (honestFrames: byte[] list)
    (deliveredAfter: int[])
    (honestDelivered: byte[] list)
    frames
    (p: Party)
    =
    let k = commonPrefix honestFrames frames

    if k = honestFrames.Length then
        Expect.isTrue p.CleanlyClosed $"{label}: the honest stream came first: clean"
        Expect.equal p.Delivered honestDelivered $"{label}: delivered"
    else
        Expect.isSome p.Failure $"{label}: typed error"
        Expect.isFalse p.CleanlyClosed $"{label}: not clean"
        Expect.equal p.Delivered (prefix honestDelivered deliveredAfter[k]) $"{label}: only the unchanged prefix"

let errorName (p: Party) =
    match p.Failure with
    | Some e -> (sprintf "%A" e).Split(' ', '(')[0]
    | None -> "none"

let countBy (names: string seq) =
    names
    |> Seq.countBy id
    |> Seq.map (fun (k, n) -> $"{k} {n}")
    |> String.concat ", "

let recordTests =
    testList "replay, reorder, drop, duplicate" [
        for name, recorded in [ xx, recordedXX; xxHfs, recordedXXhfs ] do
            for toServer in [ true; false ] do
                let direction = if toServer then "client to server" else "server to client"

                test $"{name} {direction}: every single drop, duplicate and move of a frame is detected" {
                    let r = recorded.Force()
                    let client, server = attackConfigs name
                    let stream = if toServer then r.ToServer else r.ToClient

                    let fresh () =
                        if toServer then freshServer server else freshClient client

                    let after =
                        if toServer then
                            r.ServerDeliveredAfter
                        else
                            r.ClientDeliveredAfter

                    let honestDelivered =
                        if toServer then
                            r.Pair.Server.Delivered
                        else
                            r.Pair.Client.Delivered

                    let cases = manipulations stream.Frames

                    let outcomes = [
                        for label, frames in cases do
                            let p = feed (fresh ()) [ Array.concat (stream.Head :: frames) ]
                            judge label stream.Frames after honestDelivered frames p
                            errorName p
                    ]

                    printfn
                        $"Replay/reorder/drop {direction}: {cases.Length} manipulated streams of {stream.Frames.Length} frames ({countBy outcomes})"
                }

        test "a whole recorded handshake replayed to a new server (fresh ephemeral key) delivers nothing" {
            let outcomes = [
                for name in protocols do
                    let client, server = attackConfigs name
                    let recorded = sessionOf (client, server) Whole

                    let replayTarget =
                        freshServer {
                            server with
                                LocalEphemeral = keyPair 6
                        }

                    let p = feed replayTarget [ recorded.ToServer.Carried ]
                    Expect.isEmpty p.Delivered $"{name}: nothing delivered"
                    Expect.equal p.Failure (Some(Noise Decrypt)) $"{name}: the first record the client sealed fails"
                    Expect.isFalse p.CleanlyClosed $"{name}: not clean"
                    $"{name}: {errorName p}"
            ]

            printfn $"Handshake replay: {outcomes.Length} protocols, all Noise Decrypt"
        }

        test "a party's own bytes reflected back to it: typed errors, nothing delivered" {
            let r = recordedXX.Force()
            let client, server = attackConfigs xx
            // Before the handshake: each end fed the whole stream it sent.
            let c = feed (freshClient client) [ bytesOf r.ToServer ]
            let s = feed (freshServer server) [ bytesOf r.ToClient ]
            Expect.isSome c.Failure "client fed its own stream"
            Expect.equal s.Failure (Some(RefusedPeer(RefusalCode.MalformedPreamble, ""))) "server fed its own stream"
            // In the handshake: the server's message 2 comes back to it as message 3.
            let s2 =
                feed (freshServer server) [ r.ToServer.Head; r.ToServer.Frames[0]; r.ToClient.Frames[0] ]

            Expect.equal s2.Failure (Some(Noise Decrypt)) "server fed its own handshake message"
            // In the transport phase: each end's records come back to it.
            for toClient in [ true; false ] do
                let pair = pairOf client server
                Pair.pump Whole pair
                let sender = if toClient then pair.Client else pair.Server
                sender.Send "reflected"B
                let bytes = sender.Drain()
                sender.Input(Input.Received(ReadOnlyMemory bytes))
                Expect.equal sender.Failure (Some(Noise Decrypt)) $"{sender.Name}: own record"
                Expect.isEmpty sender.Delivered $"{sender.Name}: nothing delivered"

            Expect.isEmpty (c.Delivered @ s.Delivered @ s2.Delivered) "nothing delivered"
        }

        test "records spliced from another session with the same static keys are detected" {
            let a = recordedXX.Force()
            let client, server = attackConfigs xx

            let clientB = {
                client with
                    LocalEphemeral = keyPair 5
            }

            let serverB = {
                server with
                    LocalEphemeral = keyPair 6
            }

            let pairB = sessionOf (clientB, serverB) Whole
            let bToServer = toServerStream pairB.ToServer.Carried
            let bToClient = toClientStream pairB.ToClient.Carried
            let mutable cases = 0

            for toServer in [ true; false ] do
                let aStream, bStream =
                    if toServer then
                        a.ToServer, bToServer
                    else
                        a.ToClient, bToClient

                let fresh () =
                    if toServer then
                        freshServer serverB
                    else
                        freshClient clientB

                let after = deliveredAfter fresh bStream

                let honest =
                    if toServer then
                        pairB.Server.Delivered
                    else
                        pairB.Client.Delivered

                let n = min aStream.Frames.Length bStream.Frames.Length

                for i in 0 .. n - 1 do
                    for label, frames in
                        [
                            $"replace {i}", List.updateAt i aStream.Frames[i] bStream.Frames
                            $"insert {i}", List.insertAt i aStream.Frames[i] bStream.Frames
                        ] do
                        let p = feed (fresh ()) [ Array.concat (bStream.Head :: frames) ]
                        judge label bStream.Frames after honest frames p
                        cases <- cases + 1

            printfn $"Splice: {cases} streams with one frame from another session of the same static keys"
        }
    ]

let nx = "Noise_NX_25519_ChaChaPoly_BLAKE2b"
let nk = "Noise_NK_25519_ChaChaPoly_BLAKE2b"
let ik = "Noise_IK_25519_ChaChaPoly_BLAKE2b"
let realServerKey = (keyPair 2).Public
let realClientKey = (keyPair 1).Public
let attackerKey = keyPair 9

let mitmTests =
    testList "man in the middle substituting keys" [
        for name in
            [
                nk
                ik
                "Noise_NKpsk0_25519_AESGCM_BLAKE2b"
                "Noise_IKpsk2_25519_ChaChaPoly_SHA256"
            ] do
            test $"{name} (pinned server key): an attacker with its own key cannot complete the handshake" {
                let client, server = attackConfigs name
                let pair = pairOf client (server.WithLocalStatic attackerKey)
                script Whole pair
                Expect.equal pair.Server.Failure (Some(Noise Decrypt)) "the attacker cannot read message 1"

                Expect.equal
                    pair.Client.Failure
                    (Some(HandshakeTruncated HandshakeTruncation.PinnedKeyNotAccepted))
                    "the client is cut off: its pinned key was not accepted"

                Expect.isNone pair.Client.Completed "no handshake on the client"
                Expect.isNone pair.Server.Completed "no handshake on the attacker"
                Expect.isEmpty pair.Server.Delivered "the attacker got nothing"
                Expect.isEmpty pair.Client.Delivered "the client got nothing"
            }

        for name in [ nx; xx ] do
            test
                $"{name}: VerifyPeerKey shows the attacker's key; a verifier that compares rejects it, only accept-all lets it through" {
                let client, server = attackConfigs name
                // A verifier that knows the real key.
                let pair = pairOf client (server.WithLocalStatic attackerKey)
                pair.Client.Verdict <- fun k -> k.EqualsKey realServerKey
                script Whole pair
                Expect.equal pair.Client.Verified.Length 1 "one VerifyPeerKey"
                Expect.isTrue (pair.Client.Verified.Head.EqualsKey attackerKey.Public) "it shows the attacker's key"
                Expect.equal pair.Client.Failure (Some PeerKeyRejected) "rejected"
                Expect.isEmpty pair.Server.Delivered "the attacker got nothing"
                Expect.isEmpty pair.Client.Delivered "the client got nothing"
                // A pinned key (transmitted patterns compare it without asking).
                let pinned =
                    pairOf (client.WithRemoteStatic realServerKey) (server.WithLocalStatic attackerKey)

                script Whole pinned
                Expect.equal pinned.Client.Failure (Some PeerKeyRejected) "pinned: rejected"
                Expect.isEmpty pinned.Client.Verified "pinned: not asked"
                Expect.isEmpty pinned.Server.Delivered "pinned: the attacker got nothing"
                // Accept every key (the insecure mode): the attacker reads everything.
                let open' = pairOf client (server.WithLocalStatic attackerKey)
                open'.Client.Verdict <- fun _ -> true
                script Whole open'
                Expect.isNone open'.Client.Failure "accept-all: connected to the attacker"
                Expect.equal open'.Server.Delivered clientMessages "accept-all: the attacker read every message"
            }

        for name in [ xx; ik ] do
            test $"{name}: a client key substituted by an attacker is rejected by a server that compares it" {
                let client, server = attackConfigs name
                let pair = pairOf (client.WithLocalStatic attackerKey) server
                pair.Server.Verdict <- fun k -> k.EqualsKey realClientKey
                script Whole pair

                Expect.isTrue
                    (pair.Server.Verified.Head.EqualsKey attackerKey.Public)
                    "the server sees the attacker's key"

                Expect.equal pair.Server.Failure (Some PeerKeyRejected) "rejected"
                Expect.isEmpty pair.Server.Delivered "nothing delivered to the server"
                Expect.isEmpty pair.Client.Delivered "nothing delivered to the attacker"
                let open' = pairOf (client.WithLocalStatic attackerKey) server
                script Whole open'
                Expect.equal open'.Server.Delivered clientMessages "accept-all: the attacker gets through"
            }

        for name in
            [
                "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b"
                "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b"
            ] do
            test $"{name}: an attacker without the PSK cannot complete the handshake either way" {
                let client, server = attackConfigs name
                let wrong = Array.init 32 byte

                for pair in [ pairOf (client.WithPsk wrong) server; pairOf client (server.WithPsk wrong) ] do
                    pair.Client.Verdict <- fun _ -> true
                    pair.Server.Verdict <- fun _ -> true
                    script Whole pair
                    Expect.isSome pair.Client.Failure "client failed"
                    Expect.isSome pair.Server.Failure "server failed"
                    Expect.isEmpty (pair.Client.Delivered @ pair.Server.Delivered) "nothing delivered"
            }
    ]

/// Rewrites the preamble the client has queued (before anything moved) with `rewrite`.
let rewritePreamble (pair: Pair) (rewrite: byte[] -> byte[]) =
    let sent = pair.Client.Drain()
    let length = 6 + int sent[5]
    pair.Client.Outbox.AddRange(Array.append (rewrite sent[0 .. length - 1]) sent[length..])

let downgradeTests =
    let accepted = [
        xx
        nx
        nk
        ik
        "Noise_NN_25519_ChaChaPoly_BLAKE2b"
        "Noise_XK_25519_ChaChaPoly_BLAKE2b"
        "Noise_XX_25519_AESGCM_BLAKE2b"
        "Noise_XX_25519_ChaChaPoly_SHA256"
        "Noise_XX_25519_AESGCM_SHA512"
        "Noise_IK_25519_AESGCM_SHA256"
        // Noise HFS: a hybrid client rewritten to its classical twin (and back) must fail, not downgrade.
        xxHfs
        "Noise_IKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b"
    ]

    testList "downgrade" [
        for clientName in [ xx; ik; xxHfs ] do
            test $"{clientName}: a preamble rewritten to any other name the server accepts fails; others are refused" {
                let mutable cases = 0

                for target in accepted @ [ "Noise_XX_25519_AESGCM_SHA256"; "Noise_NN_448_ChaChaPoly_BLAKE2b" ] do
                    if target <> clientName then
                        let client, server = attackConfigs clientName

                        let pair =
                            pairOf client {
                                server with
                                    AcceptedProtocols = List.map parse accepted
                            }

                        rewritePreamble pair (fun _ ->
                            Preamble.encode { ProtocolName = target } |> Result.defaultWith (failwithf "%A"))

                        script Whole pair
                        cases <- cases + 1
                        Expect.isNone pair.Client.Completed $"{target}: the client never completes"
                        Expect.isSome pair.Client.Failure $"{target}: client error"
                        Expect.isSome pair.Server.Failure $"{target}: server error"
                        Expect.isEmpty (pair.Client.Delivered @ pair.Server.Delivered) $"{target}: nothing delivered"

                        if List.contains target accepted then
                            Expect.isNone
                                (pair.Server.Failure |> Option.filter (fun e -> e.IsRefusedPeer))
                                $"{target}: accepted by the server, so the handshake itself failed"
                        else
                            Expect.isTrue pair.Client.Failure.Value.IsRefused $"{target}: refused"

                for version in [ 0uy; 2uy; 3uy; 255uy ] do
                    let pair = pairOf <|| attackConfigs clientName
                    rewritePreamble pair (fun p -> Array.updateAt 4 version p)
                    script Whole pair
                    cases <- cases + 1

                    Expect.equal
                        pair.Client.Failure
                        (Some(Refused(RefusalCode.UnsupportedVersion, 1uy, [ clientName ])))
                        $"version {version}"

                printfn $"Downgrade {clientName}: {cases} rewritten preambles"
            }
    ]

let private propertyConfig = { WireCodecs.config with maxTest = 200 }

/// The honest client-to-server stream of the recorded session, cut after its handshake frames.
let handshakeOnly () =
    let r = recordedXX.Force()
    Array.concat (r.ToServer.Head :: List.truncate (handshakeFramesFrom xx true) r.ToServer.Frames)

let garbageTests =
    let server () = snd (attackConfigs xx)

    let noProgress (p: Party) =
        Expect.isSome p.Failure "typed error"
        Expect.isEmpty p.Delivered "nothing delivered"
        Expect.isFalse p.CleanlyClosed "not clean"

    testList "garbage" [
        testPropertyWithConfig propertyConfig "random bytes at a server: a typed error, nothing delivered, no handshake"
        <| fun (bytes: byte[]) ->
            let p = feed (freshServer (server ())) [ bytes ]
            p.Failure.IsSome && p.Delivered.IsEmpty && p.Completed.IsNone

        testPropertyWithConfig propertyConfig "a valid preamble and first message followed by garbage: a typed error"
        <| fun (garbage: byte[]) ->
            let r = recordedXX.Force()

            let p =
                feed (freshServer (server ())) [ r.ToServer.Head; r.ToServer.Frames[0]; garbage ]

            p.Failure.IsSome && p.Delivered.IsEmpty && p.Completed.IsNone

        testPropertyWithConfig propertyConfig "a valid handshake followed by garbage: a typed error, nothing delivered"
        <| fun (garbage: byte[]) ->
            let p = feed (freshServer (server ())) [ handshakeOnly (); garbage ]
            p.Failure.IsSome && p.Delivered.IsEmpty && not p.CleanlyClosed

        test "a valid handshake followed by well-framed garbage records: the server fails and tells the client why" {
            let rng = Random 7
            let mutable cases = 0

            for length in [ 1; 2; 16; 17; 18; 100; 65535 ] do
                let pair = pairOf <|| attackConfigs xx
                Pair.pump Whole pair
                let body = Array.zeroCreate length
                rng.NextBytes body
                let frame = Array.append [| byte (length >>> 8); byte length |] body
                pair.Server.Input(Input.Received(ReadOnlyMemory frame))
                Pair.pump Whole pair
                cases <- cases + 1

                let expected =
                    if length <= 16 then
                        Malformed(RecordTooShort length)
                    else
                        Noise Decrypt

                Expect.equal pair.Server.Failure (Some expected) $"{length}-byte record"

                Expect.equal
                    pair.Client.Failure
                    (Some(ClosedByPeer CloseReason.ProtocolViolation))
                    "the client learns why"

                Expect.isEmpty pair.Server.Delivered "nothing delivered"
        }

        test "huge length prefixes and zero-length frames: typed errors at every phase" {
            let r = recordedXX.Force()
            let preamble = r.ToServer.Head
            // A 65535-byte handshake frame of garbage (the largest a frame can be): the payload check refuses it.
            let huge = Array.append [| 0xFFuy; 0xFFuy |] (Array.create 65535 0x41uy)
            let p = feed (freshServer (server ())) [ preamble; huge ]
            Expect.equal p.Failure (Some(Malformed(UnexpectedHandshakePayload 0))) "65535-byte message 1"
            // A huge length with few bytes after it: the server waits for nothing it has not been sent.
            let p = feed (freshServer (server ())) [ preamble; [| 0xFFuy; 0xFFuy; 1uy; 2uy |] ]

            Expect.equal
                p.Failure
                (Some(HandshakeTruncated HandshakeTruncation.PeerBrokeOff))
                "length 65535, 2 bytes, end of input"

            let p = feed (freshServer (server ())) [ preamble; [| 0uy; 0uy |] ]
            Expect.equal p.Failure (Some(Malformed EmptyFrame)) "zero-length handshake frame"
            // In the transport phase the server closes with ProtocolViolation.
            let pair = pairOf <|| attackConfigs xx
            Pair.pump Whole pair
            pair.Server.Input(Input.Received(ReadOnlyMemory [| 0uy; 0uy |]))
            Pair.pump Whole pair
            Expect.equal pair.Server.Failure (Some(Malformed EmptyFrame)) "zero-length record"
            Expect.equal pair.Client.Failure (Some(ClosedByPeer CloseReason.ProtocolViolation)) "client told"
        }

        testPropertyWithConfig
            propertyConfig
            "the transport engine never needs more than one whole frame unconsumed, in any chunking"
        <| fun (bytes: byte[]) (chunkSeed: int) ->
            let pair = pairOf <|| attackConfigs xx
            Pair.pump Whole pair

            let engine =
                Connection.Traffic pair.Server.State |> Result.defaultWith (failwithf "%A")

            let rng = Random chunkSeed
            let mutable half = engine.Receive
            let mutable input = [||]
            let mutable offset = 0
            let mutable ok = true
            let mutable stopped = false
            let destination = Array.zeroCreate Frame.MaxLength

            while not stopped && offset < bytes.Length do
                let n = min (bytes.Length - offset) (1 + rng.Next 40)
                input <- Array.append input bytes[offset .. offset + n - 1]
                offset <- offset + n
                let r = ReceiveHalf.Receive(half, Span input, Span destination, 0)
                half <- r.Half
                input <- input[r.Consumed ..]

                match r.Event with
                | NeedData -> ok <- ok && input.Length < Frame.HeaderLength + Frame.MaxLength
                | Fatal(_, ValueSome _) -> stopped <- true
                | other -> ok <- ok && failwithf "unexpected %A" other

            ok && (destination |> Array.forall ((=) 0uy))

        test "no allocation sized by an attacker's length field: a 64 KiB length costs nothing until its bytes arrive" {
            let pair = pairOf <|| attackConfigs xx
            Pair.pump Whole pair

            let engine =
                Connection.Traffic pair.Server.State |> Result.defaultWith (failwithf "%A")

            let header = [| 0xFFuy; 0xFFuy; 1uy |]
            let destination = Array.zeroCreate 16
            ReceiveHalf.Receive(engine.Receive, Span header, Span destination, 0) |> ignore
            let before = GC.GetAllocatedBytesForCurrentThread()
            let r = ReceiveHalf.Receive(engine.Receive, Span header, Span destination, 0)
            let allocated = GC.GetAllocatedBytesForCurrentThread() - before
            Expect.isTrue r.Event.IsNeedData "waits for the body"
            Expect.equal r.Consumed 0 "consumes nothing"
            Expect.equal allocated 0L "allocates nothing"

            let empty =
                ReceiveHalf.Receive(engine.Receive, Span [| 0uy; 0uy |], Span destination, 0)

            match empty.Event with
            | Fatal(Malformed EmptyFrame, ValueSome CloseReason.ProtocolViolation) -> ()
            | other -> failtestf "an empty frame: %A" other
        }
    ]

/// The X25519 points of small order (libsodium's blocklist, RFC 7748 §7 discussion): 0, 1, a point of order 8
/// and its negation, p-1, p and p+1, little-endian.
let lowOrderPoints = [
    "0000000000000000000000000000000000000000000000000000000000000000"
    "0100000000000000000000000000000000000000000000000000000000000000"
    "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800"
    "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157"
    "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
    "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
    "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f"
]

/// Each point, and the same with bit 255 set (X25519 ignores that bit, RFC 7748 §5).
let lowOrderKeys = [
    for p in lowOrderPoints do
        hex p
        Array.updateAt 31 ((hex p)[31] ||| 0x80uy) (hex p)
]

let lowOrderTests =
    let withPublic (pair: DhKeyPair) (point: byte[]) = { pair with Public = publicKey point }

    testList "low-order X25519 keys" [
        test "every low-order point as the initiator's or the responder's e: Noise Dh, nothing delivered" {
            let mutable cases = 0

            for name in [ xx; nk; ik; "Noise_NN_25519_AESGCM_SHA256" ] do
                let honest = sessionOf (attackConfigs name) Whole
                let toServer = toServerStream honest.ToServer.Carried
                let toClient = toClientStream honest.ToClient.Carried
                let client, server = attackConfigs name

                for point in lowOrderKeys do
                    let replaceE (frame: byte[]) =
                        Array.append frame[0..1] (Array.append point frame[34..])

                    let s =
                        feed (freshServer server) [
                            Array.concat (
                                toServer.Head :: List.updateAt 0 (replaceE toServer.Frames[0]) toServer.Frames
                            )
                        ]

                    Expect.equal s.Failure (Some(Noise Dh)) $"{name}: initiator e = {toHex point}"

                    let c =
                        feed (freshClient client) [
                            Array.concat (
                                toClient.Head :: List.updateAt 0 (replaceE toClient.Frames[0]) toClient.Frames
                            )
                        ]

                    Expect.equal c.Failure (Some(Noise Dh)) $"{name}: responder e = {toHex point}"
                    Expect.isEmpty (s.Delivered @ c.Delivered) "nothing delivered"
                    cases <- cases + 2

            printfn $"Low-order e: {lowOrderKeys.Length} keys, {cases} cases"
        }

        test "every low-order point as a static key s: the peer fails with Noise Dh" {
            let mutable cases = 0

            for point in lowOrderKeys do
                // A client proving a low-order static key (XX message 3, IK message 1).
                for name in [ xx; ik ] do
                    let client, server = attackConfigs name
                    let pair = pairOf (client.WithLocalStatic(withPublic (keyPair 1) point)) server
                    script Whole pair
                    Expect.equal pair.Server.Failure (Some(Noise Dh)) $"{name}: client s = {toHex point}"
                    Expect.isEmpty pair.Server.Delivered "nothing delivered"
                    cases <- cases + 1
                // A server sending a low-order static key (NX, XX message 2).
                for name in [ nx; xx ] do
                    let client, server = attackConfigs name
                    let pair = pairOf client (server.WithLocalStatic(withPublic (keyPair 2) point))
                    script Whole pair
                    Expect.equal pair.Client.Failure (Some(Noise Dh)) $"{name}: server s = {toHex point}"
                    Expect.isEmpty pair.Client.Delivered "nothing delivered"
                    cases <- cases + 1
                // A pinned low-order server key (NK, IK): the client cannot even write message 1.
                for name in [ nk; ik ] do
                    let client, _ = attackConfigs name

                    match Connection.Client(client.WithRemoteStatic(publicKey point)) with
                    | Error(Noise Dh) -> ()
                    | other -> failtestf "%s pinned %s: %A" name (toHex point) other

                    cases <- cases + 1

            printfn $"Low-order s: {lowOrderKeys.Length} keys, {cases} cases"
        }
    ]

/// One mutation of a byte stream.
type Mutation =
    | Flip of position: int * bit: int
    | Insert of position: int * value: byte
    | Delete of position: int
    | Swap of a: int * b: int * length: int

let mutate (bytes: byte[]) (m: Mutation) =
    let at (p: int) = (abs (p % max 1 bytes.Length))

    match m with
    | _ when bytes.Length = 0 -> bytes
    | Flip(p, bit) -> Array.updateAt (at p) (bytes[at p] ^^^ (1uy <<< (abs bit % 8))) bytes
    | Insert(p, v) -> Array.insertAt (at p) v bytes
    | Delete p -> Array.removeAt (at p) bytes
    | Swap(a, b, length) ->
        // Exchange two non-overlapping pieces (a reordering).
        let length = 1 + abs length % 40
        let a, b = min (at a) (at b), max (at a) (at b)

        if b - a < length || b + length > bytes.Length then
            bytes
        else
            Array.concat [
                bytes[.. a - 1]
                bytes[b .. b + length - 1]
                bytes[a + length .. b - 1]
                bytes[a .. a + length - 1]
                bytes[b + length ..]
            ]

let streamPropertyTests =
    testList "arbitrary mutations" [
        testPropertyWithConfig
            { propertyConfig with maxTest = 300 }
            "any flips, insertions, deletions, reorderings: the receiver delivers a prefix of what was sent, then at most a typed error"
        <| fun (mutations: Mutation list) (toServer: bool) ->
            let r = recordedXX.Force()
            let client, server = attackConfigs xx

            let honest =
                if toServer then
                    r.Pair.ToServer.Carried
                else
                    r.Pair.ToClient.Carried

            let honestReceiver = if toServer then r.Pair.Server else r.Pair.Client
            let mutated = List.truncate 8 mutations |> List.fold mutate honest

            let p =
                feed (if toServer then freshServer server else freshClient client) [ mutated ]

            let same =
                Seq.zip honest mutated |> Seq.takeWhile (fun (a, b) -> a = b) |> Seq.length

            if same = honest.Length then
                p.CleanlyClosed && p.Delivered = honestReceiver.Delivered
            else
                p.Failure.IsSome
                && not p.CleanlyClosed
                && p.Delivered = completeWithin honestReceiver same
    ]

[<Tests>]
let tests =
    testList "Adversarial protocol" [
        honestSessionTests
        tamperTests
        truncationTests
        recordTests
        mitmTests
        downgradeTests
        garbageTests
        lowOrderTests
        streamPropertyTests
    ]
