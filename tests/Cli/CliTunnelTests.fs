/// The tunnel end to end: `hybrid tunnel` (plaintext in, HybridProtocol out) and `hybrid serve --to` (HybridProtocol
/// in, plaintext to a backend), with a real redis-server behind it, a recording relay between the two ends, half-close
/// both ways, idle timeouts and each trust mode of `connect`.
module HybridProtocol.Tests.CliTunnelTests

open System
open System.Diagnostics
open System.IO
open System.Net
open System.Net.Sockets
open System.Text
open System.Threading
open System.Threading.Tasks
open Expecto
open HybridProtocol
open HybridProtocol.Tests.CliSupport

let private seconds (s: float) = TimeSpan.FromSeconds s

let private freePort () =
    let l = new TcpListener(IPAddress.Loopback, 0)
    l.Start()
    let port = (l.LocalEndpoint :?> IPEndPoint).Port
    l.Stop()
    port

/// A TCP relay between the tunnel's two ends that records every byte crossing it (both directions).
type private RecordingRelay(target: int) =
    let listener = new TcpListener(IPAddress.Loopback, 0)
    let recorded = new MemoryStream()
    let stop = new CancellationTokenSource()

    let pump (from: Socket) (into: Socket) =
        task {
            let buffer = Array.zeroCreate<byte> 65536
            let mutable go = true

            while go do
                let! n = from.ReceiveAsync(buffer.AsMemory(), SocketFlags.None, stop.Token)

                if n = 0 then
                    go <- false
                    into.Shutdown SocketShutdown.Send
                else
                    lock recorded (fun () -> recorded.Write(buffer, 0, n))
                    let! _ = into.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, stop.Token)
                    ()
        }

    do
        listener.Start()

        task {
            try
                while true do
                    let! client = listener.AcceptSocketAsync stop.Token
                    let upstream = new Socket(SocketType.Stream, ProtocolType.Tcp)
                    do! upstream.ConnectAsync(IPAddress.Loopback, target)

                    Task.Run(fun () ->
                        task {
                            try
                                try
                                    let! _ = Task.WhenAll(pump client upstream, pump upstream client)
                                    ()
                                with _ ->
                                    ()
                            finally
                                client.Dispose()
                                upstream.Dispose()
                        }
                        :> Task)
                    |> ignore
            with _ ->
                ()
        }
        |> ignore

    member _.Port = (listener.LocalEndpoint :?> IPEndPoint).Port
    member _.Recorded = lock recorded (fun () -> recorded.ToArray())

    interface IDisposable with
        member _.Dispose() =
            stop.Cancel()
            listener.Stop()

let private contains (haystack: byte[]) (needle: byte[]) =
    haystack.AsSpan().IndexOf(ReadOnlySpan needle) >= 0

/// redis-server on a free port (skips the test where it is not installed; .ci/run installs it).
type private Redis() =
    let port = freePort ()

    let p =
        let info = ProcessStartInfo "redis-server"

        for a in
            [
                "--port"
                string port
                "--bind"
                "127.0.0.1"
                "--save"
                ""
                "--appendonly"
                "no"
            ] do
            info.ArgumentList.Add a

        info.RedirectStandardOutput <- true
        info.UseShellExecute <- false

        try
            match Process.Start info with
            | null -> skiptest "redis-server did not start"
            | p -> p
        with :? ComponentModel.Win32Exception ->
            skiptest "redis-server is not installed (apt-get install redis-server; .ci/run does it)"

    do
        let deadline = DateTime.UtcNow + seconds 20.
        let mutable up = false

        while not up do
            if DateTime.UtcNow > deadline then
                failtest "redis-server did not listen within 20 s"

            try
                use s = new TcpClient("127.0.0.1", port)
                up <- true
            with :? SocketException ->
                Thread.Sleep 50

    member _.Port = port

    interface IDisposable with
        member _.Dispose() =
            if not p.HasExited then
                p.Kill()

            p.WaitForExit 10_000 |> ignore
            p.Dispose()

/// redis-cli ARGS against PORT; its output.
let private redisCli (port: int) (args: string list) =
    let info = ProcessStartInfo "redis-cli"
    info.ArgumentList.Add "-p"
    info.ArgumentList.Add(string port)

    for a in args do
        info.ArgumentList.Add a

    info.RedirectStandardOutput <- true
    info.UseShellExecute <- false

    use p =
        match Process.Start info with
        | null -> failtest "redis-cli did not start"
        | p -> p

    let out = p.StandardOutput.ReadToEnd()

    if not (p.WaitForExit 20_000) then
        p.Kill()
        failtest "redis-cli did not finish"

    out.Trim()

