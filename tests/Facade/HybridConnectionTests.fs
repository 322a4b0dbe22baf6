/// Post-quantum hybrid connections (Noise HFS with ML-KEM-768) through the C# facade over real sockets on
/// 127.0.0.1: every authentication mode, with and without a pre-shared key, for every pairing of the client's and
/// the server's PostQuantum setting: hybrid by default on both ends, classical on request, a server that requires
/// hybrid refusing a classical client with 0x09, and a hybrid client refused by a classical-only server reporting
/// the refusal (0x03) instead of falling back.
module HybridProtocol.Tests.HybridConnectionTests

open System
open System.Net
open System.Net.Sockets
open System.Security.Cryptography
open System.Threading.Tasks
open Expecto
open HybridProtocol
open HybridProtocol.Core.Wire

let private bounded (t: Task<'T>) =
    if not (t.Wait(TimeSpan.FromSeconds 60.0)) then
        failwith "timed out"

    t.Result

let private wait (t: Task) =
    if not (t.Wait(TimeSpan.FromSeconds 60.0)) then
        failwith "timed out"

/// Both ends of one handshake on 127.0.0.1, run concurrently; each end's connection or exception.
let private handshake (serverOptions: SecureServerOptions) (clientOptions: SecureClientOptions) =
    use listener = new Socket(SocketType.Stream, ProtocolType.Tcp)
    listener.Bind(IPEndPoint(IPAddress.Loopback, 0))
    listener.Listen 1

    let port =
        match listener.LocalEndPoint with
        | :? IPEndPoint as e -> e.Port
        | _ -> failwith "not bound"

    let server =
        task {
            let! socket = listener.AcceptAsync()
            return! SecureConnection.AuthenticateAsServerAsync(new NetworkStream(socket, true), serverOptions)
        }

    let client =
        task {
            let socket = new Socket(SocketType.Stream, ProtocolType.Tcp, NoDelay = true)
            do! socket.ConnectAsync(IPAddress.Loopback, port)

            return!
                SecureConnection.AuthenticateAsClientAsync(
                    new NetworkStream(socket, true),
                    $"127.0.0.1:{port}",
                    clientOptions
                )
        }

    let settle (t: Task<SecureConnection>) =
        try
            Ok(bounded t)
        with
        | :? AggregateException as a ->
            match a.InnerExceptions[0] with
            | :? HybridProtocolException as h -> Error h
            | e -> raise e
        | :? HybridProtocolException as h -> Error h

    settle client, settle server

/// The authentication modes (specs/PROTOCOL.md, "Authentication modes and patterns") and the pattern each runs.
type private Mode = {
    Label: string
    Pattern: string
    Pinned: bool
    ClientIdentity: bool
    Psk: bool
}

let private modes = [
    for psk in [ false; true ] do
        for pinned, identity, pattern, pskPosition in
            [
                true, false, "NK", 2
                true, true, "IK", 2
                false, false, "NX", 2
                false, true, "XX", 3
            ] do
            {
                Label =
                    (if pinned then "pinned" else "learned")
                    + (if identity then " + client key" else "")
                Pattern = if psk then $"{pattern}psk{pskPosition}" else pattern
                Pinned = pinned
                ClientIdentity = identity
                Psk = psk
            }
]

/// The hfs twin of a pattern section, as the policy writes it: "NKpsk2" -> "NKhfs+psk2".
let private hfsSection (pattern: string) =
    match pattern.IndexOf "psk" with
    | -1 -> pattern + "hfs"
    | i -> pattern.Substring(0, i) + "hfs+" + pattern.Substring i

let private serverKey = lazy (PrivateKey.Generate())
let private clientKey = lazy (PrivateKey.Generate())
let private psk = lazy (RandomNumberGenerator.GetBytes 32)

let private optionsFor (mode: Mode) (client: PostQuantumMode) (server: PostQuantumMode) =
    let key = serverKey.Force()

    let s =
        SecureServerOptions(ServerKey = key, HandshakeTimeout = TimeSpan.FromSeconds 5.0, PostQuantum = server)

    let auth =
        if mode.Pinned then
            ServerAuthentication.Pinned key.PublicKey
        else
            ServerAuthentication.DangerousAcceptAnyServerKey()

    let c =
        SecureClientOptions(
            ServerAuthentication = auth,
            HandshakeTimeout = TimeSpan.FromSeconds 5.0,
            PostQuantum = client
        )

    if mode.ClientIdentity then
        c.ClientIdentity <- clientKey.Force()
        // A server that takes no client keys refuses XX and IK (specs/PROTOCOL.md §3 [S9]).
        s.ClientAuthentication <- ClientAuthentication.Optional(fun _ -> true)

    if mode.Psk then
        s.PreSharedKey <- psk.Force()
        c.PreSharedKey <- psk.Force()

    s, c

let private exchange (client: SecureConnection) (server: SecureConnection) =
    wait (client.SendAsync(ReadOnlyMemory "ping"B).AsTask())

    match bounded (server.ReceiveAsync().AsTask()) with
    | null -> failwith "the client closed"
    | m -> Expect.equal m "ping"B "client to server"

    wait (server.SendAsync(ReadOnlyMemory "pong"B).AsTask())

    match bounded (client.ReceiveAsync().AsTask()) with
    | null -> failwith "the server closed"
    | m -> Expect.equal m "pong"B "server to client"

/// A completed handshake: both ends run `expected` and agree on the handshake hash; one message each way.
let private expectConnected (mode: Mode) client server (expected: string) =
    let s, c = optionsFor mode client server

    match handshake s c with
    | Ok client, Ok server ->
        use client = client
        use server = server
        let name = $"Noise_{expected}_ChaChaPoly_BLAKE2b"
        Expect.equal client.ProtocolName name $"{mode.Label}: client runs {name}"
        Expect.equal server.ProtocolName name $"{mode.Label}: server runs {name}"
        Expect.isTrue (client.HandshakeHash.Span.SequenceEqual(server.HandshakeHash.Span)) "same handshake hash"
        exchange client server
    | c, s -> failtestf "%s %A/%A: client %A, server %A" mode.Label client server c s

/// A refused handshake: PeerRefused with the exact refusal code on both ends, and no connection on either.
let private expectRefused (mode: Mode) client server (code: RefusalCode) =
    let s, c = optionsFor mode client server

    match handshake s c with
    | Error ce, Error se ->
        let expected =
            Nullable(LanguagePrimitives.EnumOfValue<byte, HybridRefusalCode>(byte code))

        Expect.equal ce.Code HybridErrorCode.PeerRefused $"{mode.Label}: client"
        Expect.equal ce.Refusal expected $"{mode.Label}: the client reports the refusal code"
        Expect.equal se.Code HybridErrorCode.PeerRefused $"{mode.Label}: server"
        Expect.equal se.Refusal expected $"{mode.Label}: the server reports the code it sent"
        Expect.stringContains ce.Message $"0x{byte code:x2}" "the message names the code"
        ce
    | c, s -> failtestf "%s %A/%A: expected refusal %A, got client %A, server %A" mode.Label client server code c s

[<Tests>]
let tests =
    testList "Connections: post-quantum hybrid" [
        test "hybrid is the default on both ends" {
            Expect.equal (SecureClientOptions().PostQuantum) PostQuantumMode.Hybrid "client"
            Expect.equal (SecureServerOptions().PostQuantum) PostQuantumMode.Hybrid "server"

            Expect.throwsT<HybridArgumentException>
                (fun () -> SecureClientOptions(PostQuantum = enum<PostQuantumMode> 7) |> ignore)
                "a value outside the enum"
        }

        for mode in modes do
            let hfs = $"{hfsSection mode.Pattern}_25519+MLKEM768"
            let classical = $"{mode.Pattern}_25519"

            test
                $"{mode.Pattern} ({mode.Label}): defaults run {hfsSection mode.Pattern}; classical on request; Required takes hybrid" {
                expectConnected mode PostQuantumMode.Hybrid PostQuantumMode.Hybrid hfs
                expectConnected mode PostQuantumMode.Hybrid PostQuantumMode.Required hfs
                expectConnected mode PostQuantumMode.Required PostQuantumMode.Hybrid hfs
                expectConnected mode PostQuantumMode.Classical PostQuantumMode.Hybrid classical
                expectConnected mode PostQuantumMode.Classical PostQuantumMode.Classical classical
            }

            test
                $"{mode.Pattern} ({mode.Label}): a server requiring hybrid refuses a classical client with 0x09 PostQuantumRequired" {
                let e =
                    expectRefused
                        mode
                        PostQuantumMode.Classical
                        PostQuantumMode.Required
                        RefusalCode.PostQuantumRequired

                Expect.stringContains e.Message "post-quantum" "says what is required"
            }

            test
                $"{mode.Pattern} ({mode.Label}): a hybrid client does not fall back: a classical-only server's 0x03 is reported" {
                for client in [ PostQuantumMode.Hybrid; PostQuantumMode.Required ] do
                    let e =
                        expectRefused mode client PostQuantumMode.Classical RefusalCode.UnsupportedPattern

                    Expect.stringContains e.Message "--classical" "says how to choose classical explicitly"
            }
    ]
