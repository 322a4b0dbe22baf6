/// End-to-end tests of `hybrid serve/connect/send/receive`: two processes over 127.0.0.1 on a free port.
module HybridProtocol.Tests.CliNetTests

open System
open System.IO
open System.Net
open System.Net.Sockets
open System.Security.Cryptography
open System.Text
open System.Text.RegularExpressions
open Expecto
open HybridProtocol
open HybridProtocol.Tests.CliSupport

let private seconds (s: float) = TimeSpan.FromSeconds s

/// A port nothing listens on (bound, then released).
let private closedPort () =
    let l = new TcpListener(IPAddress.Loopback, 0)
    l.Start()
    let port = (l.LocalEndpoint :?> IPEndPoint).Port
    l.Stop()
    port

let private connectTests =
    testList "serve and connect" [
        testCase
            "echo: 300 kB of stdin comes back on stdout; first contact is recorded in known hosts, with a note on stderr"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"

            let server, port = startLocal dir "serve" [ "--echo"; "--once" ]

            use _ = server
            let data = Random.Shared.GetItems(Array.init 256 byte, 300_000)
            let client = runWith dir (seconds 20.) data [ "connect"; $"127.0.0.1:{port}" ]
            expectExit Exit.success client "connect"
            Expect.equal client.Stdout data "the echo is the input"
            Expect.stringContains client.Stderr "first contact" "says it trusts on first use"
            Expect.stringContains client.Stderr key.Fingerprint "shows the key's fingerprint"

            let entries = KnownHosts.Load(dir.File "known_hosts").List()
            Expect.equal [ for e in entries -> e.Host, e.Port, e.Key ] [ "127.0.0.1", port, key.PublicKey ] "recorded"
            expectExit Exit.success (server.WaitForExit(seconds 20.)) "serve --once ends after the client"

            let listed = run dir [ "known-hosts"; "list" ]
            Expect.equal (listed.Out.Trim()) $"127.0.0.1:{port} {key.Fingerprint}" "known-hosts list shows it"

        testCase "relay: the client's stdin appears on the server's stdout; pinned with --server-key and with --pin"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"

            for pinning in [ [ "--server-key"; "server.key.pub" ]; [ "--pin"; key.Fingerprint ] ] do
                let server, port = startLocal dir "serve" [ "--once" ]

                use _ = server
                let message = Encoding.UTF8.GetBytes $"hello over {pinning[0]}\n"

                let client =
                    runWith dir (seconds 20.) message ([ "connect"; $"127.0.0.1:{port}" ] @ pinning)

                expectExit Exit.success client $"connect {pinning[0]}"
                Expect.isEmpty client.Stdout "the relay server sends nothing back"
                let served = server.WaitForExit(seconds 20.)
                expectExit Exit.success served "serve --once"
                Expect.equal served.Stdout message "the server printed the client's data"
                Expect.isFalse (File.Exists(dir.File "known_hosts")) "pinned connections record nothing"

        testCase
            "a changed server key is refused (exit 4) with both fingerprints and nothing recorded; a wrong pin too; known-hosts remove lets it in"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"
            use old = PrivateKey.Generate()

            let server, port = startLocal dir "serve" [ "--echo" ]

            use _ = server
            let knownHosts = dir.File "known_hosts"
            KnownHosts.Load(knownHosts).Add("127.0.0.1", port, old.PublicKey) |> ignore
            let before = File.ReadAllText knownHosts

            let refused = runWith dir (seconds 20.) "x"B [ "connect"; $"127.0.0.1:{port}" ]
            expectExit Exit.authentication refused "changed key"
            Expect.stringContains refused.Stderr "WARNING" "OpenSSH-style warning"
            Expect.stringContains refused.Stderr old.Fingerprint "the recorded fingerprint"
            Expect.stringContains refused.Stderr key.Fingerprint "the presented fingerprint"
            Expect.stringContains refused.Stderr $"hybrid known-hosts remove 127.0.0.1:{port}" "what to do"
            Expect.isEmpty refused.Stdout "no data"
            Expect.equal (File.ReadAllText knownHosts) before "nothing recorded"

            let wrongPin =
                runWith dir (seconds 20.) "x"B [ "connect"; $"127.0.0.1:{port}"; "--pin"; old.Fingerprint ]

            expectExit Exit.authentication wrongPin "wrong pin"
            Expect.stringContains wrongPin.Stderr key.Fingerprint "names the presented key"

            expectExit Exit.success (run dir [ "known-hosts"; "remove"; $"127.0.0.1:{port}" ]) "remove"
            let accepted = runWith dir (seconds 20.) "again"B [ "connect"; $"127.0.0.1:{port}" ]
            expectExit Exit.success accepted "after remove: first contact again"
            Expect.equal accepted.Out "again" "echoed"

        testCase "--allow-clients: a listed client key connects; an anonymous or unlisted client is refused"
        <| fun () ->
            use dir = new TempDir()
            use _server = keygen dir "server.key"
            use _alice = keygen dir "alice.key"
            use _mallory = keygen dir "mallory.key"
            File.Copy(dir.File "alice.key.pub", dir.File "clients.pub")

            let server, port =
                startLocal dir "serve" [ "--echo"; "--allow-clients"; "clients.pub" ]

            use _ = server
            let pinned = [ "--server-key"; "server.key.pub" ]

            let alice =
                runWith
                    dir
                    (seconds 20.)
                    "from alice"B
                    ([ "connect"; $"127.0.0.1:{port}"; "--key"; "alice.key" ] @ pinned)

            expectExit Exit.success alice "alice is allowed"
            Expect.equal alice.Out "from alice" "echoed"

            let mallory =
                runWith dir (seconds 20.) "x"B ([ "connect"; $"127.0.0.1:{port}"; "--key"; "mallory.key" ] @ pinned)

            expectExit Exit.authentication mallory "an unlisted key is refused"
            Expect.isEmpty mallory.Stdout "no data"

            let anonymous =
                runWith dir (seconds 20.) "x"B ([ "connect"; $"127.0.0.1:{port}" ] @ pinned)

            expectExit Exit.refused anonymous "an anonymous client is refused by the server"
            Expect.stringContains anonymous.Stderr "--key" "says to pass --key"
            Expect.isEmpty anonymous.Stdout "no data"
    ]

