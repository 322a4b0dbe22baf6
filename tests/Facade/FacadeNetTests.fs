/// What a new user runs into over TCP (all on 127.0.0.1 / ::1): a client pointed at a server that is not
/// HybridProtocol fails on the server's first bytes, a listener on [::] serves IPv4 clients too, a connect timeout,
/// the connection's addresses, and TCP keep-alive. Every behaviour with its exact error code.
module HybridProtocol.Tests.FacadeNetTests

open System
open System.IO
open System.Net
open System.Net.Sockets
open System.Text
open System.Threading.Tasks
open Expecto
open HybridProtocol

/// A bound for every wait, so a broken test fails instead of hanging the suite.
let private bound = TimeSpan.FromSeconds 60.0

let private ip (endPoint: EndPoint | null) =
    match endPoint with
    | :? IPEndPoint as e -> e
    | other -> failwithf "not an IP end point: %O" other

let private portOf (socket: Socket) = (ip socket.LocalEndPoint).Port

/// A TCP server on 127.0.0.1 that answers one client as `answer` says, then holds the connection open until the
/// test ends (so the client can only fail on what it received, never on an end of input).
let private fakeServer (answer: NetworkStream -> Task) =
    let listener = new Socket(SocketType.Stream, ProtocolType.Tcp)
    listener.Bind(IPEndPoint(IPAddress.Loopback, 0))
    listener.Listen 1

    let served =
        task {
            use! socket = listener.AcceptAsync()
            use stream = new NetworkStream(socket, false)
            do! answer stream
            // Wait for the client to give up (its close ends this read).
            let! _ = stream.ReadAsync(Array.zeroCreate<byte> 4096, 0, 4096)
            ()
        }

    listener, served

let private anyServer () =
    SecureClientOptions(
        ServerAuthentication = ServerAuthentication.DangerousAcceptAnyServerKey(),
        // Far longer than any test: a client that waited for it would show HandshakeTimeout, not the expected code.
        HandshakeTimeout = TimeSpan.FromSeconds 30.0
    )

let private notHybrid (banner: string) (readFirst: bool) =
    let listener, served =
        fakeServer (fun stream ->
            task {
                if readFirst then
                    // An HTTP server answers the request it could not parse.
                    let! _ = stream.ReadAsync(Array.zeroCreate<byte> 512, 0, 512)
                    ()

                let bytes = Encoding.ASCII.GetBytes banner
                do! stream.WriteAsync(bytes, 0, bytes.Length)
            })

    use _ = listener

    let e =
        Loopback.codeOf (fun () -> SecureConnection.ConnectAsync("127.0.0.1", portOf listener, anyServer ()))

    served.Wait bound |> ignore
    e

let private serverKey = PrivateKey.Generate()

let private serverOptions () =
    SecureServerOptions(ServerKey = serverKey, HandshakeTimeout = TimeSpan.FromSeconds 10.0)

let private echoOnce (connection: SecureConnection) =
    task {
        let! message = connection.ReceiveAsync()
        do! connection.SendAsync(ReadOnlyMemory(nonNull message))
    }

/// A client's TCP stream that holds the server's whole answer back until the handshake timeout has fired and closed
/// the stream: the handshake then completes at the very moment its timeout closes the stream.
type private LateStream(socket: Socket, answered: Task) =
    inherit NetworkStream(socket, true)
    let closed = TaskCompletionSource()

    member private _.ReadNow(buffer: Memory<byte>) =
        base.ReadAsync(buffer, Threading.CancellationToken.None)

    override this.ReadAsync(buffer: Memory<byte>, _: Threading.CancellationToken) =
        ValueTask<int>(
            task {
                do! answered
                let! n = this.ReadNow buffer
                do! closed.Task
                return n
            }
        )

    override _.Dispose(disposing: bool) =
        base.Dispose disposing
        closed.TrySetResult() |> ignore

/// A TCP server on 127.0.0.1 that accepts one client and closes at once without writing a byte (a busy or
/// pushed-out listener); its port.
let private closingServer () =
    let listener = new Socket(SocketType.Stream, ProtocolType.Tcp)
    listener.Bind(IPEndPoint(IPAddress.Loopback, 0))
    listener.Listen 1

    let served =
        task {
            use! socket = listener.AcceptAsync()
            // FIN without a byte; then read until the client gives up (closing with its first flight unread
            // would send a reset instead of an end of input).
            socket.Shutdown SocketShutdown.Send
            let buffer = Array.zeroCreate<byte> 65536
            let mutable reading = true

            while reading do
                let! n = socket.ReceiveAsync(ArraySegment buffer, SocketFlags.None)
                reading <- n > 0
        }

    listener, served

