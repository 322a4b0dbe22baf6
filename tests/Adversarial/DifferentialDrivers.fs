/// The differential property (issue 21): the reference driver (`Connection.Step`, what the property and
/// adversarial suites run) and the production driver (`SecureConnection`, over an in-memory stream, sync and
/// async receives) are fed the same byte streams (honest, tampered, truncated, replayed, reordered, dropped) and
/// must deliver the same messages, end the same way (the same error code, or the peer's clean close) and write
/// the same bytes: the same handshake messages, and the same Close (or none). The streams are the recorded
/// sessions and generators of tests/Adversarial/AdversarialProtocol.fs; both drivers get the same fixed keys.
module HybridProtocol.Tests.DifferentialDrivers

open System
open System.Threading
open System.Threading.Tasks
open Expecto
open FsCheck
open HybridProtocol
open HybridProtocol.Connections
open HybridProtocol.Core
open HybridProtocol.Core.Noise
open HybridProtocol.Core.Wire
open HybridProtocol.Tests.TestSupport
open HybridProtocol.Tests.WireDriver
open HybridProtocol.Tests.AdversarialProtocol
open HybridProtocol.Tests.SessionVectors
open HybridProtocol.Tests.DuplexStream

/// How a driver ended with a stream that was fed and then ended.
type Ending =
    | PeerClosedCleanly
    | FailedWith of HybridErrorCode
    | NotEnded

/// What one driver did with one stream: the messages it delivered, how it ended, every byte it wrote (hex).
type Run = {
    Delivered: string list
    Ending: Ending
    Written: string
}

/// The protocols of the comparison: the adversarial suite's XX (classical and hybrid), and the two patterns where
/// the client pins the server's key (so the end of input in the handshake reads as a refused key, and the server
/// waits for the client's liveness proof).
let names = [ xx; xxHfs; nk; "Noise_IKpsk2_25519_AESGCM_SHA256" ]

let private privateBytes (label: int) =
    Array.init 32 (fun i -> byte (label * 37 + i * 11 + 5))

let private privateKey label =
    PrivateKey.FromRawBytes(ReadOnlySpan(privateBytes label))

let private kemSeed = Array.init 64 (fun i -> byte (i * 5 + 1))

let private kemSeedFor hybrid : byte[] =
    if hybrid then kemSeed else Unchecked.defaultof<_>

let private pinsServerKey (name: string) = serverKeyPreKnown name

/// The reference receiver: a fresh party fed the chunks, then end of input.
let reference (name: string) (toServer: bool) (chunks: byte[] list) : Run =
    let client, server = attackConfigs name
    let p = feed (if toServer then freshServer server else freshClient client) chunks

    let pinned: PublicKey =
        if not toServer && pinsServerKey name then
            (privateKey 2).PublicKey
        else
            Unchecked.defaultof<_>

    let context = WireErrorContext(not toServer, "the peer", pinned)

    {
        Delivered = p.Delivered |> List.map toHex
        Ending =
            match p.Failure with
            | Some e -> FailedWith (WireErrors.ToException(e, context, inHandshake = p.Completed.IsNone)).Code
            | None when p.CleanlyClosed -> PeerClosedCleanly
            | None -> NotEnded
        Written = toHex (p.Drain())
    }

let private secureSuite (protocol: ProtocolName) =
    if (ProtocolName.toString protocol).Contains "AESGCM" then
        SecureSuite.AesGcmSha256
    else
        SecureSuite.ChaChaPolyBlake2b

