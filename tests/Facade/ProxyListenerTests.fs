/// SecureListener behind a load balancer, with hand-made PROXY headers on real 127.0.0.1 sockets: the client a trusted
/// proxy's header names becomes RemoteEndPoint and is what MaxPendingPerAddress counts; LOCAL keeps the socket's
/// address; a header from anywhere else, a missing one when required, and a malformed one are refused with their
/// typed reason. (tests/LoadBalancer runs the same behind a real HAProxy.)
module HybridProtocol.Tests.ProxyListenerTests

open System
open System.IO
open System.Net
open System.Net.Sockets
open System.Threading.Tasks
open Expecto
open HybridProtocol
open HybridProtocol.Core.Formats

let private serverKey = PrivateKey.Generate()

let private serverOptions () =
    SecureServerOptions(ServerKey = serverKey, HandshakeTimeout = TimeSpan.FromSeconds 10.0)

let private clientOptions () =
    SecureClientOptions(
        ServerAuthentication = ServerAuthentication.Pinned(serverKey.PublicKey),
        HandshakeTimeout = TimeSpan.FromSeconds 10.0
    )

let private proxyFrom (networks: string list) (required: bool) =
    ProxyProtocolOptions(TrustedProxies = ResizeArray(networks |> List.map IPNetwork.Parse), Required = required)

/// A listener on 127.0.0.1 with these PROXY options, and the refusals it reports (remote, reason).
let private startListener (proxy: ProxyProtocolOptions) (maxPerAddress: int) =
    let listener =
        new SecureListener(
            IPEndPoint(IPAddress.Loopback, 0),
            serverOptions (),
            ProxyProtocol = proxy,
            MaxPendingPerAddress = maxPerAddress
        )

    let failures =
        Collections.Concurrent.ConcurrentQueue<EndPoint | null * ProxyProtocolRefusal option>()

    listener.HandshakeFailed.Add(fun e -> failures.Enqueue(e.RemoteEndPoint, Option.ofNullable e.ProxyProtocolRefusal))
    listener.Start()
    listener, failures

let private awaitCount (queue: Collections.Concurrent.ConcurrentQueue<'T>) (count: int) =
    let mutable waits = 0

    while queue.Count < count && waits < 500 do
        Threading.Thread.Sleep 20
        waits <- waits + 1

    List.ofSeq queue

let private header (version: ProxyVersion) (command: ProxyCommand) =
    match
        ProxyProtocol.encode {
            Version = version
            Command = command
            Tlvs = []
        }
    with
    | Ok bytes -> bytes
    | Error e -> failwithf "%A" e

let private tcp4 (source: string) (sourcePort: int) =
    Proxy(
        Ip(
            Stream,
            {
                Address = IPAddress.Parse source
                Port = uint16 sourcePort
            },
            {
                Address = IPAddress.Parse "192.0.2.1"
                Port = 443us
            }
        )
    )

/// A stream that puts `prefix` before the first bytes written: the header and the preamble in one segment.
type private PrefixFirstWrite(inner: Stream, prefix: byte array) =
    inherit HybridProtocol.Tests.TestSupport.UnseekableStream()
    let mutable pending = prefix

    override _.Flush() = inner.Flush()
    override _.Read(buffer, offset, count) = inner.Read(buffer, offset, count)
    override _.ReadAsync(buffer: Memory<byte>, token) = inner.ReadAsync(buffer, token)

    override _.Write(buffer, offset, count) =
        let first = pending
        pending <- [||]
        inner.Write(Array.append first buffer[offset .. offset + count - 1], 0, first.Length + count)

    override this.WriteAsync(buffer: ReadOnlyMemory<byte>, token) =
        let first = pending
        pending <- [||]
        inner.WriteAsync(ReadOnlyMemory(Array.append first (buffer.ToArray())), token)

    override _.Dispose disposing =
        if disposing then
            inner.Dispose()

/// Connects to the listener, sends `prefix` (separately, or in the preamble's segment), then runs a client handshake.
let private connectWith (port: int) (prefix: byte array) (sameSegment: bool) =
    task {
        let socket =
            new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp, NoDelay = true)

        do! socket.ConnectAsync(IPAddress.Loopback, port)
        let local = socket.LocalEndPoint
        let network = new NetworkStream(socket, true)

        let stream: Stream =
            if sameSegment then
                new PrefixFirstWrite(network, prefix)
            else
                network.Write(prefix, 0, prefix.Length)
                network

        let! connection =
            SecureConnection.AuthenticateAsClientAsync(stream, "127.0.0.1", clientOptions ())

        return connection, local
    }

