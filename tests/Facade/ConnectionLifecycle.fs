/// How a SecureConnection ends and what it holds while it lives, over real sockets on 127.0.0.1: the close
/// timeout and what CloseAsync reports, the idle timeout's typed reason on both ends, no buffer held by an
/// idle connection on the sync path, no allocation per record on the async path, and ShutdownAsync (our close
/// sent, the peer's messages still received).
module HybridProtocol.Tests.ConnectionLifecycle

open System
open System.IO
open System.Threading
open System.Threading.Tasks
open Expecto
open HybridProtocol
open HybridProtocol.Tests.Loopback

let private pair (configure: SecureClientOptions -> unit) =
    let key = PrivateKey.Generate()
    let client = clientOptions (ServerAuthentication.Pinned key.PublicKey)
    configure client
    connected (serverOptions key) client

let private codeOfExn (e: exn) =
    match e.GetBaseException() with
    | HybridError h -> h.Code
    | other -> failwithf "expected a HybridProtocolException, got %O" other

/// A pair with a 300 ms close timeout whose server never reads, and the client's 16 MiB send, which fills the
/// socket buffers and waits, holding the send side.
let private stalled () =
    let client, server =
        pair (fun o -> o.CloseTimeout <- TimeSpan.FromMilliseconds 300.0)

    let blocked =
        client.SendAsync(ReadOnlyMemory(Array.zeroCreate (16 <<< 20))).AsTask()

    Expect.isFalse (blocked.Wait 200) "the send cannot finish while the peer does not read"
    client, server, blocked

/// A stream whose Dispose leaves the inner stream open, so a read in progress keeps waiting after the connection
/// disposes it (as a read's continuation that has no thread to run on does): only `inner` ends it.
type private LingeringStream(inner: Stream) =
    inherit TestSupport.UnseekableStream()
    override _.Read(buffer, offset, count) = inner.Read(buffer, offset, count)
    override _.Write(buffer, offset, count) = inner.Write(buffer, offset, count)
    override _.ReadAsync(buffer: Memory<byte>, cancel) = inner.ReadAsync(buffer, cancel)
    override _.WriteAsync(buffer: ReadOnlyMemory<byte>, cancel) = inner.WriteAsync(buffer, cancel)
    override _.Flush() = inner.Flush()
    override _.Dispose(_: bool) = ()