/// One RESP command over a raw socket (a real client's bytes), returning the whole reply line.
let private resp (socket: Socket) (args: string list) =
    task {
        let command = StringBuilder().Append($"*{args.Length}\r\n")

        for a in args do
            command.Append($"${Encoding.UTF8.GetByteCount a}\r\n{a}\r\n") |> ignore

        let bytes = Encoding.UTF8.GetBytes(command.ToString())
        let! _ = socket.SendAsync(bytes.AsMemory(), SocketFlags.None)
        let buffer = Array.zeroCreate<byte> 4096
        let reply = StringBuilder()
        // A simple-string, integer or bulk reply small enough to end with one CRLF after its payload.
        let mutable go = true

        while go do
            let! n = socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None)

            if n = 0 then
                go <- false
            else
                reply.Append(Encoding.UTF8.GetString(buffer, 0, n)) |> ignore
                let text = reply.ToString()

                go <-
                    not (
                        (text.StartsWith "$" && text.Split("\r\n").Length >= 3)
                        || (not (text.StartsWith "$") && text.EndsWith "\r\n")
                    )

        return reply.ToString()
    }

/// A tunnel: `serve --to BACKEND` and `tunnel --to` (through a recording relay); returns them with the tunnel's port.
let private startTunnel (dir: TempDir) (backend: int) (serverExtra: string list) (tunnelExtra: string list) =
    let server, serverPort =
        startLocal dir "serve" ([ "--to"; $"127.0.0.1:{backend}" ] @ serverExtra)

    let relay = new RecordingRelay(serverPort)

    let tunnel, tunnelPort =
        startServer
            dir
            ([ "tunnel"; "--listen"; "127.0.0.1:0"; "--to"; $"127.0.0.1:{relay.Port}" ]
             @ tunnelExtra)

    server, relay, tunnel, tunnelPort

/// A plaintext backend run by the test: SERVE on each accepted socket.
let private backend (serve: Socket -> Task) =
    let listener = new TcpListener(IPAddress.Loopback, 0)
    listener.Start()

    task {
        try
            while true do
                let! s = listener.AcceptSocketAsync()
                Task.Run(fun () -> serve s) |> ignore
        with _ ->
            ()
    }
    |> ignore

    listener

let private readToEnd (socket: Socket) =
    task {
        use all = new MemoryStream()
        let buffer = Array.zeroCreate<byte> 65536
        let mutable go = true

        while go do
            let! n = socket.ReceiveAsync(buffer.AsMemory(), SocketFlags.None)

            if n = 0 then go <- false else all.Write(buffer, 0, n)

        return all.ToArray()
    }

let private connectTo (port: int) =
    let s = new Socket(SocketType.Stream, ProtocolType.Tcp)
    s.Connect(IPAddress.Loopback, port)
    s

