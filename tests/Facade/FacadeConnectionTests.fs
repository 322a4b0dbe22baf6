/// The C# connection facade over real sockets on 127.0.0.1: every authentication mode and pattern, the failures
/// with their exact error codes, message boundaries over odd transports, large and many messages, concurrency,
/// close and truncation, the Stream view, and the allocation-free record loop.
module HybridProtocol.Tests.FacadeConnectionTests

open System
open System.IO
open System.Net
open System.Net.Sockets
open System.Security.Cryptography
open System.Threading
open System.Threading.Tasks
open Expecto
open HybridProtocol
open HybridProtocol.Core.Wire
open HybridProtocol.Tests.Loopback

/// The plumbing the test streams below share: a non-seekable stream over `inner` that reads from it as it is
/// and disposes it; each subclass says how it writes (and, where it matters, how it reads).
[<AbstractClass>]
type private WrappingStream(inner: Stream) =
    inherit HybridProtocol.Tests.TestSupport.UnseekableStream()

    override _.Flush() = inner.Flush()
    override _.Read(buffer: byte[], offset, count) = inner.Read(buffer, offset, count)

    override _.Dispose(disposing) =
        if disposing then
            inner.Dispose()

/// A stream that passes at most one byte per read and per write (worst-case fragmentation).
type private TrickleStream(inner: Stream) =
    inherit WrappingStream(inner)
    override _.Read(buffer: byte[], offset, count) = inner.Read(buffer, offset, min count 1)

    override _.Write(buffer: byte[], offset, count) =
        for i in 0 .. count - 1 do
            inner.Write(buffer, offset + i, 1)
            inner.Flush()

/// A stream that, once `Hold` is set, keeps every write until `Release`, then sends them all in one write.
type private CoalescingStream(inner: Stream) =
    inherit WrappingStream(inner)
    let held = new MemoryStream()
    member val Hold = false with get, set

    member this.Release() =
        this.Hold <- false
        inner.Write(held.GetBuffer(), 0, int held.Length)
        held.SetLength 0L

    override this.Write(buffer: byte[], offset, count) =
        if this.Hold then
            held.Write(buffer, offset, count)
        else
            inner.Write(buffer, offset, count)

/// A stream that forwards `limit` written bytes, then cuts the TCP connection (FIN without a Close record).
type private CuttingStream(inner: NetworkStream, limit: int) =
    inherit WrappingStream(inner)
    let mutable sent = 0
    member val Armed = false with get, set

    override this.Write(buffer: byte[], offset, count) =
        if not this.Armed then
            inner.Write(buffer, offset, count)
        else
            let n = max 0 (min count (limit - sent))
            inner.Write(buffer, offset, n)
            sent <- sent + n

            if sent >= limit then
                inner.Socket.Shutdown SocketShutdown.Both
                raise (IOException "cut")

/// A stream that, once armed, forwards the first `limit` bytes written and keeps the rest until `Release`.
type private SplittingStream(inner: Stream) =
    inherit WrappingStream(inner)
    let held = new MemoryStream()
    let mutable limit = Int32.MaxValue
    member _.Arm(bytes: int) = limit <- bytes

    member _.Release() =
        limit <- Int32.MaxValue
        inner.Write(held.GetBuffer(), 0, int held.Length)
        held.SetLength 0L

    override _.ReadAsync(buffer: Memory<byte>, token: CancellationToken) = inner.ReadAsync(buffer, token)

    override _.Write(buffer: byte[], offset, count) =
        let n = max 0 (min count limit)
        inner.Write(buffer, offset, n)
        limit <- limit - n
        held.Write(buffer, offset + n, count - n)

let private sizes = [ 0; 1; 2; 100; 16384; 65502; 65503; 70000; 200000 ]


/// A connected pair whose server accepts messages of at most 1,000 bytes.
let private limitedTo1000 () =
    let key = PrivateKey.Generate()
    let sopts = serverOptions key
    sopts.MaxMessageSize <- 1000
    connected sopts (clientOptions (ServerAuthentication.Pinned key.PublicKey))

