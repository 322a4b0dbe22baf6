/// The attacker at the socket level (issue 7): a programmable TCP proxy on 127.0.0.1 between real clients and a
/// real SecureListener that flips bits and cuts streams, garbage and silent or slow peers at the listener, and
/// load with faults. Every wait is bounded; nothing asserts on time. The load test runs 1,000 connections in CI;
/// HP_SOAK_CONNECTIONS=5000 (or more) runs the soak variant (specs/SECURITY-TESTS.md).
module HybridProtocol.Tests.AdversarialSockets

open System
open System.Collections.Concurrent
open System.IO
open System.Net
open System.Net.Sockets
open System.Security.Cryptography
open System.Threading
open System.Threading.Tasks
open Expecto
open HybridProtocol

let private loopback = IPAddress.Loopback

let private bounded (seconds: float) (t: Task) =
    if not (t.Wait(TimeSpan.FromSeconds seconds)) then
        failwith "a bounded wait ran out"

/// What the proxy does to one connection.
type Fault =
    | Pass
    /// Flip one bit of the client-to-server byte at this offset.
    | FlipToServer of offset: int64
    /// Flip one bit of the server-to-client byte at this offset.
    | FlipToClient of offset: int64
    /// After this many client-to-server bytes, reset both sides (abrupt cut).
    | Cut of offset: int64

/// A TCP proxy in front of `target`: connection i gets `faultFor i`.
type Proxy(target: IPEndPoint, faultFor: int -> Fault) =
    let listener = new TcpListener(loopback, 0)
    let pumps = ConcurrentBag<Task>()
    let stop = new CancellationTokenSource()
    let mutable count = 0

    let reset (s: Socket) =
        try
            s.LingerState <- LingerOption(true, 0)
            s.Close()
        with _ ->
            ()

    let pump (src: Socket) (dst: Socket) (flip: int64) (cut: int64) =
        task {
            let buffer = Array.zeroCreate 8192
            let mutable offset = 0L
            let mutable go = true

            while go do
                let! n =
                    task {
                        try
                            return! src.ReceiveAsync(Memory buffer, SocketFlags.None)
                        with _ ->
                            return 0
                    }

                if n = 0 then
                    go <- false

                    try
                        dst.Shutdown SocketShutdown.Send
                    with _ ->
                        ()
                else
                    if flip >= offset && flip < offset + int64 n then
                        let i = int (flip - offset)
                        buffer[i] <- buffer[i] ^^^ (1uy <<< int (flip % 8L))

                    let keep = int (min (int64 n) (max 0L (cut - offset)))

                    try
                        if keep > 0 then
                            let! _ = dst.SendAsync(ReadOnlyMemory(buffer, 0, keep), SocketFlags.None)
                            ()
                    with _ ->
                        go <- false

                    offset <- offset + int64 n

                    if keep < n then
                        go <- false
                        reset src
                        reset dst
        }

    let accept () =
        task {
            try
                while not stop.IsCancellationRequested do
                    let! client = listener.AcceptSocketAsync(stop.Token)
                    let index = Interlocked.Increment &count - 1
                    let server = new Socket(SocketType.Stream, ProtocolType.Tcp)
                    do! server.ConnectAsync target

                    let toServerFlip, toClientFlip, cut =
                        match faultFor index with
                        | Pass -> -1L, -1L, Int64.MaxValue
                        | FlipToServer o -> o, -1L, Int64.MaxValue
                        | FlipToClient o -> -1L, o, Int64.MaxValue
                        | Cut o -> -1L, -1L, o

                    let a = pump client server toServerFlip cut
                    let b = pump server client toClientFlip Int64.MaxValue

                    pumps.Add(
                        task {
                            let! _ = Task.WhenAll([| a :> Task; b :> Task |])
                            client.Dispose()
                            server.Dispose()
                        }
                    )
            with _ ->
                ()
        }

    do listener.Start()
    let acceptLoop = accept ()

    member _.Port = (listener.LocalEndpoint :?> IPEndPoint).Port

    interface IDisposable with
        member _.Dispose() =
            stop.Cancel()
            listener.Stop()
            bounded 30.0 acceptLoop
            bounded 30.0 (Task.WhenAll(pumps.ToArray()))

let private serverKey =
    PrivateKey.FromRawBytes(ReadOnlySpan(Array.init 32 (fun i -> byte (i * 3 + 1))))

let private serverOptions (timeout: float) =
    SecureServerOptions(ServerKey = serverKey, HandshakeTimeout = TimeSpan.FromSeconds timeout)

