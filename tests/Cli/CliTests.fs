/// End-to-end tests of the `hybrid` tool, run as a process: keys, known hosts, help, exit codes, OpenSSL interop.
module HybridProtocol.Tests.CliTests

open System
open System.IO
open System.Text
open Expecto
open HybridProtocol
open HybridProtocol.Tests.CliSupport

let private line (s: string) = s.Trim()

let private keyTests =
    testList "keys" [
        testCase "keygen writes a 0600 PEM and prints its fingerprint; fingerprint and pubkey agree"
        <| fun () ->
            use dir = new TempDir()
            let keygen = run dir [ "keygen"; "-o"; "server.key" ]
            expectExit Exit.success keygen "keygen succeeds"
            let printed = line keygen.Out
            Expect.isTrue (printed.StartsWith "SHA256:" && printed.Length = 50) $"a fingerprint on stdout: {printed}"

            use key = PrivateKey.Load(dir.File "server.key")
            Expect.equal printed key.Fingerprint "stdout is the key's fingerprint"

            if not (OperatingSystem.IsWindows()) then
                Expect.equal
                    (File.GetUnixFileMode(dir.File "server.key"))
                    (UnixFileMode.UserRead ||| UnixFileMode.UserWrite)
                    "0600"

            let fingerprint = run dir [ "fingerprint"; "server.key" ]
            expectExit Exit.success fingerprint "fingerprint of the private key"
            Expect.equal (line fingerprint.Out) printed "same fingerprint from the private key file"

            let pubkey = run dir [ "pubkey"; "server.key" ]
            expectExit Exit.success pubkey "pubkey"
            Expect.equal pubkey.Out (key.PublicKey.ToPem()) "the public PEM"
            File.WriteAllBytes(dir.File "server.pub", pubkey.Stdout)
            let fromPublic = run dir [ "fingerprint"; "server.pub" ]
            expectExit Exit.success fromPublic "fingerprint of the public key"
            Expect.equal (line fromPublic.Out) printed "same fingerprint from the public key file"

        testCase "keygen refuses to overwrite (exit 3, file unchanged); --force replaces it, still 0600"
        <| fun () ->
            use dir = new TempDir()
            expectExit Exit.success (run dir [ "keygen"; "-o"; "k" ]) "first keygen"
            let before = File.ReadAllText(dir.File "k")
            let again = run dir [ "keygen"; "-o"; "k" ]
            expectExit Exit.keyOrFile again "refused"
            Expect.stringContains again.Stderr "--force" "says how to replace it"
            Expect.equal (File.ReadAllText(dir.File "k")) before "unchanged"
            let forced = run dir [ "keygen"; "-o"; "k"; "--force" ]
            expectExit Exit.success forced "--force"
            Expect.notEqual (File.ReadAllText(dir.File "k")) before "a new key"
            use key = PrivateKey.Load(dir.File "k")
            Expect.equal (line forced.Out) key.Fingerprint "prints the new fingerprint"

        testCase "bad key files give exit 3 with one clear line: missing, directory, garbage, wrong algorithm"
        <| fun () ->
            use dir = new TempDir()
            File.WriteAllText(dir.File "garbage.pem", "this is not a key\n")
            // An Ed25519 key as `openssl genpkey -algorithm Ed25519` writes it.
            File.WriteAllText(
                dir.File "ed25519.pem",
                "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIDH1n0D54T3Vx9oh0Cs2k9LK1bOgWj2ojv4P4kkVSs5k\n-----END PRIVATE KEY-----\n"
            )

            for args, says in
                [
                    [ "fingerprint"; "missing.key" ], "does not exist"
                    [ "pubkey"; "." ], "directory"
                    [ "fingerprint"; "garbage.pem" ], "PEM"
                    [ "pubkey"; "ed25519.pem" ], "Ed25519"
                ] do
                let r = run dir args
                expectExit Exit.keyOrFile r (String.Join(' ', args))
                Expect.stringContains r.Stderr says $"{args}: names the problem"
                Expect.isFalse (r.Stderr.Contains "   at ") "no stack trace"
                Expect.equal (r.Stderr.Trim().Split('\n').Length) 1 "one line"
                Expect.isEmpty r.Stdout "nothing on stdout"

        testCase "--verbose adds the stack trace"
        <| fun () ->
            use dir = new TempDir()
            File.WriteAllText(dir.File "garbage.pem", "this is not a key\n")
            let r = run dir [ "fingerprint"; "garbage.pem"; "--verbose" ]
            expectExit Exit.keyOrFile r "same exit code"
            Expect.stringContains r.Stderr "   at " "a stack trace"
            Expect.stringContains r.Stderr "HybridArgumentException" "the exception type"
    ]

