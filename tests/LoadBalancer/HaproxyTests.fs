/// End to end behind a real HAProxy (Debian's haproxy; .ci/run installs it) in TCP mode: HAProxy runs as a child
/// process with a generated configuration on free 127.0.0.1 ports, connects to the backend from 127.0.0.2 (the only
/// trusted proxy) with send-proxy-v2 or send-proxy (v1), and is killed at the end. SecureListener, the Kestrel endpoint
/// and `hybrid serve` must each see the client's own socket address (127.0.0.1 and its port) as RemoteEndPoint; a
/// header sent directly from 127.0.0.1 is refused, and so is HAProxy without send-proxy when the header is required.
module HybridProtocol.Tests.HaproxyTests

open System
open System.Diagnostics
open System.IO
open System.Net
open System.Net.Sockets
open System.Text
open System.Threading.Tasks
open Expecto
open Microsoft.AspNetCore.Builder
open Microsoft.AspNetCore.Hosting
open Microsoft.AspNetCore.Hosting.Server
open Microsoft.AspNetCore.Hosting.Server.Features
open Microsoft.AspNetCore.Http
open Microsoft.AspNetCore.Server.Kestrel.Core
open System.Collections.Generic
open Microsoft.Extensions.Configuration
open Microsoft.Extensions.DependencyInjection
open Microsoft.Extensions.Logging
open HybridProtocol
open HybridProtocol.AspNetCore
open HybridProtocol.Core.Formats
open HybridProtocol.Tests.CliSupport

/// The address HAProxy connects to its backends from: the one trusted proxy of these tests.
let private balancer = "127.0.0.2"

let private haproxyPath () =
    let candidates =
        [ "/usr/sbin/haproxy"; "/usr/local/sbin/haproxy" ]
        @ [
            for dir in
                (Environment.GetEnvironmentVariable "PATH"
                 |> Option.ofObj
                 |> Option.defaultValue "")
                    .Split
                    ':' do
                if dir <> "" then
                    Path.Combine(dir, "haproxy")
        ]

    match candidates |> List.tryFind File.Exists with
    | Some path -> path
    | None -> failtest "haproxy is not installed: 'apt-get install haproxy' (.ci/run installs it when missing)"

let private freePort () =
    use probe =
        new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)

    probe.Bind(IPEndPoint(IPAddress.Loopback, 0))

    match probe.LocalEndPoint with
    | :? IPEndPoint as e -> e.Port
    | _ -> failtest "not bound"

/// Whether something listens on 127.0.0.1:port, found by trying to bind it (no connection is made).
let private listening (port: int) =
    use probe =
        new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)

    try
        probe.Bind(IPEndPoint(IPAddress.Loopback, port))
        false
    with :? SocketException ->
        true

/// HAProxy in TCP mode on a free 127.0.0.1 port, relaying to 127.0.0.1:backend from 127.0.0.2 with `serverOptions`
/// (send-proxy-v2, send-proxy, or nothing); killed on Dispose.
type private Haproxy(backend: int, serverOptions: string) =
    let dir = new TempDir()
    let port = freePort ()

    let config =
        String.concat "\n" [
            "global"
            "    maxconn 200"
            "defaults"
            "    mode tcp"
            "    timeout connect 5s"
            "    timeout client 60s"
            "    timeout server 60s"
            "frontend front"
            $"    bind 127.0.0.1:{port}"
            "    default_backend back"
            "backend back"
            $"    server hybrid 127.0.0.1:{backend} {serverOptions} source {balancer}"
            ""
        ]

    let configFile = dir.File "haproxy.cfg"
    do File.WriteAllText(configFile, config)

    let info =
        ProcessStartInfo(
            haproxyPath (),
            $"-db -f {configFile}",
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false
        )

    let p =
        match Process.Start info with
        | null -> failtest "haproxy did not start"
        | p -> p

    let errors = p.StandardError.ReadToEndAsync()
    let _ = p.StandardOutput.ReadToEndAsync()

    do
        let mutable waits = 0

        while not (listening port) && not p.HasExited && waits < 200 do
            Threading.Thread.Sleep 50
            waits <- waits + 1

        if not (listening port) then
            if not p.HasExited then
                p.Kill true

            failtest $"haproxy did not start listening on 127.0.0.1:{port}: {errors.Result}"

    member _.Port = port

    interface IDisposable with
        member _.Dispose() =
            if not p.HasExited then
                p.Kill true

            p.WaitForExit 10_000 |> ignore
            p.Dispose()
            (dir :> IDisposable).Dispose()

