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

/// Feeds one stream to both drivers (async and sync production receives) and expects the same run.
let expectSame (label: string) (name: string) (toServer: bool) (chunks: byte[] list) =
    let expected = reference name toServer chunks

    for sync in [ false; true ] do
        let actual = production name toServer sync chunks
        let how = if sync then "sync" else "async"
        Expect.equal actual.Delivered expected.Delivered $"{label} ({how}): the same messages delivered"
        Expect.equal actual.Ending expected.Ending $"{label} ({how}): the same ending"
        Expect.equal actual.Written expected.Written $"{label} ({how}): the same bytes written (handshake, Close)"

    expected

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

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 150
}

[<Tests>]
let tests =
    testList "Differential drivers" [
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
            let chunks = chunk (RandomSplits seed) bytes
            let receiver = if toServer then "server" else "client"
            expectSame $"{name} to the {receiver}, {attack}" name toServer chunks |> ignore
    ]
