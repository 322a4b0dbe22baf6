/// The conformance runner: this project's side of a connection, driven step by step through the core's
/// `Connection.Step` and transport engine (`SendHalf`), against an implementation under test (IUT) over TCP on
/// 127.0.0.1. Each case sends good or deliberately bad bytes and judges the IUT's answer against the rules of
/// specs/PROTOCOL.md §12 (P1..), which it names in its findings.
module HybridProtocol.Conformance.Runner

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

let private suiteName (s: string) =
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

let private kemSeed () = RandomNumberGenerator.GetBytes 64

/// A fresh client of this project, as `Connection.Client` starts it.
let private newClient (settings: Settings) (maxRecordData: int) (rekeyAfter: int64) =
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

let private connect (endPoint: IPEndPoint) (timeout: TimeSpan) =
    let socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp)
    socket.NoDelay <- true
    socket.Connect endPoint
    new Peer(socket, timeout)

/// Seals a whole message with the engine, in records of the half's size; returns the next half and the frames.
let private seal (half: SendHalf) (message: byte[]) (offset: int) (room: int) =
    let destination = Array.zeroCreate room

    match SendHalf.Message(half, ReadOnlySpan message, offset, Span destination) with
    | Wrote(next, written, consumed, finished, _) -> next, destination[.. written - 1], consumed, finished
    | other -> failwithf "the engine refused (offset %d of %d): %A" offset message.Length other

/// Seals `message` from `offset` to its end: the engine stops at each key update, so this calls it until finished.
let private sealFrom (half: SendHalf) (message: byte[]) (offset: int) =
    let room = int (SendHalf.MessageLength(half, message.Length))
    let output = Collections.Generic.List<byte>()
    let mutable half = half
    let mutable offset = offset
    let mutable finished = false

    while not finished do
        let next, bytes, consumed, fin = seal half message offset room
        output.AddRange bytes
        half <- next
        offset <- consumed
        finished <- fin

    half, output.ToArray()

let private sealAll (half: SendHalf) (message: byte[]) = sealFrom half message 0

let private sealClose (half: SendHalf) (reason: CloseReason) =
    let destination = Array.zeroCreate (SendHalf.ControlLength half)

    match SendHalf.Close(half, reason, Span destination) with
    | Wrote(next, written, _, _, _) -> next, destination[.. written - 1]
    | other -> failwithf "the engine refused: %A" other

/// The runner's own record sealer, for records the engine refuses to seal (a message over the peer's announced limit,
/// a Close whose reason byte is written out as 00): each record's plaintext from `Record.encode`, encrypted with
/// `CipherState.EncryptWithAd` (Noise §5.3: "EncryptWithAd(zerolen, payload)") under the half's key from its next
/// nonce, and framed (`Frame.encode`). The half itself is not advanced: use it for nothing after this.
let private sealRaw (settings: Settings) (half: SendHalf) (records: (RecordType * byte array) list) =
    let suite = suiteName settings.Suite
    let cipher = (SodiumSuite.For(suite.Cipher, suite.Hash)).Cipher

    let mutable state =
        CipherState.InitializeKey cipher half.Key.Value
        |> CipherState.SetNonce half.Nonce

    [
        for recordType, data in records do
            let plaintext =
                Record.encode { Type = recordType; Data = data }
                |> Result.defaultWith (fun e -> failwithf "record: %A" e)

            let body = Array.zeroCreate (CipherState.ciphertextLength state plaintext.Length)

            state <-
                CipherState.EncryptWithAd(state, ReadOnlySpan.Empty, ReadOnlySpan plaintext, Span body)
                |> Result.defaultWith (fun e -> failwithf "encrypt: %A" e)

            Frame.encode (ReadOnlySpan body)
            |> Result.defaultWith (fun e -> failwithf "frame: %A" e)
    ]

/// The records of one message of `total` bytes, 60,000 bytes of data each (Data, then EndOfMessage).
let private overLimit (total: int64) = [
    let chunk = 60_000

    for offset in 0L .. int64 chunk .. total - 1L do
        let length = int (min (int64 chunk) (total - offset))
        let last = offset + int64 length = total
        (if last then RecordType.EndOfMessage else RecordType.Data), Array.create length 0x41uy
]

/// A handshake that writes what the core transmits as it goes.
let private handshakeWriting (p: Peer) (settings: Settings) (maxRecordData: int) (rekeyAfter: int64) =
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

let private finding rule case passed detail = {
    Rule = rule
    Case = case
    Passed = passed
    Detail = detail
}

/// The reason of the IUT's Close, when it closed with one.
let private closedByPeer (p: Peer) =
    match p.Failure with
    | Some(ClosedByPeer reason) -> Some reason
    | _ -> None