let private runTask (t: Task) =
    if not (t.Wait(TimeSpan.FromSeconds 60.0)) then
        failwith "timed out"

let private serverKey = PrivateKey.Generate()

let private serverOptions () =
    SecureServerOptions(ServerKey = serverKey, HandshakeTimeout = TimeSpan.FromSeconds 10.0)

let private clientOptions (key: PublicKey) =
    SecureClientOptions(
        ServerAuthentication = ServerAuthentication.Pinned key,
        HandshakeTimeout = TimeSpan.FromSeconds 10.0
    )

let private trusted () =
    ProxyProtocolOptions(TrustedProxies = ResizeArray [ IPNetwork.Parse $"{balancer}/32" ])

let private startListener () =
    let listener =
        new SecureListener(IPEndPoint(IPAddress.Loopback, 0), serverOptions (), ProxyProtocol = trusted ())

    let refusals = Collections.Concurrent.ConcurrentQueue<ProxyProtocolRefusal option>()
    listener.HandshakeFailed.Add(fun e -> refusals.Enqueue(Option.ofNullable e.ProxyProtocolRefusal))
    listener.Start()
    listener, refusals

let private awaitOne (queue: Collections.Concurrent.ConcurrentQueue<'T>) =
    let mutable waits = 0

    while queue.IsEmpty && waits < 500 do
        Threading.Thread.Sleep 20
        waits <- waits + 1

    List.ofSeq queue

let private hostOf (endPoint: EndPoint | null) =
    match endPoint with
    | :? IPEndPoint as ip -> string ip.Address
    | other -> string other

/// A header sent straight from 127.0.0.1 (not the balancer): the server must close the socket.
let private spoof (port: int) =
    task {
        use socket =
            new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)

        do! socket.ConnectAsync(IPAddress.Loopback, port)

        let header =
            ProxyProtocol.encode {
                Version = Version2
                Command =
                    Proxy(
                        Ip(
                            Stream,
                            {
                                Address = IPAddress.Parse "203.0.113.66"
                                Port = 1234us
                            },
                            {
                                Address = IPAddress.Loopback
                                Port = uint16 port
                            }
                        )
                    )
                Tlvs = []
            }
            |> Result.defaultWith (fun _ -> [||])

        let! _ = socket.SendAsync(ReadOnlyMemory header, SocketFlags.None)
        socket.ReceiveTimeout <- 10_000

        try
            let! n = socket.ReceiveAsync(Array.zeroCreate<byte> 64, SocketFlags.None)
            return n = 0
        with :? SocketException ->
            return true
    }