let private clientOptions () =
    SecureClientOptions(
        ServerAuthentication = ServerAuthentication.Pinned serverKey.PublicKey,
        HandshakeTimeout = TimeSpan.FromSeconds 10.0
    )

/// A message that carries its own SHA-256: 32 bytes of hash, then the body.
let private hashed (rng: Random) (size: int) =
    let body = Array.zeroCreate size
    rng.NextBytes body
    Array.append (SHA256.HashData body) body

let private intact (message: byte[]) =
    message.Length >= 32
    && CryptographicOperations.FixedTimeEquals(
        ReadOnlySpan(SHA256.HashData(ReadOnlySpan(message, 32, message.Length - 32))),
        ReadOnlySpan(message, 0, 32)
    )

/// How one end of one connection ended.
type Outcome =
    | Clean
    | Typed of HybridErrorCode
    | Untyped of string
    | Corrupt

let rec private outcomeOf (e: exn) =
    match e with
    | HybridError h -> Typed h.Code
    | :? AggregateException as a when a.InnerExceptions.Count = 1 -> outcomeOf a.InnerExceptions[0]
    | e -> Untyped(e.GetType().Name + ": " + e.Message)

/// A listener whose handler answers each intact message with a hashed one of its own until the client closes.
type Server(timeout: float, ?maxHandshakes: int) =
    let listener =
        new SecureListener(
            IPEndPoint(loopback, 0),
            serverOptions timeout,
            MaxConcurrentHandshakes = defaultArg maxHandshakes 256,
            MaxPendingConnections = 2048
        )

    let outcomes = ConcurrentBag<Outcome>()
    let failures = ConcurrentBag<Exception>()
    let handlers = ConcurrentBag<Task>()
    let stop = new CancellationTokenSource()
    let mutable live = 0

    let handle (c: SecureConnection) (seed: int) =
        task {
            Interlocked.Increment &live |> ignore
            let rng = Random seed

            try
                try
                    let mutable go = true
                    let mutable result = Clean

                    while go do
                        let! m = c.ReceiveAsync()

                        match m with
                        | null -> go <- false
                        | m when not (intact m) ->
                            result <- Corrupt
                            go <- false
                        | _ -> do! c.SendAsync(ReadOnlyMemory(hashed rng (rng.Next(1000, 20000))))

                    outcomes.Add result
                with e ->
                    outcomes.Add(outcomeOf e)
            finally
                c.Dispose()
                Interlocked.Decrement &live |> ignore
        }

    do
        listener.HandshakeFailed.Add(fun e -> failures.Add e.Exception)
        listener.Start()

    let acceptLoop =
        task {
            try
                let mutable i = 0

                while true do
                    let! c = listener.AcceptAsync(stop.Token)
                    i <- i + 1
                    handlers.Add(handle c i)
            with _ ->
                ()
        }

    member _.EndPoint = listener.LocalEndPoint
    member _.Outcomes = List.ofSeq outcomes
    member _.HandshakeFailures = List.ofSeq failures
    member _.Live = live

    member _.Stop() =
        stop.Cancel()
        bounded 30.0 acceptLoop
        bounded 60.0 (Task.WhenAll(handlers.ToArray()))
        listener.DisposeAsync().AsTask() |> bounded 30.0

/// A client that sends `rounds` hashed messages through `port`, checks each answer, then closes.
let private clientRun (port: int) (seed: int) (rounds: int) =
    task {
        let rng = Random seed

        try
            use! c = SecureConnection.ConnectAsync("127.0.0.1", port, clientOptions ())
            let mutable result = Clean

            for _ in 1..rounds do
                if result = Clean then
                    do! c.SendAsync(ReadOnlyMemory(hashed rng (rng.Next(1000, 20000))))
                    let! answer = c.ReceiveAsync()

                    match answer with
                    | null -> result <- Corrupt
                    | answer when not (intact answer) -> result <- Corrupt
                    | _ -> ()

            if result = Clean then
                let! _ = c.CloseAsync()
                ()

            return result
        with e ->
            return outcomeOf e
    }

/// Open socket descriptors of this process (regular files and pipes, which the runtime opens lazily, are not counted).
let private openDescriptors () =
    if Directory.Exists "/proc/self/fd" then
        Directory.GetFiles("/proc/self/fd")
        |> Array.filter (fun f ->
            try
                match (FileInfo f).LinkTarget with
                | null -> false
                | target -> target.StartsWith "socket:"
            with _ ->
                false)
        |> Array.length
    else
        0

