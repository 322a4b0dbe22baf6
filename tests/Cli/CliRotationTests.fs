/// `hybrid serve --key A --key B` (a rotation: the other keys are announced), `hybrid known-hosts add` and
/// `hybrid known-hosts revoke`: two processes over 127.0.0.1, with the known-hosts file of the test's folder.
module HybridProtocol.Tests.CliRotationTests

open System
open System.IO
open System.Text
open Expecto
open HybridProtocol
open HybridProtocol.Tests.CliSupport

let private seconds (s: float) = TimeSpan.FromSeconds s

/// The fingerprints of the keys the test folder's known-hosts file trusts for 127.0.0.1:PORT.
let private trusted (dir: TempDir) port =
    KnownHosts.Load(dir.File "known_hosts").List()
    |> Seq.filter (fun e -> e.Host = "127.0.0.1" && e.Port = port)
    |> Seq.map _.Key.Fingerprint
    |> Set.ofSeq

/// `hybrid connect 127.0.0.1:PORT` with one line on stdin.
let private connect dir port =
    runWith dir (seconds 20.) (Encoding.UTF8.GetBytes "hello\n") [ "connect"; $"127.0.0.1:{port}" ]

[<Tests>]
let tests =
    testSequenced
    <| testList "Cli rotation" [
        testCase
            "serve with two keys: a first contact records both (announced); the server restarted with only the second is still accepted; known-hosts revoke then refuses it (exit 4)"
        <| fun () ->
            use dir = new TempDir()
            use current = keygen dir "server.key"
            use next = keygen dir "next.key"

            let server, port =
                startServer dir [
                    "serve"
                    "--key"
                    "server.key"
                    "--key"
                    "next.key"
                    "--listen"
                    "127.0.0.1:0"
                    "--echo"
                ]

            let first =
                using server (fun _ ->
                    let first = connect dir port
                    expectExit Exit.success first "first contact with a two-key server"
                    first)

            Expect.equal first.Stdout (Encoding.UTF8.GetBytes "hello\n") "the echo"
            Expect.stringContains first.Stderr "first contact" "trusted on first use"
            Expect.stringContains first.Stderr current.Fingerprint "names the current key"
            Expect.stringContains first.Stderr "announced" "says the server announced another key"
            Expect.stringContains first.Stderr next.Fingerprint "names the announced key"

            Expect.equal (trusted dir port) (set [ current.Fingerprint; next.Fingerprint ]) "both keys are recorded"

            // The switch: the same address, only the second key.
            let restarted, samePort =
                startServer dir [ "serve"; "--key"; "next.key"; "--listen"; $"127.0.0.1:{port}"; "--echo" ]

            use _ = restarted
            Expect.equal samePort port "the same port"
            let after = connect dir port
            expectExit Exit.success after "the client accepts the announced key after the switch"
            Expect.equal after.Stdout (Encoding.UTF8.GetBytes "hello\n") "the echo after the switch"
            Expect.isFalse (after.Stderr.Contains "first contact") "not a first contact"
            Expect.isFalse (after.Stderr.Contains "WARNING") "no changed-key warning"

            let revoke = run dir [ "known-hosts"; "revoke"; "next.key.pub" ]
            expectExit Exit.success revoke "known-hosts revoke"
            Expect.stringContains revoke.Stderr next.Fingerprint "names the revoked key"

            Expect.stringContains
                (File.ReadAllText(dir.File "known_hosts"))
                "@revoked * x25519 "
                "an @revoked line for every host"

            let refused = connect dir port
            expectExit Exit.authentication refused "a revoked key is refused"
            Expect.stringContains refused.Stderr "revokes (@revoked)" "the message says the key is revoked"
            Expect.stringContains refused.Stderr next.Fingerprint "names the key"
            Expect.isEmpty refused.Stdout "no data"

            let again = run dir [ "known-hosts"; "revoke"; "next.key.pub" ]
            expectExit Exit.success again "revoking twice"
            Expect.stringContains again.Stderr "already revoked" "says nothing changed"

        testCase
            "known-hosts add trusts a key before any contact (no first contact); revoke --host refuses it for that server; a second add says so"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"
            let server, port = startLocal dir "serve" [ "--echo" ]
            use _ = server

            let add = run dir [ "known-hosts"; "add"; $"127.0.0.1:{port}"; "server.key.pub" ]
            expectExit Exit.success add "known-hosts add"
            Expect.equal (trusted dir port) (set [ key.Fingerprint ]) "recorded"
            let listed = run dir [ "known-hosts"; "list" ]
            Expect.equal (listed.Out.Trim()) $"127.0.0.1:{port} {key.Fingerprint}" "known-hosts list shows it"

            let twice = run dir [ "known-hosts"; "add"; $"127.0.0.1:{port}"; "server.key" ]
            expectExit Exit.success twice "adding the same key (from the private key file)"
            Expect.stringContains twice.Stderr "already trusted" "says nothing changed"

            let ok = connect dir port
            expectExit Exit.success ok "connect to a known key"
            Expect.equal ok.Stdout (Encoding.UTF8.GetBytes "hello\n") "the echo"
            Expect.isFalse (ok.Stderr.Contains "first contact") "not a first contact"

            let revoke =
                run dir [ "known-hosts"; "revoke"; "server.key.pub"; "--host"; $"127.0.0.1:{port}" ]

            expectExit Exit.success revoke "known-hosts revoke --host"

            Expect.stringContains
                (File.ReadAllText(dir.File "known_hosts"))
                $"@revoked 127.0.0.1:{port} x25519 "
                "an @revoked line for that server"

            let refused = connect dir port
            expectExit Exit.authentication refused "revoked for this server"
            Expect.stringContains refused.Stderr "revokes (@revoked)" "the message says the key is revoked"

        testCase "cli/README's rotation example runs as a script exactly as printed: overlap, switch, revoke"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "bash"

            use dir = new TempDir()
            let r = runCliReadmeExample dir "## Rotating a server key"
            expectExit Exit.success r "the example"
            use old = PrivateKey.Load(dir.File "old.key")
            use next = PrivateKey.Load(dir.File "new.key")
            Expect.stringContains r.Out "during the overlap\n" "the echo during the overlap"
            Expect.stringContains r.Out $"{next.Fingerprint} announced by the server" "list shows the announced key"
            Expect.stringContains r.Out "pinned to both keys\n" "a client pinning both keys is served after the switch"
            Expect.stringEnds r.Out "after the switch\n" "the echo after the switch, without a warning"
            Expect.isFalse (r.Stderr.Contains "WARNING") "no changed-key warning"
            let port = int ((File.ReadAllText(dir.File "server.addr")).Trim().Split(':')[1])
            Expect.equal (trusted dir port) (set [ old.Fingerprint; next.Fingerprint ]) "both keys recorded"

            Expect.stringContains
                (File.ReadAllText(dir.File "known_hosts"))
                $"@revoked * x25519 {Convert.ToBase64String(old.PublicKey.RawBytes.ToArray())}"
                "the old key is revoked"

        testCase
            "connect --server-key repeated pins a set: a server presenting either key is served, one presenting another key is refused (exit 4); nothing is recorded"
        <| fun () ->
            use dir = new TempDir()
            use _old = keygen dir "old.key"
            use _next = keygen dir "next.key"
            use _other = keygen dir "other.key"

            let server, port =
                startServer dir [ "serve"; "--key"; "next.key"; "--listen"; "127.0.0.1:0"; "--echo" ]

            using server (fun _ ->
                let pinned (keys: string list) =
                    runWith
                        dir
                        (seconds 20.)
                        (Encoding.UTF8.GetBytes "hello\n")
                        ([ "connect"; $"127.0.0.1:{port}" ]
                         @ List.collect (fun k -> [ "--server-key"; k ]) keys)

                let both = pinned [ "old.key"; "next.key" ]
                expectExit Exit.success both "the set holds the server's key"
                Expect.equal both.Stdout (Encoding.UTF8.GetBytes "hello\n") "the echo"
                let one = pinned [ "next.key" ]
                expectExit Exit.success one "one pinned key (NK)"
                let outside = pinned [ "old.key"; "other.key" ]
                expectExit Exit.authentication outside "the server's key is not in the set"
                Expect.isEmpty outside.Stdout "nothing delivered")

            Expect.isFalse (File.Exists(dir.File "known_hosts")) "a pinned client records nothing"

        testCase
            "known-hosts list shows trusted keys, @revoked keys (one host, every host) and @authority lines distinctly, in file order"
        <| fun () ->
            use dir = new TempDir()
            use a = keygen dir "a.key"
            use b = keygen dir "b.key"
            use authority = AuthoritySigningKey.Generate()
            expectExit Exit.success (run dir [ "known-hosts"; "add"; "example.com:443"; "a.key" ]) "add"
            expectExit Exit.success (run dir [ "known-hosts"; "revoke"; "b.key" ]) "revoke everywhere"

            expectExit
                Exit.success
                (run dir [ "known-hosts"; "revoke"; "a.key"; "--host"; "example.com:443" ])
                "revoke for one host"

            File.AppendAllText(
                dir.File "known_hosts",
                $"@authority *.fleet.example,10.0.0.5:443 {authority.PublicKey} fleet\n"
            )

            let r = run dir [ "known-hosts"; "list" ]
            expectExit Exit.success r "list"

            Expect.equal
                (r.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries))
                [|
                    $"example.com:443 {a.Fingerprint}"
                    $"@revoked * {b.Fingerprint}"
                    $"@revoked example.com:443 {a.Fingerprint}"
                    $"@authority *.fleet.example,10.0.0.5:443 {authority.PublicKey} fleet"
                |]
                "each kind of line, in file order"

        testCase "serve takes 1 to 4 keys, each once: 5 keys or a repeated key are usage errors (2)"
        <| fun () ->
            use dir = new TempDir()
            use _key = keygen dir "server.key"

            let five =
                run
                    dir
                    ([ "serve"; "--listen"; "127.0.0.1:0" ]
                     @ List.collect (fun _ -> [ "--key"; "server.key" ]) [ 1..5 ])

            expectExit Exit.usage five "five keys"
            Expect.stringContains five.Stderr "1 to 4" "says how many"

            let repeated =
                run dir [
                    "serve"
                    "--listen"
                    "127.0.0.1:0"
                    "--key"
                    "server.key"
                    "--key"
                    "server.key"
                ]

            expectExit Exit.usage repeated "a repeated key"
            Expect.stringContains repeated.Stderr "twice" "says why"
    ]
