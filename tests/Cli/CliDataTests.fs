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