/// The same end as `reference`, as SecureConnection: the options that make the facade choose the same protocol,
/// keys and limits (attackConfigs: records of 8 bytes, a key update every 6 records or 1000 bytes).
let private handshake (name: string) (toServer: bool) (stream: ScriptedStream) (ct: CancellationToken) =
    let protocol = parse name
    let hybrid = protocol.IsHfs

    let psk = if protocol.Pattern.IsPsk then Some WireDriver.psk else None

    if toServer then
        let options =
            SecureServerOptions(
                ServerKey = privateKey 2,
                ApplicationProtocol = "test/1",
                RekeyAfterRecords = 6L,
                RekeyAfterBytes = 1000L,
                FixedSecretsForTestVectorsOnly =
                    FixedSecretsForTestVectorsOnly(privateBytes 4, null, encapsulationRandomness)
            )

        options.MaxRecordData <- 8
        psk |> Option.iter (fun p -> options.PreSharedKey <- p)

        if initiatorSendsStatic name then
            options.ClientAuthentication <- ClientAuthentication.AllowList [ (privateKey 1).PublicKey ]

        SecureConnection.AuthenticateAsServerCoreAsync(stream, options, [ protocol ], "the client", ct)
    else
        let options =
            SecureClientOptions(
                ServerAuthentication =
                    (if pinsServerKey name then
                         ServerAuthentication.Pinned (privateKey 2).PublicKey
                     else
                         ServerAuthentication.Callback(fun _ -> true)),
                Suite = secureSuite protocol,
                PostQuantum =
                    (if hybrid then
                         PostQuantumMode.Hybrid
                     else
                         PostQuantumMode.Classical),
                ApplicationProtocol = "test/1",
                RekeyAfterRecords = 6L,
                RekeyAfterBytes = 1000L,
                FixedSecretsForTestVectorsOnly = FixedSecretsForTestVectorsOnly(privateBytes 3, kemSeedFor hybrid, null)
            )

        options.MaxRecordData <- 8
        psk |> Option.iter (fun p -> options.PreSharedKey <- p)

        if initiatorSendsStatic name then
            options.ClientIdentity <- privateKey 1

        SecureConnection.AuthenticateAsClientAsync(stream, "memory:1", options, ct)

/// The production receiver: SecureConnection over a stream that carries the chunks, then ends; it receives until
/// the end with sync (`sync`) or async calls.
let production (name: string) (toServer: bool) (sync: bool) (chunks: byte[] list) : Run =
    let stream = new ScriptedStream()

    for c in chunks do
        stream.Push c

    stream.EndInput()
    use timeout = new CancellationTokenSource(TimeSpan.FromSeconds 30.0)

    let run =
        task {
            let received = Collections.Generic.List<string>()

            let codeOf (e: exn) =
                match e.GetBaseException() with
                | HybridError h -> FailedWith h.Code
                | other -> raise other

            let! ending =
                task {
                    try
                        let! connection = handshake name toServer stream timeout.Token
                        use connection = connection
                        let mutable ending = None

                        while ending.IsNone do
                            try
                                let! message =
                                    if sync then
                                        Task.FromResult(connection.Receive())
                                    else
                                        connection.ReceiveAsync(timeout.Token).AsTask()

                                match message with
                                | null -> ending <- Some PeerClosedCleanly
                                | m -> received.Add(toHex m)
                            with e ->
                                ending <- Some(codeOf e)

                        return ending.Value
                    with e ->
                        return codeOf e
                }

            return {
                Delivered = List.ofSeq received
                Ending = ending
                Written = toHex stream.Written
            }
        }

    if not (run.Wait(TimeSpan.FromSeconds 40.0)) then
        failwith "SecureConnection did not finish with a stream that ended (a hang)"

    run.Result

/// Feeds one stream to both drivers (production with the given receive calls) and expects the same run.
let expectSameWith (syncs: bool list) (label: string) (name: string) (toServer: bool) (chunks: byte[] list) =
    let expected = reference name toServer chunks

    for sync in syncs do
        let actual = production name toServer sync chunks
        let how = if sync then "sync" else "async"
        Expect.equal actual.Delivered expected.Delivered $"{label} ({how}): the same messages delivered"
        Expect.equal actual.Ending expected.Ending $"{label} ({how}): the same ending"
        Expect.equal actual.Written expected.Written $"{label} ({how}): the same bytes written (handshake, Close)"

    expected

/// As expectSameWith, with both async and sync receives.
let expectSame label name toServer chunks =
    expectSameWith [ false; true ] label name toServer chunks

let private recorded =
    names |> List.map (fun name -> name, lazy (record name)) |> dict

let private streamOf (name: string) (toServer: bool) =
    let r = recorded[name].Force()
    if toServer then r.ToServer else r.ToClient

/// What an attacker does to one stream.
type Attack =
    | Honest
    | Flip of offset: int * bit: int
    | Cut of at: int
    | Manipulate of index: int

let apply (stream: AdversarialProtocol.Stream) (attack: Attack) =
    let bytes = bytesOf stream

    match attack with
    | Honest -> bytes
    | Flip(offset, bit) ->
        let copy = Array.copy bytes
        let i = offset % copy.Length
        copy[i] <- copy[i] ^^^ (1uy <<< (bit % 8))
        copy
    | Cut at -> Array.truncate (at % (bytes.Length + 1)) bytes
    | Manipulate index ->
        let cases = manipulations stream.Frames
        let _, frames = cases[index % cases.Length]
        Array.concat (stream.Head :: frames)

