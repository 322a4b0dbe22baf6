/// An in-memory two-party driver for the connection state machine (h11 tests/helpers.py `ConnectionPair`):
/// two `Connection` values, two byte pipes, and helpers to move bytes in any chunking, tamper with them or
/// cut them. The driver only feeds the public API; it does not know the protocol.
module HybridProtocol.Tests.WireDriver

open System
open System.Collections.Generic
open HybridProtocol.Core
open HybridProtocol.Core.Noise
open HybridProtocol.Core.Wire
open HybridProtocol.Crypto
open HybridProtocol.Tests.TestSupport

/// A fixed X25519 key pair per label (the core never generates keys; tests choose them).
let keyPair (label: int) =
    importKeyPair (Array.init 32 (fun i -> byte (label * 37 + i * 11 + 5)))

let psk = Array.init 32 (fun i -> byte (200 - i))

let parse name =
    ProtocolName.parse name
    |> Result.defaultWith (fun e -> failwithf "%s: %A" name e)

let suiteFor =
    Func<ProtocolName, CryptoSuite>(fun (name: ProtocolName) -> NSecSuite.For name)

let initiatorSendsStatic (name: string) =
    (parse name).Pattern.Messages
    |> List.indexed
    |> List.exists (fun (i, tokens) -> i % 2 = 0 && List.contains S tokens)

let serverKeyPreKnown (name: string) =
    List.contains S (parse name).Pattern.ResponderPreMessage

/// Whether a connection is still in its handshake (the phases `Connection.ReceiveHandshake` reads for).
let inHandshake (state: Connection) =
    match state with
    | AwaitingPreamble _
    | AwaitingStatus _
    | Handshaking _
    | AwaitingVerdict _ -> true
    | Open _
    | Closing _
    | Closed
    | Failed _ -> false

/// One end: its state and everything it produced. With `inPlace`, it drives the handshake as the facade does: the
/// bytes received go to a buffer of its own, `Connection.ReceiveHandshake` reads them there and says how many it
/// consumed, and what it leaves after the handshake's last frame goes to `Step` (the engine).
type Party(name: string, initial: Connection, initialOutputs: Output list, inPlace: bool) =
    let buffer = List<byte>()
    let mutable handshakeConsumed = 0
    let outbox = List<byte>()
    let delivered = List<byte[]>()
    let deliveredAt = List<int>()
    let events = List<Output>()
    let rejections = List<WireError>()
    let retired = List<IAeadKey>()
    let mutable state = initial
    let mutable received = 0
    let mutable failure: WireError option = None
    let mutable completed: HandshakeInfo option = None
    let mutable closed = false
    let mutable verdict: DhPublicKey -> bool = fun _ -> true
    let mutable verified: DhPublicKey list = []

    /// Records the outputs; returns the keys awaiting a verdict.
    let record (outputs: Output list) = [
        for o in outputs do
            events.Add o

            match o with
            | Output.Transmit bytes -> outbox.AddRange bytes
            | Output.Deliver message ->
                delivered.Add message
                deliveredAt.Add received
            | Output.VerifyPeerKey key ->
                verified <- verified @ [ key ]
                yield key
            | Output.HandshakeCompleted info -> completed <- Some info
            | Output.KeyRetired key ->
                // Disposing at once proves the core never uses a key after retiring it (NSec would throw).
                retired.Add key
                key.Dispose()
            | Output.Closed -> closed <- true
            | Output.Failed e -> failure <- Some e
            | Output.Rejected e -> rejections.Add e
    ]

    do record initialOutputs |> ignore

    new(name, initial, initialOutputs) = Party(name, initial, initialOutputs, false)

    member _.Name = name

    /// In place: the bytes `ReceiveHandshake` consumed (the peer's handshake bytes, never one behind them).
    member _.HandshakeConsumed = handshakeConsumed

    /// In place: bytes received and not consumed yet.
    member _.Buffered = buffer.Count
    member _.State = state
    member _.Outbox = outbox
    member _.Delivered = List.ofSeq delivered
    member _.DeliveredAt = List.ofSeq deliveredAt
    member _.Events = List.ofSeq events
    member _.Rejections = List.ofSeq rejections
    member _.Retired = List.ofSeq retired
    member _.Received = received
    member _.Failure = failure
    member _.Completed = completed
    member _.CleanlyClosed = closed
    member _.Verified = verified

    member _.Verdict
        with set (f: DhPublicKey -> bool) = verdict <- f

    /// Steps the connection, answering VerifyPeerKey requests with the verdict function.
    member p.Input(input: Input) =
        let mutable queue = [ input ]

        while not queue.IsEmpty do
            let next = queue.Head

            match next with
            | Input.Received bytes -> received <- received + bytes.Length
            | _ -> ()

            match next with
            | Input.Received bytes when inPlace && (inHandshake state || buffer.Count > 0) ->
                buffer.AddRange(bytes.ToArray())
                p.ReadBuffer()
                queue <- queue.Tail
            | _ ->
                let struct (nextState, outputs) = Connection.Step(state, next)
                state <- nextState
                let keys = record outputs

                queue <- queue.Tail @ [ for key in keys -> Input.PeerKeyVerdict(verdict key) ]

                if inPlace && buffer.Count > 0 && not keys.IsEmpty then
                    p.ReadBuffer()

    /// In place: lets `ReceiveHandshake` read the buffer (again after each verdict), then gives the engine the rest.
    member private p.ReadBuffer() =
        let mutable reading = true

        while reading && inHandshake state do
            let struct (nextState, consumed, outputs) =
                Connection.ReceiveHandshake(state, ArraySegment(buffer.ToArray()))

            state <- nextState
            buffer.RemoveRange(0, consumed)
            handshakeConsumed <- handshakeConsumed + consumed

            match record outputs with
            | [] -> reading <- false
            | keys ->
                for key in keys do
                    let struct (nextState, outputs) =
                        Connection.Step(state, Input.PeerKeyVerdict(verdict key))

                    state <- nextState
                    record outputs |> ignore

        match state with
        | Open _
        | Closing _ when buffer.Count > 0 ->
            let rest = buffer.ToArray()
            buffer.Clear()

            let struct (nextState, outputs) =
                Connection.Step(state, Input.Received(ReadOnlyMemory rest))

            state <- nextState
            record outputs |> ignore
        | _ when not (inHandshake state) -> buffer.Clear()
        | _ -> ()

    member p.Send(message: byte[]) =
        p.Input(Input.SendMessage(ReadOnlyMemory message))

    /// Takes at most `count` transmitted bytes not yet moved.
    member _.DrainSome(count: int) =
        let n = min count outbox.Count
        let bytes = outbox.GetRange(0, n).ToArray()
        outbox.RemoveRange(0, n)
        bytes

    /// Takes everything transmitted and not yet moved.
    member _.Drain() =
        let bytes = outbox.ToArray()
        outbox.Clear()
        bytes

