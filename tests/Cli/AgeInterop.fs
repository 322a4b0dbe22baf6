/// age interoperability against real implementations, both ways: Debian's `age` (Go, X25519 recipients) and the npm
/// `age-encryption` package (typage, mlkem768x25519 post-quantum recipients), installed by .ci/run. Each case: several
/// recipients, binary and armored, through `hybrid seal`/`hybrid open` and the facade's key conversion.
module HybridProtocol.Tests.AgeInterop

open System
open System.Diagnostics
open System.IO
open Expecto
open HybridProtocol
open HybridProtocol.Tests.TestSupport
open HybridProtocol.Tests.CliSupport

/// Runs an external program in DIR and returns its standard output; fails the test on a non-zero exit.
let private external (dir: TempDir) (program: string) (args: string list) =
    let info = ProcessStartInfo(program)
    info.WorkingDirectory <- dir.Path
    info.RedirectStandardOutput <- true
    info.RedirectStandardError <- true

    for a in args do
        info.ArgumentList.Add a

    use p =
        try
            match Process.Start info with
            | null -> failtestf "could not start %s" program
            | p -> p
        with :? ComponentModel.Win32Exception ->
            failtestf
                "%s is not installed (.ci/run installs it: apt-get install age; npm ci in tests/Interop/age-js)"
                program

    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()

    if not (p.WaitForExit 60_000) then
        p.Kill true
        failtestf "%s %A timed out" program args

    if p.ExitCode <> 0 then
        failtestf "%s %A exited %d: %s" program args p.ExitCode err.Result

    out.Result.Trim()

let private typage = Path.Combine(repoRoot, "tests", "Interop", "age-js", "age.mjs")

let private node (dir: TempDir) (args: string list) = external dir "node" (typage :: args)

let private plaintext () =
    Random.Shared.GetItems(Array.init 256 byte, 150_001)