/// One message each way, so the connection is shown to work past the handshake.
let private exchange (client: SecureConnection) (served: SecureConnection) =
    task {
        do! client.SendAsync(ReadOnlyMemory "ping"B)
        let! got = served.ReceiveAsync()
        Expect.equal got "ping"B "server received"
        do! served.SendAsync(ReadOnlyMemory "pong"B)
        let! back = client.ReceiveAsync()
        Expect.equal back "pong"B "client received"
    }

/// Whether the peer closed the socket (a read returns 0 or fails) within 10 s.
let private closedByServer (socket: Socket) =
    task {
        socket.ReceiveTimeout <- 10_000

        try
            let buffer = Array.zeroCreate<byte> 64
            let! n = socket.ReceiveAsync(buffer, SocketFlags.None)
            // A waiting socket pushed out is told TooSlow first (specs/PROTOCOL.md [S8]), then closed.
            let tooSlow =
                HybridProtocol.Core.Wire.Admission.dropStatus HybridProtocol.Core.Wire.DropReason.TooSlow

            if n = tooSlow.Length && buffer[.. n - 1] = tooSlow then
                let! rest = socket.ReceiveAsync(buffer, SocketFlags.None)
                return rest = 0
            else
                return n = 0
        with :? SocketException ->
            return true
    }

let private sendRaw (port: int) (bytes: byte array) =
    task {
        let socket =
            new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp, NoDelay = true)

        do! socket.ConnectAsync(IPAddress.Loopback, port)
        let! _ = socket.SendAsync(ReadOnlyMemory bytes, SocketFlags.None)
        return socket
    }