let private isTyped outcome =
    match outcome with
    | Typed _ -> true
    | _ -> false

let loadWithFaults (connections: int) =
    // Warm up first: the runtime opens its socket engine's descriptors lazily, once per process.
    let warm = Server(10.0)
    bounded 60.0 (Task.WhenAll(Array.init (min connections 300) (fun i -> clientRun warm.EndPoint.Port i 1)))
    warm.Stop()
    GC.Collect()
    GC.WaitForPendingFinalizers()
    let before = openDescriptors ()
    let memoryBefore = GC.GetTotalMemory true
    let workingSetBefore = Environment.WorkingSet
    let server = Server(10.0, connections + 16)
    let rng = Random 1234
    // About a tenth are cut at a random point of the client's stream (before its first message is complete).
    let faults =
        Array.init connections (fun _ -> if rng.Next 10 = 0 then Cut(int64 (rng.Next 1000)) else Pass)

    let proxy = new Proxy(server.EndPoint, fun i -> faults[i])

    let clients = Array.init connections (fun i -> clientRun proxy.Port (i + 1) 3)

    bounded 120.0 (Task.WhenAll clients)
    let results = clients |> Array.map _.Result
    (proxy :> IDisposable).Dispose()
    server.Stop()
    // The proxy's order of accepting matches neither the clients' order nor the faults', so judge by counts.
    let cut = faults |> Array.filter (fun f -> f <> Pass) |> Array.length
    let clean = results |> Array.filter ((=) Clean) |> Array.length
    let typed = results |> Array.filter isTyped |> Array.length
    let serverOutcomes = server.Outcomes
    let handshakeFailures = server.HandshakeFailures
    GC.Collect()
    GC.WaitForPendingFinalizers()
    // Closing is asynchronous (the proxy's and the server's last continuations may still be running): give the
    // descriptors a bounded moment to go, then count. A leak stays whatever the wait.
    let mutable after = openDescriptors ()
    let mutable waited = 0

    while after > before && waited < 50 do
        Thread.Sleep 100
        GC.Collect()
        GC.WaitForPendingFinalizers()
        after <- openDescriptors ()
        waited <- waited + 1

    let memoryAfter = GC.GetTotalMemory true
    let workingSetAfter = Environment.WorkingSet

    printfn
        $"Load with faults: {connections} connections, {cut} cut: clients {clean} clean, {typed} typed errors; server {serverOutcomes.Length} accepted ({serverOutcomes |> List.filter ((=) Clean) |> List.length} clean), {handshakeFailures.Length} failed handshakes; open sockets {before} before, {after} after; GC heap {memoryBefore / 1024L} KiB before, {memoryAfter / 1024L} KiB after; working set {workingSetBefore / 1048576L} MiB before, {workingSetAfter / 1048576L} MiB after"

    Expect.equal clean (connections - cut) "every connection that was not cut is intact"
    Expect.equal typed cut "every cut connection ends in a typed error on the client"
    Expect.isFalse (results |> Array.exists (fun r -> r = Corrupt)) "no corrupt message on a client"
    Expect.isFalse (serverOutcomes |> List.exists (fun r -> r = Corrupt)) "no corrupt message on the server"

    Expect.isEmpty
        [
            for o in serverOutcomes do
                match o with
                | Untyped e -> e
                | _ -> ()
        ]
        "server: only typed errors"

    Expect.isTrue
        (handshakeFailures |> List.forall (fun e -> box e :? IHybridProtocolError))
        "failed handshakes: typed errors"

    Expect.equal server.Live 0 "no server connection left"
    Expect.isLessThanOrEqual after before "no socket handles left"