let private knownHostsTests =
    testList "known-hosts" [
        testCase
            "list shows entries in file order with fingerprints; remove HOST:PORT and HOST; nothing to remove is exit 1"
        <| fun () ->
            use dir = new TempDir()
            let file = dir.File "kh"
            use k1 = PrivateKey.Generate()
            use k2 = PrivateKey.Generate()
            let store = KnownHosts.Load file
            store.Add("example.com", 12345, k1.PublicKey, "first") |> ignore
            store.Add("::1", 443, k2.PublicKey) |> ignore
            store.Add("example.com", 999, k2.PublicKey) |> ignore

            let list = run dir [ "known-hosts"; "list"; "--file"; file ]
            expectExit Exit.success list "list"

            Expect.equal
                (list.Out.Trim().Split '\n')
                [|
                    $"example.com:12345 {k1.Fingerprint} first"
                    $"[::1]:443 {k2.Fingerprint}"
                    $"example.com:999 {k2.Fingerprint}"
                |]
                "entries in order"

            expectExit
                Exit.success
                (run dir [ "known-hosts"; "remove"; "[::1]:443"; "--file"; file ])
                "remove [::1]:443"

            expectExit Exit.success (run dir [ "known-hosts"; "remove"; "example.com"; "--file"; file ]) "remove a host"
            Expect.isEmpty (KnownHosts.Load(file).List()) "all removed"
            let again = run dir [ "known-hosts"; "remove"; "example.com:12345"; "--file"; file ]
            expectExit Exit.other again "nothing to remove"
            Expect.stringContains again.Stderr "nothing was removed" "says so"

        testCase "the default file is $HYBRID_KNOWN_HOSTS; an empty one lists nothing"
        <| fun () ->
            use dir = new TempDir()
            use k = PrivateKey.Generate()
            let r0 = run dir [ "known-hosts"; "list" ]
            expectExit Exit.success r0 "empty list"
            Expect.isEmpty r0.Stdout "nothing listed"
            KnownHosts.Load(dir.File "known_hosts").Add("h", 1, k.PublicKey) |> ignore
            let r1 = run dir [ "known-hosts"; "list" ]
            Expect.equal (line r1.Out) $"h:1 {k.Fingerprint}" "the entry in the default file"

        testCase "a malformed host argument is a usage error (2); a malformed file is exit 3 naming the line"
        <| fun () ->
            use dir = new TempDir()
            expectExit Exit.usage (run dir [ "known-hosts"; "remove"; "bad host:1" ]) "bad host"
            expectExit Exit.usage (run dir [ "known-hosts"; "remove"; "h:70000" ]) "bad port"
            File.WriteAllText(dir.File "kh", "example.com:1 x25519 notbase64\n")
            let r = run dir [ "known-hosts"; "list"; "--file"; dir.File "kh" ]
            expectExit Exit.keyOrFile r "malformed file"
            Expect.stringContains r.Stderr "line 1" "names the line"
    ]

