/// The conformance runner (conformance/, specs/README.md "Conformance runner") against this project's own tool, as
/// server and as client (every rule passes), and against a deliberately broken server (the runner names its rule).
module HybridProtocol.Tests.ConformanceTests

open System
open System.Net
open System.Net.Sockets
open System.Threading
open System.Threading.Tasks
open Expecto
open HybridProtocol.Conformance
open HybridProtocol.Tests.TestSupport
open HybridProtocol.Tests.CliSupport

/// A TCP relay in front of a server that rewrites the server's first byte when it is `from` (a broken server: it
/// answers a non-canonical name with another refusal code). Serves connections until cancelled.
let private brokenRelay (upstream: int) (from: byte) (into: byte) (cancel: CancellationToken) =
    let listener = new TcpListener(IPAddress.Loopback, 0)
    listener.Start()

    let pump (source: NetworkStream) (target: NetworkStream) (rewrite: bool) =
        task {
            let buffer = Array.zeroCreate 65536
            let mutable first = rewrite
            let mutable go = true

            while go do
                let! n =
                    try
                        source.ReadAsync(buffer, 0, buffer.Length, cancel)
                    with _ ->
                        Task.FromResult 0

                if n <= 0 then
                    go <- false
                else
                    if first && buffer[0] = from then
                        buffer[0] <- into

                    first <- false

                    try
                        do! target.WriteAsync(buffer, 0, n, cancel)
                    with _ ->
                        go <- false

            try
                target.Socket.Shutdown SocketShutdown.Send
            with _ ->
                ()
        }

    let serve () =
        task {
            while not cancel.IsCancellationRequested do
                let! client = listener.AcceptTcpClientAsync(cancel)
                let server = new TcpClient("127.0.0.1", upstream)
                let a = client.GetStream()
                let b = server.GetStream()

                Task
                    .WhenAll(pump a b false, pump b a true)
                    .ContinueWith(fun (_: Task) ->
                        client.Dispose()
                        server.Dispose())
                |> ignore
        }

    let running = serve ()
    listener, running

let private local port = IPEndPoint(IPAddress.Loopback, port)

/// A 32-byte pre-shared key file only its owner may read, as the CLI's --psk wants it.
let private pskFile (dir: TempDir) =
    let path = dir.File "psk.bin"
    IO.File.WriteAllBytes(path, Security.Cryptography.RandomNumberGenerator.GetBytes 32)
    IO.File.SetUnixFileMode(path, IO.UnixFileMode.UserRead ||| IO.UnixFileMode.UserWrite)
    path

/// Runs the runner against `hybrid serve --echo` with these extra arguments; every rule must pass, and the rules
/// checked are returned.
let private serveMode (dir: TempDir) (serveArgs: string list) (settings: Runner.Settings) =
    let server, port = startLocal dir "serve" ("--echo" :: serveArgs)
    use _ = server
    let findings = Runner.againstServer (local port) settings
    let text, broken = Runner.report findings
    Expect.isEmpty broken $"no rule broken:\n{text}"
    findings

/// Runs the runner as a server against `hybrid connect` with these extra arguments, once per case; every rule must
/// pass.
let private connectMode (dir: TempDir) (connectArgs: string list) (settings: Runner.Settings) =
    let listener = new TcpListener(IPAddress.Loopback, 0)
    listener.Start()
    let port = (listener.LocalEndpoint :?> IPEndPoint).Port
    use cancel = new CancellationTokenSource(TimeSpan.FromSeconds 120.0)

    let runner = Task.Run(fun () -> Runner.againstClient listener settings cancel.Token)

    for _ in 1 .. Runner.clientCases do
        runWith dir (TimeSpan.FromSeconds 60.0) "hello"B ([ "connect"; $"127.0.0.1:{port}" ] @ connectArgs)
        |> ignore

    Expect.isTrue (runner.Wait(TimeSpan.FromSeconds 60.0)) "the runner finished"
    listener.Stop()
    let findings = runner.Result
    let text, broken = Runner.report findings
    Expect.isEmpty broken $"no rule broken:\n{text}"
    Expect.isGreaterThanOrEqual findings.Length 8 "checks run"
    findings