[<Tests>]
let authenticationModes =
    testList "Connections: authentication modes" [
        testCase "pinned server key runs NK (NKhfs by default); the client sees the server's key"
        <| fun () ->
            use key = PrivateKey.Generate()

            let client, server =
                connected (serverOptions key) (clientOptions (ServerAuthentication.Pinned key.PublicKey))

            use client = client
            use server = server
            Expect.stringContains client.ProtocolName "_NKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b" "NK, hybrid by default"
            Expect.equal client.RemotePublicKey key.PublicKey "server key"
            Expect.isNull server.RemotePublicKey "anonymous client"
            Expect.isTrue (client.HandshakeHash.Span.SequenceEqual(server.HandshakeHash.Span)) "same handshake hash"
            Expect.equal client.ApplicationProtocol "hybrid" "application protocol"
            exchange client server

        testCase "pinned key with a client identity runs IK; the server sees the client's key"
        <| fun () ->
            use key = PrivateKey.Generate()
            use identity = PrivateKey.Generate()
            let opts = clientOptions (ServerAuthentication.Pinned key.PublicKey)
            opts.ClientIdentity <- identity
            let sopts = serverOptions key
            sopts.ClientAuthentication <- ClientAuthentication.Optional(fun _ -> true)
            let client, server = connected sopts opts
            use client = client
            use server = server
            Expect.stringContains server.ProtocolName "_IKhfs_" "IK"
            Expect.equal server.RemotePublicKey identity.PublicKey "client key"
            exchange client server

        testCase "known hosts runs NX: first contact records the key, the second connection trusts it"
        <| fun () ->
            use key = PrivateKey.Generate()
            let path = tempFile ()

            try
                use listener = listen ()

                for round in 1..2 do
                    let opts = clientOptions (ServerAuthentication.KnownHostsFile path)

                    let client, server =
                        match handshakeOn listener (serverOptions key) opts id id with
                        | Ok c, Ok s -> c, s
                        | c, s -> failwithf "handshake failed: %A %A" c s

                    use client = client
                    use server = server
                    Expect.stringContains client.ProtocolName "_NXhfs_" "NX"
                    exchange client server

                    let entries = (KnownHosts.Load path).List()
                    Expect.equal entries.Count 1 $"one entry after round {round}"
                    Expect.equal entries[0].Key key.PublicKey "the server's key is recorded"
            finally
                File.Delete path

        testCase "mutual authentication with an allow-list runs XX"
        <| fun () ->
            use key = PrivateKey.Generate()
            use identity = PrivateKey.Generate()
            let path = tempFile ()
            let sopts = serverOptions key
            sopts.ClientAuthentication <- ClientAuthentication.AllowList [ identity.PublicKey ]
            let copts = clientOptions (ServerAuthentication.KnownHostsFile path)
            copts.ClientIdentity <- identity
            let client, server = connected sopts copts
            use client = client
            use server = server
            File.Delete path
            Expect.stringContains client.ProtocolName "_XXhfs_" "XX"
            Expect.equal server.RemotePublicKey identity.PublicKey "client key"
            Expect.equal client.RemotePublicKey key.PublicKey "server key"
            exchange client server

        testCase "callbacks decide on both ends (XX)"
        <| fun () ->
            use key = PrivateKey.Generate()
            use identity = PrivateKey.Generate()
            let mutable seenByClient = None
            let mutable seenByServer = None
            let sopts = serverOptions key

            sopts.ClientAuthentication <-
                ClientAuthentication.Callback(fun k ->
                    seenByServer <- Some k
                    true)

            let copts =
                clientOptions (
                    ServerAuthentication.Callback(fun k ->
                        seenByClient <- Some k
                        true)
                )

            copts.ClientIdentity <- identity
            let client, server = connected sopts copts
            use client = client
            use server = server
            Expect.equal seenByClient (Some key.PublicKey) "client callback saw the server key"
            Expect.equal seenByServer (Some identity.PublicKey) "server callback saw the client key"
            exchange client server

        testCase "DangerousAcceptAnyServerKey runs NX and accepts any key"
        <| fun () ->
            use key = PrivateKey.Generate()

            let client, server =
                connected (serverOptions key) (clientOptions (ServerAuthentication.DangerousAcceptAnyServerKey()))

            use client = client
            use server = server
            Expect.stringContains client.ProtocolName "_NXhfs_" "NX"
            exchange client server

        testCase "a pre-shared key adds the psk modifier (NKhfs+psk2, XXhfs+psk3, IKhfs+psk2, NXhfs+psk2)"
        <| fun () ->
            use key = PrivateKey.Generate()
            use identity = PrivateKey.Generate()
            let psk = RandomNumberGenerator.GetBytes 32

            for (pinned, withIdentity, expected) in
                [
                    true, false, "_NKhfs+psk2_"
                    false, true, "_XXhfs+psk3_"
                    true, true, "_IKhfs+psk2_"
                    false, false, "_NXhfs+psk2_"
                ] do
                let sopts = serverOptions key
                sopts.PreSharedKey <- psk
                sopts.ClientAuthentication <- ClientAuthentication.Optional(fun _ -> true)

                let copts =
                    clientOptions (
                        if pinned then
                            ServerAuthentication.Pinned key.PublicKey
                        else
                            ServerAuthentication.DangerousAcceptAnyServerKey()
                    )

                copts.PreSharedKey <- psk

                if withIdentity then
                    copts.ClientIdentity <- identity

                let client, server = connected sopts copts
                use client = client
                use server = server
                Expect.stringContains client.ProtocolName expected expected
                exchange client server

        testCase "AES-GCM/SHA-256 and AEGIS-256 suites run when both ends accept them"
        <| fun () ->
            use key = PrivateKey.Generate()

            for suite, name in
                [
                    SecureSuite.AesGcmSha256, "_AESGCM_SHA256"
                    SecureSuite.Aegis256Blake2b, "_AEGIS256_BLAKE2b"
                ] do
                let sopts = serverOptions key
                sopts.AcceptedSuites <- [| suite |]
                let copts = clientOptions (ServerAuthentication.Pinned key.PublicKey)
                copts.Suite <- suite
                let client, server = connected sopts copts
                use client = client
                use server = server
                Expect.stringContains client.ProtocolName name name
                exchange client server
    ]