[<Tests>]
let tests =
    testList "Facade.ProxyProtocol listener" [
        for version in [ Version1; Version2 ] do
            for sameSegment in [ false; true ] do
                let how =
                    if sameSegment then
                        "and preamble in one segment"
                    else
                        "sent alone"

                test $"{version}: the trusted proxy's header names the client (header {how})" {
                    let listener, failures = startListener (proxyFrom [ "127.0.0.1/32" ] true) 1024

                    task {
                        use _ = {
                            new IDisposable with
                                member _.Dispose() =
                                    (listener.DisposeAsync().AsTask().Wait())
                        }

                        let bytes = header version (tcp4 "203.0.113.7" 4242)
                        let! client, local = connectWith listener.LocalEndPoint.Port bytes sameSegment
                        use client = client
                        use! served = listener.AcceptAsync()
                        Expect.equal (string served.RemoteEndPoint) "203.0.113.7:4242" "the client the header names"
                        Expect.equal (string served.ProxyEndPoint) (string local) "the balancer is the socket's peer"
                        do! exchange client served
                        Expect.isEmpty failures "no failure"
                    }
                    |> Loopback.runUnit
                }

        test "LOCAL (a balancer's health check): the socket's own address, no balancer" {
            let listener, _ = startListener (proxyFrom [ "127.0.0.0/8" ] true) 1024

            task {
                use _ = {
                    new IDisposable with
                        member _.Dispose() =
                            (listener.DisposeAsync().AsTask().Wait())
                }

                let! client, local =
                    connectWith listener.LocalEndPoint.Port (header Version2 Local) false

                use client = client
                use! served = listener.AcceptAsync()
                Expect.equal (string served.RemoteEndPoint) (string local) "the connection's own source"
                Expect.isNull served.ProxyEndPoint "no balancer named"
                do! exchange client served
            }
            |> Loopback.runUnit
        }

        test "a header from an address that is not a trusted proxy is refused (UntrustedSender) and the socket closed" {
            let listener, failures = startListener (proxyFrom [ "10.0.0.0/8" ] true) 1024

            task {
                use _ = {
                    new IDisposable with
                        member _.Dispose() =
                            (listener.DisposeAsync().AsTask().Wait())
                }

                for version in [ Version1; Version2 ] do
                    use! spoofer =
                        sendRaw listener.LocalEndPoint.Port (header version (tcp4 "198.51.100.9" 1))

                    let! closed = closedByServer spoofer
                    Expect.isTrue closed "dropped"

                let seen = awaitCount failures 2

                Expect.equal
                    (seen |> List.map snd)
                    [
                        Some ProxyProtocolRefusal.UntrustedSender
                        Some ProxyProtocolRefusal.UntrustedSender
                    ]
                    "typed"

                Expect.isTrue
                    (seen |> List.forall (fun (r, _) -> (string r).StartsWith "127.0.0.1:"))
                    "reported with the real source"

                // A plain client from that address is served as before.
                use! client =
                    SecureConnection.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port, clientOptions ())

                use! served = listener.AcceptAsync()
                Expect.equal (string served.RemoteEndPoint) (string client.LocalEndPoint) "direct client"
                Expect.isNull served.ProxyEndPoint "no balancer"
            }
            |> Loopback.runUnit
        }

        test "a trusted proxy without a header: refused when required (HeaderMissing), served as itself otherwise" {
            let required, failures = startListener (proxyFrom [ "127.0.0.1/32" ] true) 1024
            let optional, _ = startListener (proxyFrom [ "127.0.0.1/32" ] false) 1024

            task {
                use _ = {
                    new IDisposable with
                        member _.Dispose() =
                            (required.DisposeAsync().AsTask().Wait())
                }

                use _ = {
                    new IDisposable with
                        member _.Dispose() =
                            (optional.DisposeAsync().AsTask().Wait())
                }

                let code =
                    Loopback.codeOf (fun () ->
                        SecureConnection.ConnectAsync("127.0.0.1", required.LocalEndPoint.Port, clientOptions ()))

                Expect.contains
                    [
                        HybridErrorCode.ConnectionTruncated
                        HybridErrorCode.TransportFailed
                        HybridErrorCode.AuthenticationFailed
                    ]
                    code.Code
                    "the client sees the connection dropped"

                let seen = awaitCount failures 1
                Expect.equal (seen |> List.map snd) [ Some ProxyProtocolRefusal.HeaderMissing ] "typed"

                use! client =
                    SecureConnection.ConnectAsync("127.0.0.1", optional.LocalEndPoint.Port, clientOptions ())

                use! served = optional.AcceptAsync()
                Expect.equal (string served.RemoteEndPoint) (string client.LocalEndPoint) "served as itself"
            }
            |> Loopback.runUnit
        }

        test "malformed and truncated headers from a trusted proxy are refused with their reason" {
            let listener, failures = startListener (proxyFrom [ "127.0.0.1/32" ] true) 1024

            task {
                use _ = {
                    new IDisposable with
                        member _.Dispose() =
                            (listener.DisposeAsync().AsTask().Wait())
                }

                let v3 = header Version2 (tcp4 "203.0.113.7" 1)
                v3[12] <- 0x31uy
                use! a = sendRaw listener.LocalEndPoint.Port v3
                let! closed = closedByServer a
                Expect.isTrue closed "version 3 dropped"

                use! b =
                    sendRaw
                        listener.LocalEndPoint.Port
                        (Text.Encoding.ASCII.GetBytes "PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n")

                let! closed = closedByServer b
                Expect.isTrue closed "bad v1 address dropped"
                let truncated = header Version2 (tcp4 "203.0.113.7" 1)
                use! c = sendRaw listener.LocalEndPoint.Port truncated[..20]
                c.Shutdown SocketShutdown.Send
                let! closed = closedByServer c
                Expect.isTrue closed "truncated dropped"
                let seen = awaitCount failures 3 |> List.map snd |> List.sort

                Expect.equal
                    seen
                    [
                        Some ProxyProtocolRefusal.MalformedHeader
                        Some ProxyProtocolRefusal.MalformedHeader
                        Some ProxyProtocolRefusal.TruncatedHeader
                    ]
                    "typed"
            }
            |> Loopback.runUnit
        }

        test "MaxPendingPerAddress counts the client a header names, not the balancer" {
            let listener, failures = startListener (proxyFrom [ "127.0.0.1/32" ] true) 1

            task {
                use _ = {
                    new IDisposable with
                        member _.Dispose() =
                            (listener.DisposeAsync().AsTask().Wait())
                }

                let port = listener.LocalEndPoint.Port
                // Two clients behind one balancer, silent after their headers: both wait (one each).
                use! first = sendRaw port (header Version2 (tcp4 "198.51.100.1" 1))
                use! other = sendRaw port (header Version2 (tcp4 "198.51.100.2" 1))
                // Lets the listener read those two headers first (an ordering pause, not a timing assertion).
                do! Task.Delay 300
                // The first client again: its older socket is pushed out, and only that one.
                use! again = sendRaw port (header Version1 (tcp4 "198.51.100.1" 2))
                let! closed = closedByServer first
                Expect.isTrue closed "the first client's older socket was pushed out"
                let seen = awaitCount failures 1
                Expect.equal seen.Length 1 "one socket pushed out"
                Expect.equal (string (fst seen.Head)) "198.51.100.1:1" "reported as the client"
                Expect.isFalse (other.Poll(200_000, SelectMode.SelectRead)) "the other client still waits"
                Expect.isFalse (again.Poll(0, SelectMode.SelectRead)) "the newer socket still waits"
            }
            |> Loopback.runUnit
        }
    ]