[<Tests>]
let tests =
    testList "Conformance runner" [
        test "against hybrid serve --echo: every rule the runner checks passes" {
            use dir = new TempDir()
            keygen dir "server.key" |> ignore
            let server, port = startLocal dir "serve" [ "--echo" ]
            use _ = server
            let findings = Runner.againstServer (local port) Runner.defaults
            let text, broken = Runner.report findings
            Expect.isEmpty broken $"no rule broken:\n{text}"
            Expect.isGreaterThanOrEqual findings.Length 11 "checks run"

            let rules = findings |> List.map _.Rule |> List.distinct |> List.sort

            Expect.equal
                rules
                [ "P1"; "P10"; "P11"; "P12"; "P13"; "P15"; "P16"; "P4"; "P6"; "P8"; "P9" ]
                "rules checked"

            printfn $"Conformance runner against hybrid serve: {findings.Length} checks of {rules.Length} rules passed"
        }

        test "against hybrid serve --classical in AESGCM_SHA256: every rule passes" {
            use dir = new TempDir()
            keygen dir "server.key" |> ignore

            let server, port =
                startLocal dir "serve" [ "--echo"; "--classical"; "--suite"; "AESGCM_SHA256" ]

            use _ = server

            let settings = {
                Runner.defaults with
                    Hybrid = false
                    Suite = "AESGCM_SHA256"
            }

            let text, broken = Runner.report (Runner.againstServer (local port) settings)
            Expect.isEmpty broken $"no rule broken:\n{text}"
        }

        test "against hybrid connect (trust on first use): every rule the runner checks passes" {
            use dir = new TempDir()
            let listener = new TcpListener(IPAddress.Loopback, 0)
            listener.Start()
            let port = (listener.LocalEndpoint :?> IPEndPoint).Port
            use cancel = new CancellationTokenSource(TimeSpan.FromSeconds 120.0)

            let runner =
                Task.Run(fun () -> Runner.againstClient listener Runner.defaults cancel.Token)

            for _ in 1 .. Runner.clientCases do
                runWith dir (TimeSpan.FromSeconds 60.0) "hello"B [
                    "connect"
                    $"127.0.0.1:{port}"
                    "--known-hosts"
                    dir.File "known_hosts"
                ]
                |> ignore

            Expect.isTrue (runner.Wait(TimeSpan.FromSeconds 60.0)) "the runner finished"
            listener.Stop()
            let findings = runner.Result
            let text, broken = Runner.report findings
            Expect.isEmpty broken $"no rule broken:\n{text}"
            Expect.isGreaterThanOrEqual findings.Length 16 "checks run"

            Expect.equal
                (findings |> List.map _.Rule |> List.distinct |> List.sort)
                [ "P1"; "P11"; "P12"; "P16"; "P4"; "P6"; "P8" ]
                "rules checked"

            printfn $"Conformance runner against hybrid connect: {findings.Length} checks passed"
        }

        test "against a deliberately broken server (refusal 03 for a non-canonical name): the runner reports P4" {
            use dir = new TempDir()
            keygen dir "server.key" |> ignore
            let server, port = startLocal dir "serve" [ "--echo" ]
            use _ = server
            use cancel = new CancellationTokenSource()
            let listener, _ = brokenRelay port 2uy 3uy cancel.Token
            let relayPort = (listener.LocalEndpoint :?> IPEndPoint).Port

            try
                let findings = Runner.againstServer (local relayPort) Runner.defaults
                let text, broken = Runner.report findings
                Expect.equal broken [ "P4" ] $"exactly the broken rule:\n{text}"
            finally
                cancel.Cancel()
                listener.Stop()
        }
        test "pinned server key (NK): against hybrid serve --echo and hybrid connect --pin, every rule passes" {
            use dir = new TempDir()
            use serverKey = keygen dir "server.key"

            let findings =
                serveMode dir [] {
                    Runner.defaults with
                        ServerKey = Some(serverKey.PublicKey.ToCore())
                }

            Expect.contains (findings |> List.map _.Rule) "P16" "the over-limit message was sent"

            use runnerKey = keygen dir "runner.key"

            connectMode dir [ "--pin"; runnerKey.PublicKey.Fingerprint ] {
                Runner.defaults with
                    Key = Some(runnerKey.ToKeyPair())
            }
            |> ignore
        }

        test "client key (XX): against hybrid serve --echo --allow-clients and hybrid connect --key, every rule passes" {
            use dir = new TempDir()
            keygen dir "server.key" |> ignore
            use clientKey = keygen dir "client.key"

            serveMode dir [ "--allow-clients"; dir.File "client.key.pub" ] {
                Runner.defaults with
                    Key = Some(clientKey.ToKeyPair())
            }
            |> ignore

            connectMode dir [ "--key"; dir.File "client.key"; "--known-hosts"; dir.File "known_hosts" ] Runner.defaults
            |> ignore
        }

        test
            "pre-shared key (NKpsk2, NXpsk2): against hybrid serve --echo --psk and hybrid connect --psk, every rule passes" {
            use dir = new TempDir()
            use serverKey = keygen dir "server.key"
            let psk = pskFile dir

            serveMode dir [ "--psk"; psk ] {
                Runner.defaults with
                    ServerKey = Some(serverKey.PublicKey.ToCore())
                    Psk = Some(IO.File.ReadAllBytes psk)
            }
            |> ignore

            connectMode dir [ "--psk"; psk; "--known-hosts"; dir.File "known_hosts" ] {
                Runner.defaults with
                    Psk = Some(IO.File.ReadAllBytes psk)
            }
            |> ignore
        }
    ]