[<Tests>]
let tests =
    testList "age interop" [
        testCase "Debian age: age encrypts to two X25519 recipients (binary and -a), hybrid open decrypts, and back"
        <| fun () ->
            use dir = new TempDir()
            File.WriteAllBytes(dir.File "plain", plaintext ())
            external dir "age-keygen" [ "-o"; "id1.txt" ] |> ignore
            external dir "age-keygen" [ "-o"; "id2.txt" ] |> ignore
            let r1 = external dir "age-keygen" [ "-y"; "id1.txt" ]
            let r2 = external dir "age-keygen" [ "-y"; "id2.txt" ]

            // age → us
            external dir "age" [ "-r"; r1; "-r"; r2; "-o"; "a.age"; "plain" ] |> ignore

            external dir "age" [ "-r"; r1; "-r"; r2; "-a"; "-o"; "a.txt"; "plain" ]
            |> ignore

            expectExit
                Exit.success
                (run dir [ "open"; "-i"; "id2.txt"; "a.age"; "-o"; "a.out" ])
                "open age's binary file"

            expectExit
                Exit.success
                (run dir [ "open"; "--key"; "id1.txt"; "a.txt"; "-o"; "a2.out" ])
                "open age's armored file"

            Expect.equal (File.ReadAllBytes(dir.File "a.out")) (File.ReadAllBytes(dir.File "plain")) "binary"
            Expect.equal (File.ReadAllBytes(dir.File "a2.out")) (File.ReadAllBytes(dir.File "plain")) "armored"

            // us → age
            expectExit Exit.success (run dir [ "seal"; "-r"; r1; "-r"; r2; "plain"; "-o"; "b.age" ]) "seal"
            expectExit Exit.success (run dir [ "seal"; "-r"; r1; "-r"; r2; "-a"; "plain"; "-o"; "b.txt" ]) "seal -a"
            external dir "age" [ "-d"; "-i"; "id1.txt"; "-o"; "b.out"; "b.age" ] |> ignore
            external dir "age" [ "-d"; "-i"; "id2.txt"; "-o"; "b2.out"; "b.txt" ] |> ignore
            Expect.equal (File.ReadAllBytes(dir.File "b.out")) (File.ReadAllBytes(dir.File "plain")) "age opens ours"

            Expect.equal
                (File.ReadAllBytes(dir.File "b2.out"))
                (File.ReadAllBytes(dir.File "plain"))
                "age opens our armor"

            Expect.stringStarts (File.ReadAllText(dir.File "b.txt")) "-----BEGIN AGE ENCRYPTED FILE-----\n" "armored"

        testCase "Debian age: our keys as age strings are age-keygen's, and a PEM key opens what age sealed to it"
        <| fun () ->
            use dir = new TempDir()
            use key = PrivateKey.Generate()
            File.WriteAllText(dir.File "id.txt", key.ToAgeIdentity() + "\n")
            let recipient = external dir "age-keygen" [ "-y"; "id.txt" ]
            Expect.equal recipient (key.PublicKey.ToAgeRecipient()) "age-keygen -y agrees"
            Expect.equal (PublicKey.FromAgeRecipient recipient) key.PublicKey "and reads back"
            key.Save(dir.File "k.key")
            File.WriteAllBytes(dir.File "plain", plaintext ())
            external dir "age" [ "-r"; recipient; "-o"; "c.age"; "plain" ] |> ignore

            expectExit
                Exit.success
                (run dir [ "open"; "--key"; "k.key"; "c.age"; "-o"; "c.out" ])
                "open with the PEM key"

            Expect.equal (File.ReadAllBytes(dir.File "c.out")) (File.ReadAllBytes(dir.File "plain")) "same bytes"

        testCase "age-encryption (npm): mlkem768x25519 to two recipients, binary and armored, both ways"
        <| fun () ->
            use dir = new TempDir()
            File.WriteAllBytes(dir.File "plain", plaintext ())
            let p1 = node dir [ "keygen-pq"; "pq1.txt" ]
            let p2 = node dir [ "keygen-pq"; "pq2.txt" ]
            Expect.stringStarts p1 "age1pq1" "a post-quantum recipient"

            // typage → us
            node dir [ "encrypt"; "plain"; "d.age"; p1; p2 ] |> ignore
            node dir [ "encrypt"; "plain"; "d.txt"; "-a"; p1; p2 ] |> ignore
            expectExit Exit.success (run dir [ "open"; "-i"; "pq2.txt"; "d.age"; "-o"; "d.out" ]) "open typage's file"
            expectExit Exit.success (run dir [ "open"; "-i"; "pq1.txt"; "d.txt"; "-o"; "d2.out" ]) "open typage's armor"
            Expect.equal (File.ReadAllBytes(dir.File "d.out")) (File.ReadAllBytes(dir.File "plain")) "binary"
            Expect.equal (File.ReadAllBytes(dir.File "d2.out")) (File.ReadAllBytes(dir.File "plain")) "armored"

            // us → typage, with one recipient given as an X-Wing PEM key file
            use xwing = PrivateKey.FromAgeIdentity(File.ReadAllText(dir.File "pq2.txt"))
            xwing.PublicKey.Save(dir.File "pq2.pub")
            expectExit Exit.success (run dir [ "seal"; "-r"; p1; "--to"; "pq2.pub"; "plain"; "-o"; "e.age" ]) "seal"
            expectExit Exit.success (run dir [ "seal"; "-r"; p1; "-r"; p2; "-a"; "plain"; "-o"; "e.txt" ]) "seal -a"

            node dir [ "decrypt"; "e.age"; "e.out"; File.ReadAllText(dir.File "pq2.txt").Trim() ]
            |> ignore

            node dir [ "decrypt"; "e.txt"; "e2.out"; File.ReadAllText(dir.File "pq1.txt").Trim() ]
            |> ignore

            Expect.equal (File.ReadAllBytes(dir.File "e.out")) (File.ReadAllBytes(dir.File "plain")) "typage opens ours"
            Expect.equal (File.ReadAllBytes(dir.File "e2.out")) (File.ReadAllBytes(dir.File "plain")) "and our armor"

        testCase "mixing post-quantum and X25519 recipients is refused (usage of age's rule), and nothing is written"
        <| fun () ->
            use dir = new TempDir()
            File.WriteAllBytes(dir.File "plain", plaintext ())
            use pq = PrivateKey.Generate KeyAlgorithm.XWing
            use classic = PrivateKey.Generate()

            let r =
                run dir [
                    "seal"
                    "-r"
                    pq.PublicKey.ToAgeRecipient()
                    "-r"
                    classic.PublicKey.ToAgeRecipient()
                    "plain"
                    "-o"
                    "x.age"
                ]

            Expect.notEqual r.ExitCode Exit.success "refused"
            Expect.isFalse (File.Exists(dir.File "x.age")) "no output"
    ]
