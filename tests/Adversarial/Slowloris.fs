/// Slow and silent sockets against `hybrid serve` (its SecureListener): a socket that only waits costs a socket and a
/// small buffer, not a handshake slot, so legitimate clients still connect. CI runs 300 slow sockets (more than the
/// listener's 256 handshake slots); the measurement for specs/SECURITY-TESTS.md runs 10,000:
/// `HP_SLOWLORIS=10000 dotnet run --project tests -c Release -- --filter "Adversarial slowloris"`.
module HybridProtocol.Tests.Slowloris

open System
open System.Diagnostics
open System.IO
open System.Net
open System.Net.Sockets
open System.Text.RegularExpressions
open System.Threading
open System.Threading.Tasks
open Expecto
open HybridProtocol
open HybridProtocol.Tests.CliSupport

/// The first bytes of an honest first flight, sent one per second: never complete within the first-message deadline.
let private drip =
    Text.Encoding.ASCII.GetBytes "HYBR\u0001!Noise_NN_25519_ChaChaPoly_BLAKE2b"

/// Sockets from several loopback source addresses (127.0.0.2 and up, so that the per-address limit is not what
/// helps) that each send one byte per second and are reopened as soon as the server drops them.
type private Attackers(count: int, port: int) =
    let sources = [| for i in 2..11 -> IPAddress.Parse $"127.0.0.{i}" |]
    let sockets: Socket option[] = Array.create count None
    let sent = Array.zeroCreate<int> count
    let stop = new CancellationTokenSource()
    let opened = [| 0 |]
    let connecting = new SemaphoreSlim(4000)

    let openSlot i =
        task {
            do! connecting.WaitAsync()

            try
                let s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)

                try
                    s.Bind(IPEndPoint(sources[i % sources.Length], 0))
                    do! s.ConnectAsync(IPEndPoint(IPAddress.Loopback, port), stop.Token)
                    s.Blocking <- false
                    sent[i] <- 0
                    sockets[i] <- Some s
                    Interlocked.Increment &opened[0] |> ignore
                with _ ->
                    s.Dispose()
            finally
                connecting.Release() |> ignore
        }
        :> Task

    let loop =
        task {
            let opening = [| for i in 0 .. count - 1 -> openSlot i |]
            do! Task.WhenAll opening

            while not stop.IsCancellationRequested do
                for i in 0 .. count - 1 do
                    match sockets[i] with
                    | Some s ->
                        let closed =
                            try
                                s.Poll(0, SelectMode.SelectRead)
                                || s.Send(drip, sent[i] % drip.Length, 1, SocketFlags.None) <> 1
                            with _ ->
                                true

                        if closed then
                            s.Dispose()
                            sockets[i] <- None
                            openSlot i |> ignore
                        else
                            sent[i] <- sent[i] + 1
                    | None -> ()

                try
                    do! Task.Delay(1000, stop.Token)
                with :? OperationCanceledException ->
                    ()
        }

    /// Sockets open now.
    member _.Open = sockets |> Array.sumBy (fun s -> if s.IsSome then 1 else 0)
    /// Connections made so far (first opens and reopens).
    member _.Opened = Volatile.Read &opened[0]

    interface IDisposable with
        member _.Dispose() =
            stop.Cancel()

            try
                loop.Wait(TimeSpan.FromSeconds 30.) |> ignore
            with _ ->
                ()

            for s in sockets do
                s |> Option.iter _.Dispose()

/// The server process's resident memory now and at its peak (VmRSS, VmHWM in /proc/PID/status), in MiB.
let private memory (p: Process) =
    let status = File.ReadAllText $"/proc/{p.Id}/status"

    let kb name =
        float (Regex.Match(status, name + @":\s+(\d+) kB").Groups[1].Value) / 1024.

    kb "VmRSS", kb "VmHWM"

/// Slow sockets against `hybrid serve --echo`; then `clients` legitimate clients, one after another. Returns the
/// connect times (ms) of the clients that succeeded and how many failed.
let private run (slow: int) (clients: int) =
    if not (OperatingSystem.IsLinux()) then
        skiptest "source addresses 127.0.0.2+ and /proc are Linux-specific"

    use dir = new TempDir()
    use key = keygen dir "server.key"

    let server, port = startLocal dir "serve" [ "--echo"; "--max-clients"; "1000" ]

    use _ = server

    let options =
        SecureClientOptions(ServerAuthentication = ServerAuthentication.Pinned key.PublicKey)

    // One client first, so that the timed ones do not include this process's start-up (JIT).
    (SecureConnection.ConnectAsync("127.0.0.1", port, options).Result).Dispose()
    let rssBefore, _ = memory server.Process
    let clock = Stopwatch.StartNew()
    use attackers = new Attackers(slow, port)

    // Wait until every slow socket is open, then a few seconds more (the server drops and they reopen).
    let deadline = DateTime.UtcNow + TimeSpan.FromSeconds 120.

    while attackers.Opened < slow && DateTime.UtcNow < deadline do
        Thread.Sleep 200

    Thread.Sleep 2000
    let samples = ResizeArray<int>()

    let times = ResizeArray<float>()
    let mutable failed = 0

    for _ in 1..clients do
        samples.Add attackers.Open
        Thread.Sleep 50
        let watch = Stopwatch.StartNew()

        try
            let connect = SecureConnection.ConnectAsync("127.0.0.1", port, options)

            if connect.Wait(TimeSpan.FromSeconds 30.) then
                use c = connect.Result
                times.Add watch.Elapsed.TotalMilliseconds
                c.SendAsync(ReadOnlyMemory "ping"B).AsTask().Wait()
                let echoed = c.ReceiveAsync().AsTask()
                Expect.isTrue (echoed.Wait(TimeSpan.FromSeconds 30.)) "echo"
                c.SendAsync(ReadOnlyMemory.Empty).AsTask().Wait()
            else
                failed <- failed + 1
        with _ ->
            failed <- failed + 1

    let rssAfter, peak = memory server.Process
    let sorted = times.ToArray() |> Array.sort
    let load = File.ReadAllText("/proc/loadavg").Split(' ')[0]

    if sorted.Length > 0 then
        printfn
            $"Slowloris: {slow} slow sockets ({attackers.Opened} connections made; open while the clients came: min {Seq.min samples}, mean {Seq.averageBy float samples:F0}) for {clock.Elapsed.TotalSeconds:F0} s; legitimate clients {sorted.Length} of {clients}; connect p50 {TestSupport.percentile sorted 0.5:F0} ms, p99 {TestSupport.percentile sorted 0.99:F0} ms, max {Array.last sorted:F0} ms; server RSS {rssBefore:F0} MiB before, {rssAfter:F0} MiB after, peak {peak:F0} MiB; load average {load}"

    sorted, failed

[<Tests>]
let tests =
    testSequenced
    <| testList "Adversarial slowloris" [
        testCase
            "more slow sockets than handshake slots (300 > 256, one byte per second each): 20 of 20 legitimate clients connect"
        <| fun () ->
            let slow =
                match Environment.GetEnvironmentVariable "HP_SLOWLORIS" with
                | null
                | "" -> 300
                | n -> int n

            let clients = if slow > 300 then 100 else 20
            let times, failed = run slow clients
            Expect.equal failed 0 "every legitimate client connected"
            Expect.equal times.Length clients "all timed"
    ]
