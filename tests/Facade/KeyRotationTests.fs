/// Key rotation, key sets and revocation through the facade with real sockets on 127.0.0.1 (specs/PROTOCOL.md §6a):
/// 100 clients (trust on first use and pinned sets) reconnect continuously while the server goes A -> A+B
/// (announcing B) -> B -> B+C, with 0 failed connections; a client offline during the overlap fails with a message
/// that tells the operator what to do; each refusal has its exact error code.
module HybridProtocol.Tests.KeyRotationTests

open System
open System.Collections.Concurrent
open System.IO
open System.Net
open System.Threading
open System.Threading.Tasks
open Expecto
open HybridProtocol
open HybridProtocol.Core.Wire
open HybridProtocol.Tests.Loopback
open HybridProtocol.Tests.TestSupport

let private knownHostsIn (dir: string) (i: int) =
    KnownHosts.Load(Path.Combine(dir, $"known_hosts_{i}"))

/// One connection: handshake, one message each way, close.
let private once port (options: SecureClientOptions) (token: CancellationToken) =
    task {
        use! connection = SecureConnection.ConnectAsync("127.0.0.1", port, options, token)
        do! connection.SendAsync(ReadOnlyMemory(text "ping"), token)
        let! back = connection.ReceiveAsync(token)

        if isNull back then
            failwith "the server closed before answering"

        let! _ = connection.CloseAsync(token)
        return ()
    }

let private serve (listener: SecureListener) (token: CancellationToken) =
    task {
        try
            while not token.IsCancellationRequested do
                let! connection = listener.AcceptAsync(token)

                Task.Run(fun () ->
                    task {
                        use connection = connection

                        try
                            let! message = connection.ReceiveAsync(token)

                            if not (isNull message) then
                                do! connection.SendAsync(ReadOnlyMemory(nonNull message), token)
                                let! _ = connection.CloseAsync(token)
                                ()
                        with _ ->
                            ()
                    }
                    :> Task)
                |> ignore
        with _ ->
            ()
    }

