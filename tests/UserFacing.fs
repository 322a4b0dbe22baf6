/// What a new user meets first: private key files others can read are refused (with the option that allows them and
/// the CLI's chmod hint), library messages speak in API terms (the CLI adds its own commands), the library keeps no
/// trust store shared with the CLI unless asked, disposed keys are refused at once, and `hybrid send` refuses a FIFO.
module HybridProtocol.Tests.UserFacing

open System
open System.IO
open System.Net
open System.Text.RegularExpressions
open System.Threading
open System.Threading.Tasks
open Expecto
open HybridProtocol
open HybridProtocol.Noise
open HybridProtocol.Tests.TestSupport
open HybridProtocol.Tests.CliSupport

let private mode (octal: string) : UnixFileMode = enum (Convert.ToInt32(octal, 8))

let private hybridError (f: unit -> unit) =
    try
        f ()
        failtest "expected a HybridProtocolException, but nothing was thrown"
    with
    | HybridError e -> e
    | :? AssertException -> reraise ()

/// Commands of the `hybrid` tool, which an application's users may not have.
let private cliCommand =
    Regex(@"hybrid (keygen|pubkey|fingerprint|known-hosts|serve|connect|seal|open|send|receive)\b")

let private keyFileTests =
    testList "Key file permissions" [
        testCase
            "a private key file that group or others can access is refused, naming the file, its mode and the option"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "Unix file modes (nothing is checked on Windows)"

            use dir = new TempDir()
            let path = dir.File "server.key"
            use key = PrivateKey.Generate()
            key.Save path

            for m in [ "0640"; "0604"; "0644"; "0660"; "0610"; "0601"; "0666" ] do
                File.SetUnixFileMode(path, mode m)
                let e = hybridError (fun () -> PrivateKey.Load path |> ignore)
                Expect.equal e.Code HybridErrorCode.InsecureKeyFile $"{m} is refused"
                Expect.stringContains e.Message path "names the file"
                Expect.stringContains e.Message m "names the mode"
                Expect.stringContains e.Message "AllowInsecurePermissions" "names the option that allows it"
                Expect.stringContains e.Message "0600" "says what to restrict it to"
                Expect.isFalse (cliCommand.IsMatch e.Message) "no CLI command in a library message"

                use loaded = PrivateKey.Load(path, KeyLoadOptions(AllowInsecurePermissions = true))

                Expect.equal loaded.PublicKey key.PublicKey $"{m} loads with AllowInsecurePermissions"

            for m in [ "0600"; "0400"; "0700" ] do
                File.SetUnixFileMode(path, mode m)
                use loaded = PrivateKey.Load path
                Expect.equal loaded.PublicKey key.PublicKey $"{m} (owner only) loads"

        testCase
            "public key files may be world-readable; a public key given as a private one gets the kind-of-key error"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "Unix file modes"

            use dir = new TempDir()
            let path = dir.File "server.pub"
            use key = PrivateKey.Generate()
            key.PublicKey.Save path
            File.SetUnixFileMode(path, mode "0644")
            Expect.equal (PublicKey.Load path) key.PublicKey "0644 public key loads"
            let e = hybridError (fun () -> PrivateKey.Load path |> ignore)
            Expect.equal e.Code HybridErrorCode.InvalidKey "what the file holds comes first"
            Expect.stringContains e.Message "public key" "says it is a public key"

        testCase "the CLI refuses a 0644 private key with exit 3 and says how to fix it (chmod 600)"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "Unix file modes"

            use dir = new TempDir()
            expectExit Exit.success (run dir [ "keygen"; "-o"; "server.key" ]) "keygen"
            File.SetUnixFileMode(dir.File "server.key", mode "0644")
            let r = run dir [ "pubkey"; "server.key" ]
            expectExit Exit.keyOrFile r "pubkey of a 0644 private key"
            Expect.stringContains r.Stderr "chmod 600 server.key" "the fix, as a command"
            Expect.stringContains r.Stderr "0644" "the mode"
            Expect.isFalse (r.Stderr.Contains "AllowInsecurePermissions") "no library option in a CLI message"
            File.SetUnixFileMode(dir.File "server.key", mode "0600")
            expectExit Exit.success (run dir [ "pubkey"; "server.key" ]) "after chmod 600"
    ]

