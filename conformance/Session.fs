/// The runner's side of one connection: its settings, a client as `Connection.Client` starts it, the TCP peer
/// that feeds the core's `Connection.Step` and keeps what arrived, the handshake written as the core drives it,
/// and the findings the cases report.
module HybridProtocol.Conformance.Session

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

/// One judged rule of one case.
type Finding = {
    Rule: string
    Case: string
    Passed: bool
    Detail: string
}

/// What the runner asks for and offers.
type Settings = {
    /// The application protocol the IUT speaks (`hybrid` for `hybrid serve`/`connect`).
    ApplicationProtocol: string
    /// The suite: `ChaChaPoly_BLAKE2b`, `AESGCM_SHA256` or `AEGIS256_BLAKE2b`.
    Suite: string
    /// Hybrid (hfs, ML-KEM-768) names, or classical ones.
    Hybrid: bool
    /// The IUT echoes each message (`hybrid serve --echo`); the runner then checks what it delivered.
    Echo: bool
    /// How long the runner waits for an answer.
    Timeout: TimeSpan
    /// The runner's own static key: its client identity against a server (XX, IK), its server key against a client
    /// (a fresh one when None).
    Key: DhKeyPair option
    /// The server's key, pinned (NK, IK); None: learned in the handshake and accepted (NX, XX).
    ServerKey: DhPublicKey option
    /// A pre-shared key (the psk twins: NKpsk2, NXpsk2, XXpsk3, IKpsk2).
    Psk: byte array option
}

let defaults = {
    ApplicationProtocol = "hybrid"
    Suite = "ChaChaPoly_BLAKE2b"
    Hybrid = true
    Echo = true
    Timeout = TimeSpan.FromSeconds 5.0
    Key = None
    ServerKey = None
    Psk = None
}

let suiteName (s: string) =
    match s with
    | "AESGCM_SHA256" -> {
        Dh = DhName.Curve25519
        Cipher = CipherName.AESGCM
        Hash = HashName.SHA256
      }
    | "AEGIS256_BLAKE2b" -> {
        Dh = DhName.Curve25519
        Cipher = CipherName.AEGIS256
        Hash = HashName.BLAKE2b
      }
    | _ -> {
        Dh = DhName.Curve25519
        Cipher = CipherName.ChaChaPoly
        Hash = HashName.BLAKE2b
      }

/// The name the runner as a client sends: NX (trust on first use), NK with a pinned server key, XX or IK with a
/// key of its own, each as its psk twin with a pre-shared key and its hfs twin when hybrid.
let clientName (settings: Settings) =
    Policy.clientProtocol
        {
            ServerKey = if settings.ServerKey.IsSome then Pinned else Learned
            ClientIdentity = settings.Key.IsSome
            PreSharedKey = settings.Psk.IsSome
            Hybrid = settings.Hybrid
        }
        (suiteName settings.Suite)
    |> Result.defaultWith (fun e -> failwithf "no protocol name: %A" e)

let kemSeed () = RandomNumberGenerator.GetBytes 64

/// A fresh client of this project, as `Connection.Client` starts it.
let newClient (settings: Settings) (maxRecordData: int) (rekeyAfter: int64) =
    let name = clientName settings

    let config =
        ClientConfig
            .Create(name, SodiumSuite.For name, SodiumSuite.GenerateEphemeral(), settings.ApplicationProtocol)
            .WithMaxRecordData(maxRecordData)
            .WithRekey(
                {
                    AfterRecords = rekeyAfter
                    AfterBytes = 1L <<< 30
                }
            )

    let config =
        if name.IsHfs then
            config.WithKemKeyPair(SodiumKem.MlKem768.GENERATE_KEM_KEYPAIR.Invoke(ReadOnlySpan(kemSeed ())))
        else
            config

    let config =
        settings.Key
        |> Option.fold (fun (c: ClientConfig) k -> c.WithLocalStatic k) config

    let config =
        settings.ServerKey
        |> Option.fold (fun (c: ClientConfig) k -> c.WithRemoteStatic k) config

    let config =
        settings.Psk |> Option.fold (fun (c: ClientConfig) k -> c.WithPsk k) config

    match Connection.Client config with
    | Ok(struct (state, outputs)) -> state, outputs
    | Error e -> failwithf "client configuration: %A" e