let private transferTests =
    testList "send and receive" [
        testCase
            "a 3 MB file arrives intact into a directory, SHA-256 verified; plain progress lines when not on a terminal"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "server.key"
            Directory.CreateDirectory(dir.File "inbox") |> ignore
            let data = Random.Shared.GetItems(Array.init 256 byte, 3_000_000)
            File.WriteAllBytes(dir.File "report.bin", data)

            let receiver, port = startLocal dir "receive" [ "-o"; "inbox" ]

            use _ = receiver

            let sender =
                run dir [ "send"; "report.bin"; $"127.0.0.1:{port}"; "--server-key"; "server.key.pub" ]

            expectExit Exit.success sender "send"
            Expect.stringContains sender.Stderr "verified" "the sender learns the receiver verified it"
            Expect.stringContains sender.Stderr "(100%)" "a plain progress line"
            let received = receiver.WaitForExit(seconds 20.)
            expectExit Exit.success received "receive"

            Expect.stringContains
                received.Stderr
                (Convert.ToHexStringLower(SHA256.HashData data))
                "prints the verified SHA-256"

            Expect.equal (File.ReadAllBytes(dir.File "inbox/report.bin")) data "the same bytes"

            Expect.isEmpty
                (Directory.GetFiles(dir.File "inbox", "*.partial", SearchOption.AllDirectories))
                "no temporary file"

        testCase "an existing target is refused: the sender exits 7, the receiver 3, the file is untouched"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "server.key"
            File.WriteAllText(dir.File "data.txt", "new")
            File.WriteAllText(dir.File "kept.txt", "old")

            let receiver, port = startLocal dir "receive" [ "-o"; "kept.txt" ]

            use _ = receiver

            let sender =
                run dir [ "send"; "data.txt"; $"127.0.0.1:{port}"; "--server-key"; "server.key.pub" ]

            expectExit Exit.refused sender "refused by the receiver"
            Expect.stringContains sender.Stderr "--force" "says why"
            expectExit Exit.keyOrFile (receiver.WaitForExit(seconds 20.)) "receiver"
            Expect.equal (File.ReadAllText(dir.File "kept.txt")) "old" "untouched"
    ]