[<Tests>]
let tests =
    testList "Connections: network" [
        test
            "a server that closes before answering (no status byte) is reported as closed before answering, never as a key problem" {
            for pinned in [ true; false ] do
                let listener, served = closingServer ()
                use _ = listener

                let options =
                    if pinned then
                        SecureClientOptions(
                            ServerAuthentication = ServerAuthentication.Pinned serverKey.PublicKey,
                            HandshakeTimeout = TimeSpan.FromSeconds 30.0
                        )
                    else
                        anyServer ()

                let e =
                    Loopback.codeOf (fun () -> SecureConnection.ConnectAsync("127.0.0.1", portOf listener, options))

                Expect.isTrue (served.Wait bound) "the server closed"
                Expect.equal e.Code HybridErrorCode.ConnectionTruncated e.Message
                Expect.stringContains e.Message "closed the connection before answering" "says what happened"
                Expect.isFalse (e.Message.Contains "key") $"no word about keys (pinned {pinned}): {e.Message}"
        }

        test "a client pointed at an SSH server fails on its banner with ProtocolViolation" {
            let e = notHybrid "SSH-2.0-OpenSSH_9.6\r\n" false
            Expect.equal e.Code HybridErrorCode.ProtocolViolation e.Message
            Expect.stringContains e.Message "is not a HybridProtocol server" "says what it found"
            Expect.stringContains e.Message "SSH-2.0-OpenSSH_9.6\\x0d\\x0a" "shows the banner"
            Expect.stringContains e.Message "(an SSH server)" "names it"
        }

        test "a client pointed at an HTTP server fails on its response with ProtocolViolation" {
            let e =
                notHybrid "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n" true

            Expect.equal e.Code HybridErrorCode.ProtocolViolation e.Message
            Expect.stringContains e.Message "(an HTTP server)" "names it"
        }

        test "a listener on [::] accepts IPv4 and IPv6 clients (dual-stack); with DualMode false, IPv4 is refused" {
            let options = serverOptions ()

            let client () =
                SecureClientOptions(ServerAuthentication = ServerAuthentication.Pinned(serverKey.PublicKey))

            task {
                let listener = new SecureListener(IPEndPoint(IPAddress.IPv6Any, 0), options)
                listener.Start()
                let port = listener.LocalEndPoint.Port

                for host in [ "127.0.0.1"; "::1" ] do
                    use! connection = SecureConnection.ConnectAsync(host, port, client ())
                    use! accepted = listener.AcceptAsync()
                    let echo = echoOnce accepted
                    do! connection.SendAsync(ReadOnlyMemory("over " + host |> Encoding.ASCII.GetBytes))
                    let! back = connection.ReceiveAsync()
                    do! echo
                    Expect.equal (Encoding.ASCII.GetString(nonNull back)) ("over " + host) host
                    let remote = ip accepted.RemoteEndPoint

                    // An IPv4 client appears with its IPv4 address, not as ::ffff:127.0.0.1.
                    Expect.equal remote.Address (IPAddress.Parse host) $"from {host}"
                    Expect.equal (ip connection.LocalEndPoint) remote "the client's own address"

                do! listener.DisposeAsync()

                let v6Only =
                    new SecureListener(IPEndPoint(IPAddress.IPv6Any, 0), options, DualMode = false)

                v6Only.Start()

                let e =
                    Loopback.codeOf (fun () ->
                        SecureConnection.ConnectAsync("127.0.0.1", v6Only.LocalEndPoint.Port, client ()))

                Expect.equal e.Code HybridErrorCode.TransportFailed e.Message
                do! v6Only.DisposeAsync()
            }
            |> fun t -> t.Wait bound |> ignore
        }

        test "a server that takes no connection fails ConnectAsync with ConnectTimeout after ConnectTimeout" {
            // A listener whose accept queue is full (backlog 0, one connection waiting, never accepted): Linux
            // drops further SYNs, so a connect neither succeeds nor fails on its own.
            use listener = new Socket(SocketType.Stream, ProtocolType.Tcp)
            listener.Bind(IPEndPoint(IPAddress.Loopback, 0))
            listener.Listen 0
            let port = portOf listener

            let fillers = [
                for _ in 1..3 ->
                    let s = new Socket(SocketType.Stream, ProtocolType.Tcp)
                    s, s.ConnectAsync(IPAddress.Loopback, port)
            ]

            try
                let options = anyServer ()
                options.ConnectTimeout <- TimeSpan.FromMilliseconds 300.0
                options.HandshakeTimeout <- TimeSpan.FromSeconds 2.0

                let e =
                    Loopback.codeOf (fun () -> SecureConnection.ConnectAsync("127.0.0.1", port, options))

                Expect.equal e.Code HybridErrorCode.ConnectTimeout e.Message
                Expect.stringContains e.Message "ConnectTimeout" "names the option"
            finally
                for (s, _) in fillers do
                    s.Dispose()
        }

        test
            "a handshake timeout that fires as the handshake completes gives HandshakeTimeout, not ObjectDisposedException" {
            use listener = new Socket(SocketType.Stream, ProtocolType.Tcp)
            listener.Bind(IPEndPoint(IPAddress.Loopback, 0))
            listener.Listen 1
            let client = new Socket(SocketType.Stream, ProtocolType.Tcp)
            client.Connect(IPAddress.Loopback, portOf listener)
            let accepted = listener.Accept()

            let served =
                SecureConnection.AuthenticateAsServerAsync(new NetworkStream(accepted, true), serverOptions ())

            let options =
                SecureClientOptions(
                    ServerAuthentication = ServerAuthentication.Pinned(serverKey.PublicKey),
                    HandshakeTimeout = TimeSpan.FromMilliseconds 200.0
                )

            let e =
                Loopback.codeOf (fun () ->
                    SecureConnection.AuthenticateAsClientAsync(
                        new LateStream(client, served),
                        $"127.0.0.1:{portOf listener}",
                        options
                    ))

            Expect.equal e.Code HybridErrorCode.HandshakeTimeout e.Message
            // The server's own outcome does not matter here (on a slow machine the client may time out before it
            // even wrote, and the server then fails too); dispose what it made, whichever way it ended.
            served.ContinueWith(fun (t: Task<SecureConnection>) ->
                if t.IsCompletedSuccessfully then
                    t.Result.Dispose())
            |> ignore
        }

        for limit, make in
            [
                "MaxPendingSockets",
                (fun () ->
                    new SecureListener(IPEndPoint(IPAddress.Loopback, 0), serverOptions (), MaxPendingSockets = 1))
                "MaxPendingPerAddress",
                (fun () ->
                    new SecureListener(IPEndPoint(IPAddress.Loopback, 0), serverOptions (), MaxPendingPerAddress = 1))
            ] do
            test
                $"beyond {limit} = 1 the oldest waiting socket is pushed out (PeerRefused), and a real client is served" {
                let listener: SecureListener = make ()
                let refused = Collections.Concurrent.ConcurrentQueue<HybridErrorCode>()

                listener.HandshakeFailed.Add(fun e ->
                    match e.Exception with
                    | HybridError h -> refused.Enqueue h.Code
                    | _ -> ())

                listener.Start()
                let port = listener.LocalEndPoint.Port

                task {
                    // Two silent sockets, accepted in order: the second pushes the first out, which is closed.
                    use oldest = new Socket(SocketType.Stream, ProtocolType.Tcp)
                    do! oldest.ConnectAsync(IPAddress.Loopback, port)
                    use newer = new Socket(SocketType.Stream, ProtocolType.Tcp)
                    do! newer.ConnectAsync(IPAddress.Loopback, port)
                    let buffer = Array.zeroCreate<byte> 16
                    let! n = oldest.ReceiveAsync(buffer, SocketFlags.None)

                    Expect.sequenceEqual
                        buffer[.. n - 1]
                        (HybridProtocol.Core.Wire.Admission.dropStatus HybridProtocol.Core.Wire.DropReason.TooSlow)
                        "the oldest socket is told TooSlow ([S8])"

                    let! rest = oldest.ReceiveAsync(buffer, SocketFlags.None)
                    Expect.equal rest 0 "the oldest socket was closed"

                    // The report follows the close: wait for it, bounded.
                    let mutable waited = 0

                    while refused.IsEmpty && waited < 1000 do
                        do! Task.Delay 10
                        waited <- waited + 1

                    Expect.sequenceEqual refused [ HybridErrorCode.PeerRefused ] "one socket pushed out, as PeerRefused"

                    // A real client pushes out the silent one in turn, and its handshake completes.
                    let clientOptions =
                        SecureClientOptions(ServerAuthentication = ServerAuthentication.Pinned(serverKey.PublicKey))

                    use! client = SecureConnection.ConnectAsync("127.0.0.1", port, clientOptions)
                    use! served = listener.AcceptAsync()
                    Expect.equal served.ProtocolName client.ProtocolName "served"
                    do! listener.DisposeAsync()
                }
                |> Loopback.run
            }

        test "RemoteEndPoint and LocalEndPoint are the two ends of the TCP connection, null over other streams" {
            let options = serverOptions ()

            task {
                let listener = new SecureListener(IPEndPoint(IPAddress.Loopback, 0), options)
                listener.Start()

                let clientOptions =
                    SecureClientOptions(ServerAuthentication = ServerAuthentication.Pinned(serverKey.PublicKey))

                use! connection =
                    SecureConnection.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port, clientOptions)

                use! accepted = listener.AcceptAsync()
                Expect.equal (ip connection.RemoteEndPoint) listener.LocalEndPoint "client's remote = listener"
                Expect.equal accepted.RemoteEndPoint connection.LocalEndPoint "server's remote = client's local"
                Expect.equal accepted.LocalEndPoint connection.RemoteEndPoint "server's local = client's remote"
                Expect.isNotNull connection.LocalEndPoint "known"
                do! listener.DisposeAsync()

                // Over a stream that is not a NetworkStream (here a NetworkStream wrapped in BufferedStream).
                use raw = new Socket(SocketType.Stream, ProtocolType.Tcp)
                raw.Bind(IPEndPoint(IPAddress.Loopback, 0))
                raw.Listen 1

                let server =
                    task {
                        let! s = raw.AcceptAsync()

                        return!
                            SecureConnection.AuthenticateAsServerAsync(
                                new BufferedStream(new NetworkStream(s, true)),
                                options
                            )
                    }

                let c = new Socket(SocketType.Stream, ProtocolType.Tcp)
                do! c.ConnectAsync(IPAddress.Loopback, portOf raw)

                use! wrapped =
                    SecureConnection.AuthenticateAsClientAsync(
                        new BufferedStream(new NetworkStream(c, true)),
                        $"127.0.0.1:{portOf raw}",
                        clientOptions
                    )

                use! serverSide = server
                Expect.isNull wrapped.RemoteEndPoint "no socket known"
                Expect.isNull serverSide.LocalEndPoint "no socket known"
            }
            |> fun t -> t.Wait bound |> ignore
        }

        test "TcpKeepAlive turns on keep-alive with that idle time and interval, on both ends" {
            let options = serverOptions ()
            options.TcpKeepAlive <- TimeSpan.FromSeconds 7.0

            let clientOptions =
                SecureClientOptions(
                    ServerAuthentication = ServerAuthentication.Pinned(serverKey.PublicKey),
                    TcpKeepAlive = TimeSpan.FromSeconds 9.0
                )

            use listener = new Socket(SocketType.Stream, ProtocolType.Tcp)
            listener.Bind(IPEndPoint(IPAddress.Loopback, 0))
            listener.Listen 1

            task {
                let accept = listener.AcceptAsync()
                use clientSocket = new Socket(SocketType.Stream, ProtocolType.Tcp)
                do! clientSocket.ConnectAsync(IPAddress.Loopback, portOf listener)
                use! serverSocket = accept

                let server =
                    SecureConnection.AuthenticateAsServerAsync(new NetworkStream(serverSocket, false), options)

                use! client =
                    SecureConnection.AuthenticateAsClientAsync(
                        new NetworkStream(clientSocket, false),
                        $"127.0.0.1:{portOf listener}",
                        clientOptions
                    )

                use! _ = server

                for (socket: Socket, seconds) in [ clientSocket, 9; serverSocket, 7 ] do
                    Expect.equal
                        (socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive) :?> int)
                        1
                        "SO_KEEPALIVE"

                    Expect.equal
                        (socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime) :?> int)
                        seconds
                        "idle time"

                    Expect.equal
                        (socket.GetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval) :?> int)
                        seconds
                        "interval"

                Expect.equal
                    client.ProtocolName
                    "Noise_NKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b"
                    "the handshake ran (hybrid by default)"
            }
            |> fun t -> t.Wait bound |> ignore
        }

        test "bad ConnectTimeout and TcpKeepAlive values are refused with InvalidArgument; the defaults" {
            let options = anyServer ()
            Expect.equal options.ConnectTimeout (TimeSpan.FromSeconds 10.0) "connect: 10 s"
            Expect.equal options.TcpKeepAlive Threading.Timeout.InfiniteTimeSpan "keep-alive: off"

            let codeOf (set: unit -> unit) =
                try
                    set ()
                    None
                with HybridError e ->
                    Some e.Code

            for (what, set) in
                [
                    "connect 0", (fun () -> options.ConnectTimeout <- TimeSpan.Zero)
                    "connect -1 s", (fun () -> options.ConnectTimeout <- TimeSpan.FromSeconds -1.0)
                    "keep-alive 999 ms", (fun () -> options.TcpKeepAlive <- TimeSpan.FromMilliseconds 999.0)
                    "keep-alive 0", (fun () -> options.TcpKeepAlive <- TimeSpan.Zero)
                ] do
                Expect.equal (codeOf set) (Some HybridErrorCode.InvalidArgument) what

            options.ConnectTimeout <- Threading.Timeout.InfiniteTimeSpan
            options.TcpKeepAlive <- TimeSpan.FromSeconds 1.0
        }
    ]