let private sealTests =
    testList "seal and open" [
        testCase "seal to a public key file, open with the private key: files of 0, 1 and 200,001 bytes (4 chunks)"
        <| fun () ->
            use dir = new TempDir()
            expectExit Exit.success (run dir [ "keygen"; "-o"; "alice.key" ]) "keygen"
            File.WriteAllBytes(dir.File "alice.pub", (run dir [ "pubkey"; "alice.key" ]).Stdout)

            for size in [ 0; 1; 200_001 ] do
                let data = Random.Shared.GetItems(Array.init 256 byte, size)
                File.WriteAllBytes(dir.File "plain", data)

                let sealedFile =
                    run dir [ "seal"; "--to"; "alice.pub"; "plain"; "-o"; "plain.sealed"; "--force" ]

                expectExit Exit.success sealedFile $"seal {size}"
                let sealedBytes = File.ReadAllBytes(dir.File "plain.sealed")
                Expect.isGreaterThan sealedBytes.Length size "the sealed file is longer"

                Expect.isFalse
                    (size > 16 && sealedBytes.AsSpan().IndexOf(data.AsSpan(0, 16)) >= 0)
                    "the plaintext does not appear"

                let opened =
                    run dir [ "open"; "--key"; "alice.key"; "plain.sealed"; "-o"; "plain.out"; "--force" ]

                expectExit Exit.success opened $"open {size}"
                Expect.equal (File.ReadAllBytes(dir.File "plain.out")) data $"round trip of {size} bytes"

        testCase "'-' streams: seal stdin to stdout, open stdin to stdout"
        <| fun () ->
            use dir = new TempDir()
            expectExit Exit.success (run dir [ "keygen"; "-o"; "k" ]) "keygen"
            let data = Random.Shared.GetItems(Array.init 256 byte, 150_000)
            let timeout = TimeSpan.FromSeconds 20.
            let sealedFile = runWith dir timeout data [ "seal"; "--to"; "k"; "-"; "-o"; "-" ]
            expectExit Exit.success sealedFile "seal - -o -"

            let opened =
                runWith dir timeout sealedFile.Stdout [ "open"; "--key"; "k"; "-"; "-o"; "-" ]

            expectExit Exit.success opened "open - -o -"
            Expect.equal opened.Stdout data "the same bytes back"
            Expect.isEmpty (Directory.GetFiles(dir.Path, "*.partial")) "no temporary files"

        testCase
            "refusals: wrong key, cut-off and altered files are exit 6 and leave no output; a public key as --key is exit 3"
        <| fun () ->
            use dir = new TempDir()
            expectExit Exit.success (run dir [ "keygen"; "-o"; "a.key" ]) "keygen a"
            expectExit Exit.success (run dir [ "keygen"; "-o"; "b.key" ]) "keygen b"
            File.WriteAllBytes(dir.File "a.pub", (run dir [ "pubkey"; "a.key" ]).Stdout)
            File.WriteAllBytes(dir.File "plain", Array.init 100_000 byte)
            expectExit Exit.success (run dir [ "seal"; "--to"; "a.pub"; "plain"; "-o"; "s" ]) "seal"
            let sealedBytes = File.ReadAllBytes(dir.File "s")
            File.WriteAllBytes(dir.File "cut", sealedBytes[.. sealedBytes.Length - 2])
            let altered = Array.copy sealedBytes
            altered[altered.Length / 2] <- altered[altered.Length / 2] ^^^ 1uy
            File.WriteAllBytes(dir.File "altered", altered)

            for key, input in [ "b.key", "s"; "a.key", "cut"; "a.key", "altered" ] do
                let r = run dir [ "open"; "--key"; key; input; "-o"; "out" ]
                expectExit Exit.integrity r $"open --key {key} {input}"
                Expect.isFalse (File.Exists(dir.File "out")) "no output file"
                Expect.isEmpty (Directory.GetFiles(dir.Path, "*.partial")) "no temporary file"

            expectExit Exit.keyOrFile (run dir [ "open"; "--key"; "a.pub"; "s"; "-o"; "out" ]) "public key as --key"
            expectExit Exit.keyOrFile (run dir [ "seal"; "--to"; "a.pub"; "missing"; "-o"; "out" ]) "missing input"
            expectExit Exit.keyOrFile (run dir [ "seal"; "--to"; "a.pub"; "plain"; "-o"; "s" ]) "existing output"
            Expect.equal (File.ReadAllBytes(dir.File "s")) sealedBytes "existing output untouched"
            expectExit Exit.usage (run dir [ "seal"; "plain"; "-o"; "x" ]) "--to missing"

        testCase
            "keygen --type for every key type; seal to each public key, open with its private key (the suite read from the file); a key of another type is exit 6"
        <| fun () ->
            use dir = new TempDir()
            File.WriteAllBytes(dir.File "plain", Array.init 70_000 byte)

            for t, algorithm, kemId in
                [
                    "x25519", KeyAlgorithm.X25519, 0x0020
                    "p256", KeyAlgorithm.P256, 0x0010
                    "p384", KeyAlgorithm.P384, 0x0011
                    "p521", KeyAlgorithm.P521, 0x0012
                    "mlkem768", KeyAlgorithm.MlKem768, 0x0041
                    "xwing", KeyAlgorithm.XWing, 0x647a
                ] do
                let keygen = run dir [ "keygen"; "--type"; t; "-o"; $"{t}.key" ]
                expectExit Exit.success keygen $"keygen --type {t}"
                use key = PrivateKey.Load(dir.File $"{t}.key")
                Expect.equal key.Algorithm algorithm $"{t} key type"
                Expect.equal (line keygen.Out) key.Fingerprint $"{t} fingerprint printed"
                File.WriteAllBytes(dir.File $"{t}.pub", (run dir [ "pubkey"; $"{t}.key" ]).Stdout)

                expectExit
                    Exit.success
                    (run dir [ "seal"; "--to"; $"{t}.pub"; "plain"; "-o"; $"{t}.sealed" ])
                    $"seal {t}"

                let header = File.ReadAllBytes(dir.File $"{t}.sealed")
                Expect.equal ((int header[10] <<< 8) ||| int header[11]) kemId $"{t} kem_id in the header"

                expectExit
                    Exit.success
                    (run dir [ "open"; "--key"; $"{t}.key"; $"{t}.sealed"; "-o"; $"{t}.out" ])
                    $"open {t}"

                Expect.equal
                    (File.ReadAllBytes(dir.File $"{t}.out"))
                    (File.ReadAllBytes(dir.File "plain"))
                    $"{t} round trip"

            let wrong =
                run dir [ "open"; "--key"; "p256.key"; "xwing.sealed"; "-o"; "wrong.out" ]

            expectExit Exit.integrity wrong "a P-256 key for an X-Wing file"
            Expect.stringContains wrong.Stderr "another type" "says the key is of another type"
            expectExit Exit.usage (run dir [ "keygen"; "--type"; "rsa"; "-o"; "r.key" ]) "unknown --type"
    ]