let private closedText (p: Peer) =
    if p.Ended then "closed" else "did not close"

let private message (n: int) =
    Array.init n (fun i -> byte (0x41 + i % 26))

/// The cases against a server under test; each opens its own connection.
let againstServer (endPoint: IPEndPoint) (settings: Settings) : Finding list = [
    let name = ProtocolName.toString (clientName settings)

    // 1. A good session: the first flight, then the status; a message each way; the Close exchange.
    use p = connect endPoint settings.Timeout
    let state, outputs = newClient settings 65502 (1L <<< 20)
    p.State <- state

    let flight =
        outputs
        |> List.pick (function
            | Output.Transmit b -> Some b
            | _ -> None)

    let preambleLength =
        match Preamble.decode (ReadOnlySpan flight) with
        | Ok(Decoded(_, used)) -> used
        | other -> failwithf "preamble: %A" other

    p.Write flight[.. preambleLength - 1] |> ignore
    // Half a second with the preamble alone (the server's first-message deadline is longer, P2).
    p.ReadFor(TimeSpan.FromSeconds 0.5)
    let early = p.Received.Length

    yield
        finding
            "P1"
            "good session"
            (early = 0 && not p.Ended)
            (if early = 0 then
                 "nothing answered before the first frame"
             else
                 $"the server answered the preamble alone ({early} bytes) or closed")

    // The rest of the first flight, then the handshake as the core drives it.
    p.Write flight[preambleLength..] |> ignore
    let buffer: byte[] = Array.zeroCreate 65536
    let deadline = DateTime.UtcNow + settings.Timeout

    while not p.Completed && p.Failure.IsNone && DateTime.UtcNow < deadline do
        if p.Socket.Poll(100_000, SelectMode.SelectRead) then
            let n = p.Socket.Receive buffer

            if n = 0 then
                p.Step Input.EndOfInput |> ignore
            else
                p.Write(p.Step(Input.Received(ReadOnlyMemory(buffer[.. n - 1])))) |> ignore

    yield finding "P1" "good session" p.Completed (sprintf "handshake of %s: %A" name p.Failure)

    if p.Completed then
        let hello = Encoding.ASCII.GetBytes "conformance: hello"
        p.Write(p.Step(Input.SendMessage(ReadOnlyMemory hello))) |> ignore

        if settings.Echo then
            p.ReadUntil((fun () -> not p.Delivered.IsEmpty || p.Failure.IsSome), true)

            yield
                finding
                    "P9"
                    "good session"
                    (p.Delivered = [ hello ])
                    "a whole message is delivered (echoed) after its EndOfMessage"

        p.Write(p.Step Input.CloseRequested) |> ignore
        p.ReadUntil((fun () -> p.Closed || p.Failure.IsSome), true)

        yield
            finding
                "P11"
                "good session"
                p.Closed
                (sprintf "our Close (Normal) is answered with the server's Close: %A" p.Failure)

    // 2. A non-canonical name (the pattern in lower case), then a first frame: refusal 02.
    use p = connect endPoint settings.Timeout

    let lower =
        let parts = name.Split '_'
        parts[1] <- parts[1].ToLowerInvariant()
        String.Join("_", parts)

    match Preamble.encode { ProtocolName = lower } with
    | Ok preamble ->
        let frame = Array.append [| 0uy; 32uy |] (RandomNumberGenerator.GetBytes 32)
        p.Write(Array.append preamble frame) |> ignore
        p.ReadUntil((fun () -> p.Ended), false)
        let first = if p.Received.Length > 0 then int p.Received[0] else -1

        yield
            finding
                "P4"
                "non-canonical name"
                (first = 2)
                $"{lower}: the server's first byte is {first:x2} (expected 02 MalformedPreamble)"
    | Error e -> failwithf "preamble: %A" e

    // 3. A handshake payload of version 02 (the client's cleartext payload of NX message 1; in NK and IK it is
    // encrypted to the server's key, in XX it travels in message 3, so this case runs in NX and NXpsk2 only).
    if settings.ServerKey.IsNone && settings.Key.IsNone then
        use p = connect endPoint settings.Timeout
        let state, outputs = newClient settings 65502 (1L <<< 20)
        p.State <- state

        let flight =
            outputs
            |> List.pick (function
                | Output.Transmit b -> Some b
                | _ -> None)

        let payloadLength = 1 + (3 + settings.ApplicationProtocol.Length) + (3 + 4)
        let tampered = Array.copy flight
        tampered[tampered.Length - payloadLength] <- 2uy
        p.Write tampered |> ignore
        p.ReadUntil((fun () -> p.Ended), false)
        let answer = p.Received

        yield
            finding
                "P6"
                "payload version 02"
                (p.Ended && answer.Length <= 1)
                $"the server wrote {answer.Length} bytes ({Convert.ToHexStringLower(answer[.. min 7 (answer.Length - 1)])}) and {closedText p}: expected no handshake message"

        yield
            finding
                "P13"
                "payload version 02"
                (p.Ended && (answer.Length = 0 || answer = [| 0uy |]))
                "a handshake failing before keys exist: nothing but the status, then the TCP close"

    // 4. A tampered record after the handshake: the server closes with ProtocolViolation.
    use p = connect endPoint settings.Timeout

    match handshakeWriting p settings 65502 (1L <<< 20) with
    | Some start ->
        let _, record = sealAll start.Send (message 100)
        record[10] <- record[10] ^^^ 0x40uy
        p.Write record |> ignore
        p.ReadUntil((fun () -> p.Failure.IsSome || p.Closed), true)

        yield
            finding
                "P12"
                "tampered record"
                (closedByPeer p = Some CloseReason.ProtocolViolation)
                (sprintf "expected Close (ProtocolViolation) before the end: %A" p.Failure)
    | None -> yield finding "P12" "tampered record" false "the handshake failed"

    // 6. A key update after every record: every message still arrives.
    use p = connect endPoint settings.Timeout

    match handshakeWriting p settings 16 1L with
    | Some start ->
        let m = message 100
        let _, records = sealAll start.Send m
        p.Write records |> ignore

        if settings.Echo then
            p.ReadUntil((fun () -> not p.Delivered.IsEmpty || p.Failure.IsSome), true)

            yield
                finding
                    "P10"
                    "a KeyUpdate after every record"
                    (p.Delivered = [ m ] && p.Failure.IsNone)
                    (sprintf "the message echoed whole: %A" p.Failure)
    | None -> yield finding "P10" "a KeyUpdate after every record" false "the handshake failed"

    // 7. Close (Normal) between the Data records of a message: a clean end, the partial message dropped.
    use p = connect endPoint settings.Timeout

    match handshakeWriting p settings 16 (1L <<< 20) with
    | Some start ->
        let m = message 40
        let room = SendHalf.RecordRoom(start.Send, m.Length)
        let half, first, _, _ = seal start.Send m 0 room
        let _, close = sealClose half CloseReason.Normal
        p.Write(Array.append first close) |> ignore
        p.ReadUntil((fun () -> p.Closed || p.Failure.IsSome), true)

        yield
            finding
                "P9"
                "Close between Data records"
                (p.Closed && p.Delivered.IsEmpty)
                (sprintf "expected the server's Close (Normal) and nothing delivered: %A" p.Failure)
    | None -> yield finding "P9" "Close between Data records" false "the handshake failed"

    // 8. Close with a reason: the server answers nothing more and closes.
    use p = connect endPoint settings.Timeout

    match handshakeWriting p settings 65502 (1L <<< 20) with
    | Some start ->
        let before = p.Received.Length
        let _, close = sealClose start.Send CloseReason.IdleTimeout
        p.Write close |> ignore
        p.ReadUntil((fun () -> p.Ended), true)
        let after = p.Received.Length - before

        yield
            finding
                "P12"
                "Close with a reason"
                (p.Ended && after = 0)
                $"after our Close (IdleTimeout) the server wrote {after} bytes and {closedText p}"
    | None -> yield finding "P12" "Close with a reason" false "the handshake failed"

    // 9. A truncated frame: half a record, then our TCP close: nothing delivered, no Close (Normal) answer.
    use p = connect endPoint settings.Timeout

    match handshakeWriting p settings 65502 (1L <<< 20) with
    | Some start ->
        let _, record = sealAll start.Send (message 50)
        p.Write record[.. record.Length / 2] |> ignore
        p.Socket.Shutdown SocketShutdown.Send
        p.ReadUntil((fun () -> p.Ended), true)

        yield
            finding
                "P15"
                "truncated frame"
                (p.Delivered.IsEmpty && not p.Closed)
                "the end of input inside a frame is no clean end: no message, no Close (Normal) from the server"
    | None -> yield finding "P15" "truncated frame" false "the handshake failed"

    // 10. A Close whose reason byte 00 is written out: the same as Normal, so the server answers with its Close.
    use p = connect endPoint settings.Timeout

    match handshakeWriting p settings 65502 (1L <<< 20) with
    | Some start ->
        p.Write(List.exactlyOne (sealRaw settings start.Send [ RecordType.Close, [| 0uy |] ]))
        |> ignore

        p.ReadUntil((fun () -> p.Closed || p.Failure.IsSome || p.Ended), true)

        yield
            finding
                "P8"
                "Close with reason byte 00"
                (p.Closed && p.Failure.IsNone)
                (sprintf "expected the server's Close (Normal), as after a Close without a reason byte: %A" p.Failure)
    | None -> yield finding "P8" "Close with reason byte 00" false "the handshake failed"

    // 11. A message one byte over the limit the server announced (field 02): Close (MessageTooLarge, 04). The
    // runner seals it itself (the engine refuses to), record by record, and stops writing once the server answers.
    use p = connect endPoint settings.Timeout

    match handshakeWriting p settings 65502 (1L <<< 20) with
    | Some start ->
        let limit = start.Send.PeerMaxMessageSize
        let total = int64 limit + 1L
        let mutable answered = false

        for frame in sealRaw settings start.Send (overLimit total) do
            if not answered then
                answered <- not (p.Write frame) || p.Socket.Poll(0, SelectMode.SelectRead)

        p.ReadUntil((fun () -> p.Failure.IsSome || p.Closed), true)

        yield
            finding
                "P16"
                "message over the announced limit"
                (closedByPeer p = Some CloseReason.MessageTooLarge && p.Delivered.IsEmpty)
                (sprintf
                    "%d bytes to a server announcing %d: expected Close (MessageTooLarge): %A"
                    total
                    limit
                    p.Failure)
    | None -> yield finding "P16" "message over the announced limit" false "the handshake failed"
]