let private messageTests =
    testList "Library messages" [
        testCase "key and known-hosts errors describe the problem in API terms, naming no CLI command"
        <| fun () ->
            use dir = new TempDir()
            use key = PrivateKey.Generate()
            let write name (text: string) = File.WriteAllText(dir.File name, text)
            write "garbage.key" "not a key\n"
            write "empty.key" ""
            key.PublicKey.Save(dir.File "server.pub")
            key.Save(dir.File "server.key")
            write "ssh.pub" "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBy1 user@host\n"

            let errors = [
                hybridError (fun () -> PrivateKey.Load(dir.File "garbage.key") |> ignore)
                hybridError (fun () -> PrivateKey.Load(dir.File "empty.key") |> ignore)
                hybridError (fun () -> PrivateKey.Load(dir.File "server.pub") |> ignore)
                hybridError (fun () -> PublicKey.Load(dir.File "server.key") |> ignore)
                hybridError (fun () -> PublicKey.Load(dir.File "ssh.pub") |> ignore)
                hybridError (fun () ->
                    PublicKey.FromPem "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
                    |> ignore)
                KnownHosts.ServerKeyChangedException(
                    "example.org",
                    443,
                    key.PublicKey,
                    PublicKey.FromRawBytes(ReadOnlySpan(Array.zeroCreate<byte> 32))
                )
                KnownHosts.ServerKeyChangedException(
                    "example.org",
                    443,
                    key.PublicKey,
                    PublicKey.FromRawBytes(ReadOnlySpan(Array.zeroCreate<byte> 32)),
                    dir.File "known_hosts",
                    3
                )
            ]

            for e in errors do
                Expect.isFalse (cliCommand.IsMatch e.Message) $"no CLI command in: {e.Message}"

            Expect.stringContains errors[0].Message "PrivateKey.Generate" "says how to make a key with the API"
            Expect.stringContains errors[2].Message "public key" "says what the file holds"
            // The CLI adds "hybrid known-hosts remove HOST:PORT" itself (CLI network: "a changed server key is refused (exit 4) ...").
            Expect.stringContains errors[6].Message "KnownHosts.Remove" "says how to accept a new key with the API"

        testCase "no library source names a CLI command in a message"
        <| fun () ->
            let sources =
                Directory.GetFiles(Path.Combine(repoRoot, "facade-csharp"), "*.cs", SearchOption.AllDirectories)
                |> Array.filter (fun f ->
                    not (f.Contains $"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}"))

            Expect.isNonEmpty sources "facade sources"

            for file in sources do
                File.ReadAllLines file
                |> Array.iteri (fun i line ->
                    let code = line.Trim()

                    if not (code.StartsWith "///" || code.StartsWith "//") then
                        Expect.isFalse
                            (cliCommand.IsMatch line)
                            $"{Path.GetRelativePath(repoRoot, file)}:{i + 1} names a CLI command: {code}")

    ]

let private knownHostsTests =
    testList "Known hosts of the library" [
        testCase "KnownHostsFile needs a path: there is no default file shared with the CLI"
        <| fun () ->
            Expect.throwsT<ArgumentNullException>
                (fun () -> ServerAuthentication.KnownHostsFile(Unchecked.defaultof<string>) |> ignore)
                "no default"

            use dir = new TempDir()
            let auth = ServerAuthentication.KnownHostsFile(dir.File "app_known_hosts")
            Expect.stringContains (string auth) (dir.File "app_known_hosts") "the application's own file"
            // The CLI's file is reached only by asking for it by name (KnownHosts.GetDefaultPath / LoadDefault).
            Expect.notEqual (dir.File "app_known_hosts") (KnownHosts.GetDefaultPath()) "not the CLI's file"
    ]

/// The ObjectDisposedException that `f` throws at once; it must name where the key was passed.
let private expectDisposed (passedAs: string) (f: unit -> unit) =
    try
        f ()
        failtest $"expected ObjectDisposedException naming {passedAs}, but nothing was thrown"
    with
    | :? ObjectDisposedException as e ->
        Expect.stringContains e.Message passedAs "names where the key was passed"
        Expect.stringContains e.Message "disposed" "says it was disposed"
    | :? AssertException -> reraise ()
    | e -> failtest $"expected ObjectDisposedException, got {e.GetType().Name}: {e.Message}"