let private listenerTests =
    testList "SecureListener" [
        for option in [ "send-proxy-v2"; "send-proxy" ] do
            test $"behind HAProxy {option}: each client's own address is RemoteEndPoint, HAProxy's is ProxyEndPoint" {
                let listener, refusals = startListener ()
                use haproxy = new Haproxy(listener.LocalEndPoint.Port, option)

                task {
                    for i in 1..3 do
                        use! client =
                            SecureConnection.ConnectAsync("127.0.0.1", haproxy.Port, clientOptions serverKey.PublicKey)

                        use! served = listener.AcceptAsync()

                        Expect.equal
                            (string served.RemoteEndPoint)
                            (string client.LocalEndPoint)
                            $"client {i}: its socket's address"

                        Expect.equal (hostOf served.ProxyEndPoint) balancer $"client {i}: through HAProxy"
                        do! client.SendAsync(ReadOnlyMemory(Encoding.UTF8.GetBytes $"hello {i}"))
                        let! got = served.ReceiveAsync()

                        Expect.equal
                            (Encoding.UTF8.GetString(nonNull got))
                            $"hello {i}"
                            "the bytes after the header arrive unchanged"

                    Expect.isEmpty refusals "nothing refused"
                    do! listener.DisposeAsync()
                }
                |> runTask
            }

        test "a spoofed header straight from 127.0.0.1 is refused (UntrustedSender)" {
            let listener, refusals = startListener ()

            task {
                let! closed = spoof listener.LocalEndPoint.Port
                Expect.isTrue closed "the socket was closed"
                Expect.equal (awaitOne refusals) [ Some ProxyProtocolRefusal.UntrustedSender ] "typed refusal"
                do! listener.DisposeAsync()
            }
            |> runTask
        }

        test "HAProxy without send-proxy while the header is required: refused (HeaderMissing), the client fails" {
            let listener, refusals = startListener ()
            use haproxy = new Haproxy(listener.LocalEndPoint.Port, "")

            let failure =
                Loopback.codeOf (fun () ->
                    SecureConnection.ConnectAsync("127.0.0.1", haproxy.Port, clientOptions serverKey.PublicKey))

            Expect.contains
                [
                    HybridErrorCode.ConnectionTruncated
                    HybridErrorCode.TransportFailed
                    HybridErrorCode.AuthenticationFailed
                ]
                failure.Code
                "dropped"

            Expect.equal (awaitOne refusals) [ Some ProxyProtocolRefusal.HeaderMissing ] "typed refusal"
            runTask (listener.DisposeAsync().AsTask())
        }
    ]

/// A Kestrel HTTP/1.1 endpoint over HybridProtocol on 127.0.0.1 that answers GET / with the connection's
/// RemoteIpAddress:RemotePort and the balancer from IHybridProtocolFeature.
let private startKestrelWith (services: IServiceCollection -> unit) (useProtocol: ListenOptions -> unit) =
    let builder = WebApplication.CreateSlimBuilder()
    builder.Logging.ClearProviders() |> ignore
    services builder.Services

    builder.WebHost.ConfigureKestrel(fun (k: KestrelServerOptions) ->
        k.Listen(
            IPAddress.Loopback,
            0,
            fun listen ->
                listen.Protocols <- HttpProtocols.Http1
                useProtocol listen
        ))
    |> ignore

    let app = builder.Build()

    app.MapGet(
        "/",
        RequestDelegate(fun ctx ->
            let feature = ctx.Features.Get<IHybridProtocolFeature>()

            let through =
                match feature with
                | null -> "no feature"
                | f -> hostOf f.ProxyEndPoint

            ctx.Response.WriteAsync $"{ctx.Connection.RemoteIpAddress}:{ctx.Connection.RemotePort} {through}")
    )
    |> ignore

    runTask (app.StartAsync())

    let addresses =
        app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()

    let port =
        match addresses with
        | null -> failtest "no addresses"
        | a -> Uri(Seq.head a.Addresses).Port

    app, port

let private startKestrel () =
    startKestrelWith ignore (fun listen ->
        listen.UseHybridProtocol(fun (o: HybridProtocolConnectionOptions) ->
            o.ServerOptions <- serverOptions ()
            o.ProxyProtocol <- trusted ())
        |> ignore)

/// GET / through HAProxy over a fresh connection: the response's body line must be the client's address and HAProxy's.
let private expectClientSeen (haproxyPort: int) (key: PublicKey) (what: string) =
    task {
        use! client =
            SecureConnection.ConnectAsync("127.0.0.1", haproxyPort, clientOptions key)

        use stream = client.GetStream()
        let request = "GET / HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"B
        do! stream.WriteAsync(request, 0, request.Length)
        use reader = new StreamReader(stream)
        let! response = reader.ReadToEndAsync()
        Expect.stringContains response "200 OK" $"{what}: served"

        Expect.stringContains
            response
            $"\r\n{client.LocalEndPoint} {balancer}\r\n"
            $"{what}: the client's address, through HAProxy"
    }