let rotationTests =
    testList "rotation" [
        test
            "100 clients (TOFU and pinned sets) reconnecting while the server goes A -> A+B -> B -> B+C: 0 failed connections" {
            use a = PrivateKey.Generate()
            use b = PrivateKey.Generate()
            use c = PrivateKey.Generate()
            let dir = tempFile ()
            Directory.CreateDirectory dir |> ignore

            let options =
                SecureServerOptions(ServerKeys = [| a |], HandshakeTimeout = TimeSpan.FromSeconds 10.0)

            let listener =
                new SecureListener(
                    IPEndPoint(loopback, 0),
                    options,
                    MaxHandshakesPerAddress = 256,
                    MaxConcurrentHandshakes = 256,
                    MaxPendingConnections = 256
                )

            let serverFailures = ConcurrentQueue<string>()
            listener.HandshakeFailed.Add(fun e -> serverFailures.Enqueue(e.Exception.Message))
            listener.Start()
            let port = listener.LocalEndPoint.Port
            use stop = new CancellationTokenSource(TimeSpan.FromSeconds 60.0)
            let server = serve listener stop.Token
            let clients = 100
            let phases = [| [| a |]; [| a; b |]; [| b |]; [| b; c |] |]
            let completed = Array2D.zeroCreate<int> clients phases.Length
            let mutable phase = 0
            let mutable finished = false
            let clientFailures = ConcurrentQueue<string>()

            let clientOptions i =
                let auth =
                    if i % 2 = 0 then
                        ServerAuthentication.KnownHosts(knownHostsIn dir i)
                    else
                        ServerAuthentication.Pinned(a.PublicKey, b.PublicKey)

                SecureClientOptions(ServerAuthentication = auth, HandshakeTimeout = TimeSpan.FromSeconds 10.0)

            let client i =
                Task.Run(fun () ->
                    task {
                        let options = clientOptions i
                        let mutable rounds = 0

                        while not (Volatile.Read &finished) && rounds < 2_000 do
                            rounds <- rounds + 1
                            let seen = Volatile.Read &phase

                            try
                                do! once port options stop.Token
                                Interlocked.Increment(&completed[i, seen]) |> ignore
                            with e ->
                                clientFailures.Enqueue($"client {i} in phase {seen}: {e.Message}")
                    }
                    :> Task)

            let running = [| for i in 0 .. clients - 1 -> client i |]

            /// Waits (bounded) until every client completed a connection that began in phase `p`.
            let waitAll p =
                let deadline = DateTime.UtcNow.AddSeconds 30.0

                while [ 0 .. clients - 1 ]
                      |> List.exists (fun i -> Volatile.Read &completed[i, p] = 0)
                      && DateTime.UtcNow < deadline
                      && clientFailures.IsEmpty do
                    Thread.Sleep 20

            for p in 1 .. phases.Length - 1 do
                waitAll (p - 1)
                options.ServerKeys <- phases[p]
                Volatile.Write(&phase, p)

            waitAll (phases.Length - 1)
            let serverFailuresBefore = serverFailures.ToArray()

            // A client that was offline during the overlap knows only A: it fails, and is told what to do.
            let offline = knownHostsIn dir 1000
            offline.Add("127.0.0.1", port, a.PublicKey) |> ignore

            let offlineOptions =
                SecureClientOptions(ServerAuthentication = ServerAuthentication.KnownHosts offline)

            let refusal =
                try
                    run (SecureConnection.ConnectAsync("127.0.0.1", port, offlineOptions)) |> ignore
                    None
                with e ->
                    match e with
                    | :? AggregateException as g -> Some g.InnerExceptions[0]
                    | e -> Some e

            Volatile.Write(&finished, true)
            Expect.isTrue (Task.WaitAll(running, TimeSpan.FromSeconds 30.0)) "the clients stopped"
            stop.Cancel()
            server.Wait(TimeSpan.FromSeconds 10.0) |> ignore
            Expect.isEmpty clientFailures "no client connection failed"
            Expect.isEmpty serverFailuresBefore "no handshake failed at the server (before the offline client)"

            for p in 0 .. phases.Length - 1 do
                for i in 0 .. clients - 1 do
                    Expect.isGreaterThan completed[i, p] 0 $"client {i} connected in phase {p}"

            // A TOFU client recorded A first, then B and C as the server announced them.
            let store = knownHostsIn dir 0

            for key, name in [ a, "A"; b, "B"; c, "C" ] do
                Expect.equal
                    (store.Verify("127.0.0.1", port, key.PublicKey).Status)
                    KnownHostStatus.Trusted
                    $"{name} recorded"

            match refusal with
            | Some(:? HybridAuthenticationException as e) ->
                Expect.equal e.Code HybridErrorCode.ServerKeyChanged "offline client"
                Expect.stringContains e.Message "rotated its key while this client was offline" "says what happened"
                Expect.stringContains e.Message $"KnownHosts.Add for 127.0.0.1:{port}" "says what to do"
            | other -> failtestf "the offline client was not refused with ServerKeyChanged: %A" other

            listener.DisposeAsync().AsTask().Wait(TimeSpan.FromSeconds 10.0) |> ignore
            Directory.Delete(dir, true)
        }
    ]

let private refusedCode (r: Result<SecureConnection, exn>) = code r