/// A stream whose writes wait while it is blocked (a peer that stopped reading), over another stream.
type GatedStream(inner: IO.Stream) =
    inherit UnseekableStream()
    let mutable gate = Task.CompletedTask

    /// Blocks the writes until the returned source is completed.
    member _.Block() =
        let release =
            TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)

        gate <- release.Task
        release


    override _.Flush() = ()
    override _.Read(buffer: byte[], offset, count) = inner.Read(buffer, offset, count)
    override _.ReadAsync(buffer: Memory<byte>, ct: CancellationToken) = inner.ReadAsync(buffer, ct)

    override _.Write(buffer: byte[], offset, count) =
        gate.Wait()
        inner.Write(buffer, offset, count)

    override _.WriteAsync(buffer: ReadOnlyMemory<byte>, ct: CancellationToken) =
        ValueTask(
            task {
                do! gate.WaitAsync ct
                do! inner.WriteAsync(buffer, ct)
            }
        )

    override _.Dispose(disposing: bool) =
        if disposing then
            inner.Dispose()

        base.Dispose disposing

/// A bad record an attacker puts into a transport stream: a frame of 20 bytes that does not authenticate.
let private forged = Array.append [| 0uy; 20uy |] (Array.create 20 0x41uy)

/// An in-memory pair whose client is sending a 10,000-byte message through a stream whose writes are blocked (until
/// `release` is completed) when a forged record reaches its input (written straight in, past the server).
let private forgedWhileSending () =
    let clientStream, serverStream = DuplexEnd.Pair(7, 4096)
    let gated = new GatedStream(clientStream)
    let key = privateKey 2

    let server =
        SecureConnection.AuthenticateAsServerAsync(serverStream, SecureServerOptions(ServerKey = key))

    let client =
        SecureConnection.AuthenticateAsClientAsync(
            gated,
            "memory:1",
            SecureClientOptions(ServerAuthentication = ServerAuthentication.Pinned key.PublicKey)
        )

    let client = client.Result
    let message = Array.create 10000 7uy
    let release = gated.Block()
    let sending = client.SendAsync(ReadOnlyMemory message).AsTask()
    serverStream.Write(ReadOnlySpan forged)
    struct (client, server.Result, message, release, sending)

/// The server's next receive ends with the client's Close(ProtocolViolation).
let private expectReply (server: SecureConnection) =
    let ending =
        try
            server.ReceiveAsync().AsTask().Result |> ignore
            None
        with e ->
            Some (e.GetBaseException()).Code

    Expect.equal ending (Some HybridErrorCode.ProtocolViolation) "then the client's Close(ProtocolViolation)"

let private pendingReplyTests =
    testList "the Close answering a failure" [
        test "reference: a forged record is answered with Close(ProtocolViolation) at once" {
            let pair = pairOf <|| attackConfigs xx
            Pair.pump Whole pair
            pair.Client.Input(Input.Received(ReadOnlyMemory forged))
            Expect.equal pair.Client.Failure (Some(Noise Decrypt)) "the client fails"
            Pair.pump Whole pair
            Expect.equal pair.Server.Failure (Some(ClosedByPeer CloseReason.ProtocolViolation)) "the server is told why"
        }

        test
            "[P12] production: a forged record arriving while a send is blocked for longer than any wait is still answered with Close(ProtocolViolation), written by the send in progress" {
            let struct (client, server, message, release, sending) = forgedWhileSending ()
            use client = client
            use server = server

            let received =
                try
                    client.ReceiveAsync().AsTask().Wait()
                    None
                with e ->
                    Some (e.GetBaseException()).Code

            Expect.equal received (Some HybridErrorCode.DecryptionFailed) "the client's receive fails"
            // Longer than any wait for the send lock: the reply must not depend on the send finishing soon.
            Thread.Sleep 1500
            release.SetResult()

            try
                sending.Wait(TimeSpan.FromSeconds 10.0) |> ignore
            with _ ->
                ()

            Expect.isTrue sending.IsCompleted "the send ended"
            client.Dispose()
            let first = server.ReceiveAsync().AsTask().Result
            Expect.equal first message "the message the send wrote arrives"

            expectReply server
        }

        test
            "[P12] production: a forged record arriving while a send holds the lock briefly is answered with Close(ProtocolViolation) before the receive fails, so disposing at the failure does not cut it off" {
            let struct (client, server, message, release, sending) = forgedWhileSending ()
            use server = server
            let receiving = client.ReceiveAsync().AsTask()
            // The send holds the lock for 300 ms (well within the wait), then ends.
            Thread.Sleep 300
            release.SetResult()

            let received =
                try
                    receiving.Wait()
                    None
                with e ->
                    Some (e.GetBaseException()).Code

            Expect.equal received (Some HybridErrorCode.DecryptionFailed) "the client's receive fails"
            // As an application does at a failure: dispose at once, whatever the send is doing.
            client.Dispose()
            Expect.equal (server.ReceiveAsync().AsTask().Result) message "the message the send wrote arrives"

            expectReply server
        }
    ]

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 150
}