[<Tests>]
let failures =
    testList "Connections: failures" [
        testCase "wrong pinned key: client AuthenticationFailed, server DecryptionFailed"
        <| fun () ->
            use key = PrivateKey.Generate()
            use other = PrivateKey.Generate()

            let c, s =
                handshake (serverOptions key) (clientOptions (ServerAuthentication.Pinned other.PublicKey)) id id

            Expect.equal (code c) (Some HybridErrorCode.AuthenticationFailed) "client"
            Expect.equal (code s) (Some HybridErrorCode.DecryptionFailed) "server"

        testCase "a changed known-hosts key: ServerKeyChanged naming both fingerprints"
        <| fun () ->
            use recorded = PrivateKey.Generate()
            use key = PrivateKey.Generate()
            let path = tempFile ()

            try
                use listener = listen ()
                let port = portOf listener
                (KnownHosts.Load path).Add("127.0.0.1", port, recorded.PublicKey) |> ignore

                let c, s =
                    handshakeOn
                        listener
                        (serverOptions key)
                        (clientOptions (ServerAuthentication.KnownHostsFile path))
                        id
                        id

                match c with
                | Error(HybridError e) ->
                    Expect.equal e.Code HybridErrorCode.ServerKeyChanged "code"
                    Expect.stringContains e.Message recorded.Fingerprint "recorded fingerprint"
                    Expect.stringContains e.Message key.Fingerprint "presented fingerprint"
                | other -> failwithf "unexpected %A" other

                code s |> ignore
                Expect.equal ((KnownHosts.Load path).List().Count) 1 "nothing recorded for the new key"
            finally
                File.Delete path

        testCase "a client key not on the allow-list: AuthenticationFailed on both ends"
        <| fun () ->
            use key = PrivateKey.Generate()
            use identity = PrivateKey.Generate()
            use other = PrivateKey.Generate()
            let sopts = serverOptions key
            sopts.ClientAuthentication <- ClientAuthentication.AllowList [ other.PublicKey ]
            let copts = clientOptions (ServerAuthentication.Pinned key.PublicKey)
            copts.ClientIdentity <- identity
            let c, s = handshake sopts copts id id
            Expect.equal (code s) (Some HybridErrorCode.AuthenticationFailed) "server refuses"

            match c with
            | Ok client ->
                // IK: the client finished its part; the server's refusal arrives as the first record.
                use client = client
                let e = codeOf (fun () -> client.ReceiveAsync().AsTask())
                Expect.equal e.Code HybridErrorCode.AuthenticationFailed "client learns it was refused"
            | Error(HybridError e) ->
                Expect.equal e.Code HybridErrorCode.AuthenticationFailed "client learns it was refused"
            | Error e -> failwithf "unexpected %O" e

        testCase "an anonymous client at a server that requires client keys: PeerRefused"
        <| fun () ->
            use key = PrivateKey.Generate()
            let sopts = serverOptions key
            sopts.ClientAuthentication <- ClientAuthentication.Callback(fun _ -> true)

            let c, s =
                handshake sopts (clientOptions (ServerAuthentication.Pinned key.PublicKey)) id id

            Expect.equal (code c) (Some HybridErrorCode.PeerRefused) "client"
            Expect.equal (code s) (Some HybridErrorCode.PeerRefused) "server"

        testCase "a wrong pre-shared key: DecryptionFailed"
        <| fun () ->
            use key = PrivateKey.Generate()
            let sopts = serverOptions key
            sopts.PreSharedKey <- RandomNumberGenerator.GetBytes 32
            let copts = clientOptions (ServerAuthentication.DangerousAcceptAnyServerKey())
            copts.PreSharedKey <- RandomNumberGenerator.GetBytes 32
            let c, _ = handshake sopts copts id id
            Expect.equal (code c) (Some HybridErrorCode.DecryptionFailed) "client"

        testCase "an unsupported suite is refused by the server, naming what it accepts"
        <| fun () ->
            use key = PrivateKey.Generate()
            let sopts = serverOptions key
            sopts.AcceptedSuites <- [| SecureSuite.ChaChaPolyBlake2b |]
            let copts = clientOptions (ServerAuthentication.Pinned key.PublicKey)
            copts.Suite <- SecureSuite.AesGcmSha256
            let c, s = handshake sopts copts id id

            match c with
            | Error(HybridError e) ->
                Expect.equal e.Code HybridErrorCode.PeerRefused "client"
                Expect.stringContains e.Message "cipher suite" "says what"
                Expect.stringContains e.Message "Noise_NK_25519_ChaChaPoly_BLAKE2b" "names what it accepts"
            | other -> failwithf "unexpected %A" other

            Expect.equal (code s) (Some HybridErrorCode.PeerRefused) "server"

        testCase "different application protocols: PeerRefused on both ends"
        <| fun () ->
            use key = PrivateKey.Generate()
            let sopts = serverOptions key
            sopts.ApplicationProtocol <- "chat/1"
            let copts = clientOptions (ServerAuthentication.Pinned key.PublicKey)
            copts.ApplicationProtocol <- "chat/2"
            let c, s = handshake sopts copts id id
            Expect.equal (code c) (Some HybridErrorCode.PeerRefused) "client"
            Expect.equal (code s) (Some HybridErrorCode.PeerRefused) "server"

        testCase "a silent peer: HandshakeTimeout on both sides"
        <| fun () ->
            use key = PrivateKey.Generate()
            use silent = new Socket(SocketType.Stream, ProtocolType.Tcp)
            silent.Bind(IPEndPoint(loopback, 0))
            silent.Listen 1
            let port = portOf silent
            let copts = clientOptions (ServerAuthentication.Pinned key.PublicKey)
            copts.HandshakeTimeout <- TimeSpan.FromMilliseconds 300.0
            let watch = Diagnostics.Stopwatch.StartNew()
            let e = codeOf (fun () -> SecureConnection.ConnectAsync("127.0.0.1", port, copts))
            Expect.equal e.Code HybridErrorCode.HandshakeTimeout "client"
            Expect.isLessThan watch.ElapsedMilliseconds 5000L "bounded"
            // A client that connects and says nothing.
            use quiet = listen ()
            use mute = new Socket(SocketType.Stream, ProtocolType.Tcp)
            mute.Connect(loopback, portOf quiet)
            use accepted = quiet.Accept()
            let sopts = serverOptions key
            sopts.HandshakeTimeout <- TimeSpan.FromMilliseconds 300.0

            let e =
                codeOf (fun () -> SecureConnection.AuthenticateAsServerAsync(new NetworkStream(accepted, false), sopts))

            Expect.equal e.Code HybridErrorCode.HandshakeTimeout "server"

        testCase "after a failure the connection refuses further use with the same code"
        <| fun () ->
            use key = PrivateKey.Generate()

            let client, server =
                connected (serverOptions key) (clientOptions (ServerAuthentication.Pinned key.PublicKey))

            use client = client
            server.Dispose() // best-effort close is sent; then cut
            Expect.isNull (run (client.ReceiveAsync().AsTask())) "clean end"
            // Now break a fresh pair abruptly.
            let client2, server2 =
                connected (serverOptions key) (clientOptions (ServerAuthentication.Pinned key.PublicKey))

            use client2 = client2
            let ns = server2.GetType() // keep the compiler quiet about unused values
            ignore ns
            // Abort the server's socket without a Close record.
            let field =
                typeof<SecureConnection>
                    .GetField("stream", Reflection.BindingFlags.NonPublic ||| Reflection.BindingFlags.Instance)

            match field with
            | null -> failwith "no stream field"
            | f ->
                match f.GetValue server2 with
                | :? NetworkStream as s -> s.Socket.Shutdown SocketShutdown.Both
                | _ -> failwith "not a NetworkStream"

            let first = codeOf (fun () -> client2.ReceiveAsync().AsTask())
            Expect.equal first.Code HybridErrorCode.ConnectionTruncated "truncated"

            let again =
                codeOfTask (fun () -> client2.SendAsync(ReadOnlyMemory(text "x")).AsTask())

            Expect.equal again.Code HybridErrorCode.ConnectionTruncated "same code on send"
            let again = codeOf (fun () -> client2.ReceiveAsync().AsTask())
            Expect.equal again.Code HybridErrorCode.ConnectionTruncated "same code on receive"
            server2.Dispose()

        testCase "options refuse bad values with InvalidArgument"
        <| fun () ->
            let opts = SecureClientOptions()

            let invalid (f: unit -> unit) =
                try
                    f ()
                    failwith "accepted a bad value"
                with HybridError e ->
                    Expect.equal e.Code HybridErrorCode.InvalidArgument "InvalidArgument"

            invalid (fun () -> opts.PreSharedKey <- Array.zeroCreate 31)
            invalid (fun () -> opts.ApplicationProtocol <- "caf\u00e9")
            invalid (fun () -> opts.ApplicationProtocol <- String('a', 256))
            invalid (fun () -> opts.MaxMessageSize <- 0)
            invalid (fun () -> opts.HandshakeTimeout <- TimeSpan.Zero)
            invalid (fun () -> opts.RekeyAfterBytes <- 0L)
            invalid (fun () -> opts.RekeyAfterRecords <- -1L)
            invalid (fun () -> opts.Suite <- enum<SecureSuite> 42)
            invalid (fun () -> opts.ServerAuthentication <- null)
            invalid (fun () -> SecureServerOptions().AcceptedSuites <- [||])

            let e =
                codeOf (fun () -> SecureConnection.ConnectAsync("127.0.0.1", 1, SecureClientOptions()))

            Expect.equal e.Code HybridErrorCode.InvalidArgument "no ServerAuthentication"
    ]

