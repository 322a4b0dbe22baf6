/// `SecureConnection` itself, driven by FsCheck over an in-memory duplex stream (tests/Support/DuplexStream.fs):
/// random chunking of every read, small records (so messages fragment), and random interleavings of sends,
/// receives and closes (CloseAsync or ShutdownAsync) in both directions, with sync and async calls and every receive
/// overload mixed. Exactly the messages sent arrive, in order, and both ends agree on how the connection ended.
module HybridProtocol.Tests.ConnectionProperties

open System
open System.Threading
open System.Threading.Tasks
open Expecto
open HybridProtocol
open HybridProtocol.Tests.DuplexStream

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 60
}

[<NoComparison>]
type private Ending =
    | EndOfStream
    | Error of HybridErrorCode

/// One side's part of a script: the messages it sends (and whether each call is sync), whether it closes
/// after them, and how (CloseAsync, or ShutdownAsync, which keeps receiving), and a random source for its
/// receive calls.
type private Side = {
    Messages: (byte[] * bool) list
    Closes: bool
    ShutsDown: bool
    Seed: int
}

let private script (random: Random) closes =
    let size () =
        match random.Next 4 with
        | 0 -> 0
        | 1 -> 1 + random.Next 40
        | 2 -> 40 + random.Next 400
        | _ -> 400 + random.Next 3000

    {
        Messages = [
            for _ in 1 .. random.Next 7 ->
                let m = Array.zeroCreate (size ())
                random.NextBytes m
                m, random.Next 2 = 0
        ]
        Closes = closes
        ShutsDown = random.Next 2 = 0
        Seed = random.Next()
    }