let keySetTests =
    testList "key sets and revocation" [
        test "a pinned key the server holds as its second key (NK): served by trial reading, ServerKeyIndex 1" {
            use a = PrivateKey.Generate()
            use b = PrivateKey.Generate()
            let server = SecureServerOptions(ServerKeys = [| a; b |])

            let client, accepted =
                connected server (clientOptions (ServerAuthentication.Pinned b.PublicKey))

            use client = client
            use accepted = accepted
            exchange client accepted
            Expect.equal accepted.ServerKeyIndex 1 "the second key served"
            Expect.isEmpty client.AnnouncedServerKeys "a pinned client does not check announcements"
        }

        test "a pinned set accepts the key the server presents if it is in the set; else AuthenticationFailed" {
            use a = PrivateKey.Generate()
            use b = PrivateKey.Generate()
            use x = PrivateKey.Generate()

            let client, accepted =
                connected (serverOptions b) (clientOptions (ServerAuthentication.Pinned(a.PublicKey, b.PublicKey)))

            use client = client
            use accepted = accepted
            exchange client accepted
            Expect.equal client.RemotePublicKey (Some b.PublicKey |> Option.toObj) "b"

            let c, _ =
                handshake
                    (serverOptions x)
                    (clientOptions (ServerAuthentication.Pinned(a.PublicKey, b.PublicKey)))
                    id
                    id

            Expect.equal (code c) (Some HybridErrorCode.AuthenticationFailed) "x is not in the set"
        }

        test "revoked keys are refused with KeyRevoked: pinned set, known hosts (@revoked), allow-list" {
            use a = PrivateKey.Generate()
            use b = PrivateKey.Generate()

            let pinned =
                ServerAuthentication.Pinned(a.PublicKey, b.PublicKey).WithRevokedKeys(b.PublicKey)

            let c, _ = handshake (serverOptions b) (clientOptions pinned) id id
            Expect.equal (code c) (Some HybridErrorCode.KeyRevoked) "pinned set"
            let path = tempFile ()
            let store = KnownHosts.Load path
            use listener = listen ()
            let port = portOf listener
            store.Add("127.0.0.1", port, b.PublicKey) |> ignore
            Expect.isTrue (store.Revoke(b.PublicKey)) "revoked"
            Expect.isFalse (store.Revoke(b.PublicKey)) "revoked once"

            Expect.stringContains
                (File.ReadAllText path)
                ("@revoked * x25519 " + Convert.ToBase64String(b.PublicKey.RawBytes.ToArray()))
                "the line"

            let c, _ =
                handshakeOn listener (serverOptions b) (clientOptions (ServerAuthentication.KnownHosts store)) id id

            Expect.equal (code c) (Some HybridErrorCode.KeyRevoked) "known hosts"
            use identity = PrivateKey.Generate()

            let server =
                SecureServerOptions(
                    ServerKey = a,
                    ClientAuthentication =
                        ClientAuthentication.AllowList([ identity.PublicKey ]).WithRevokedKeys(identity.PublicKey)
                )

            let c, s =
                handshake
                    server
                    (SecureClientOptions(
                        ServerAuthentication = ServerAuthentication.Pinned a.PublicKey,
                        ClientIdentity = identity
                    ))
                    id
                    id

            Expect.equal (code s) (Some HybridErrorCode.KeyRevoked) "the server refuses a revoked client key"
            Expect.isSome (code c) "the client fails too"
            File.Delete path
        }

        test "validation callbacks get the host and port and may be asynchronous" {
            use a = PrivateKey.Generate()
            use listener = listen ()
            let port = portOf listener
            let seen = ConcurrentQueue<ServerKeyValidationContext>()

            let auth =
                ServerAuthentication.Callback(fun context token ->
                    task {
                        do! Task.Delay(10, token)
                        seen.Enqueue context
                        return context.Key = a.PublicKey
                    }
                    |> ValueTask<bool>)

            let clientAuth =
                ClientAuthentication.Callback(fun (context: ClientKeyValidationContext) _ ->
                    ValueTask<bool>(not (isNull context.RemoteEndPoint)))

            use identity = PrivateKey.Generate()
            let server = SecureServerOptions(ServerKey = a, ClientAuthentication = clientAuth)

            match
                handshakeOn
                    listener
                    server
                    (SecureClientOptions(ServerAuthentication = auth, ClientIdentity = identity))
                    id
                    id
            with
            | Ok c, Ok s ->
                c.Dispose()
                s.Dispose()
            | c, s -> failtestf "%A %A" c s

            let context = Seq.exactlyOne seen
            Expect.equal (context.Host, context.Port) ("127.0.0.1", port) "host and port"
        }

        test "the core's announcement and key errors map to KeyAnnouncementInvalid and KeyRevoked" {
            let context =
                HybridProtocol.Connections.WireErrorContext(true, "the server h:1", null)

            for error, expected in
                [
                    WireError.BadKeyAnnouncement(BadProof 0), HybridErrorCode.KeyAnnouncementInvalid
                    WireError.BadKeyAnnouncement(AnnouncementLength 3), HybridErrorCode.KeyAnnouncementInvalid
                    WireError.PeerKeyRevoked, HybridErrorCode.KeyRevoked
                ] do
                match box (HybridProtocol.Connections.WireErrors.ToException(error, context, true)) with
                | :? IHybridProtocolError as h -> Expect.equal h.Code expected $"{error}"
                | e -> failtestf "%O" e
        }

        test "ServerKeys holds 1 to 4 distinct X25519 keys; ServerKey is the first" {
            use a = PrivateKey.Generate()
            let keys = [| for _ in 1..5 -> PrivateKey.Generate() |]
            let options = SecureServerOptions(ServerKeys = keys[..3])
            Expect.equal options.ServerKey keys[0] "first"
            Expect.throwsT<HybridArgumentException> (fun () -> options.ServerKeys <- keys) "five"
            Expect.throwsT<HybridArgumentException> (fun () -> options.ServerKeys <- [| a; a |]) "twice"
            options.ServerKey <- a
            Expect.equal options.ServerKeys.Count 1 "ServerKey replaces the list"

            for k in keys do
                k.Dispose()
        }
    ]

[<Tests>]
let tests = testList "Key rotation (facade)" [ rotationTests; keySetTests ]