/// How bytes are cut into reads on their way to the other end.
type Chunking =
    | Whole
    | OneByte
    | RandomSplits of seed: int

let chunk (chunking: Chunking) (bytes: byte[]) =
    match chunking with
    | Whole -> if bytes.Length = 0 then [] else [ bytes ]
    | OneByte -> [ for b in bytes -> [| b |] ]
    | RandomSplits seed ->
        let rng = Random(seed + bytes.Length)
        let mutable offset = 0

        [
            while offset < bytes.Length do
                let n =
                    min (bytes.Length - offset) (1 + rng.Next(if rng.Next 4 = 0 then 200 else 8))

                yield bytes[offset .. offset + n - 1]
                offset <- offset + n
        ]

/// One direction of the wire: counts bytes, may flip bits or cut the stream.
type Link() =
    let mutable offset = 0
    let mutable tamper: int -> byte -> byte = fun _ b -> b
    let mutable cutAt = Int32.MaxValue
    let carried = List<byte>()

    member _.Offset = offset
    member _.Carried = carried.ToArray()

    member _.Tamper
        with set f = tamper <- f

    member _.CutAt
        with set n = cutAt <- n

    /// What the far end receives of `bytes`.
    member _.Carry(bytes: byte[]) =
        let kept = bytes |> Array.truncate (max 0 (cutAt - offset))
        let out = kept |> Array.mapi (fun i b -> tamper (offset + i) b)
        offset <- offset + bytes.Length
        carried.AddRange out
        out

/// Client, server and the two links between them.
type Pair = {
    Client: Party
    Server: Party
    ToServer: Link
    ToClient: Link
}