/// The adversarial suite through production: every attack of AdversarialProtocol.fs (tamper every byte, cut at
/// every byte, every drop, duplicate and move of a frame) on a recorded stream, fed to SecureConnection, gives what
/// the reference gives (which that suite judges: a typed error, only the messages complete before the attack, the
/// Close the engine chose). Sync and async receives alternate; the hybrid streams (2.3 KB of KEM data) are
/// tampered at every 5th byte.
let private throughProduction =
    testList "adversarial suite through SecureConnection" [
        for name in [ xx; xxHfs; nk ] do
            for toServer in [ true; false ] do
                let receiver = if toServer then "server" else "client"

                test
                    $"{name}, the {receiver}'s input: tamper every byte, cut at every byte, drop, duplicate and move every frame" {
                    let stream = streamOf name toServer
                    let bytes = bytesOf stream
                    let step = if name = xxHfs then 5 else 1
                    let mutable runs = 0
                    let endings = Collections.Generic.Dictionary<Ending, int>()

                    let check label attack =
                        let sync = runs % 2 = 1
                        let run = expectSameWith [ sync ] label name toServer [ apply stream attack ]
                        runs <- runs + 1

                        endings[run.Ending] <-
                            (match endings.TryGetValue run.Ending with
                             | true, n -> n + 1
                             | _ -> 1)

                        match attack, run.Ending with
                        | Honest, _
                        | Cut _, _
                        | Manipulate _, _ -> ()
                        | Flip _, PeerClosedCleanly -> failtestf "%s: a flipped bit ended cleanly" label
                        | Flip _, _ -> ()

                    for offset in 0..step .. bytes.Length - 1 do
                        check $"flip at {offset}" (Flip(offset, offset))

                    for at in 0 .. bytes.Length - 1 do
                        check $"cut at {at}" (Cut at)

                    for index in 0 .. (manipulations stream.Frames).Length - 1 do
                        check $"manipulation {index}" (Manipulate index)

                    let summary =
                        endings |> Seq.map (fun kv -> $"{kv.Key} {kv.Value}") |> String.concat ", "

                    printfn $"Through SecureConnection, {name} to the {receiver}: {runs} attacked streams ({summary})"
                }
    ]

[<Tests>]
let tests =
    testList "Differential drivers" [
        pendingReplyTests
        throughProduction
        for name in names do
            for toServer in [ true; false ] do
                let direction = if toServer then "server" else "client"

                test $"{name} {direction}: the honest recorded stream gives the same run through both drivers" {
                    let run = expectSame "honest" name toServer [ bytesOf (streamOf name toServer) ]
                    Expect.equal run.Ending PeerClosedCleanly "the honest session ends cleanly"
                    Expect.isNonEmpty run.Delivered "messages delivered"
                }

        testPropertyWithConfig
            config
            "a tampered, cut or manipulated stream, in any chunking, gives the same messages, ending and bytes written through Connection.Step and SecureConnection"
        <| fun (which: PositiveInt) (toServer: bool) (kind: byte) (a: PositiveInt) (b: byte) (seed: int) ->
            let name = names[which.Get % names.Length]
            let stream = streamOf name toServer

            let attack =
                match kind % 4uy with
                | 0uy -> Flip(a.Get, int b)
                | 1uy -> Cut a.Get
                | 2uy -> Manipulate a.Get
                | _ -> Flip(a.Get, int b)

            let bytes = apply stream attack
            // One chunk puts the last handshake frame and the records after it in one read.
            let chunks =
                if seed % 3 = 0 then
                    [ bytes ]
                else
                    chunk (RandomSplits seed) bytes

            let receiver = if toServer then "server" else "client"
            expectSame $"{name} to the {receiver}, {attack}" name toServer chunks |> ignore
    ]
