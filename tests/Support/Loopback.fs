/// Real sockets on 127.0.0.1 for the facade tests: a listening socket, both ends of a handshake run
/// concurrently, bounded waits, and the error code a call ends with.
module HybridProtocol.Tests.Loopback

open System
open System.IO
open System.Net
open System.Net.Sockets
open System.Threading.Tasks
open Expecto
open HybridProtocol

let loopback = IPAddress.Loopback

/// Runs a task with a bound, so a broken test fails instead of hanging the suite.
let run (t: Task<'T>) =
    if not (t.Wait(TimeSpan.FromSeconds 60.0)) then
        failwith "timed out"

    t.Result

let runUnit (t: Task) =
    if not (t.Wait(TimeSpan.FromSeconds 60.0)) then
        failwith "timed out"

let serverOptions (key: PrivateKey) =
    SecureServerOptions(ServerKey = key, HandshakeTimeout = TimeSpan.FromSeconds 5.0)

let clientOptions (auth: ServerAuthentication) =
    SecureClientOptions(ServerAuthentication = auth, HandshakeTimeout = TimeSpan.FromSeconds 5.0)

/// The code of the HybridProtocolException a task ends with (unwrapping AggregateException).
let codeOfTask (f: unit -> Task) =
    try
        runUnit (f ())
        failwith "expected a HybridProtocolException, but the call succeeded"
    with e ->
        let rec find (e: exn) =
            match e with
            | HybridError h -> h
            | :? AggregateException as a when a.InnerExceptions.Count = 1 -> find a.InnerExceptions[0]
            | _ -> failwithf "expected a HybridProtocolException, got %O" e

        find e

let codeOf (f: unit -> Task<'T>) = codeOfTask (fun () -> f () :> Task)

let portOf (socket: Socket) =
    match socket.LocalEndPoint with
    | :? IPEndPoint as e -> e.Port
    | _ -> failwith "not bound"

let listen () =
    let listener = new Socket(SocketType.Stream, ProtocolType.Tcp)
    listener.Bind(IPEndPoint(loopback, 0))
    listener.Listen 1
    listener

/// Both ends of a handshake over a listening socket, run concurrently: (client result, server result).
let rec handshakeOn
    (listener: Socket)
    (serverOpts: SecureServerOptions)
    (clientOpts: SecureClientOptions)
    (wrapClient: Stream -> Stream)
    (wrapServer: Stream -> Stream)
    =
    let port = portOf listener

    let server =
        task {
            let! socket = listener.AcceptAsync()
            return! SecureConnection.AuthenticateAsServerAsync(wrapServer (new NetworkStream(socket, true)), serverOpts)
        }

    let client =
        task {
            let socket = new Socket(SocketType.Stream, ProtocolType.Tcp, NoDelay = true)
            do! socket.ConnectAsync(loopback, port)

            return!
                SecureConnection.AuthenticateAsClientAsync(
                    wrapClient (new NetworkStream(socket, true)),
                    $"127.0.0.1:{port}",
                    clientOpts
                )
        }

    let settle (t: Task<SecureConnection>) =
        try
            Ok(run t)
        with e ->
            match e with
            | :? AggregateException as a -> Error(a.InnerExceptions[0])
            | e -> Error e

    let c = settle client
    let s = settle server
    c, s

and handshake serverOpts clientOpts wrapClient wrapServer =
    use listener = listen ()
    handshakeOn listener serverOpts clientOpts wrapClient wrapServer

let connected serverOpts clientOpts =
    match handshake serverOpts clientOpts id id with
    | Ok c, Ok s -> c, s
    | c, s -> failwithf "handshake failed: client %A, server %A" c s

let code (r: Result<SecureConnection, exn>) =
    match r with
    | Ok c ->
        c.Dispose()
        None
    | Error(HybridError h) -> Some h.Code
    | Error e -> failwithf "unexpected %O" e

let text (s: string) = Text.Encoding.UTF8.GetBytes s

let receive (c: SecureConnection) =
    match run (c.ReceiveAsync().AsTask()) with
    | null -> failwith "the peer closed"
    | m -> m

/// One message each way; checks the content.
let exchange (client: SecureConnection) (server: SecureConnection) =
    runUnit (client.SendAsync(ReadOnlyMemory(text "ping")).AsTask())
    Expect.equal (receive server) (text "ping") "client to server"
    runUnit (server.SendAsync(ReadOnlyMemory(text "pong")).AsTask())
    Expect.equal (receive client) (text "pong") "server to client"

let tempFile () =
    Path.Combine(Path.GetTempPath(), $"hybrid-test-{Guid.NewGuid():N}")

let patterned (size: int) (seed: int) =
    Array.init size (fun i -> byte ((i * 31 + seed) % 251))