[<Tests>]
let tests =
    testList "Connections: lifecycle" [
        test "CloseAsync against a peer that does not read is bounded and reports CloseNotSent" {
            let client, server, blocked = stalled ()
            use client = client
            use server = server
            let result = run (client.CloseAsync())
            Expect.equal result CloseResult.CloseNotSent "the close could not be written"

            let e =
                Expect.throwsC (fun () -> blocked.Wait(TimeSpan.FromSeconds 30.0) |> ignore) id

            Expect.equal (codeOfExn e) HybridErrorCode.TransportFailed "the blocked send ends with the close's failure"

            let again = codeOf (fun () -> client.ReceiveAsync().AsTask())
            Expect.equal again.Code HybridErrorCode.TransportFailed "and the connection stays failed"
        }

        test "CloseAsync against a peer that reads nothing back reports CloseSent" {
            let client, server =
                pair (fun o -> o.CloseTimeout <- TimeSpan.FromMilliseconds 300.0)

            use client = client
            use server = server
            // Nobody receives on the server, so its answer never comes.
            Expect.equal (run (client.CloseAsync())) CloseResult.CloseSent "ours sent, theirs not received"
            Expect.isNull (run (server.ReceiveAsync().AsTask())) "the server then sees the clean end"
            Expect.equal (run (client.CloseAsync())) CloseResult.Closed "closing again completes the exchange"
        }

        test "both closes crossing report Closed" {
            let client, server = pair ignore
            use client = client
            use server = server
            let answer = server.ReceiveAsync().AsTask()
            Expect.equal (run (client.CloseAsync())) CloseResult.Closed "both closes crossed"
            Expect.isNull (run answer) "the server saw the clean end"
        }

        test "ShutdownAsync ends our sending and loses nothing in flight: the peer's messages arrive, then the end" {
            let client, server = pair ignore
            use client = client
            use server = server
            // The server sends 20 messages the client has not read yet, then waits for the client's close.
            for i in 1..20 do
                runUnit (server.SendAsync(ReadOnlyMemory(Text.Encoding.ASCII.GetBytes $"message {i}")).AsTask())

            let atServer = server.ReceiveAsync().AsTask()
            runUnit (client.ShutdownAsync())
            Expect.isNull (run atServer) "the server sees the clean end (and answers with its own close)"

            let rec drain acc =
                match run (client.ReceiveAsync().AsTask()) with
                | null -> List.rev acc
                | m -> drain (Text.Encoding.ASCII.GetString m :: acc)

            let received = drain []

            Expect.equal received [ for i in 1..20 -> $"message {i}" ] "all 20, in order, then the end of stream"

            let afterwards =
                codeOfTask (fun () -> client.SendAsync(ReadOnlyMemory "late"B).AsTask())

            Expect.equal afterwards.Code HybridErrorCode.InvalidState "nothing can be sent after the shutdown"
            runUnit (client.ShutdownAsync())
            Expect.equal (run (client.CloseAsync())) CloseResult.Closed "shutting down again, then closing, is harmless"
        }

        test "ShutdownAsync against a peer that does not read is bounded and fails with TransportFailed" {
            let client, server, blocked = stalled ()
            use client = client
            use server = server
            let e = codeOfTask (fun () -> client.ShutdownAsync())
            Expect.equal e.Code HybridErrorCode.TransportFailed "the close could not be written in time"
            Expect.stringContains e.Message "not reading" "and the message says why"
        }

        test "the idle timeout closes with IdleTimeout on both ends" {
            let client, server =
                pair (fun o -> o.IdleTimeout <- TimeSpan.FromMilliseconds 300.0)

            use client = client
            use server = server
            exchange client server
            // Nothing more crosses: the client's idle rule closes the connection and tells the server why.
            let atServer = codeOf (fun () -> server.ReceiveAsync().AsTask())
            Expect.equal atServer.Code HybridErrorCode.IdleTimeout "the server is told the reason"
            let atClient = codeOf (fun () -> client.ReceiveAsync().AsTask())
            Expect.equal atClient.Code HybridErrorCode.IdleTimeout "the client failed with it"

            let send =
                codeOfTask (fun () -> client.SendAsync(ReadOnlyMemory [| 1uy |]).AsTask())

            Expect.equal send.Code HybridErrorCode.IdleTimeout "every later call says the same"
        }

        test "options refuse a zero close or idle timeout" {
            let o = SecureClientOptions()

            for set in
                [
                    (fun () -> o.CloseTimeout <- TimeSpan.Zero)
                    (fun () -> o.IdleTimeout <- TimeSpan.Zero)
                ] do
                let e = Expect.throwsC set id
                Expect.equal (codeOfExn e) HybridErrorCode.InvalidArgument "invalid"
        }

        test "Dispose does not wait for a receive in progress: the receive releases its half as it leaves" {
            let key = PrivateKey.Generate()
            let mutable inner: Stream = Stream.Null

            let linger (s: Stream) =
                inner <- s
                new LingeringStream(s) :> Stream

            match
                handshake (serverOptions key) (clientOptions (ServerAuthentication.Pinned key.PublicKey)) linger id
            with
            | Ok client, Ok server ->
                use server = server
                let waiting = client.ReceiveAsync().AsTask()
                Expect.isFalse (waiting.Wait 100) "nothing was sent: the receive waits"
                // Before, Dispose waited up to 5 s for the receive lock; on a starved thread pool, for that long.
                let disposing = Task.Run(fun () -> client.Dispose())
                Expect.isTrue (disposing.Wait(TimeSpan.FromSeconds 2.5)) "Dispose returned at once"
                Expect.isFalse waiting.IsCompleted "the receive still waits on the lingering stream"
                inner.Dispose()
                Expect.throwsC (fun () -> waiting.Wait(TimeSpan.FromSeconds 30.0) |> ignore) ignore
                Expect.isTrue waiting.IsCompleted "the receive has ended, with an exception"

                let again =
                    Expect.throwsC (fun () -> client.ReceiveAsync().AsTask().Wait()) (fun e -> e.GetBaseException())

                Expect.isTrue (again :? ObjectDisposedException) $"then the connection is disposed: {again}"
            | c, s -> failtestf "handshake failed: client %A, server %A" c s
        }

        test
            "a message kept after InvalidArgument is dropped at Dispose: a later receive reports the disposal, never bytes from a returned buffer" {
            let client, server = pair ignore
            use client = client
            client.Send(ReadOnlySpan(patterned 5000 7))
            // Too small: InvalidArgument, and the message (reassembled in the pooled buffer) is kept.
            let small =
                Expect.throwsC (fun () -> server.Receive(Span(Array.zeroCreate 10)) |> ignore) id

            Expect.equal (codeOfExn small) HybridErrorCode.InvalidArgument "kept"
            server.Dispose()
            let buffer = Array.zeroCreate 6000

            for receive in
                [
                    (fun () -> server.Receive(Span buffer) |> ignore)
                    (fun () -> server.Receive() |> ignore)
                ] do
                let e = Expect.throwsC receive (fun e -> e.GetBaseException())
                Expect.isTrue (e :? ObjectDisposedException) $"disposed: {e}"

            Expect.isTrue (buffer |> Array.forall ((=) 0uy)) "nothing was copied out"
        }

        test "an idle connection holds no buffer on the sync path either" {
            let client, server = pair ignore
            use client = client
            use server = server
            let buffer = Array.zeroCreate 100

            let pending =
                Task.Factory.StartNew((fun () -> server.Receive(Span buffer)), TaskCreationOptions.LongRunning)

            Expect.isFalse (pending.Wait 200) "the sync receive waits"
            Expect.equal server.HeldBufferBytes 0 "a waiting sync receive holds no buffer"
            client.Send(ReadOnlySpan(patterned 100 3))
            Expect.equal (run pending) 100 "the message arrives"
            Expect.equal buffer (patterned 100 3) "intact"
            Expect.equal server.HeldBufferBytes 0 "and the buffer is returned"
        }

        // Sequenced: the count is process-wide, so no other test may run meanwhile.
        testSequenced
        <| testCase "steady-state async send and receive do not allocate per record" (fun () ->
            let client, server = pair ignore
            use client = client
            use server = server
            let records = 1000
            let message = patterned 16384 5
            let buffer = Array.zeroCreate 16384

            // Allocation is counted over every thread (async continuations move between threads); the smallest
            // of several rounds counts. One array per record would be >= 24 bytes per record.
            let round () =
                let sender =
                    task {
                        for _ in 1..records do
                            do! client.SendAsync(ReadOnlyMemory message)
                    }

                let receiver =
                    task {
                        for _ in 1..records do
                            let! _ = server.ReceiveAsync(Memory buffer)
                            ()
                    }

                runUnit (Task.WhenAll(sender, receiver))

            round ()

            let rounds = [
                for _ in 1..6 do
                    let before = GC.GetTotalAllocatedBytes true
                    round ()
                    GC.GetTotalAllocatedBytes true - before
            ]

            printfn $"async: allocated per round of {records} records of 16 KiB each way (all threads): %A{rounds}"
            Expect.isLessThan (List.min rounds) (int64 records * 8L) "async path: no per-record allocation"
            Expect.equal buffer message "last record intact")
    ]