// ---- the IUT as a client ----

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
                    match Connection.Traffic p.State with
                    | Ok start ->
                        p.Write(List.exactlyOne (sealRaw settings start.Send [ RecordType.Close, [| 0uy |] ]))
                        |> ignore

                        p.ReadUntil((fun () -> p.Closed || p.Failure.IsSome || p.Ended), true)

                        yield
                            finding
                                "P8"
                                "client: Close with reason byte 00"
                                (p.Closed && p.Failure.IsNone)
                                (sprintf "expected the client's Close (Normal): %A" p.Failure)
                    | Error e -> yield finding "P8" "client: Close with reason byte 00" false (sprintf "%A" e)
                | 3 ->
                    // A message one byte over the limit the client announced: Close (MessageTooLarge).
                    match Connection.Traffic p.State with
                    | Ok start ->
                        // First the client's own messages (its stdin, then end-of-data), so that what arrives
                        // afterwards is its answer.
                        p.ReadUntil(
                            (fun () -> p.Delivered |> List.exists (fun m -> m.Length = 0) || p.Failure.IsSome),
                            true
                        )

                        let total = int64 start.Send.PeerMaxMessageSize + 1L
                        let mutable answered = false

                        for frame in sealRaw settings start.Send (overLimit total) do
                            if not answered then
                                answered <- not (p.Write frame) || p.Socket.Poll(0, SelectMode.SelectRead)

                        p.ReadUntil((fun () -> p.Failure.IsSome || p.Closed), true)

                        yield
                            finding
                                "P16"
                                "client: message over the announced limit"
                                (closedByPeer p = Some CloseReason.MessageTooLarge)
                                (sprintf "%d bytes: expected Close (MessageTooLarge): %A" total p.Failure)
                    | Error e -> yield finding "P16" "client: message over the announced limit" false (sprintf "%A" e)
                | _ ->
                    match Connection.Traffic p.State with
                    | Ok start ->
                        let _, record = sealAll start.Send (message 30)
                        record[5] <- record[5] ^^^ 1uy
                        p.Write record |> ignore
                        p.ReadUntil((fun () -> p.Failure.IsSome || p.Closed), true)

                        yield
                            finding
                                "P12"
                                "client: tampered record"
                                (closedByPeer p = Some CloseReason.ProtocolViolation)
                                (sprintf "expected Close (ProtocolViolation): %A" p.Failure)
                    | Error e -> yield finding "P12" "client: tampered record" false (sprintf "%A" e)
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

/// The report: one line per finding, then the rules broken.
let report (findings: Finding list) =
    let text = StringBuilder()

    for f in findings do
        text.AppendLine($"""{(if f.Passed then "pass" else "FAIL")}  {f.Rule, -4} {f.Case}: {f.Detail}""")
        |> ignore

    let broken =
        findings
        |> List.filter (fun f -> not f.Passed)
        |> List.map (fun f -> f.Rule)
        |> List.distinct

    if broken.IsEmpty then
        text.AppendLine($"all {findings.Length} checks passed") |> ignore
    else
        text.AppendLine($"""broken rules: {String.Join(", ", broken)}""") |> ignore

    text.ToString(), broken