[<Tests>]
let transport =
    testList "Connections: transport" [
        testCase "message boundaries survive a transport that delivers one byte at a time"
        <| fun () ->
            use key = PrivateKey.Generate()
            let opts = clientOptions (ServerAuthentication.Pinned key.PublicKey)

            match
                handshake (serverOptions key) opts (fun s -> new TrickleStream(s)) (fun s -> new TrickleStream(s))
            with
            | Ok client, Ok server ->
                use client = client
                use server = server

                for size in [ 0; 1; 5; 1000; 70000 ] do
                    let m = patterned size size
                    runUnit (client.SendAsync(ReadOnlyMemory m).AsTask())
                    Expect.equal (receive server) m $"client->server {size}"
                    runUnit (server.SendAsync(ReadOnlyMemory m).AsTask())
                    Expect.equal (receive client) m $"server->client {size}"
            | c, s -> failwithf "handshake failed %A %A" c s

        testCase "message boundaries survive a transport that coalesces writes"
        <| fun () ->
            use key = PrivateKey.Generate()
            let mutable wrapper = None

            let wrap (s: Stream) : Stream =
                let c = new CoalescingStream(s)
                wrapper <- Some c
                c

            match handshake (serverOptions key) (clientOptions (ServerAuthentication.Pinned key.PublicKey)) wrap id with
            | Ok client, Ok server ->
                use client = client
                use server = server
                let c = wrapper.Value
                c.Hold <- true

                for size in sizes do
                    runUnit (client.SendAsync(ReadOnlyMemory(patterned size 7)).AsTask())

                c.Release()

                for size in sizes do
                    Expect.equal (receive server) (patterned size 7) $"message of {size} bytes"
            | c, s -> failwithf "handshake failed %A %A" c s

        testCase "a 100 MiB message and 10,000 small messages arrive intact (hash-checked)"
        <| fun () ->
            use key = PrivateKey.Generate()
            let sopts = serverOptions key
            sopts.MaxMessageSize <- 128 * 1024 * 1024

            let client, server =
                connected sopts (clientOptions (ServerAuthentication.Pinned key.PublicKey))

            use client = client
            use server = server
            let big = RandomNumberGenerator.GetBytes(100 * 1024 * 1024)
            let watch = Diagnostics.Stopwatch.StartNew()
            let sending = client.SendAsync(ReadOnlyMemory big).AsTask()
            let received = receive server
            runUnit sending
            let elapsed = watch.Elapsed
            Expect.equal (SHA256.HashData received) (SHA256.HashData big) "100 MiB intact"
            printfn $"100 MiB message over loopback: {elapsed.TotalMilliseconds:F0} ms"

            let count = 10000

            let sender =
                task {
                    for i in 0 .. count - 1 do
                        do! client.SendAsync(ReadOnlyMemory(BitConverter.GetBytes i))
                }

            use hashIn = IncrementalHash.CreateHash HashAlgorithmName.SHA256
            use hashOut = IncrementalHash.CreateHash HashAlgorithmName.SHA256
            let buffer = Array.zeroCreate<byte> 16

            for i in 0 .. count - 1 do
                hashOut.AppendData(BitConverter.GetBytes i)
                let n = run (server.ReceiveAsync(Memory buffer).AsTask())
                hashIn.AppendData(buffer, 0, n)

            runUnit sender
            Expect.equal (hashIn.GetHashAndReset()) (hashOut.GetHashAndReset()) "10,000 messages intact and in order"

        testCase
            "a client that sends only the preamble and waits gets no handshake: the TooSlow refusal and the socket closed at the first-message deadline"
        <| fun () ->
            use key = PrivateKey.Generate()

            let listener =
                new SecureListener(
                    IPEndPoint(loopback, 0),
                    serverOptions key,
                    FirstMessageTimeout = TimeSpan.FromMilliseconds 300.0
                )

            let failures = Collections.Concurrent.ConcurrentQueue<HybridErrorCode>()

            listener.HandshakeFailed.Add(fun e ->
                match e.Exception with
                | HybridError h -> failures.Enqueue h.Code
                | _ -> failures.Enqueue HybridErrorCode.TransportFailed)

            listener.Start()

            use client = new Socket(SocketType.Stream, ProtocolType.Tcp)
            client.Connect(loopback, listener.LocalEndPoint.Port)
            client.ReceiveTimeout <- 20_000

            let preamble =
                Array.append [| 0x48uy; 0x59uy; 0x42uy; 0x52uy; 1uy; 33uy |] "Noise_XX_25519_ChaChaPoly_BLAKE2b"B

            client.Send preamble |> ignore
            // Waiting for the status, as a natural but wrong reading would: no handshake, only the TooSlow refusal
            // ([S8]), then the end.
            let buffer = Array.zeroCreate 64
            let n = client.Receive(buffer: byte array)

            Expect.sequenceEqual
                buffer[.. n - 1]
                (Admission.dropStatus DropReason.TooSlow)
                "the TooSlow refusal, no handshake message"

            Expect.equal (client.Receive(buffer: byte array)) 0 "then the connection is closed"

            let deadline = DateTime.UtcNow.AddSeconds 10.0

            while failures.IsEmpty && DateTime.UtcNow < deadline do
                Threading.Thread.Sleep 20

            Expect.sequenceEqual
                failures
                [ HybridErrorCode.HandshakeTimeout ]
                "the listener reports the missed deadline"

            listener.DisposeAsync().AsTask().Wait()

        testCase
            "a listener at its handshake limit refuses the next client with ServerBusy; a silent socket holds no handshake slot"
        <| fun () ->
            use key = PrivateKey.Generate()

            let listener =
                new SecureListener(
                    IPEndPoint(loopback, 0),
                    SecureServerOptions(
                        ServerKey = key,
                        HandshakeTimeout = TimeSpan.FromSeconds 30.0,
                        HandshakeMessageTimeout = TimeSpan.FromSeconds 20.0,
                        ClientAuthentication = ClientAuthentication.Optional(fun _ -> true)
                    ),
                    MaxConcurrentHandshakes = 1
                )

            listener.Start()
            let port = listener.LocalEndPoint.Port

            let accepting =
                task {
                    while true do
                        let! c = listener.AcceptAsync()
                        c.Dispose()
                }
            // A silent socket waits for its first message without a handshake slot: a client still gets in.
            use silent = new Socket(SocketType.Stream, ProtocolType.Tcp)
            silent.Connect(loopback, port)
            Threading.Thread.Sleep 200

            let first =
                SecureConnection
                    .ConnectAsync("127.0.0.1", port, clientOptions (ServerAuthentication.Pinned key.PublicKey))
                    .Result

            first.Dispose()

            // A client in the middle of an XX handshake (its check of the server's key waits before message 3)
            // holds the only slot.
            use gate = new Threading.ManualResetEventSlim(false)
            use identity = PrivateKey.Generate()

            let waiting =
                clientOptions (
                    ServerAuthentication.Callback(fun _ ->
                        gate.Wait(TimeSpan.FromSeconds 20.) |> ignore
                        true)
                )

            waiting.ClientIdentity <- identity
            let stalled = SecureConnection.ConnectAsync("127.0.0.1", port, waiting)

            Threading.Thread.Sleep 1500

            let e =
                codeOf (fun () ->
                    SecureConnection.ConnectAsync(
                        "127.0.0.1",
                        port,
                        clientOptions (ServerAuthentication.Pinned key.PublicKey)
                    ))

            Expect.equal e.Code HybridErrorCode.PeerRefused "refused, not cut off"
            Expect.stringContains e.Message "busy" "the client is told why"
            gate.Set()

            try
                stalled.Wait(TimeSpan.FromSeconds 20.) |> ignore
                stalled.Result.Dispose()
            with _ ->
                ()

            listener.DisposeAsync().AsTask().Wait()
            ignore accepting

        testCase "several concurrent clients on one listener"
        <| fun () ->
            use key = PrivateKey.Generate()
            let listener = new SecureListener(IPEndPoint(loopback, 0), serverOptions key)
            listener.Start()
            let port = listener.LocalEndPoint.Port

            let echo =
                task {
                    for _ in 1..20 do
                        let! conn = listener.AcceptAsync()

                        Task.Run(fun () ->
                            task {
                                use conn = conn

                                match! conn.ReceiveAsync() with
                                | null -> ()
                                | m -> do! conn.SendAsync(ReadOnlyMemory m)

                                let! _ = conn.CloseAsync()
                                ()
                            }
                            :> Task)
                        |> ignore
                }

            // A client that connects and stays silent must not hold the others up.
            use silent = new Socket(SocketType.Stream, ProtocolType.Tcp)
            silent.Connect(loopback, port)

            let clients = [
                for i in 1..20 ->
                    task {
                        use! conn =
                            SecureConnection.ConnectAsync(
                                "127.0.0.1",
                                port,
                                clientOptions (ServerAuthentication.Pinned key.PublicKey)
                            )

                        let m = text $"client {i}"
                        do! conn.SendAsync(ReadOnlyMemory m)
                        let! back = conn.ReceiveAsync()
                        Expect.equal back m $"echo {i}"
                        let! last = conn.ReceiveAsync()
                        Expect.isNull last $"clean end {i}"
                    }
                    :> Task
            ]

            runUnit (Task.WhenAll clients)
            runUnit echo
            runUnit (listener.DisposeAsync().AsTask())

        testCase "close gives a clean end on both sides"
        <| fun () ->
            use key = PrivateKey.Generate()

            let client, server =
                connected (serverOptions key) (clientOptions (ServerAuthentication.Pinned key.PublicKey))

            use client = client
            use server = server
            runUnit (client.SendAsync(ReadOnlyMemory(text "last")).AsTask())
            let closing = client.CloseAsync()
            Expect.equal (receive server) (text "last") "message before close"
            Expect.isNull (run (server.ReceiveAsync().AsTask())) "server sees the clean end"
            runUnit closing
            Expect.isNull (run (client.ReceiveAsync().AsTask())) "client sees the clean end"
            Expect.equal (run (server.ReceiveAsync(Memory(Array.zeroCreate 4)).AsTask())) -1 "again, buffer overload"

            let e =
                codeOfTask (fun () -> client.SendAsync(ReadOnlyMemory(text "more")).AsTask())

            Expect.equal e.Code HybridErrorCode.InvalidState "no send after close"

        testCase "cutting the TCP connection mid-message gives ConnectionTruncated"
        <| fun () ->
            use key = PrivateKey.Generate()
            let mutable cutter = None

            let wrap (s: Stream) : Stream =
                let c = new CuttingStream(s :?> NetworkStream, 100000)
                cutter <- Some c
                c

            match handshake (serverOptions key) (clientOptions (ServerAuthentication.Pinned key.PublicKey)) id wrap with
            | Ok client, Ok server ->
                use client = client
                use server = server
                cutter.Value.Armed <- true
                let sending = server.SendAsync(ReadOnlyMemory(patterned 1000000 3)).AsTask()
                let e = codeOf (fun () -> client.ReceiveAsync().AsTask())
                Expect.equal e.Code HybridErrorCode.ConnectionTruncated "truncated"

                try
                    sending.Wait()
                with _ ->
                    ()
            | c, s -> failwithf "handshake failed %A %A" c s

        testCase "a buffer too small keeps the message: InvalidArgument, then it arrives"
        <| fun () ->
            use key = PrivateKey.Generate()

            let client, server =
                connected (serverOptions key) (clientOptions (ServerAuthentication.Pinned key.PublicKey))

            use client = client
            use server = server
            client.Send(ReadOnlySpan(patterned 100 1))
            let e = codeOf (fun () -> server.ReceiveAsync(Memory(Array.zeroCreate 10)).AsTask())
            Expect.equal e.Code HybridErrorCode.InvalidArgument "too small"
            let buffer = Array.zeroCreate 100
            Expect.equal (server.Receive(Span buffer)) 100 "kept"
            Expect.equal buffer (patterned 100 1) "content"

        testCase "a message over the peer's limit is refused before sending; the connection stays usable"
        <| fun () ->
            let client, server = limitedTo1000 ()
            use client = client
            use server = server

            let e =
                codeOfTask (fun () -> client.SendAsync(ReadOnlyMemory(Array.zeroCreate 1001)).AsTask())

            Expect.equal e.Code HybridErrorCode.MessageTooLarge "refused"
            exchange client server

        testCase "the Stream view round-trips across message boundaries"
        <| fun () ->
            use key = PrivateKey.Generate()

            let client, server =
                connected (serverOptions key) (clientOptions (ServerAuthentication.Pinned key.PublicKey))

            use client = client
            let serverStream = server.GetStream()
            let clientStream = client.GetStream()
            Expect.isFalse clientStream.CanSeek "no seeking"
            let parts = [ patterned 10 1; [||]; patterned 70000 2; patterned 3 3 ]

            for p in parts do
                serverStream.Write(p, 0, p.Length)

            serverStream.Flush()
            runUnit (server.CloseAsync())
            use collected = new MemoryStream()
            let buffer = Array.zeroCreate 7
            let mutable n = clientStream.Read(buffer, 0, buffer.Length)

            while n > 0 do
                collected.Write(buffer, 0, n)
                n <- clientStream.Read(buffer, 0, buffer.Length)

            Expect.equal (collected.ToArray()) (Array.concat parts) "bytes in order, then end of stream"
            serverStream.Dispose()

        testCase "the Stream view sends a write longer than the peer's largest message as several messages"
        <| fun () ->
            let client, server = limitedTo1000 ()
            use client = client
            use server = server
            let clientStream = client.GetStream()
            let serverStream = server.GetStream()
            let sync = patterned 4500 1
            let asynchronous = patterned 2001 2
            // One call each: a Send of either would be refused with MessageTooLarge.
            clientStream.Write(sync, 0, sync.Length)
            runUnit (clientStream.WriteAsync(asynchronous, 0, asynchronous.Length))
            runUnit (client.ShutdownAsync())
            use collected = new MemoryStream()
            serverStream.CopyTo collected
            Expect.equal (collected.ToArray()) (Array.append sync asynchronous) "the same bytes, in order"

        testCase "rekeying often keeps messages flowing (retired keys are disposed)"
        <| fun () ->
            use key = PrivateKey.Generate()
            let copts = clientOptions (ServerAuthentication.Pinned key.PublicKey)
            copts.RekeyAfterRecords <- 3L
            copts.MaxRecordData <- 1000
            let client, server = connected (serverOptions key) copts
            use client = client
            use server = server

            for i in 1..50 do
                let m = patterned (i * 700) i
                client.Send(ReadOnlySpan m)
                Expect.equal (server.Receive()) m $"message {i}"

        testCase "an idle connection holds no buffers; a waiting receive rents one only when data arrives"
        <| fun () ->
            use key = PrivateKey.Generate()

            let client, server =
                connected (serverOptions key) (clientOptions (ServerAuthentication.Pinned key.PublicKey))

            use client = client
            use server = server

            for size in [ 1; 70000; 200000 ] do
                let m = patterned size size
                runUnit (client.SendAsync(ReadOnlyMemory m).AsTask())
                Expect.equal (receive server) m $"message of {size}"
                Expect.equal server.HeldBufferBytes 0 $"nothing held after a message of {size}"
                Expect.equal client.HeldBufferBytes 0 "the sender holds nothing either"

            let buffer = Array.zeroCreate 100
            let pending = server.ReceiveAsync(Memory buffer)
            Expect.isFalse pending.IsCompleted "the receive waits"
            Expect.equal server.HeldBufferBytes 0 "a waiting receive holds no buffer"
            client.Send(ReadOnlySpan(patterned 100 7))
            Expect.equal (run (pending.AsTask())) 100 "then the message arrives"
            Expect.equal buffer (patterned 100 7) "intact"
            Expect.equal server.HeldBufferBytes 0 "and the buffer is returned"

        testCase "ReceiveAsync into a buffer: exact-size buffers, multi-record messages, and one that does not fit"
        <| fun () ->
            use key = PrivateKey.Generate()

            let client, server =
                connected (serverOptions key) (clientOptions (ServerAuthentication.Pinned key.PublicKey))

            use client = client
            use server = server

            for size in sizes do
                let m = patterned size (size + 3)
                runUnit (client.SendAsync(ReadOnlyMemory m).AsTask())
                let buffer = Array.zeroCreate size
                Expect.equal (run (server.ReceiveAsync(Memory buffer).AsTask())) size $"length {size}"
                Expect.equal buffer m $"content {size}"

            let big = patterned 200000 9
            runUnit (client.SendAsync(ReadOnlyMemory big).AsTask())
            let small = Array.zeroCreate 70000
            let e = codeOf (fun () -> server.ReceiveAsync(Memory small).AsTask())
            Expect.equal e.Code HybridErrorCode.InvalidArgument "does not fit"
            Expect.isTrue (small |> Array.forall ((=) 0uy)) "nothing of it is left in the small buffer"
            let buffer = Array.zeroCreate 200000
            Expect.equal (run (server.ReceiveAsync(Memory buffer).AsTask())) 200000 "kept"
            Expect.equal buffer big "content"

        testCase "a receive cancelled part-way through a message loses nothing"
        <| fun () ->
            use key = PrivateKey.Generate()
            let mutable splitter = None

            match
                handshake
                    (serverOptions key)
                    (clientOptions (ServerAuthentication.Pinned key.PublicKey))
                    (fun s ->
                        let split = new SplittingStream(s)
                        splitter <- Some split
                        split :> Stream)
                    id
            with
            | Ok client, Ok server ->
                use client = client
                use server = server
                let split = splitter.Value
                let m = patterned 200000 11
                split.Arm 70000
                client.Send(ReadOnlySpan m)
                let buffer = Array.zeroCreate 200000
                use cts = new CancellationTokenSource()
                let pending = server.ReceiveAsync(Memory buffer, cts.Token).AsTask()
                cts.Cancel()

                let cancelled =
                    try
                        pending.Wait()
                        false
                    with _ ->
                        true

                Expect.isTrue cancelled "the receive was cancelled"
                split.Release()
                let again = Array.zeroCreate 200000
                Expect.equal (run (server.ReceiveAsync(Memory again).AsTask())) 200000 "the whole message"
                Expect.equal again m "intact"
            | c, s -> failwithf "handshake failed %A %A" c s

        testCase "steady-state send and receive do not allocate per record"
        <| fun () ->
            use key = PrivateKey.Generate()

            let client, server =
                connected (serverOptions key) (clientOptions (ServerAuthentication.Pinned key.PublicKey))

            use client = client
            use server = server
            // Allocation is measured in several rounds and the smallest round counts: now and then a round sees a
            // pooled buffer re-made, but a per-record allocation would show in every round. Both directions: under
            // 8 bytes per record (one array per record is >= 24; a blocking socket read that waits allocates a
            // 120-byte operation object on Unix, which the receive path avoids by polling first). The record layer
            // itself allocates 0 bytes per record ("Record layer" tests).
            let rounds = 4
            let records = 1000
            let message = patterned 16384 5
            let buffer = Array.zeroCreate 16384

            let measure (one: unit -> unit) =
                for _ in 1..100 do
                    one ()

                [
                    for _ in 1..rounds do
                        let before = GC.GetAllocatedBytesForCurrentThread()

                        for _ in 1..records do
                            one ()

                        GC.GetAllocatedBytesForCurrentThread() - before
                ]

            let receiver =
                Task.Factory.StartNew(
                    (fun () -> measure (fun () -> server.Receive(Span buffer) |> ignore)),
                    TaskCreationOptions.LongRunning
                )

            let sent = measure (fun () -> client.Send(ReadOnlySpan message))
            let received = run receiver
            printfn $"allocated per round of {records} records of 16 KiB: send %A{sent}, receive %A{received}"
            Expect.isLessThan (List.min sent) (int64 records * 8L) "send path: no per-record allocation"

            Expect.isLessThan
                (List.min received)
                (int64 records * 8L)
                "receive path (span overload): no per-record buffer"

            Expect.equal buffer message "last record intact"
    ]