let private commands = [
    []
    [ "keygen" ]
    [ "pubkey" ]
    [ "fingerprint" ]
    [ "known-hosts" ]
    [ "known-hosts"; "list" ]
    [ "known-hosts"; "remove" ]
    [ "seal" ]
    [ "open" ]
    [ "serve" ]
    [ "connect" ]
    [ "send" ]
    [ "receive" ]
]

let private usageTests =
    testList "usage" [
        testCase "--help on every command shows usage and examples (exit 0)"
        <| fun () ->
            use dir = new TempDir()

            for command in commands do
                let r = run dir (command @ [ "--help" ])
                expectExit Exit.success r $"{command} --help"
                Expect.stringContains r.Out "Usage:" $"{command}: usage"
                Expect.stringContains r.Out "Examples:" $"{command}: examples"
                Expect.stringContains r.Out ("hybrid " + String.Join(' ', command)) $"{command}: named as hybrid"

        testCase "--version prints the version (exit 0)"
        <| fun () ->
            use dir = new TempDir()
            let r = run dir [ "--version" ]
            expectExit Exit.success r "--version"
            Expect.isTrue (Version.TryParse(line r.Out) |> fst) $"a version number: {r.Out}"

        testCase
            "usage errors are exit 2 with how to get help: no command, unknown command, unknown option, missing option"
        <| fun () ->
            use dir = new TempDir()

            for args in
                [
                    []
                    [ "frobnicate" ]
                    [ "keygen"; "-o"; "k"; "--bogus" ]
                    [ "keygen" ]
                    [ "pubkey" ]
                ] do
                let r = run dir args
                expectExit Exit.usage r $"{args}"
                Expect.stringContains r.Stderr "--help" $"{args}: points to --help"
                Expect.isFalse (File.Exists(dir.File "k")) "nothing written"
    ]

let private opensslTests =
    testList "openssl interop" [
        testCase "a key made by openssl genpkey -algorithm X25519 works with hybrid fingerprint, pubkey, seal and open"
        <| fun () ->
            use dir = new TempDir()
            runOpenssl dir [ "genpkey"; "-algorithm"; "X25519"; "-out"; "o.key" ] |> ignore
            let pem = runOpenssl dir [ "pkey"; "-in"; "o.key"; "-pubout" ]
            let expected = PublicKey.FromPem pem
            let fp = run dir [ "fingerprint"; "o.key" ]
            expectExit Exit.success fp "fingerprint"
            Expect.equal (line fp.Out) expected.Fingerprint "the fingerprint of openssl's public key"
            let pub = run dir [ "pubkey"; "o.key" ]
            Expect.equal pub.Out pem "the same public PEM as openssl pkey -pubout"
            File.WriteAllText(dir.File "o.pub", pem)
            File.WriteAllText(dir.File "plain", "sealed to an OpenSSL key")

            expectExit
                Exit.success
                (run dir [ "seal"; "--to"; "o.pub"; "plain"; "-o"; "s" ])
                "seal to openssl's public key"

            let opened = run dir [ "open"; "--key"; "o.key"; "s"; "-o"; "-" ]
            expectExit Exit.success opened "open with openssl's private key"
            Expect.equal opened.Out "sealed to an OpenSSL key" "round trip"

        testCase "a key made by hybrid keygen is read by openssl pkey, which derives the same public key"
        <| fun () ->
            use dir = new TempDir()
            expectExit Exit.success (run dir [ "keygen"; "-o"; "h.key" ]) "keygen"
            let opensslPub = runOpenssl dir [ "pkey"; "-in"; "h.key"; "-pubout" ]
            let ours = run dir [ "pubkey"; "h.key" ]
            Expect.equal ours.Out opensslPub "openssl derives the public key hybrid prints"
    ]

[<Tests>]
let tests =
    testSequenced
    <| testList "CLI" [ keyTests; knownHostsTests; sealTests; usageTests; opensslTests ]
