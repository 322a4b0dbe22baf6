/// The tool under abuse and faults (issue 16): lying and malformed senders, idle and silent clients, full disks,
/// signals, closed pipes, FIFOs as key files, damaged sealed files, and many processes writing one known-hosts file.
/// Every server runs on 127.0.0.1; every wait is bounded.
module HybridProtocol.Tests.CliAbuseTests

open System
open System.Diagnostics
open System.IO
open System.Net
open System.Text
open System.Threading
open System.Threading.Tasks
open Expecto
open HybridProtocol
open HybridProtocol.Tests.CliSupport

let private seconds (s: float) = TimeSpan.FromSeconds s

/// Waits for a task, failing the test after 20 s.
let private within (what: string) (t: Task<'T>) =
    if not (t.Wait(seconds 20.)) then
        failtest $"{what}: no result within 20 s"

    t.Result

/// A library client of `hybrid receive` (application protocol hybrid-file/1), or of `hybrid serve` when protocol is None.
let private client port (serverKey: PublicKey) (protocol: string option) =
    let options =
        SecureClientOptions(ServerAuthentication = ServerAuthentication.Pinned serverKey)

    protocol |> Option.iter (fun p -> options.ApplicationProtocol <- p)
    SecureConnection.ConnectAsync("127.0.0.1", port, options) |> within "connect"

/// The next message as text; "<closed>" at the peer's close, "<failed: CODE>" when the connection broke.
let private nextText (connection: SecureConnection) =
    task {
        try
            match! connection.ReceiveAsync() with
            | null -> return "<closed>"
            | m -> return Encoding.UTF8.GetString m
        with
        | HybridError e -> return $"<failed: {e.Code}>"
        | :? IOException -> return "<failed: io>"
    }
    |> within "an answer from the server"

let private send (connection: SecureConnection) (bytes: byte[]) =
    connection.SendAsync(ReadOnlyMemory bytes).AsTask().Wait(seconds 20.)
    |> fun sent -> Expect.isTrue sent "sent"

let private partials (path: string) =
    Directory.GetFiles(path, "*.partial", SearchOption.AllDirectories)

let private sendFile dir file port =
    run dir [ "send"; file; $"127.0.0.1:{port}"; "--server-key"; "server.key.pub" ]

let private startProcess (info: ProcessStartInfo) =
    match Process.Start info with
    | null -> failtest $"could not start {info.FileName}"
    | p -> p

/// Runs a shell tool (mount, mkfifo, kill); its exit code.
let private tool (name: string) (args: string list) =
    let info = ProcessStartInfo name

    for a in args do
        info.ArgumentList.Add a

    use p = startProcess info

    if not (p.WaitForExit 20_000) then
        p.Kill()
        failtest $"{name} did not finish"

    p.ExitCode

let private signal (name: string) (p: Process) =
    Expect.equal (tool "kill" [ "-" + name; string p.Id ]) 0 $"kill -{name}"

let private headerTests =
    testList "transfer headers" [
        testCase
            "malformed headers and unsafe names get a typed refusal; the receiver prints no raw control character and goes on to receive a real file"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"
            let receiver, port = startLocal dir "receive" [ "-o"; "inbox/" ]
            use _ = receiver

            let refusals = [
                "{}", "bad-header"
                """{"size": 1}""", "bad-header"
                """{"name": "a.txt"}""", "bad-header"
                """{"Name": "a.txt", "Size": 1}""", "bad-header"
                """{"NAME": "a.txt", "size": 1}""", "bad-header"
                """{"name": null, "size": 1}""", "bad-header"
                """{"name": 7, "size": 1}""", "bad-header"
                """{"name": "a.txt", "size": -1}""", "bad-header"
                """{"name": "a.txt", "size": 1.5}""", "bad-header"
                """{"name": "a.txt", "size": 1, "mode": "x"}""", "bad-header"
                """{"name": "a.txt", "name": "b.txt", "size": 1}""", "bad-header"
                "[1, 2]", "bad-header"
                "not json at all", "bad-header"
                "", "bad-header"
                """{"name": "", "size": 1}""", "bad-name"
                """{"name": "../", "size": 1}""", "bad-name"
                """{"name": "..", "size": 1}""", "bad-name"
                """{"name": "x\u001b[2J\u001b]0;owned\u0007", "size": 1}""", "bad-name"
                """{"name": "ok.txt\nhybrid: received /etc/passwd (1 B), SHA-256 verified and stored.", "size": 1}""",
                "bad-name"
                """{"name": "invoice\u202Etxt.exe", "size": 1}""", "bad-name"
                """{"name": "a\u0085b", "size": 1}""", "bad-name"
                $"""{{"name": "{String('n', 256)}", "size": 1}}""", "bad-name"
                // issue 26 item 6: a lone surrogate is not text (it closed the connection before); hidden names
                """{"name": "a\ud800b", "size": 1}""", "bad-name"
                """{"name": "\udc00", "size": 1}""", "bad-name"
                """{"name": ".profile", "size": 1}""", "hidden-name"
                """{"name": "sub/.ssh", "size": 1}""", "hidden-name"
            ]

            for header, code in refusals do
                use connection = client port key.PublicKey (Some "hybrid-file/1")
                send connection (Encoding.UTF8.GetBytes header)
                let answer = nextText connection
                Expect.stringStarts answer $"refused: {code}: " $"the answer to {header}"
                Expect.isFalse (answer.Contains dir.Path) "the answer names no path of the receiver"
                Expect.isFalse receiver.Process.HasExited $"the receiver still runs after {header}"

            File.WriteAllText(dir.File "real.txt", "a real file")
            expectExit Exit.success (sendFile dir "real.txt" port) "a real sender after the refusals"
            let received = receiver.WaitForExit(seconds 20.)
            expectExit Exit.success received "the receiver ends after the real file"
            Expect.equal (File.ReadAllText(dir.File "inbox/real.txt")) "a real file" "stored"
            Expect.equal (Directory.GetFileSystemEntries(dir.File "inbox")).Length 1 "nothing else in the inbox"
            Expect.isFalse (received.Stderr.Contains '\u001b') "no escape character reached the receiver's terminal"
            Expect.isFalse (received.Stderr.Contains '\u202E') "no bidirectional override either"

            Expect.isFalse
                (received.Stderr.Split('\n')
                 |> Array.exists _.StartsWith("hybrid: received /etc/passwd"))
                "no forged line"

            Expect.stringContains received.Stderr "refused a sender: bad-name." "the refusal is logged by its code"

        testCase
            "refusals and failures tell the sender a reason code and nothing of the receiver's files: a name taken before and during the transfer"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"
            Directory.CreateDirectory(dir.File "inbox") |> ignore
            File.WriteAllText(dir.File "inbox/taken.txt", "old")
            File.WriteAllText(dir.File "taken.txt", "new")

            let receiver, port = startLocal dir "receive" [ "-o"; "inbox/" ]
            use _ = receiver
            let sender = sendFile dir "taken.txt" port
            expectExit Exit.refused sender "a name that exists is refused"
            Expect.stringContains sender.Stderr "name-taken" "the reason code"
            Expect.stringContains sender.Stderr "--force" "what the receiver can do"
            Expect.isFalse (sender.Stderr.Contains(dir.File "inbox")) "no path of the receiver"
            Expect.isFalse (sender.Stderr.Contains "inbox") "no folder name of the receiver"
            expectExit Exit.keyOrFile (receiver.WaitForExit(seconds 20.)) "the receiver"
            Expect.equal (File.ReadAllText(dir.File "inbox/taken.txt")) "old" "untouched"

            // Another process creates the name while the data arrives: the rename refuses to replace it, and the
            // sender learns that the file was not stored.
            let receiver, port = startLocal dir "receive" [ "-o"; "inbox/" ]
            use _ = receiver
            use connection = client port key.PublicKey (Some "hybrid-file/1")
            let data = Array.init 100_000 byte
            send connection (Encoding.UTF8.GetBytes """{"name": "late.bin", "size": 100000}""")
            Expect.equal (nextText connection) "ready" "ready"
            File.WriteAllText(dir.File "inbox/late.bin", "someone else's")
            send connection data
            send connection (Security.Cryptography.SHA256.HashData data)
            Expect.stringStarts (nextText connection) "failed: name-taken: " "the verdict is not ok"
            expectExit Exit.keyOrFile (receiver.WaitForExit(seconds 20.)) "the receiver"
            Expect.equal (File.ReadAllText(dir.File "inbox/late.bin")) "someone else's" "the other file is kept"
            Expect.isEmpty (partials dir.Path) "no temporary file"

        testCase
            "a file created between the last check and the rename survives: the receiver reports name-taken, never stored (rename with no-replace)"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"
            Directory.CreateDirectory(dir.File "inbox") |> ignore
            // The test hook pauses the receiver for 3 s just before its rename, after every check it makes.
            let server =
                new RunningCli(
                    dir,
                    [ "receive"; "--key"; "server.key"; "--listen"; "127.0.0.1:0"; "-o"; "inbox/" ],
                    [ "HYBRID_TEST_PAUSE_BEFORE_COMMIT_MS", "3000" ]
                )

            use _ = server

            let line = server.WaitForLine(_.Contains("listening on 127.0.0.1:"), seconds 20.)

            let port =
                int (Text.RegularExpressions.Regex.Match(line, @"127\.0\.0\.1:(\d+)").Groups[1].Value)

            use connection = client port key.PublicKey (Some "hybrid-file/1")
            let data = Array.init 1000 byte
            send connection (Encoding.UTF8.GetBytes """{"name": "race.bin", "size": 1000}""")
            Expect.equal (nextText connection) "ready" "ready"
            send connection data
            send connection (Security.Cryptography.SHA256.HashData data)
            let deadline = DateTime.UtcNow + seconds 20.

            // the data is complete once the temporary file holds all of it; then the receiver sleeps before the rename
            let full () =
                partials dir.Path |> Array.exists (fun f -> FileInfo(f).Length = 1000L)

            while not (full ()) && DateTime.UtcNow < deadline do
                Thread.Sleep 10

            Expect.isTrue (full ()) "the data reached the temporary file"
            Thread.Sleep 500
            File.WriteAllText(dir.File "inbox/race.bin", "someone else's")
            Expect.stringStarts (nextText connection) "failed: name-taken: " "the verdict is not ok"
            let received = server.WaitForExit(seconds 20.)
            expectExit Exit.keyOrFile received "the receiver"
            Expect.isFalse (received.Stderr.Contains "verified and stored") "never reported stored"
            Expect.equal (File.ReadAllText(dir.File "inbox/race.bin")) "someone else's" "the other file is kept"
            Expect.isEmpty (partials dir.Path) "no temporary file"

        testCase "a name of 250 bytes (and of 255) is received and stored: the temporary name fits NAME_MAX"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"
            Directory.CreateDirectory(dir.File "inbox") |> ignore

            for name in [ String('n', 250); String('\u00e9', 127) + "x"; String('m', 255) ] do
                let receiver, port = startLocal dir "receive" [ "-o"; "inbox/" ]
                use _ = receiver
                use connection = client port key.PublicKey (Some "hybrid-file/1")
                let data = Encoding.UTF8.GetBytes "long name"

                send
                    connection
                    (Encoding.UTF8.GetBytes(Text.Json.JsonSerializer.Serialize {| name = name; size = data.Length |}))

                Expect.equal (nextText connection) "ready" $"ready for {Encoding.UTF8.GetByteCount name} bytes"
                send connection data
                send connection (Security.Cryptography.SHA256.HashData data)
                Expect.equal (nextText connection) "ok" "stored"
                expectExit Exit.success (receiver.WaitForExit(seconds 20.)) "the receiver"
                Expect.equal (File.ReadAllText(Path.Combine(dir.File "inbox", name))) "long name" "the file"

            Expect.isEmpty (partials dir.Path) "no temporary file"
    ]

let private idleTests =
    testList "idle and silent clients" [
        testCase
            "receive: silent clients do not block a real sender; a sender that announces more than it sends is dropped after --idle-timeout"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"
            File.WriteAllText(dir.File "real.txt", "delivered")

            // A long idle timeout: the silent clients stay connected while the real sender is served.
            let patient, port =
                startLocal dir "receive" [ "-o"; "inbox/"; "--idle-timeout"; "600" ]

            use _ = patient

            let silent = [ for _ in 1..6 -> client port key.PublicKey (Some "hybrid-file/1") ]

            expectExit Exit.success (sendFile dir "real.txt" port) "the real sender, beside 6 silent clients"
            expectExit Exit.success (patient.WaitForExit(seconds 20.)) "the receiver"
            Expect.equal (File.ReadAllText(dir.File "inbox/real.txt")) "delivered" "stored"

            for c in silent do
                c.Dispose()

            // A short one: the lying sender is cut off, its temporary file removed, and the wait goes on.
            let strict, port =
                startLocal dir "receive" [ "-o"; "inbox2/"; "--idle-timeout"; "2" ]

            use _ = strict
            use liar = client port key.PublicKey (Some "hybrid-file/1")
            send liar (Encoding.UTF8.GetBytes """{"name": "big.bin", "size": 1000000}""")
            Expect.equal (nextText liar) "ready" "ready"
            send liar (Array.zeroCreate 10)
            Expect.stringStarts (nextText liar) "<" "the receiver ends the connection"

            strict.WaitForLine(
                (fun l ->
                    l.Contains "sent nothing for 2 s (--idle-timeout)"
                    || l.Contains "slower than --min-rate"),
                seconds 20.
            )
            |> ignore

            Expect.isEmpty (partials dir.Path) "the partial file is removed"
            Expect.isFalse strict.Process.HasExited "the receiver still waits for a file"
            expectExit Exit.success (sendFile dir "real.txt" port) "a real sender afterwards"
            expectExit Exit.success (strict.WaitForExit(seconds 20.)) "the receiver"

        testCase
            "receive: a drip sender (1,000,000 bytes announced, 1 byte a second, each within --idle-timeout) is dropped below --min-rate; a real sender is then stored"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"
            File.WriteAllText(dir.File "real.txt", "delivered")

            let receiver, port =
                // An idle timeout well above the drip's 1 s gaps, so that a loaded machine's late drip is not an idle
                // drop: the min-rate deadline (8 s + bytes / 100) is what must cut it.
                startLocal dir "receive" [ "-o"; "inbox/"; "--idle-timeout"; "8"; "--min-rate"; "100" ]

            use _ = receiver
            use drip = client port key.PublicKey (Some "hybrid-file/1")
            send drip (Encoding.UTF8.GetBytes """{"name": "drip.bin", "size": 1000000}""")
            Expect.equal (nextText drip) "ready" "ready"
            let mutable dripped = 0
            let mutable cut = false

            // Before: held the single transfer for ever (every byte within the idle timeout). Bounded: 20 bytes.
            while not cut && dripped < 20 do
                try
                    drip.SendAsync(ReadOnlyMemory [| 1uy |]).AsTask().Wait(seconds 20.) |> ignore
                    dripped <- dripped + 1
                    Thread.Sleep 1000
                with _ ->
                    cut <- true

            receiver.WaitForLine(_.Contains("slower than --min-rate 100 bytes per second"), seconds 20.)
            |> ignore

            Expect.isLessThan dripped 20 "the drip sender was cut off"
            Expect.isEmpty (partials dir.Path) "the partial file is removed"
            expectExit Exit.success (sendFile dir "real.txt" port) "a real sender afterwards"
            expectExit Exit.success (receiver.WaitForExit(seconds 20.)) "the receiver"
            Expect.equal (File.ReadAllText(dir.File "inbox/real.txt")) "delivered" "stored"

        testCase
            "serve: drip clients from one address hold at most --max-clients-per-address; a client from another address is served"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"

            let server, port =
                startLocal dir "serve" [ "--echo"; "--max-clients"; "4"; "--idle-timeout"; "30" ]

            use _ = server

            let from (address: string) =
                let s =
                    new Net.Sockets.Socket(Net.Sockets.SocketType.Stream, Net.Sockets.ProtocolType.Tcp)

                s.Bind(Net.IPEndPoint(Net.IPAddress.Parse address, 0))
                s.Connect(Net.IPAddress.Loopback, port)

                SecureConnection.AuthenticateAsClientAsync(
                    new Net.Sockets.NetworkStream(s, true),
                    $"127.0.0.1:{port}",
                    SecureClientOptions(ServerAuthentication = ServerAuthentication.Pinned key.PublicKey)
                )
                |> within "connect"

            // Four drip clients from 127.0.0.2 (the default share: half of --max-clients, 2): two are served, two
            // told the server is busy.
            let drips = [ for _ in 1..4 -> from "127.0.0.2" ]

            let answers = [
                for c in drips ->
                    send c "d"B
                    nextText c
            ]

            Expect.equal (answers |> List.filter ((=) "d") |> List.length) 2 "two drip clients served (echoed)"
            Expect.equal (answers |> List.filter ((<>) "d") |> List.length) 2 $"two refused: {answers}"
            use other = from "127.0.0.3"
            send other "hello"B
            Expect.equal (nextText other) "hello" "a client from another address is served"

            for c in drips do
                c.Dispose()

        testCase
            "serve: drip clients from four addresses (1 byte a second, each within --idle-timeout) hold every slot until --min-rate drops them; a real client is then served"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"

            // An idle timeout well above the drip's 1 s gaps (a late drip on a loaded machine is no idle drop): the
            // min-rate deadline (8 s + bytes / 100) is what must cut them. One client per address, so the
            // per-address share (2) does not: before --min-rate on serve they held the 4 slots for ever.
            let server, port =
                startLocal dir "serve" [ "--echo"; "--max-clients"; "4"; "--idle-timeout"; "8"; "--min-rate"; "100" ]

            use _ = server

            let from (address: string) =
                let s =
                    new Net.Sockets.Socket(Net.Sockets.SocketType.Stream, Net.Sockets.ProtocolType.Tcp)

                s.Bind(Net.IPEndPoint(Net.IPAddress.Parse address, 0))
                s.Connect(Net.IPAddress.Loopback, port)

                SecureConnection.AuthenticateAsClientAsync(
                    new Net.Sockets.NetworkStream(s, true),
                    $"127.0.0.1:{port}",
                    SecureClientOptions(ServerAuthentication = ServerAuthentication.Pinned key.PublicKey)
                )
                |> within "connect"

            let drips = [ for i in 2..5 -> from $"127.0.0.{i}" ]

            for c in drips do
                send c "d"B
                Expect.equal (nextText c) "d" "each drip client is served (echoed)"

            let busy =
                runWith dir (seconds 20.) "hello"B [ "connect"; $"127.0.0.1:{port}"; "--server-key"; "server.key.pub" ]

            Expect.notEqual busy.ExitCode Exit.success "while the drips hold every slot, a real client is refused"

            // Each drip client sends one byte a second and reads it back, at most 20 times (bounded).
            let dripped =
                drips
                |> List.map (fun c ->
                    Task.Run(fun () ->
                        let mutable n = 0
                        let mutable cut = false

                        while not cut && n < 20 do
                            try
                                c.SendAsync(ReadOnlyMemory "d"B).AsTask().Wait(seconds 20.) |> ignore

                                if nextText c = "d" then
                                    n <- n + 1
                                    Thread.Sleep 1000
                                else
                                    cut <- true
                            with _ ->
                                cut <- true

                        n))
                |> List.map (within "a drip client")

            server.WaitForLine(_.Contains("slower than --min-rate 100 bytes per second"), seconds 20.)
            |> ignore

            Expect.all dripped (fun n -> n < 20) $"every drip client was cut off: {dripped} drips"

            let real =
                runWith dir (seconds 20.) "hello"B [ "connect"; $"127.0.0.1:{port}"; "--server-key"; "server.key.pub" ]

            expectExit Exit.success real "the real client afterwards"
            Expect.equal real.Out "hello" "echoed"

            for c in drips do
                c.Dispose()

        testCase "serve: 20 silent clients do not block a real one, and each is dropped after --idle-timeout"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"

            let server, port =
                startLocal dir "serve" [ "--echo"; "--idle-timeout"; "3"; "--max-clients"; "64" ]

            use _ = server
            let silent = [ for _ in 1..20 -> client port key.PublicKey None ]

            let real =
                runWith dir (seconds 20.) "hello"B [ "connect"; $"127.0.0.1:{port}"; "--server-key"; "server.key.pub" ]

            expectExit Exit.success real "the real client"
            Expect.equal real.Out "hello" "echoed"

            for c in silent do
                Expect.stringStarts (nextText c) "<" "a silent client is dropped"
                c.Dispose()

            server.WaitForLine(_.Contains("sent nothing for 3 s (--idle-timeout)"), seconds 20.)
            |> ignore

            Expect.isFalse server.Process.HasExited "the server goes on"

        testCase
            "serve: 48 drip clients from one address and from ten; 100 of 100 legitimate clients are echoed (p99, server CPU and memory printed)"
        <| fun () ->
            for sources in [ 1; 10 ] do
                use dir = new TempDir()
                use key = keygen dir "server.key"

                let server, port =
                    startLocal dir "serve" [
                        "--echo"
                        "--max-clients"
                        "64"
                        "--idle-timeout"
                        "8"
                        "--min-rate"
                        "100"
                    ]

                use _ = server

                let options =
                    SecureClientOptions(ServerAuthentication = ServerAuthentication.Pinned key.PublicKey)

                let connectFrom (address: string) =
                    task {
                        let s =
                            new Net.Sockets.Socket(Net.Sockets.SocketType.Stream, Net.Sockets.ProtocolType.Tcp)

                        s.Bind(IPEndPoint(IPAddress.Parse address, 0))
                        do! s.ConnectAsync(IPAddress.Loopback, port)

                        return!
                            SecureConnection.AuthenticateAsClientAsync(
                                new Net.Sockets.NetworkStream(s, true),
                                $"127.0.0.1:{port}",
                                options
                            )
                    }

                // 48 drip clients: from one address more than its share (half of --max-clients), from ten all admitted.
                let drips =
                    [
                        for i in 0..47 ->
                            try
                                Some(connectFrom $"127.0.0.{2 + i % sources}" |> within "a drip client")
                            with _ ->
                                None
                    ]
                    |> List.choose id

                use stop = new CancellationTokenSource()

                let dripping =
                    TestSupport.everySecond stop.Token (fun _ ->
                        for c in drips do
                            try
                                c.SendAsync(ReadOnlyMemory "d"B).AsTask().Wait(seconds 1.) |> ignore
                            with _ ->
                                ())

                let me = server.Process
                let cpu = TestSupport.CpuMeter me

                let times =
                    TestSupport.timedAttempts 10 10 (fun () ->
                        TestSupport.timed (fun () ->
                            task {
                                use! c = connectFrom "127.0.0.1"
                                do! c.SendAsync(ReadOnlyMemory "ping"B)
                                let! echoed = c.ReceiveAsync()
                                return not (isNull echoed)
                            }))

                let cores = cpu.Cores

                printfn
                    $"serve under drip clients: {drips.Length} dripping 1 B/s from {sources} address(es); legitimate clients {times.Length} of 100 echoed in {cpu.Elapsed.TotalSeconds:F1} s; p50 {TestSupport.percentile times 0.5:F0} ms, p99 {TestSupport.percentile times 0.99:F0} ms, max {TestSupport.percentile times 1.0:F0} ms; server CPU {cores:F2} cores, resident {float me.WorkingSet64 / 1048576.:F0} MiB (peak {float me.PeakWorkingSet64 / 1048576.:F0} MiB); load average {TestSupport.loadAverage ()}"

                stop.Cancel()
                dripping.Join(seconds 10.) |> ignore

                for c in drips do
                    c.Dispose()

                Expect.equal
                    times.Length
                    100
                    $"100 of 100 legitimate clients echoed beside drips from {sources} address(es)"
    ]

/// Mounts a tmpfs of SIZE at a new directory in DIR; skips the test when this user cannot mount (not root).
let private tmpfs (dir: TempDir) (size: string) =
    if not (OperatingSystem.IsLinux()) then
        skiptest "tmpfs is Linux only"

    let path = dir.File "small-disk"
    Directory.CreateDirectory path |> ignore

    if tool "mount" [ "-t"; "tmpfs"; "-o"; $"size={size}"; "tmpfs"; path ] <> 0 then
        skiptest "cannot mount a tmpfs (needs root): the full-disk tests do not run here"

    {
        new IDisposable with
            member _.Dispose() = tool "umount" [ "-l"; path ] |> ignore
    },
    path

let private diskFullTests =
    testList "full disk" [
        testCase
            "receive onto a full disk (1 MiB tmpfs, file of 1 MiB + 30,000 B): the sender learns 'disk-full' and exits 7, nothing is left; a file that fits is then stored"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "server.key"
            let mounted, disk = tmpfs dir "1m"
            use _ = mounted
            File.WriteAllBytes(dir.File "big.bin", Array.init (1_048_576 + 30_000) byte)
            File.WriteAllBytes(dir.File "small.bin", Array.init 100_000 byte)

            let receiver, port = startLocal dir "receive" [ "-o"; disk ]
            use _ = receiver
            let sender = sendFile dir "big.bin" port
            expectExit Exit.refused sender "not delivered"
            Expect.stringContains sender.Stderr "not delivered" "says so"
            Expect.stringContains sender.Stderr "disk-full" "with the receiver's reason"
            Expect.isFalse (sender.Stderr.Contains "Broken pipe") "not a bare broken pipe"
            Expect.isFalse (sender.Stderr.Contains disk) "no path of the receiver"
            let received = receiver.WaitForExit(seconds 20.)
            expectExit Exit.keyOrFile received "the receiver"
            Expect.isEmpty (Directory.GetFileSystemEntries disk) "nothing left on the full disk"

            let receiver, port = startLocal dir "receive" [ "-o"; disk ]
            use _ = receiver
            expectExit Exit.success (sendFile dir "small.bin" port) "a file that fits"
            expectExit Exit.success (receiver.WaitForExit(seconds 20.)) "the receiver"
            Expect.equal (File.ReadAllBytes(Path.Combine(disk, "small.bin"))).Length 100_000 "stored"

        testCase
            "seal and open onto a full disk: exit 3, no temporary file left, for sizes where a write or the final flush fails"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "a.key"
            let mounted, disk = tmpfs dir "1m"
            use _ = mounted

            for size in [ 1_048_576 + 100; 1_048_576 + 30_000; 3_000_000 ] do
                File.WriteAllBytes(dir.File "plain", Array.init size byte)
                let out = Path.Combine(disk, "out")
                let sealedToDisk = run dir [ "seal"; "--to"; "a.key.pub"; "plain"; "-o"; out ]
                expectExit Exit.keyOrFile sealedToDisk $"seal of {size} B"
                Expect.isEmpty (Directory.GetFileSystemEntries disk) $"nothing left after sealing {size} B"

                expectExit Exit.success (run dir [ "seal"; "--to"; "a.key.pub"; "plain"; "-o"; "s" ]) "seal elsewhere"
                expectExit Exit.keyOrFile (run dir [ "open"; "--key"; "a.key"; "s"; "-o"; out ]) $"open of {size} B"
                Expect.isEmpty (Directory.GetFileSystemEntries disk) $"nothing left after opening {size} B"
                File.Delete(dir.File "s")
    ]

let private signalTests =
    testList "signals and leftovers" [
        testCase
            "SIGHUP, SIGQUIT, SIGINT and SIGTERM during seal: exit 128 + the signal (129, 131, 130, 143) and the temporary file is removed"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "POSIX signals"

            use dir = new TempDir()
            use _ = keygen dir "a.key"

            // A signal ignored when a process starts stays ignored in its children, and a program keeps it so (nohup
            // ignores HUP; a shell's background job ignores INT and QUIT): such a signal is not sent.
            let ignored =
                File.ReadAllLines "/proc/self/status"
                |> Array.tryFind (fun l -> l.StartsWith "SigIgn:")
                |> Option.map (fun l -> Convert.ToUInt64(l.Substring(7).Trim(), 16))
                |> Option.defaultValue 0UL

            let signals =
                [ "HUP", 1, 129; "QUIT", 3, 131; "INT", 2, 130; "TERM", 15, 143 ]
                |> List.filter (fun (_, number, _) -> (ignored >>> (number - 1)) &&& 1UL = 0UL)

            for name, _, code in signals do
                // stdin stays open and silent: seal waits with its temporary file created
                use sealing =
                    new RunningCli(dir, [ "seal"; "--to"; "a.key.pub"; "-"; "-o"; "out.sealed" ])

                let deadline = DateTime.UtcNow + seconds 20.

                while (partials dir.Path).Length = 0 && DateTime.UtcNow < deadline do
                    Thread.Sleep 20

                Expect.equal (partials dir.Path).Length 1 "the temporary file exists while sealing"
                signal name sealing.Process
                let stopped = sealing.WaitForExit(seconds 20.)
                Expect.equal stopped.ExitCode code $"SIG{name}: 128 + its number"
                Expect.isEmpty (partials dir.Path) $"no temporary file after SIG{name}"
                Expect.isFalse (File.Exists(dir.File "out.sealed")) "no output"

        testCase
            "a command blocked in the operating system (opening a FIFO nobody writes) still ends on SIGTERM with exit 143"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "POSIX signals and FIFOs"

            use dir = new TempDir()
            use _ = keygen dir "a.key"
            Expect.equal (tool "mkfifo" [ dir.File "input.fifo" ]) 0 "mkfifo"

            use sealing =
                new RunningCli(dir, [ "seal"; "--to"; "a.key.pub"; "input.fifo"; "-o"; "out" ])

            Thread.Sleep 1000 // let it reach the blocking open
            signal "TERM" sealing.Process
            let stopped = sealing.WaitForExit(seconds 20.)
            Expect.equal stopped.ExitCode 143 "terminated: 128 + SIGTERM"
            Expect.isEmpty (partials dir.Path) "no temporary file"

        testCase
            "a stale temporary file of a killed run is removed by the next run for the same output; a live run's is kept"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "a.key"
            File.WriteAllText(dir.File "plain", "data")
            use gone = startProcess (ProcessStartInfo "true")
            gone.WaitForExit()
            let stale = dir.File $".out.sealed.hybrid-{gone.Id}-0123abcd.partial"
            let live = dir.File $".out.sealed.hybrid-{Environment.ProcessId}-4567cdef.partial"
            let other = dir.File $".other.hybrid-{gone.Id}-89ab.partial"
            let fiveLetters = dir.File $".abcde.hybrid-{gone.Id}-89ab.partial"
            let anyName = dir.File $".x.hybrid-{gone.Id}-89ab.partial"

            for f in [ stale; live; other; fiveLetters; anyName ] do
                File.WriteAllText(f, "left behind")

            expectExit Exit.success (run dir [ "seal"; "--to"; "a.key.pub"; "plain"; "-o"; "out.sealed" ]) "seal"
            Expect.isFalse (File.Exists stale) "the killed run's file is removed"
            Expect.isTrue (File.Exists live) "a running process's file is kept"
            Expect.isTrue (File.Exists other) "another output's file is kept"

            // issue 26 item 6: the output's name is never a wildcard pattern
            for name in [ "?????"; "*" ] do
                expectExit Exit.success (run dir [ "seal"; "--to"; "a.key.pub"; "plain"; "-o"; name ]) $"seal -o {name}"

            Expect.isTrue (File.Exists fiveLetters) "'?????' deletes no other output's leftover"
            Expect.isTrue (File.Exists anyName) "'*' deletes no other output's leftover"
            Expect.isTrue (File.Exists other) "nor this one"
    ]

let private pipeAndFileTests =
    testList "pipes, FIFOs and damaged files" [
        testCase "open -o - into a pipe closed after 10 bytes (| head -c 10) stops with exit 141"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "a.key"
            File.WriteAllBytes(dir.File "plain", Array.init 8_000_000 byte)
            expectExit Exit.success (run dir [ "seal"; "--to"; "a.key.pub"; "plain"; "-o"; "s" ]) "seal"
            use p = startProcess (startInfo dir [ "open"; "--key"; "a.key"; "s"; "-o"; "-" ])
            let stderr = p.StandardError.ReadToEndAsync()
            let head = Array.zeroCreate 10
            p.StandardOutput.BaseStream.ReadExactly(head, 0, 10)
            p.StandardOutput.BaseStream.Close()

            if not (p.WaitForExit 20_000) then
                p.Kill true
                failtest "open went on writing into the closed pipe"

            Expect.equal p.ExitCode 141 $"exit 141 (stderr: {stderr.Result})"
            Expect.stringContains stderr.Result "output was closed" "says so"

        testCase "a FIFO, an empty file or a device as a key file is refused at once (exit 3), never opened"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "FIFOs"

            use dir = new TempDir()
            Expect.equal (tool "mkfifo" [ dir.File "key.fifo" ]) 0 "mkfifo"
            File.WriteAllText(dir.File "empty.key", "")
            File.WriteAllText(dir.File "s", "x")

            for keyFile in [ dir.File "key.fifo"; dir.File "empty.key"; "/dev/zero" ] do
                for args in
                    [
                        [ "open"; "--key"; keyFile; "s"; "-o"; "out" ]
                        [ "seal"; "--to"; keyFile; "s"; "-o"; "out" ]
                        [ "fingerprint"; keyFile ]
                        [ "serve"; "--key"; keyFile; "--listen"; "127.0.0.1:0" ]
                    ] do
                    let r = run dir args
                    expectExit Exit.keyOrFile r $"{args}"
                    Expect.stringContains r.Stderr "not a regular file" "says why"

        testCase "damaged sealed files: every cut and every altered header byte is exit 6, told in user terms"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "a.key"
            File.WriteAllBytes(dir.File "plain", Array.init 70_000 byte)
            expectExit Exit.success (run dir [ "seal"; "--to"; "a.key.pub"; "plain"; "-o"; "s" ]) "seal"
            let sealedBytes = File.ReadAllBytes(dir.File "s")

            let cuts = [ 0; 1; 7; 8; 9; 10; 12; 16; 18; 20; 22; 30; 53; 54; 55; 1000 ]

            let flips = [ 0; 7; 8; 9; 10; 11; 12; 13; 14; 15; 16; 17; 18; 19; 20; 21; 22; 40; 60; 5000 ]

            let variants = [
                for n in cuts -> $"cut at {n}", sealedBytes[.. n - 1]
                for i in flips ->
                    let b = Array.copy sealedBytes
                    b[i] <- b[i] ^^^ 0x5Auy
                    $"byte {i} altered", b
            ]

            for what, bytes in variants do
                File.WriteAllBytes(dir.File "damaged", bytes)
                let r = run dir [ "open"; "--key"; "a.key"; "damaged"; "-o"; "out" ]
                expectExit Exit.integrity r what
                Expect.stringContains r.Stderr "'damaged'" $"{what}: names the file"

                for internalName in
                    [
                        "HeaderTruncated"
                        "BadMagic"
                        "UnknownMode"
                        "UnsupportedSuite"
                        "InvalidEncLength"
                        "HPKE failed"
                    ] do
                    Expect.isFalse (r.Stderr.Contains internalName) $"{what}: no internal name ({r.Stderr.Trim()})"

                Expect.isFalse (File.Exists(dir.File "out")) "no output"
                Expect.isEmpty (partials dir.Path) "no temporary file"
    ]

/// N helper processes (this test program in its known-hosts-writer mode, tests/Main.fs) that each record a first
/// contact with their own server key in one known-hosts file, all released at the same moment.
let private concurrentFirstContacts n =
    use dir = new TempDir()
    let knownHosts = dir.File "known_hosts"
    let go = dir.File "go"
    let keys = [ for _ in 1..n -> PrivateKey.Generate() ]
    let self = Reflection.Assembly.GetExecutingAssembly().Location

    let writers = [
        for i, k in List.indexed keys ->
            let info = ProcessStartInfo "dotnet"

            for a in
                [
                    self
                    "known-hosts-writer"
                    knownHosts
                    go
                    "127.0.0.1"
                    string (20000 + i)
                    Convert.ToBase64String(k.PublicKey.RawBytes.ToArray())
                ] do
                info.ArgumentList.Add a

            info.RedirectStandardError <- true
            info.UseShellExecute <- false
            startProcess info
    ]

    try
        Thread.Sleep 500
        File.WriteAllText(go, "")

        for i, p in List.indexed writers do
            if not (p.WaitForExit 120_000) then
                failtest $"writer {i} did not finish"

            Expect.equal p.ExitCode 0 $"writer {i} recorded a first contact (stderr: {p.StandardError.ReadToEnd()})"

        let recorded =
            KnownHosts.Load(knownHosts).List()
            |> Seq.map (fun e -> e.Port, e.Key.Fingerprint)
            |> Set.ofSeq

        let expected =
            keys |> List.mapi (fun i k -> 20000 + i, k.PublicKey.Fingerprint) |> Set.ofList

        Expect.equal recorded.Count n $"{n} entries recorded"
        Expect.equal recorded expected "each server's own key"

        if OperatingSystem.IsLinux() then
            Expect.isFalse (File.Exists(knownHosts + ".lock")) "no lock file is left behind (specs/KEYS.md)"
    finally
        for p in writers do
            if not p.HasExited then
                p.Kill()

            p.Dispose()

        for k in keys do
            k.Dispose()

let private knownHostsTests =
    testList "known hosts under concurrency" [
        testCase "20 first contacts from 20 processes released at once keep all 20 entries"
        <| fun () -> concurrentFirstContacts 20
        testCase "100 first contacts from 100 processes released at once keep all 100 entries"
        <| fun () -> concurrentFirstContacts 100
    ]

[<Tests>]
let tests =
    testSequenced
    <| testList "CLI abuse" [
        headerTests
        idleTests
        diskFullTests
        signalTests
        pipeAndFileTests
        knownHostsTests
    ]