module Pair =
    /// Both ends; with `inPlace`, each reads its handshake from its own buffer (`Connection.ReceiveHandshake`).
    let createWith (inPlace: bool) (client: Result<struct (Connection * Output list), WireError>) server =
        let make name result =
            match result with
            | Ok(struct (state, outputs)) -> Party(name, state, outputs, inPlace)
            | Error e -> failwithf "%s config refused: %A" name e

        {
            Client = make "client" client
            Server = make "server" (server: Result<struct (Connection * Output list), WireError>)
            ToServer = Link()
            ToClient = Link()
        }

    let create (client: Result<struct (Connection * Output list), WireError>) server = createWith false client server

    /// Moves pending bytes both ways until neither end has anything to send (bounded).
    let pump (chunking: Chunking) (pair: Pair) =
        let mutable rounds = 0

        while (pair.Client.Outbox.Count > 0 || pair.Server.Outbox.Count > 0)
              && rounds < 10_000 do
            rounds <- rounds + 1

            for piece in chunk chunking (pair.ToServer.Carry(pair.Client.Drain())) do
                pair.Server.Input(Input.Received(ReadOnlyMemory piece))

            for piece in chunk chunking (pair.ToClient.Carry(pair.Server.Drain())) do
                pair.Client.Input(Input.Received(ReadOnlyMemory piece))

        if rounds >= 10_000 then
            failwith "the pair never went quiet"

    /// Both transports reach end of input (after the last bytes moved).
    let endOfInput (pair: Pair) =
        pair.Client.Input Input.EndOfInput
        pair.Server.Input Input.EndOfInput

/// Fixed Noise HFS inputs (the core never draws randomness; tests choose it): the client's ML-KEM-768 key pair
/// for "e1" and the server's encapsulation randomness for "ekem1".
let kemKeyPair () =
    SodiumKem.MlKem768.GENERATE_KEM_KEYPAIR.Invoke(ReadOnlySpan(Array.init 64 (fun i -> byte (i * 5 + 1))))

let encapsulationRandomness = Array.init 32 (fun i -> byte (i * 3 + 7))

/// Configurations for a protocol name with the test keys: client static 1, server static 2, ephemerals 3, 4;
/// the server's key is pinned where the pattern has it as a pre-message; PSK where the pattern has psk; the
/// KEM inputs above for an hfs name (the server always has its randomness, as the facade's does).
let configs (name: string) =
    let protocol = parse name
    let suite = NSecSuite.For protocol

    let client =
        ClientConfig.Create(protocol, suite, keyPair 3, "test/1")
        |> fun c ->
            if initiatorSendsStatic name then
                c.WithLocalStatic(keyPair 1)
            else
                c
        |> fun c ->
            if serverKeyPreKnown name then
                c.WithRemoteStatic((keyPair 2).Public)
            else
                c
        |> fun c -> if protocol.Pattern.IsPsk then c.WithPsk psk else c
        |> fun c ->
            if protocol.IsHfs then
                c.WithKemKeyPair(kemKeyPair ())
            else
                c

    let server =
        ServerConfig
            .Create([ protocol ], suiteFor, keyPair 4, "test/1")
            .WithLocalStatic(keyPair 2)
            .WithEncapsulationRandomness(encapsulationRandomness)
        |> fun s -> if protocol.Pattern.IsPsk then s.WithPsk psk else s

    client, server

let pairOf (client: ClientConfig) (server: ServerConfig) =
    Pair.create (Connection.Client client) (Connection.Server server)

/// The patterns the facade offers, plus psk variants.
let protocols = [
    "Noise_NN_25519_ChaChaPoly_BLAKE2b"
    "Noise_NK_25519_ChaChaPoly_BLAKE2b"
    "Noise_NX_25519_ChaChaPoly_BLAKE2b"
    "Noise_XX_25519_ChaChaPoly_BLAKE2b"
    "Noise_IK_25519_ChaChaPoly_BLAKE2b"
    "Noise_XX_25519_AESGCM_SHA256"
    "Noise_IK_25519_AESGCM_SHA512"
    "Noise_NNpsk0_25519_ChaChaPoly_BLAKE2b"
    "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b"
    "Noise_IKpsk2_25519_ChaChaPoly_SHA256"
    "Noise_NKpsk0_25519_AESGCM_BLAKE2b"
    // Noise HFS: the facade's hybrid defaults and a psk variant.
    "Noise_NKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b"
    "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b"
    "Noise_IKhfs+psk2_25519+MLKEM768_AESGCM_SHA256"
]

/// The error an end of input without Close gives `party` (the client of `name` when `isClient`): `Truncated` once
/// its handshake completed, else the core's reading of a cut handshake (a client that pinned the server's key
/// reads it as its key or pre-shared key not accepted).
let truncationOf (name: string) (isClient: bool) (party: Party) =
    if party.Completed.IsSome then
        Truncated
    elif isClient && serverKeyPreKnown name then
        HandshakeTruncated HandshakeTruncation.PinnedKeyNotAccepted
    else
        HandshakeTruncated HandshakeTruncation.PeerBrokeOff