let private bounded (t: Task<'T>) =
    if not (t.Wait(TimeSpan.FromSeconds 30.0)) then
        failwith "the run did not finish (a hang)"

    t.Result

/// Sends the side's messages, then closes when it should; the number of sends that completed, and how the
/// close went (None when this side does not close). A send may be refused once the peer's close has been
/// answered (InvalidState): the sends stop there.
let private sender (connection: SecureConnection) (side: Side) =
    Task.Factory.StartNew(
        (fun () ->
            let mutable sent = 0
            let mutable stopped = false

            for message, sync in side.Messages do
                if not stopped then
                    try
                        if sync then
                            connection.Send(ReadOnlySpan message)
                        else
                            connection.SendAsync(ReadOnlyMemory message).AsTask().Wait()

                        sent <- sent + 1
                    with e ->
                        match e.GetBaseException() with
                        | HybridError h when h.Code = HybridErrorCode.InvalidState -> stopped <- true
                        | other -> raise other

            let closed =
                if side.Closes && not stopped && side.ShutsDown then
                    connection.ShutdownAsync().Wait()
                    None
                elif side.Closes && not stopped then
                    Some(connection.CloseAsync().Result)
                else
                    None

            sent, closed),
        TaskCreationOptions.LongRunning
    )

/// Receives until the end, each call picked at random among the four overloads; what arrived and how it ended.
let private receiver (connection: SecureConnection) (seed: int) =
    Task.Factory.StartNew(
        (fun () ->
            let random = Random seed
            let received = Collections.Generic.List<byte[]>()
            let mutable ending = None

            while ending.IsNone do
                try
                    let next =
                        match random.Next 4 with
                        | 0 -> connection.Receive() |> Option.ofObj
                        | 1 -> connection.ReceiveAsync().AsTask().Result |> Option.ofObj
                        | choice ->
                            // A buffer that may be too small: the message is kept (InvalidArgument); then a large one.
                            let small = Array.zeroCreate (random.Next 600)

                            let into (buffer: byte[]) =
                                if choice = 2 then
                                    connection.Receive(Span buffer)
                                else
                                    connection.ReceiveAsync(Memory buffer).AsTask().Result

                            let n =
                                try
                                    into small |> fun n -> if n >= 0 then Some small[.. n - 1] else None
                                with e ->
                                    match e.GetBaseException() with
                                    | HybridError h when h.Code = HybridErrorCode.InvalidArgument ->
                                        let large = Array.zeroCreate connection.LocalMaxMessageSize
                                        let n = into large
                                        if n >= 0 then Some large[.. n - 1] else None
                                    | other -> raise other

                            n

                    match next with
                    | Some message -> received.Add message
                    | None -> ending <- Some EndOfStream
                with e ->
                    match e.GetBaseException() with
                    | HybridError h -> ending <- Some(Error h.Code)
                    | other -> raise other

            List.ofSeq received, ending.Value),
        TaskCreationOptions.LongRunning
    )

let private serverKey = lazy (PrivateKey.Generate())

let private connect (seed: int) (maxChunk: int) (maxRecordData: int) =
    let clientStream, serverStream = DuplexEnd.Pair(seed, maxChunk)

    let serverOptions =
        SecureServerOptions(ServerKey = serverKey.Value, MaxRecordData = maxRecordData)

    let clientOptions =
        SecureClientOptions(
            ServerAuthentication = ServerAuthentication.Pinned serverKey.Value.PublicKey,
            MaxRecordData = maxRecordData
        )

    let server = SecureConnection.AuthenticateAsServerAsync(serverStream, serverOptions)

    let client =
        SecureConnection.AuthenticateAsClientAsync(clientStream, "memory", clientOptions)

    bounded client, bounded server

let private isPrefix (prefix: byte[] list) (whole: byte[] list) =
    prefix.Length <= whole.Length
    && List.forall2 (=) prefix (List.take prefix.Length whole)

[<Tests>]
let tests =
    testList "Connection properties" [
        testPropertyWithConfig
            config
            "over any chunking and interleaving, exactly the sent messages arrive in order and both ends agree on the end"
        <| fun (seed: int) ->
            let random = Random seed
            // Who closes: the client, the server, or both at once.
            let closer = random.Next 3
            let clientSide = script random (closer <> 1)
            let serverSide = script random (closer <> 0)
            let client, server = connect seed (1 + random.Next 300) (1 + random.Next 200)
            use client = client
            use server = server
            let clientReceives = receiver client clientSide.Seed
            let serverReceives = receiver server serverSide.Seed
            let clientSent, clientClose = bounded (sender client clientSide)
            let serverSent, serverClose = bounded (sender server serverSide)
            let atServer, serverEnding = bounded serverReceives
            let atClient, clientEnding = bounded clientReceives

            let sentBy (side: Side) count =
                side.Messages |> List.take count |> List.map fst

            // Both ends saw the other's authenticated close; no close timed out.
            Expect.equal (clientEnding, serverEnding) (EndOfStream, EndOfStream) "both ends end cleanly"

            for close in [ clientClose; serverClose ] do
                Expect.notEqual close (Some CloseResult.CloseNotSent) "every close was sent"

            // A side that closes with CloseAsync discards what arrives while it waits (when it holds the receive
            // side); a side that shuts down, or does not close, receives everything, exactly.
            let check received (side: Side) count (receiving: Side) what =
                if receiving.Closes && not receiving.ShutsDown then
                    Expect.isTrue (isPrefix received (sentBy side count)) $"{what}: a prefix of what was sent, in order"
                else
                    Expect.equal received (sentBy side count) $"{what}: exactly what was sent, in order"

            check atServer clientSide clientSent serverSide "at the server"
            check atClient serverSide serverSent clientSide "at the client"
            // A side that alone closes sent everything before its close (when both close, the other's close
            // may arrive first and end this side's sending).
            if clientSide.Closes && not serverSide.Closes then
                Expect.equal clientSent clientSide.Messages.Length "the closing client sent every message"

            if serverSide.Closes && not clientSide.Closes then
                Expect.equal serverSent serverSide.Messages.Length "the closing server sent every message"
    ]