/// One TCP connection and this project's side of it: the core's state, what it reported, what arrived.
type Peer(socket: Socket, timeout: TimeSpan) =
    let mutable state: Connection option = None
    let reports = Collections.Generic.List<Output>()
    let received = Collections.Generic.List<byte>()
    let mutable ended = false

    member _.Socket = socket
    member _.Reports = List.ofSeq reports
    member _.Received = received.ToArray()
    member _.Ended = ended

    member _.State
        with get () = state.Value
        and set s = state <- Some s

    /// Writes bytes to the IUT; false when the IUT has already gone.
    member _.Write(bytes: byte[]) =
        try
            socket.Send bytes |> ignore
            true
        with :? SocketException ->
            false

    /// Steps the core; answers VerifyPeerKey with accept; returns what it transmitted (the caller decides to write it).
    member p.Step(input: Input) =
        let transmitted = Collections.Generic.List<byte>()
        let mutable queue = [ input ]

        while not queue.IsEmpty do
            match state with
            | None -> queue <- []
            | Some s ->
                let struct (next, outputs) = Connection.Step(s, queue.Head)
                state <- Some next
                queue <- queue.Tail

                for o in outputs do
                    match o with
                    | Output.Transmit b -> transmitted.AddRange b
                    | Output.VerifyPeerKey _ -> queue <- queue @ [ Input.PeerKeyVerdict true ]
                    | o -> reports.Add o

        transmitted.ToArray()

    /// Reads until `enough` holds, the IUT closes (EndOfInput to the core when `feed`) or the timeout passes.
    member p.ReadUntil(enough: unit -> bool, feed: bool) =
        let deadline = DateTime.UtcNow + timeout
        let buffer: byte[] = Array.zeroCreate 65536

        while not (enough ()) && not ended && DateTime.UtcNow < deadline do
            let wait = max 1 (int (deadline - DateTime.UtcNow).TotalMilliseconds)

            if socket.Poll(wait * 1000, SelectMode.SelectRead) then
                let n =
                    try
                        socket.Receive buffer
                    with :? SocketException ->
                        0

                if n = 0 then
                    ended <- true

                    if feed then
                        p.Step Input.EndOfInput |> ignore
                else
                    received.AddRange(buffer[.. n - 1])

                    if feed then
                        p.Step(Input.Received(ReadOnlyMemory(buffer[.. n - 1]))) |> ignore

    /// Reads (without stepping the core) for `duration` or until the IUT closes.
    member _.ReadFor(duration: TimeSpan) =
        let deadline = DateTime.UtcNow + duration
        let buffer: byte[] = Array.zeroCreate 65536

        while not ended && DateTime.UtcNow < deadline do
            if socket.Poll(50_000, SelectMode.SelectRead) then
                let n = socket.Receive buffer

                if n = 0 then
                    ended <- true
                else
                    received.AddRange(buffer[.. n - 1])

    member p.Completed = reports |> Seq.exists (fun o -> o.IsHandshakeCompleted)

    member p.Failure =
        reports
        |> Seq.tryPick (function
            | Output.Failed e -> Some e
            | _ -> None)

    member p.Closed = reports |> Seq.exists (fun o -> o.IsClosed)

    member p.Delivered =
        reports
        |> Seq.choose (function
            | Output.Deliver m -> Some m
            | _ -> None)
        |> List.ofSeq

    interface IDisposable with
        member _.Dispose() = socket.Dispose()

let connect (endPoint: IPEndPoint) (timeout: TimeSpan) =
    let socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
    socket.NoDelay <- true
    socket.Connect endPoint
    new Peer(socket, timeout)

/// A handshake that writes what the core transmits as it goes.
let handshakeWriting (p: Peer) (settings: Settings) (maxRecordData: int) (rekeyAfter: int64) =
    let state, outputs = newClient settings maxRecordData rekeyAfter
    p.State <- state

    for o in outputs do
        match o with
        | Output.Transmit b -> p.Write b |> ignore
        | _ -> ()

    let deadline = DateTime.UtcNow + TimeSpan.FromSeconds 10.0
    let buffer: byte[] = Array.zeroCreate 65536

    while not p.Completed && p.Failure.IsNone && not p.Ended && DateTime.UtcNow < deadline do
        if p.Socket.Poll(100_000, SelectMode.SelectRead) then
            let n =
                try
                    p.Socket.Receive buffer
                with :? SocketException ->
                    0

            if n = 0 then
                p.Step Input.EndOfInput |> ignore
            else
                p.Write(p.Step(Input.Received(ReadOnlyMemory(buffer[.. n - 1])))) |> ignore

    match Connection.Traffic p.State with
    | Ok start -> Some start
    | Error _ -> None

/// Writes frames until the peer answers (or takes no more): a case that floods records stops at its first sign.
let writeUntilAnswered (p: Peer) (frames: byte array list) =
    let mutable answered = false

    for frame in frames do
        if not answered then
            answered <- not (p.Write frame) || p.Socket.Poll(0, SelectMode.SelectRead)

let finding rule case passed detail = {
    Rule = rule
    Case = case
    Passed = passed
    Detail = detail
}

/// The reason of the IUT's Close, when it closed with one.
let closedByPeer (p: Peer) =
    match p.Failure with
    | Some(ClosedByPeer reason) -> Some reason
    | _ -> None

let closedText (p: Peer) =
    if p.Ended then "closed" else "did not close"

let message (n: int) =
    Array.init n (fun i -> byte (0x41 + i % 26))