let private kestrelTests =
    testList "Kestrel" [
        test "behind HAProxy send-proxy-v2: HttpContext.Connection is the client's own socket address" {
            let app, port = startKestrel ()
            use haproxy = new Haproxy(port, "send-proxy-v2")

            task {
                for i in 1..2 do
                    do! expectClientSeen haproxy.Port serverKey.PublicKey $"request {i}"

                let! closed = spoof port
                Expect.isTrue closed "a spoofed header straight from 127.0.0.1 is refused"
                do! app.StopAsync()
                do! app.DisposeAsync()
            }
            |> runTask
        }
    ]

let private configuredTests =
    testList "Kestrel from configuration" [
        test "HybridProtocol:TrustedProxies behind HAProxy send-proxy (v1): the client's own address" {
            use dir = new TempDir()
            serverKey.Save(dir.File "server.key")

            let config =
                ConfigurationBuilder()
                    .AddInMemoryCollection(
                        [
                            KeyValuePair<string, string | null>("HybridProtocol:KeyFile", dir.File "server.key")
                            KeyValuePair<string, string | null>("HybridProtocol:TrustedProxies:0", "10.9.8.0/24")
                            KeyValuePair<string, string | null>("HybridProtocol:TrustedProxies:1", balancer)
                        ]
                    )
                    .Build()

            let app, port =
                startKestrelWith (fun s -> s.AddHybridProtocol(config.GetSection "HybridProtocol") |> ignore) (fun l ->
                    l.UseHybridProtocol() |> ignore)

            use haproxy = new Haproxy(port, "send-proxy")

            task {
                do! expectClientSeen haproxy.Port serverKey.PublicKey "bound from configuration"
                let! closed = spoof port
                Expect.isTrue closed "a spoofed header straight from 127.0.0.1 is refused"
                do! app.StopAsync()
                do! app.DisposeAsync()
            }
            |> runTask
        }

        test "a TrustedProxies entry that is no network is InvalidArgument, naming the setting" {
            let settings = HybridProtocolServerSettings(KeyFile = "unused.key")
            settings.TrustedProxies.Add "10.0.0.300/8"

            try
                settings.CreateConnectionOptions() |> ignore
                failtest "accepted"
            with HybridError e ->
                Expect.equal e.Code HybridErrorCode.InvalidArgument "code"

                Expect.stringContains
                    e.Message
                    "HybridProtocol:TrustedProxies: '10.0.0.300/8'"
                    "names the setting and value"
        }
    ]

let private cliTests =
    testList "hybrid serve" [
        test "--proxy-protocol-from behind HAProxy send-proxy-v2: echoes, and reports the client's own address" {
            use dir = new TempDir()
            use key = keygen dir "server.key"

            let server, port =
                startLocal dir "serve" [ "--echo"; "--proxy-protocol-from"; balancer ]

            use _ = server
            use haproxy = new Haproxy(port, "send-proxy-v2")

            task {
                use! client =
                    SecureConnection.ConnectAsync("127.0.0.1", haproxy.Port, clientOptions key.PublicKey)

                do! client.SendAsync(ReadOnlyMemory "through the balancer"B)
                let! echoed = client.ReceiveAsync()
                Expect.equal (nonNull echoed) "through the balancer"B "echoed"

                let line =
                    server.WaitForLine(_.Contains("connected through"), TimeSpan.FromSeconds 20.0)

                Expect.stringContains
                    line
                    $"client {client.LocalEndPoint} connected through {balancer}:"
                    "the client's address"
            }
            |> runTask
        }

        test "--proxy-protocol-from with something that is no network is a usage error" {
            use dir = new TempDir()
            use _ = keygen dir "server.key"

            let result =
                run dir [
                    "serve"
                    "--key"
                    "server.key"
                    "--listen"
                    "127.0.0.1:0"
                    "--proxy-protocol-from"
                    "10.0.0.300/8"
                ]

            expectExit Exit.usage result "a bad CIDR"
            Expect.stringContains result.Stderr "--proxy-protocol-from" "names the option"
        }
    ]

[<Tests>]
let tests =
    testSequenced
    <| testList "LoadBalancer.HAProxy" [ listenerTests; kestrelTests; configuredTests; cliTests ]