[<Tests>]
let tests =
    testSequenced
    <| testList "Adversarial sockets" [
        test "bit flips through a TCP proxy at sampled positions of both directions: typed errors, nothing corrupt" {
            let server = Server(10.0)
            // Sampled offsets: preamble, handshake messages, first records, later records.
            let offsets = [ 0L; 4L; 10L; 40L; 60L; 90L; 120L; 200L; 400L; 1000L; 1500L; 2000L ]

            let faults =
                [| for o in offsets -> FlipToServer o |]
                |> Array.append [| for o in offsets -> FlipToClient o |]

            use proxy = new Proxy(server.EndPoint, fun i -> faults[i])
            let mutable tried = 0

            for i in 0 .. faults.Length - 1 do
                let result = (clientRun proxy.Port i 2).Result
                tried <- tried + 1
                Expect.isTrue (isTyped result) $"{faults[i]}: the client ends in a typed error, got {result}"

            server.Stop()

            Expect.isFalse
                (server.Outcomes |> List.exists (fun o -> o = Corrupt || o = Clean))
                "no server connection ends clean or corrupt"

            printfn $"Socket tampering: {tried} flipped connections"
        }

        test "garbage, huge lengths and zero-length frames at the listener: it keeps serving" {
            let server = Server(5.0)
            let rng = Random 5

            let garbage = [
                for size in [ 1; 7; 100; 5000 ] do
                    Array.init size (fun _ -> byte (rng.Next 256))
                Array.append "HYBR\001\033Noise_NK_25519_ChaChaPoly_BLAKE2b"B [| 0xFFuy; 0xFFuy; 1uy; 2uy |]
                Array.append "HYBR\001\033Noise_NK_25519_ChaChaPoly_BLAKE2b"B [| 0uy; 0uy |]
                Array.append "HYBR\001\033Noise_NK_25519_ChaChaPoly_BLAKE2b"B (Array.create 3000 0x41uy)
            ]

            for bytes in garbage do
                use s = new Socket(SocketType.Stream, ProtocolType.Tcp)
                s.Connect server.EndPoint

                try
                    s.Send bytes |> ignore
                    s.Shutdown SocketShutdown.Send
                with :? SocketException ->
                    ()

                let buffer: byte[] = Array.zeroCreate 1024
                // The server answers (a refusal) or closes: read until it does, bounded by the socket timeout.
                s.ReceiveTimeout <- 20000

                try
                    while s.Receive buffer > 0 do
                        ()
                with :? SocketException ->
                    ()

            let result = (clientRun server.EndPoint.Port 99 3).Result
            Expect.equal result Clean "a legitimate client is served after the garbage"
            server.Stop()
            Expect.isGreaterThanOrEqual server.HandshakeFailures.Length garbage.Length "each garbage connection failed"
            Expect.isTrue (server.HandshakeFailures |> List.forall (fun e -> box e :? IHybridProtocolError)) "typed"
        }

        test "a few hundred silent and one-byte-at-a-time peers: handshake timeout enforced, a real client served" {
            let server = Server(1.0, 1024)
            let silent = [ for _ in 1..200 -> new Socket(SocketType.Stream, ProtocolType.Tcp) ]

            for s in silent do
                s.Connect server.EndPoint

            let preamble = "HYBR\001\033Noise_NK_25519_ChaChaPoly_BLAKE2b"B

            let drips = [
                for _ in 1..20 ->
                    task {
                        use s = new Socket(SocketType.Stream, ProtocolType.Tcp)
                        do! s.ConnectAsync server.EndPoint

                        try
                            for b in preamble do
                                let! _ = s.SendAsync(ReadOnlyMemory [| b |], SocketFlags.None)
                                do! Task.Delay 250
                        with _ ->
                            ()
                    }
                    :> Task
            ]

            let result = (clientRun server.EndPoint.Port 7 2).Result
            Expect.equal result Clean "a legitimate client is served while the slow peers wait"
            // Every silent peer is disconnected by the server's first-message deadline (read returns the TooSlow
            // refusal, then 0, or resets).
            for s in silent do
                s.ReceiveTimeout <- 30000
                let buffer: byte[] = Array.zeroCreate 16

                let ended =
                    try
                        let n = s.Receive buffer

                        n = 0
                        || (buffer[0] = byte HybridProtocol.Core.Wire.RefusalCode.TooSlow
                            && s.Receive buffer = 0)
                    with :? SocketException as e ->
                        e.SocketErrorCode <> SocketError.TimedOut

                Expect.isTrue ended "the server ended the silent connection"
                s.Dispose()

            bounded 60.0 (Task.WhenAll drips)
            server.Stop()

            let timeouts =
                server.HandshakeFailures
                |> List.filter (fun e ->
                    match e with
                    | HybridError h -> h.Code = HybridErrorCode.HandshakeTimeout
                    | _ -> false)

            printfn $"Slow peers: 200 silent, 20 dripping; {timeouts.Length} handshake timeouts"
            Expect.isGreaterThanOrEqual timeouts.Length 200 "handshake timeouts"
        }

        test "load with faults: concurrent connections, hash-checked messages both ways, a tenth cut abruptly" {
            let connections =
                match Environment.GetEnvironmentVariable "HP_SOAK_CONNECTIONS" with
                | null
                | "" -> 1000
                | n -> int n

            loadWithFaults connections
        }
    ]
