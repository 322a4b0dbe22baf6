/// The `hybrid` tool never loses data silently: output keeps its place in a shared redirect, a busy server's refusal
/// is an error, `connect` succeeds only when its input was sent before the peer's close, and data is split to the
/// peer's announced message limit.
module HybridProtocol.Tests.CliDataTests

open System
open System.IO
open System.Net
open System.Text
open System.Threading
open System.Threading.Tasks
open Expecto
open HybridProtocol
open HybridProtocol.Tests.CliSupport

let private seconds (s: float) = TimeSpan.FromSeconds s

/// A library server on 127.0.0.1 (application protocol "hybrid", as `hybrid serve`) that runs SERVE on its first
/// client; returns the listener (to dispose), its port, and the task of SERVE's result.
let private libraryServer (key: PrivateKey) (maxMessage: int) (serve: SecureConnection -> Task<byte[]>) =
    let options = SecureServerOptions(ServerKey = key, MaxMessageSize = maxMessage)
    let listener = new SecureListener(IPEndPoint(IPAddress.Loopback, 0), options)
    listener.Start()

    let served =
        task {
            use! connection = listener.AcceptAsync()
            return! serve connection
        }

    listener, listener.LocalEndPoint.Port, served

/// Receives until the client's end-of-data (an empty message); the bytes received.
let private receiveAll (connection: SecureConnection) =
    task {
        use received = new MemoryStream()
        let mutable go = true
        let mutable largest = 0

        while go do
            let! message = connection.ReceiveAsync()

            match message with
            | null -> go <- false
            | m when m.Length = 0 -> go <- false
            | m ->
                largest <- max largest m.Length
                received.Write(m, 0, m.Length)

        return received.ToArray(), largest
    }