let private disposedTests =
    testList "Disposed keys" [
        testCase
            "a disposed server key is refused by SecureListener (constructor and Start) and AuthenticateAsServerAsync"
        <| fun () ->
            let key = PrivateKey.Generate()
            let options = SecureServerOptions(ServerKey = key)
            let listener = new SecureListener(IPEndPoint(IPAddress.Loopback, 0), options)
            key.Dispose()
            expectDisposed "SecureServerOptions.ServerKey" (fun () -> listener.Start())

            expectDisposed "SecureServerOptions.ServerKey" (fun () ->
                new SecureListener(IPEndPoint(IPAddress.Loopback, 0), options) |> ignore)

            expectDisposed "SecureServerOptions.ServerKey" (fun () ->
                SecureConnection.AuthenticateAsServerAsync(new MemoryStream(), options).GetAwaiter().GetResult()
                |> ignore)

            listener.DisposeAsync().AsTask().Wait()

        testCase "a disposed client identity is refused before connecting"
        <| fun () ->
            let key = PrivateKey.Generate()
            use server = PrivateKey.Generate()

            let options =
                SecureClientOptions(
                    ServerAuthentication = ServerAuthentication.Pinned server.PublicKey,
                    ClientIdentity = key
                )

            key.Dispose()

            // Port 1 on 127.0.0.1 is closed: a connection attempt would fail with TransportFailed instead.
            expectDisposed "SecureClientOptions.ClientIdentity" (fun () ->
                SecureConnection.ConnectAsync("127.0.0.1", 1, options).GetAwaiter().GetResult()
                |> ignore)

        testCase "a disposed key is refused by Hpke.Open, SealedFile.Open and NoiseHandshake.Create"
        <| fun () ->
            let key = PrivateKey.Generate()
            let sealedMessage = Hpke.Seal(key.PublicKey, ReadOnlySpan "x"B)
            use sealedFile = new MemoryStream()
            SealedFile.Seal(key.PublicKey, new MemoryStream("x"B), sealedFile)
            key.Dispose()

            expectDisposed "recipient" (fun () -> Hpke.Open(key, ReadOnlySpan sealedMessage) |> ignore)

            expectDisposed "recipient" (fun () ->
                sealedFile.Position <- 0L
                SealedFile.Open(key, sealedFile, new MemoryStream()))

            expectDisposed "NoiseHandshakeOptions.LocalStatic" (fun () ->
                NoiseHandshake.Create(
                    NoiseHandshakeOptions(
                        ProtocolName = "Noise_XX_25519_ChaChaPoly_BLAKE2b",
                        Role = NoiseRole.Initiator,
                        LocalStatic = key
                    )
                )
                |> ignore)
    ]

let private fifoTests =
    testList "hybrid send on a FIFO" [
        testCase "a FIFO is refused with a clear error and exit 3, before connecting"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "FIFOs are a Unix thing"

            use dir = new TempDir()
            let fifo = dir.File "pipe"

            let mkfifo = Diagnostics.Process.Start("mkfifo", [ fifo ])

            Expect.isTrue (mkfifo.WaitForExit 10_000 && mkfifo.ExitCode = 0) "mkfifo"

            // A writer, as `hybrid send <(some command)` has: opening a FIFO waits for the other end.
            let writer =
                Task.Run(fun () ->
                    try
                        use w = new FileStream(fifo, FileMode.Open, FileAccess.Write)
                        w.Write("data from a pipe\n"B, 0, 17)
                    with _ ->
                        ())

            // Port 1 is closed: a connection attempt would give exit 5, not 3.
            let r =
                runWith dir (TimeSpan.FromSeconds 30.) [||] [
                    "send"
                    "pipe"
                    "127.0.0.1:1"
                    "--server-key"
                    "none.pub"
                ]

            expectExit Exit.keyOrFile r "send on a FIFO"
            Expect.stringContains r.Stderr "not a regular file" "says why"
            Expect.stringContains r.Stderr "Save the data to a file first" "says what to do"
            Expect.isFalse (r.Stderr.Contains "unexpected error") "not an unexpected error"
            // The writer ends when the reader closes its end.
            Expect.isTrue (writer.Wait(TimeSpan.FromSeconds 30.)) "writer finished"
    ]

[<Tests>]
let tests =
    testList "User-facing" [ keyFileTests; messageTests; knownHostsTests; disposedTests; fifoTests ]