[<Tests>]
let tests =
    testSequenced
    <| testList "CLI tunnel" [
        testCase "cli/README's tunnel example runs as a script exactly as printed: redis-cli through both ends"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "bash"

            (new Redis() :> IDisposable).Dispose() // skips where redis-server is missing

            use dir = new TempDir()
            let r = runCliReadmeExample dir "## Tunnel"
            expectExit Exit.success r "the example"

            Expect.stringEnds
                r.Out
                "\nOK\nhello through the tunnel\n"
                "keygen's fingerprint, then redis-cli's answers through the tunnel"

        testCase
            "redis-server behind serve --to, redis-cli and 50 concurrent RESP clients through tunnel: right answers, only ciphertext between the ends"
        <| fun () ->
            use redis = new Redis()
            use dir = new TempDir()
            use _ = keygen dir "server.key"

            let server, relay, tunnel, port =
                startTunnel dir redis.Port [ "--max-clients"; "100" ] [
                    "--server-key"
                    "server.key.pub"
                    "--max-clients"
                    "100"
                ]

            use _ = server
            use _ = relay
            use _ = tunnel
            let marker = "plaintext-marker-7f3a9c"
            Expect.equal (redisCli port [ "SET"; "greeting"; marker ]) "OK" "redis-cli SET through the tunnel"
            Expect.equal (redisCli port [ "GET"; "greeting" ]) marker "redis-cli GET through the tunnel"

            let clients = [
                for i in 1..50 ->
                    task {
                        use s = connectTo port
                        let! set = resp s [ "SET"; $"key{i}"; $"{marker}-{i}" ]
                        let! get = resp s [ "GET"; $"key{i}" ]
                        let! incr = resp s [ "INCR"; "counter" ]
                        return set, get, incr
                    }
            ]

            let results = Task.WhenAll clients

            Expect.isTrue (results.Wait(seconds 60.)) "50 concurrent clients finish"

            for i, (set, get, incr) in Array.indexed results.Result do
                Expect.equal set "+OK\r\n" $"client {i + 1}: SET"
                let value = $"{marker}-{i + 1}"
                Expect.equal get $"${value.Length}\r\n{value}\r\n" $"client {i + 1}: GET"
                Expect.stringStarts incr ":" $"client {i + 1}: INCR"

            Expect.equal (redisCli port [ "GET"; "counter" ]) "50" "every INCR arrived once"
            let wire = relay.Recorded
            Expect.isGreaterThan wire.Length 50_000 "the relay saw the traffic (handshakes and records)"
            Expect.isFalse (contains wire (Encoding.ASCII.GetBytes marker)) "the marker never crossed in plaintext"
            Expect.isFalse (contains wire (Encoding.ASCII.GetBytes "greeting")) "nor the key name"
            // Whole replies, not "+OK" alone: 3 given bytes turn up by chance in 100+ KB of ciphertext about once in 150
            // runs (it did once); 5 bytes about once in 10 million.
            Expect.isFalse (contains wire (Encoding.ASCII.GetBytes "+OK\r\n")) "nor redis's replies"

        testCase
            "half-close goes through both ways: a client's FIN reaches the backend and the backend's FIN the client"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "server.key"
            // Replies only after the client's end of data; then ends its own.
            use counting =
                backend (fun s ->
                    task {
                        use s = s
                        let! all = readToEnd s

                        let! _ =
                            s.SendAsync(
                                (Encoding.ASCII.GetBytes $"got {all.Length} bytes").AsMemory(),
                                SocketFlags.None
                            )

                        s.Shutdown SocketShutdown.Send
                    })

            let port0 = (counting.LocalEndpoint :?> IPEndPoint).Port

            let server, relay, tunnel, port =
                startTunnel dir port0 [] [ "--server-key"; "server.key.pub" ]

            use _ = server
            use _ = relay
            use _ = tunnel
            use client = connectTo port
            let data = Random.Shared.GetItems(Array.init 256 byte, 300_000)
            client.Send data |> ignore
            client.Shutdown SocketShutdown.Send
            let reply = readToEnd client

            Expect.isTrue (reply.Wait(seconds 30.)) "the backend answered after the client's half-close"

            Expect.equal
                (Encoding.ASCII.GetString reply.Result)
                "got 300000 bytes"
                "the client's FIN arrived after all of it"

            // The other way: the backend speaks first and ends its side; the client still sends afterwards.
            let heard = TaskCompletionSource<string>()

            use greeting =
                backend (fun s ->
                    task {
                        use s = s

                        let! _ =
                            s.SendAsync((Encoding.ASCII.GetBytes "hello, then FIN").AsMemory(), SocketFlags.None)

                        s.Shutdown SocketShutdown.Send
                        let! all = readToEnd s
                        heard.TrySetResult(Encoding.ASCII.GetString all) |> ignore
                    })

            let port1 = (greeting.LocalEndpoint :?> IPEndPoint).Port

            let server2, relay2, tunnel2, port2 =
                startTunnel dir port1 [] [ "--server-key"; "server.key.pub" ]

            use _ = server2
            use _ = relay2
            use _ = tunnel2
            use client2 = connectTo port2
            let first = readToEnd client2
            Expect.isTrue (first.Wait(seconds 30.)) "the client saw the backend's FIN"
            Expect.equal (Encoding.ASCII.GetString first.Result) "hello, then FIN" "the backend's data"
            client2.Send(Encoding.ASCII.GetBytes "the client's answer after that") |> ignore
            client2.Shutdown SocketShutdown.Send
            Expect.isTrue (heard.Task.Wait(seconds 30.)) "the backend got the client's end of data"
            Expect.equal heard.Task.Result "the client's answer after that" "sent after the backend's half-close"

        testCase
            "serve --to --proxy-protocol v1 and v2: the backend reads a PROXY header naming the client, then the data"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "server.key"

            for version in [ "v1"; "v2" ] do
                let got = TaskCompletionSource<byte[]>()

                use recording =
                    backend (fun s ->
                        task {
                            use s = s
                            let! all = readToEnd s
                            got.TrySetResult all |> ignore
                        })

                let p = (recording.LocalEndpoint :?> IPEndPoint).Port

                let server, relay, tunnel, port =
                    startTunnel dir p [ "--proxy-protocol"; version ] [ "--server-key"; "server.key.pub" ]

                use _ = server
                use _ = relay
                use _ = tunnel
                use c = connectTo port
                c.Send(Encoding.ASCII.GetBytes "after the header") |> ignore
                c.Shutdown SocketShutdown.Send
                Expect.isTrue (got.Task.Wait(seconds 30.)) $"{version}: the backend got the connection"
                let bytes = got.Task.Result

                match
                    HybridProtocol.Core.Formats.ProxyProtocol.decode (
                        HybridProtocol.Core.Formats.ProxyProtocol.defaultOptions,
                        ReadOnlySpan bytes
                    )
                with
                | Ok(HybridProtocol.Core.Formats.ProxyDecoded.Header(header, consumed)) ->
                    match HybridProtocol.Core.Formats.ProxyProtocol.clientOf header with
                    | Some client -> Expect.equal client.Address IPAddress.Loopback $"{version}: the client's address"
                    | None -> failtest $"{version}: the header names no client"

                    Expect.equal
                        (Encoding.ASCII.GetString(bytes, consumed, bytes.Length - consumed))
                        "after the header"
                        $"{version}: the data follows the header"
                | other -> failtest $"{version}: not a PROXY header: {other}"

        testCase "an idle tunnelled connection is closed after --idle-timeout on both ends"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "server.key"
            use silent = backend (fun s -> task { do! Task.Delay(seconds 60.) } :> Task)
            let p = (silent.LocalEndpoint :?> IPEndPoint).Port

            let server, relay, tunnel, port =
                startTunnel dir p [ "--idle-timeout"; "1" ] [ "--server-key"; "server.key.pub"; "--idle-timeout"; "1" ]

            use _ = server
            use _ = relay
            use _ = tunnel
            use client = connectTo port
            let ended = readToEnd client

            let finished =
                try
                    ended.Wait(seconds 30.)
                with :? AggregateException ->
                    true // a reset also ends it

            Expect.isTrue finished "the idle connection was ended"

        testCase
            "every trust mode of connect: first use records the key; --pin; --key with --allow-clients; --psk and --suite; a wrong pin carries nothing"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "server.key"
            use _ = keygen dir "alice.key"
            File.WriteAllBytes(dir.File "psk", Security.Cryptography.RandomNumberGenerator.GetBytes 32)
            File.SetUnixFileMode(dir.File "psk", UnixFileMode.UserRead ||| UnixFileMode.UserWrite)
            use server = PrivateKey.Load(dir.File "server.key")

            use echo =
                backend (fun s ->
                    task {
                        use s = s
                        let! all = readToEnd s
                        let! _ = s.SendAsync(all.AsMemory(), SocketFlags.None)
                        s.Shutdown SocketShutdown.Send
                    })

            let p = (echo.LocalEndpoint :?> IPEndPoint).Port

            let roundTrip port (text: string) =
                use c = connectTo port
                c.Send(Encoding.ASCII.GetBytes text) |> ignore
                c.Shutdown SocketShutdown.Send
                let r = readToEnd c
                Expect.isTrue (r.Wait(seconds 30.)) $"{text}: answered"
                Encoding.ASCII.GetString r.Result

            for name, serverExtra, tunnelExtra in
                [
                    "first use", [], []
                    "pin", [], [ "--pin"; server.Fingerprint ]
                    "client key",
                    [ "--allow-clients"; "alice.key.pub" ],
                    [ "--key"; "alice.key"; "--server-key"; "server.key.pub" ]
                    "psk and suite",
                    [ "--psk"; "psk"; "--suite"; "AESGCM_SHA256" ],
                    [ "--psk"; "psk"; "--suite"; "AESGCM_SHA256"; "--server-key"; "server.key.pub" ]
                ] do
                let s, relay, t, port = startTunnel dir p serverExtra tunnelExtra
                use _ = s
                use _ = relay
                use _ = t
                Expect.equal (roundTrip port $"via {name}") $"via {name}" $"{name}: echoed through the tunnel"

            Expect.equal
                [ for e in KnownHosts.Load(dir.File "known_hosts").List() -> e.Key ]
                [ server.PublicKey ]
                "first use recorded the server's key"

            use other = PrivateKey.Generate()
            let s, relay, t, port = startTunnel dir p [] [ "--pin"; other.Fingerprint ]
            use _ = s
            use _ = relay
            use _ = t

            let refused =
                try
                    roundTrip port "refused"
                with
                | :? AggregateException as e when (e.InnerException :? SocketException) -> "" // reset: input unread
                | :? SocketException -> ""

            Expect.equal refused "" "a wrong pin: the connection carries nothing"
            t.WaitForLine((fun (l: string) -> l.Contains "pinned"), seconds 20.) |> ignore
    ]
