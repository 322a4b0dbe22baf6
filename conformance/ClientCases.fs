/// The cases against a client under test: the runner listens and serves one case per connection.
module HybridProtocol.Conformance.ClientCases

open System
open System.Net
open System.Net.Sockets
open System.Security.Cryptography
open System.Text
open System.Threading
open HybridProtocol.Core
open HybridProtocol.Core.Noise
open HybridProtocol.Core.Wire
open HybridProtocol.Crypto
open HybridProtocol.Conformance.Session
open HybridProtocol.Conformance.Sealing

/// The transport after a completed handshake, for one case: `check` judges it; no transport is the case's failure.
let private withTraffic (p: Peer) rule case check : Finding list =
    match Connection.Traffic p.State with
    | Ok start -> check start
    | Error e -> [ finding rule case false (sprintf "%A" e) ]

/// Serves one connection of a client under test; `case` chooses what the runner does after the handshake.
let private serveOne (socket: Socket) (settings: Settings) (serverKey: DhKeyPair) (case: int) : Finding list =
    use p = new Peer(socket, settings.Timeout)

    // Any client: anonymous or with a key (NK, NX, XX, IK), each with the PSK when one is given.
    let accepted =
        Policy.serverAccepted
            {
                ClientKeys = ClientKeys.Optional
                PreSharedKey = settings.Psk.IsSome
                PostQuantum = HybridOrClassical
            }
            [ suiteName settings.Suite ]
        |> Result.defaultWith (fun e -> failwithf "%A" e)

    let config =
        ServerConfig
            .Create(
                accepted,
                Func<ProtocolName, CryptoSuite>(fun n -> SodiumSuite.For n),
                SodiumSuite.GenerateEphemeral(),
                settings.ApplicationProtocol
            )
            .WithLocalStatic(serverKey)
            .WithEncapsulationRandomness(RandomNumberGenerator.GetBytes 32)

    let config =
        settings.Psk |> Option.fold (fun (c: ServerConfig) k -> c.WithPsk k) config

    match Connection.Server config with
    | Error e -> failwithf "server configuration: %A" e
    | Ok(struct (state, _)) ->
        p.State <- state

        [
            // The first flight: preamble and a whole first frame, without a byte from us (P1); a canonical name (P4).
            p.ReadUntil(
                (fun () ->
                    match Preamble.firstFlight (ReadOnlySpan p.Received) with
                    | Ok(Decoded _) -> true
                    | Error _ -> true
                    | _ -> false),
                false
            )

            let flight = p.Received
            let complete = Preamble.firstFlight (ReadOnlySpan flight)

            yield
                finding
                    "P1"
                    "client: first flight"
                    (match complete with
                     | Ok(Decoded _) -> true
                     | _ -> false)
                    (sprintf "preamble and first frame within %O without an answer: %A" settings.Timeout complete)

            match Preamble.decode (ReadOnlySpan flight) with
            | Ok(Decoded(preamble, _)) ->
                let canonical =
                    match ProtocolName.parse preamble.ProtocolName with
                    | Ok n -> ProtocolName.toString n = preamble.ProtocolName
                    | Error _ -> false

                yield finding "P4" "client: first flight" canonical $"the name {preamble.ProtocolName} is canonical"
            | other -> yield finding "P4" "client: first flight" false (sprintf "preamble: %A" other)

            // The handshake as the core drives it.
            p.Write(p.Step(Input.Received(ReadOnlyMemory flight))) |> ignore
            let buffer: byte[] = Array.zeroCreate 65536
            let deadline = DateTime.UtcNow + settings.Timeout

            while not p.Completed && p.Failure.IsNone && not p.Ended && DateTime.UtcNow < deadline do
                if p.Socket.Poll(100_000, SelectMode.SelectRead) then
                    let n = p.Socket.Receive buffer

                    if n = 0 then
                        p.Step Input.EndOfInput |> ignore
                    else
                        p.Write(p.Step(Input.Received(ReadOnlyMemory(buffer[.. n - 1])))) |> ignore

            yield
                finding
                    "P6"
                    "client: handshake"
                    p.Completed
                    (sprintf "the client's payload and handshake: %A" p.Failure)

            if p.Completed then
                match case with
                | 0 ->
                    // Read the client's messages (stdin of `hybrid connect`) up to its end-of-data, then close.
                    p.ReadUntil(
                        (fun () -> p.Delivered |> List.exists (fun m -> m.Length = 0) || p.Failure.IsSome),
                        true
                    )

                    p.Write(p.Step Input.CloseRequested) |> ignore
                    p.ReadUntil((fun () -> p.Closed || p.Failure.IsSome), true)

                    yield
                        finding
                            "P11"
                            "client: good session"
                            p.Closed
                            (sprintf "our Close (Normal) is answered with the client's Close: %A" p.Failure)
                | 2 ->
                    // A Close whose reason byte 00 is written out: the client answers with its Close, as after Normal.
                    yield!
                        withTraffic p "P8" "client: Close with reason byte 00" (fun start -> [
                            let close =
                                List.exactlyOne (sealRaw settings start.Send [ RecordType.Close, [| 0uy |] ])

                            p.Write close |> ignore

                            p.ReadUntil((fun () -> p.Closed || p.Failure.IsSome || p.Ended), true)

                            finding
                                "P8"
                                "client: Close with reason byte 00"
                                (p.Closed && p.Failure.IsNone)
                                (sprintf "expected the client's Close (Normal): %A" p.Failure)
                        ])
                | 3 ->
                    // A message one byte over the limit the client announced: Close (MessageTooLarge).
                    yield!
                        withTraffic p "P16" "client: message over the announced limit" (fun start -> [
                            // First the client's own messages (its stdin, then end-of-data), so that what arrives
                            // afterwards is its answer.
                            p.ReadUntil(
                                (fun () -> p.Delivered |> List.exists (fun m -> m.Length = 0) || p.Failure.IsSome),
                                true
                            )

                            let total = int64 start.Send.PeerMaxMessageSize + 1L
                            writeUntilAnswered p (sealRaw settings start.Send (overLimit total))
                            p.ReadUntil((fun () -> p.Failure.IsSome || p.Closed), true)

                            finding
                                "P16"
                                "client: message over the announced limit"
                                (closedByPeer p = Some CloseReason.MessageTooLarge)
                                (sprintf "%d bytes: expected Close (MessageTooLarge): %A" total p.Failure)
                        ])
                | _ ->
                    yield!
                        withTraffic p "P12" "client: tampered record" (fun start -> [
                            let _, record = sealAll start.Send (message 30)
                            record[5] <- record[5] ^^^ 1uy
                            p.Write record |> ignore
                            p.ReadUntil((fun () -> p.Failure.IsSome || p.Closed), true)

                            finding
                                "P12"
                                "client: tampered record"
                                (closedByPeer p = Some CloseReason.ProtocolViolation)
                                (sprintf "expected Close (ProtocolViolation): %A" p.Failure)
                        ])
        ]

/// How many connections a client under test must make (one per case).
let clientCases = 4

/// Listens on `listener` and serves `clientCases` connections of a client under test, one case each.
let againstClient (listener: TcpListener) (settings: Settings) (cancel: CancellationToken) : Finding list = [
    // One server key for every connection, so a client that trusts on first use meets the same key again.
    let serverKey = settings.Key |> Option.defaultWith SodiumSuite.GenerateEphemeral

    for case in 0 .. clientCases - 1 do
        let accept = listener.AcceptSocketAsync(cancel).AsTask()

        if accept.Wait(TimeSpan.FromSeconds 60.0) then
            yield! serveOne accept.Result settings serverKey case
        else
            yield finding "P1" $"client: connection {case + 1}" false "the client did not connect within 60 s"
]