[<Tests>]
let tests =
    testSequenced
    <| testList "CLI data" [
        testCase "stdout keeps its place in a shared redirect: { open -o -; echo END; } > out has the data, then END"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "bash"

            use dir = new TempDir()
            use _ = keygen dir "k"
            File.WriteAllText(dir.File "plain", "the sealed words\n")
            expectExit Exit.success (run dir [ "seal"; "--to"; "k.pub"; "plain"; "-o"; "f.sealed" ]) "seal"
            // Before: a FileStream on fd 1 wrote with pwrite at its own offset 0, and `echo END` overwrote it.
            let r =
                runShell dir (seconds 30.) "{ hybrid open --key k f.sealed -o -; echo END; } > out; echo tail >> out"

            expectExit Exit.success r "the script"

            Expect.equal
                (File.ReadAllText(dir.File "out"))
                "the sealed words\nEND\ntail\n"
                "both writers' output, in order"

        testCase "connect's output in a shared redirect with another writer keeps its place"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "bash"

            use dir = new TempDir()
            use _ = keygen dir "server.key"
            let server, port = startLocal dir "serve" [ "--echo" ]
            use _ = server

            let r =
                runShell
                    dir
                    (seconds 30.)
                    $"{{ echo BEGIN; printf 'echoed\\n' | hybrid connect 127.0.0.1:{port} --server-key server.key.pub; echo END; }} > out"

            expectExit Exit.success r "the script"
            Expect.equal (File.ReadAllText(dir.File "out")) "BEGIN\nechoed\nEND\n" "in order"

        testCase
            "a busy server (--max-clients 1) refuses a further client in its handshake: exit 7, says busy, nothing sent"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "server.key"
            let server, port = startLocal dir "serve" [ "--max-clients"; "1" ]
            use _ = server
            let pinned = [ "--server-key"; "server.key.pub" ]
            // The first client holds its slot: its stdin stays open.
            use first = new RunningCli(dir, [ "connect"; $"127.0.0.1:{port}" ] @ pinned)

            server.WaitForLine((fun (l: string) -> l.Contains "client connected"), seconds 20.)
            |> ignore

            let second =
                runWith dir (seconds 20.) "lost?\n"B ([ "connect"; $"127.0.0.1:{port}" ] @ pinned)
            // Before: the busy server closed normally and the client exited 0, its input discarded.
            expectExit Exit.refused second "the busy server's refusal"
            Expect.stringContains second.Stderr "busy" "says the server is busy"

            server.WaitForLine((fun (l: string) -> l.Contains "busy"), seconds 20.)
            |> ignore

            first.Process.StandardInput.Write "first\n"
            first.Process.StandardInput.Close()
            expectExit Exit.success (first.WaitForExit(seconds 20.)) "the first client"

            server.WaitForLine((fun (l: string) -> l.Contains "client disconnected"), seconds 20.)
            |> ignore

            let third =
                runWith dir (seconds 20.) "third\n"B ([ "connect"; $"127.0.0.1:{port}" ] @ pinned)

            expectExit Exit.success third "a slot is free again"
            server.Process.Kill()
            let served = server.WaitForExit(seconds 20.)
            Expect.equal served.Out "first\nthird\n" "the served clients' data, and nothing of the refused one"

        testCase "a peer that ends first (end-of-data and close before reading): connect exits 7 and says what was sent"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"

            let listener, port, served =
                libraryServer key SecureConnectionOptions.DefaultMaxMessageSize (fun c ->
                    task {
                        do! c.SendAsync(ReadOnlyMemory<byte>.Empty)
                        let! _ = c.CloseAsync()
                        return [||]
                    })

            use _ = {
                new IDisposable with
                    member _.Dispose() = listener.DisposeAsync().AsTask().Wait()
            }
            // stdin that comes later than the peer's close
            let r =
                runShell
                    dir
                    (seconds 30.)
                    $"{{ sleep 2; echo late; }} | hybrid connect 127.0.0.1:{port} --server-key server.key.pub"

            // Before: exit 0, "late" never sent.
            expectExit Exit.refused r "the input was not delivered"
            Expect.stringContains r.Stderr "before all of the input was sent" "says so"
            served.Wait(seconds 20.) |> ignore

        testCase "a peer that sends its end-of-data first, then reads: connect sends all its input and exits 0"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"

            let listener, port, served =
                libraryServer key SecureConnectionOptions.DefaultMaxMessageSize (fun c ->
                    task {
                        do! c.SendAsync(Encoding.ASCII.GetBytes "from the server\n")
                        do! c.SendAsync(ReadOnlyMemory<byte>.Empty)
                        let! data, _ = receiveAll c
                        let! _ = c.CloseAsync()
                        return data
                    })

            use _ = {
                new IDisposable with
                    member _.Dispose() = listener.DisposeAsync().AsTask().Wait()
            }

            let r =
                runShell
                    dir
                    (seconds 30.)
                    $"{{ sleep 1; echo one; sleep 1; echo two; }} | hybrid connect 127.0.0.1:{port} --server-key server.key.pub"

            expectExit Exit.success r "connect"
            Expect.equal r.Out "from the server\n" "the server's data"
            Expect.isTrue (served.Wait(seconds 20.)) "served"
            Expect.equal (Encoding.ASCII.GetString served.Result) "one\ntwo\n" "every input byte arrived"

        testCase "a peer announcing a 1,000-byte message limit gets 100 kB in messages of at most 1,000 bytes (no hang)"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"
            let mutable largest = 0

            let listener, port, served =
                libraryServer key 1000 (fun c ->
                    task {
                        let! data, biggest = receiveAll c
                        largest <- biggest
                        let! _ = c.CloseAsync()
                        return data
                    })

            use _ = {
                new IDisposable with
                    member _.Dispose() = listener.DisposeAsync().AsTask().Wait()
            }

            let data = Random.Shared.GetItems(Array.init 256 byte, 100_000)

            // Before: the 64 KiB stdin read was refused locally (MessageTooLarge), nothing said, and connect hung.
            let r =
                runWith dir (seconds 30.) data [ "connect"; $"127.0.0.1:{port}"; "--server-key"; "server.key.pub" ]

            expectExit Exit.success r "connect"
            Expect.isTrue (served.Wait(seconds 20.)) "served"
            Expect.equal served.Result data "all of it"
            Expect.isLessThanOrEqual largest 1000 "within the announced limit"
    ]