/// Plays a sender through the library's API (so that it can lie about the hash); returns the receiver's verdict.
let private fakeSender port (serverKey: PublicKey) (data: byte[]) (claimedHash: byte[]) =
    let options =
        SecureClientOptions(
            ServerAuthentication = ServerAuthentication.Pinned serverKey,
            ApplicationProtocol = "hybrid-file/1"
        )

    let answer (message: byte[] | null) =
        match message with
        | null -> failtest "the receiver closed without an answer"
        | m -> Encoding.UTF8.GetString m

    task {
        let! connection = SecureConnection.ConnectAsync("127.0.0.1", port, options)
        use _ = connection
        let header = $"{{\"name\": \"claimed.bin\", \"size\": {data.Length}}}"
        do! connection.SendAsync(ReadOnlyMemory(Encoding.UTF8.GetBytes header))
        let! ready = connection.ReceiveAsync()
        Expect.equal (answer ready) "ready" "the receiver accepts the header"
        do! connection.SendAsync(ReadOnlyMemory data)
        do! connection.SendAsync(ReadOnlyMemory claimedHash)
        let! verdict = connection.ReceiveAsync()
        return answer verdict
    }
    |> fun t ->
        Expect.isTrue (t.Wait(seconds 20.)) "the fake sender finished"
        t.Result

let private integrityTests =
    testList "transfer integrity" [
        testCase "a SHA-256 that does not match the data: the receiver answers mismatch, keeps no file, exits 6"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"
            let data = "hello"B

            for claimed, verdict, exit in
                [
                    SHA256.HashData "hellO"B, "mismatch", Exit.integrity
                    SHA256.HashData data, "ok", Exit.success
                ] do
                let receiver, port = startLocal dir "receive" [ "-o"; "out.bin"; "--force" ]

                use _ = receiver
                Expect.equal (fakeSender port key.PublicKey data claimed) verdict "the receiver's verdict"
                let result = receiver.WaitForExit(seconds 20.)
                expectExit exit result $"receiver after {verdict}"

                Expect.equal
                    (File.Exists(dir.File "out.bin"))
                    (verdict = "ok")
                    "the file is kept only when the hash matches"

            Expect.equal (File.ReadAllBytes(dir.File "out.bin")) data "the kept file"
            Expect.isEmpty (Directory.GetFiles(dir.Path, "*.partial")) "no temporary file"
    ]

let private failureTests =
    testList "network failures" [
        testCase
            "a server that accepts and closes without a byte: connect says 'closed the connection before answering', never blames keys, and does not exit 4"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "server.key"
            use listener = new Socket(SocketType.Stream, ProtocolType.Tcp)
            listener.Bind(IPEndPoint(IPAddress.Loopback, 0))
            listener.Listen 8

            let port =
                match listener.LocalEndPoint with
                | :? IPEndPoint as e -> e.Port
                | _ -> failtest "not bound"

            let serving =
                Threading.Tasks.Task.Run(fun () ->
                    for _ in 1..2 do
                        use socket = listener.Accept()
                        // FIN without a byte, then read until the client gives up
                        socket.Shutdown SocketShutdown.Send
                        let buffer = Array.zeroCreate<byte> 65536

                        while socket.Receive buffer > 0 do
                            ())

            for trust in [ [ "--server-key"; "server.key.pub" ]; [] ] do
                let dropped =
                    runWith dir (seconds 20.) "x"B ([ "connect"; $"127.0.0.1:{port}" ] @ trust)

                Expect.notEqual
                    dropped.ExitCode
                    Exit.authentication
                    $"not an authentication failure ({trust}): {dropped.Stderr}"

                Expect.notEqual dropped.ExitCode Exit.success "not a success"
                Expect.stringContains dropped.Stderr "closed the connection before answering" "says what happened"
                Expect.isFalse (dropped.Stderr.Contains "private key") $"no word about keys: {dropped.Stderr}"

            Expect.isTrue (serving.Wait(seconds 20.)) "the server saw both clients"

        testCase "nothing listening is exit 5; a port in use is exit 5; connect to a file receiver is exit 7"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "server.key"

            let refused =
                run dir [ "connect"; $"127.0.0.1:{closedPort ()}"; "--server-key"; "server.key.pub" ]

            expectExit Exit.network refused "connection refused"
            Expect.stringContains refused.Stderr "Cannot connect" "says so"

            let busy = new TcpListener(IPAddress.Loopback, 0)
            busy.Start()

            try
                let port = (busy.LocalEndpoint :?> IPEndPoint).Port

                let inUse =
                    run dir [ "serve"; "--key"; "server.key"; "--listen"; $"127.0.0.1:{port}" ]

                expectExit Exit.network inUse "port in use"
                Expect.isFalse (inUse.Stderr.Contains "   at ") "no stack trace"
            finally
                busy.Stop()

            let receiver, port = startLocal dir "receive" [ "-o"; "x" ]

            use _ = receiver

            let wrong =
                runWith dir (seconds 20.) "x"B [ "connect"; $"127.0.0.1:{port}"; "--server-key"; "server.key.pub" ]

            expectExit Exit.refused wrong "another service"
            Expect.stringContains wrong.Stderr "hybrid send" "says which command fits"

        testCase "SIGTERM stops a server with exit 143 (128 + SIGTERM) and one line"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "POSIX signals"

            use dir = new TempDir()
            use _ = keygen dir "server.key"

            let server, _ = startLocal dir "serve" []

            use _ = server

            use kill = Diagnostics.Process.Start("kill", [ "-TERM"; string server.Process.Id ])
            kill.WaitForExit 10_000 |> ignore
            let stopped = server.WaitForExit(seconds 20.)
            Expect.equal stopped.ExitCode 143 "terminated"
            Expect.stringContains stopped.Stderr "hybrid: interrupted." "says so"
            Expect.isFalse (stopped.Stderr.Contains "   at ") "no stack trace"

        testCase "bad endpoints and options are usage errors (2)"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"

            for args in
                [
                    [ "connect"; "127.0.0.1" ]
                    [ "connect"; "127.0.0.1:0" ]
                    [ "connect"; "::1:80" ]
                    [ "connect"; "127.0.0.1:1"; "--pin"; "SHA256:short" ]
                    [
                        "connect"
                        "127.0.0.1:1"
                        "--pin"
                        key.Fingerprint
                        "--server-key"
                        "server.key.pub"
                    ]
                    [ "serve"; "--key"; "server.key"; "--listen"; "example.com:1" ]
                    [ "serve"; "--key"; "server.key" ]
                ] do
                expectExit Exit.usage (run dir args) $"{args}"
    ]

