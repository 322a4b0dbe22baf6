/// `hybrid authority keygen/sign/show`, `hybrid serve --endorsement` and `hybrid connect --authority`: two processes
/// over 127.0.0.1; an endorsed server is accepted, and each bad endorsement is refused with exit 4 and its reason.
module HybridProtocol.Tests.CliAuthorityTests

open System
open System.IO
open System.Text
open Expecto
open HybridProtocol
open HybridProtocol.Tests.CliSupport

let private seconds (s: float) = TimeSpan.FromSeconds s

/// `hybrid authority sign` for server.key.pub into NAME with these extra options.
let private sign dir name (extra: string list) =
    let r =
        run
            dir
            ([
                "authority"
                "sign"
                "--authority"
                "fleet.authority"
                "server.key.pub"
                "-o"
                name
             ]
             @ extra)

    expectExit Exit.success r $"sign {name}"

/// A server started with --endorsement FILE, and a client's result with these trust options (stdin: one line).
let private connectWith dir endorsement (trust: string list) =
    let server, port = startLocal dir "serve" [ "--echo"; "--endorsement"; endorsement ]
    use _ = server
    runWith dir (seconds 20.) (Encoding.UTF8.GetBytes "hello\n") ([ "connect"; $"127.0.0.1:{port}" ] @ trust)

[<Tests>]
let tests =
    testList "Cli authority" [
        testCase
            "keygen, sign and show; connect --authority accepts an endorsed server and refuses each bad endorsement with exit 4"
        <| fun () ->
            use dir = new TempDir()
            use key = keygen dir "server.key"
            expectExit Exit.success (run dir [ "authority"; "keygen"; "-o"; "fleet.authority" ]) "authority keygen"
            expectExit Exit.success (run dir [ "authority"; "keygen"; "-o"; "other.authority" ]) "another authority"
            Expect.isTrue (File.Exists(dir.File "fleet.authority.pub")) "the public key file"

            sign dir "good.endorsement" [ "--host"; "127.0.0.1,*.fleet.example"; "--valid-for"; "1h" ]
            let shown = run dir [ "authority"; "show"; "good.endorsement" ]
            expectExit Exit.success shown "show"
            Expect.stringContains shown.Out key.Fingerprint "show names the server key"
            Expect.stringContains shown.Out "127.0.0.1,*.fleet.example" "show names the hosts"

            let ok = connectWith dir "good.endorsement" [ "--authority"; "fleet.authority.pub" ]
            expectExit Exit.success ok "connect --authority"
            Expect.equal ok.Stdout (Encoding.UTF8.GetBytes "hello\n") "the echo"
            Expect.isFalse (File.Exists(dir.File "known_hosts")) "nothing recorded"

            sign dir "expired.endorsement" [
                "--host"
                "127.0.0.1"
                "--not-before"
                "2020-01-01T00:00:00Z"
                "--not-after"
                "2020-01-02T00:00:00Z"
            ]

            sign dir "future.endorsement" [
                "--host"
                "127.0.0.1"
                "--not-before"
                "2099-01-01T00:00:00Z"
                "--valid-for"
                "1d"
            ]

            sign dir "elsewhere.endorsement" [ "--host"; "*.fleet.example"; "--valid-for"; "1h" ]

            let cases = [
                "expired.endorsement", "fleet.authority.pub", "expired"
                "future.endorsement", "fleet.authority.pub", "valid only from"
                "elsewhere.endorsement", "fleet.authority.pub", "does not cover 127.0.0.1"
                "good.endorsement", "other.authority.pub", "does not trust"
            ]

            for endorsement, authority, reason in cases do
                let refused = connectWith dir endorsement [ "--authority"; authority ]
                expectExit Exit.authentication refused $"{endorsement} with {authority}"
                Expect.stringContains refused.Stderr reason $"{endorsement}: the reason"

        testCase "usage errors: --authority with --pin, a bad duration, no window, and an endorsement of another key"
        <| fun () ->
            use dir = new TempDir()
            use _ = keygen dir "server.key"
            use _ = keygen dir "other.key"
            expectExit Exit.success (run dir [ "authority"; "keygen"; "-o"; "fleet.authority" ]) "authority keygen"

            let both =
                run dir [
                    "connect"
                    "127.0.0.1:1"
                    "--authority"
                    "fleet.authority.pub"
                    "--pin"
                    "SHA256:x"
                ]

            expectExit Exit.usage both "--authority with --pin"

            let bad =
                run dir [
                    "authority"
                    "sign"
                    "--authority"
                    "fleet.authority"
                    "--host"
                    "a"
                    "--valid-for"
                    "3w"
                    "server.key.pub"
                    "-o"
                    "e"
                ]

            expectExit Exit.usage bad "a bad duration"

            let none =
                run dir [
                    "authority"
                    "sign"
                    "--authority"
                    "fleet.authority"
                    "--host"
                    "a"
                    "server.key.pub"
                    "-o"
                    "e"
                ]

            expectExit Exit.usage none "no window"

            let forOther =
                run dir [
                    "authority"
                    "sign"
                    "--authority"
                    "fleet.authority"
                    "--host"
                    "127.0.0.1"
                    "--valid-for"
                    "1h"
                    "other.key.pub"
                    "-o"
                    "other.endorsement"
                ]

            expectExit Exit.success forOther "sign for the other key"

            let serve =
                run dir [
                    "serve"
                    "--key"
                    "server.key"
                    "--listen"
                    "127.0.0.1:0"
                    "--endorsement"
                    "other.endorsement"
                ]

            expectExit Exit.keyOrFile serve "serve refuses an endorsement of another key"
            Expect.stringContains serve.Stderr "endorses" "says why"
    ]

[<Tests>]
let readme =
    testList "Cli authority README" [
        testCase "cli/README's fleet authority example runs as a script exactly as printed: two servers, one authority"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "bash"

            use dir = new TempDir()
            let r = runCliReadmeExample dir "## Fleet authority"
            expectExit Exit.success r "the example"
            Expect.stringContains r.Out "hosts:       127.0.0.1,*.fleet.example" "show prints the hosts"
            Expect.stringEnds r.Out "hello from one\nhello from two\n" "both servers echoed through an endorsed key"
            Expect.isFalse (File.Exists(dir.File "known_hosts")) "nothing was recorded"
    ]