/// The rough edges: conventions of age and wg, keys a server cannot serve, no configuration folder, help and usage
/// lines, and the connection options another implementation needs (--psk, --suite).
[<Tests>]
let edgeTests =
    testSequenced
    <| testList "CLI edges" [
        testCase "keygen -o - prints the private key on stdout (fingerprint on stderr); pubkey - reads a key from stdin"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "bash"

            use dir = new TempDir()

            let r =
                runShell dir (seconds 30.) "hybrid keygen -o - > k.pem; hybrid pubkey - < k.pem > k.pub; ls"

            expectExit Exit.success r "keygen -o - | pubkey -"
            Expect.isFalse (File.Exists(dir.File "-")) "no file named '-'"
            use key = PrivateKey.FromPem(File.ReadAllText(dir.File "k.pem"))
            Expect.stringContains r.Stderr key.Fingerprint "the fingerprint on stderr"
            Expect.equal (File.ReadAllText(dir.File "k.pub")) (key.PublicKey.ToPem()) "pubkey - printed its public key"

        testCase
            "serve --key with an X-Wing or ML-KEM key is refused at start (exit 3, says why); the ServerKey setter throws ArgumentException"
        <| fun () ->
            use dir = new TempDir()

            for t in [ "xwing"; "mlkem768"; "p256" ] do
                expectExit Exit.success (run dir [ "keygen"; "--type"; t; "-o"; t + ".key" ]) $"keygen {t}"
                let r = run dir [ "serve"; "--key"; t + ".key"; "--listen"; "127.0.0.1:0" ]
                expectExit Exit.keyOrFile r $"serve with a {t} key"
                Expect.stringContains r.Stderr "X25519" "says which key it needs"

                use key = PrivateKey.Load(dir.File(t + ".key"))
                let options = SecureServerOptions()

                Expect.throwsT<ArgumentException> (fun () -> options.ServerKey <- key) $"the library refuses a {t} key"

        testCase
            "with no configuration folder, first use creates $HOME/.config/hybrid/known_hosts and known-hosts list reads it"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "bash"

            use dir = new TempDir()
            use key = keygen dir "server.key"
            let server, port = startLocal dir "serve" [ "--echo" ]
            use _ = server
            Directory.CreateDirectory(dir.File "home") |> ignore

            let r =
                runShell
                    dir
                    (seconds 30.)
                    $"export HOME=$PWD/home; unset HYBRID_KNOWN_HOSTS XDG_CONFIG_HOME; echo hi | hybrid connect 127.0.0.1:{port} && hybrid known-hosts list"

            expectExit Exit.success r "connect and list with no ~/.config"
            Expect.equal r.Out $"hi\n127.0.0.1:{port} {key.Fingerprint}\n" "echoed, then the recorded entry"
            Expect.isTrue (File.Exists(dir.File "home/.config/hybrid/known_hosts")) "created in place"

        testCase "an unknown command's first line names it; defaults appear once in help"
        <| fun () ->
            use dir = new TempDir()
            let r = run dir [ "frobnicate" ]
            expectExit Exit.usage r "unknown command"
            Expect.stringStarts r.Stderr "hybrid: 'frobnicate' is not a command" "the first line says so"
            let help = run dir [ "serve"; "--help" ]

            let line =
                help.Out.Split('\n')
                |> Array.find (fun l -> l.TrimStart().StartsWith "--idle-timeout")

            Expect.equal (line.Split("default").Length - 1) 1 $"one default: {line}"

        testCase
            "--psk and --suite: matching ends connect (the protocol name shows both); a different key is exit 6, a suite refused exit 7"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "file modes"

            use dir = new TempDir()
            use _ = keygen dir "server.key"

            for name in [ "psk"; "other" ] do
                File.WriteAllBytes(dir.File name, Security.Cryptography.RandomNumberGenerator.GetBytes 32)
                File.SetUnixFileMode(dir.File name, UnixFileMode.UserRead ||| UnixFileMode.UserWrite)

            let server, port =
                startLocal dir "serve" [ "--echo"; "--psk"; "psk"; "--suite"; "AESGCM_SHA256" ]

            use _ = server

            let connect extra =
                runWith
                    dir
                    (seconds 20.)
                    "psk"B
                    ([
                        "connect"
                        $"127.0.0.1:{port}"
                        "--server-key"
                        "server.key.pub"
                        "--verbose"
                     ]
                     @ extra)

            let ok = connect [ "--psk"; "psk"; "--suite"; "AESGCM_SHA256" ]
            expectExit Exit.success ok "same key and suite"
            Expect.equal ok.Out "psk" "echoed"
            Expect.stringContains ok.Stderr "psk2" "a psk pattern ran"
            Expect.stringContains ok.Stderr "AESGCM_SHA256" "the suite asked for"

            expectExit
                Exit.integrity
                (connect [ "--psk"; "other"; "--suite"; "AESGCM_SHA256" ])
                "a different pre-shared key"

            expectExit Exit.refused (connect [ "--psk"; "psk" ]) "a suite the server does not accept"
            expectExit Exit.usage (connect [ "--suite"; "ROT13" ]) "an unknown suite"
            File.WriteAllBytes(dir.File "short", Array.zeroCreate 31)
            expectExit Exit.keyOrFile (connect [ "--psk"; "short" ]) "31 bytes"
    ]