/// The README's "From the shell" section's second sh block: a script.
let private readmeScript () =
    let text =
        File.ReadAllText(Path.Combine(HybridProtocol.Tests.TestSupport.repoRoot, "README.md"))

    let start = text.IndexOf "## From the shell"
    Expect.isGreaterThanOrEqual start 0 "README has a From the shell section"
    let section = text.Substring(start, text.IndexOf("\n## ", start + 1) - start)

    let blocks =
        Regex.Matches(section, "```sh\n(.*?)```", RegexOptions.Singleline)
        |> Seq.map _.Groups[1].Value
        |> List.ofSeq

    Expect.equal blocks.Length 2 "an install block and a usage block"
    blocks[1]

let private readmeTests =
    testList "README" [
        testCase
            "the README's From the shell block runs as a script exactly as printed, waits for its servers and stops them"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "bash"

            // An empty folder: the script makes its own inputs (notes.txt). `bash -e`: any failing line fails it.
            use dir = new TempDir()
            let r = runShell dir (seconds 120.) ("set -e\n" + readmeScript ())
            expectExit Exit.success r "the script"
            use key = PrivateKey.Load(dir.File "server.key")
            let address = File.ReadAllText(dir.File "serve.addr").Trim()

            Expect.equal
                (r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                [| key.Fingerprint; "hello"; "hello"; $"{address} {key.Fingerprint}" |]
                "keygen's fingerprint, both connects' hello, the known-hosts line: nothing lost or overwritten"

            Expect.stringContains r.Stderr "first contact" "the first connect is trust on first use"
            let notes = File.ReadAllBytes(dir.File "notes.txt")
            Expect.equal (File.ReadAllBytes(dir.File "notes.opened")) notes "seal then open"
            Expect.stringContains r.Stderr "verified" "send: the receiver verified it"
            Expect.equal (File.ReadAllBytes(dir.File "inbox/notes.txt")) notes "received into inbox/"
            // Both servers are gone: their ports take no connection.
            for file in [ "serve.addr"; "receive.addr" ] do
                let port = int (File.ReadAllText(dir.File file).Trim().Split(':')[1])

                Expect.throws
                    (fun () -> (new TcpClient("127.0.0.1", port)).Dispose())
                    $"nothing listens on {file}'s port after the script"
    ]

/// Post-quantum hybrid by default, --classical to turn it off, --verbose to see the protocol name, and no fallback.
let private postQuantumTests =
    testList "post-quantum" [
        testCase
            "serve/connect are hybrid by default (--verbose prints the hfs name on both ends); --classical on the client runs NK"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "server.key"

            let server, port = startLocal dir "serve" [ "--echo"; "--verbose" ]

            use _ = server
            let pinned = [ "--server-key"; "server.key.pub" ]

            let hybrid =
                runWith dir (seconds 20.) "pq"B ([ "connect"; $"127.0.0.1:{port}"; "--verbose" ] @ pinned)

            expectExit Exit.success hybrid "hybrid connect"
            Expect.equal hybrid.Out "pq" "echoed"

            Expect.stringContains
                hybrid.Stderr
                "protocol Noise_NKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b"
                "the client prints the hybrid name"

            let classical =
                runWith
                    dir
                    (seconds 20.)
                    "x25519"B
                    ([ "connect"; $"127.0.0.1:{port}"; "--classical"; "--verbose" ] @ pinned)

            expectExit Exit.success classical "classical connect to a default server"
            Expect.equal classical.Out "x25519" "echoed"
            Expect.stringContains classical.Stderr "protocol Noise_NK_25519_ChaChaPoly_BLAKE2b" "the classical name"
            Expect.isFalse (classical.Stderr.Contains "hfs") "no hfs name"

            let quiet =
                runWith dir (seconds 20.) "q"B ([ "connect"; $"127.0.0.1:{port}" ] @ pinned)

            expectExit Exit.success quiet "without --verbose"
            Expect.isFalse (quiet.Stderr.Contains "protocol Noise_") "the name only with --verbose"

            server.Process.Kill()
            let served = server.WaitForExit(seconds 20.)

            Expect.stringContains
                served.Stderr
                "protocol Noise_NKhfs_25519+MLKEM768"
                "the server prints the hybrid name"

            Expect.stringContains served.Stderr "protocol Noise_NK_25519_ChaChaPoly_BLAKE2b" "and the classical one"

        testCase "a hybrid client at a --classical server is refused (exit 7, code 0x03) and does not fall back"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "server.key"

            let server, port = startLocal dir "serve" [ "--echo"; "--classical" ]

            use _ = server
            let pinned = [ "--server-key"; "server.key.pub" ]

            let refused =
                runWith dir (seconds 20.) "x"B ([ "connect"; $"127.0.0.1:{port}" ] @ pinned)

            expectExit Exit.refused refused "refused"
            Expect.stringContains refused.Stderr "0x03" "the refusal code"
            Expect.stringContains refused.Stderr "--classical" "how to choose classical explicitly"
            Expect.isEmpty refused.Stdout "no data: no silent fallback"

            let classical =
                runWith dir (seconds 20.) "ok"B ([ "connect"; $"127.0.0.1:{port}"; "--classical" ] @ pinned)

            expectExit Exit.success classical "--classical on both ends"
            Expect.equal classical.Out "ok" "echoed"

        testCase "send and receive: hybrid by default, --classical on both ends works, --verbose names the protocol"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "server.key"
            File.WriteAllText(dir.File "a.txt", "post-quantum")

            for extra, expected in [ [], "Noise_NKhfs_25519+MLKEM768"; [ "--classical" ], "Noise_NK_25519" ] do
                let receiver, port =
                    startServer
                        dir
                        ([
                            "receive"
                            "--key"
                            "server.key"
                            "--listen"
                            "127.0.0.1:0"
                            "-o"
                            "b.txt"
                            "--force"
                            "--verbose"
                         ]
                         @ extra)

                use _ = receiver

                let sender =
                    run
                        dir
                        ([
                            "send"
                            "a.txt"
                            $"127.0.0.1:{port}"
                            "--server-key"
                            "server.key.pub"
                            "--verbose"
                         ]
                         @ extra)

                expectExit Exit.success sender $"send {extra}"
                Expect.stringContains sender.Stderr $"protocol {expected}" "the sender's protocol"
                let received = receiver.WaitForExit(seconds 20.)
                expectExit Exit.success received $"receive {extra}"
                Expect.stringContains received.Stderr $"protocol {expected}" "the receiver's protocol"
                Expect.equal (File.ReadAllText(dir.File "b.txt")) "post-quantum" "the file"
    ]

[<Tests>]
let tests =
    testSequenced
    <| testList "CLI network" [
        connectTests
        transferTests
        integrityTests
        failureTests
        readmeTests
        postQuantumTests
    ]
