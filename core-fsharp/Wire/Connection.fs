/// The connection state machine (specs/PROTOCOL.md §7): every rule about what may happen when lives in
/// this file (h11's "Rule 1"). A pure step function: a state and one input go in; the next state and a
/// list of outputs, as inspectable values, come out (h11 `next_event`, rustls unbuffered `ConnectionState`).
/// It drives the Noise HandshakeState, then the transport engine (Traffic.fs: `SendHalf`/`ReceiveHalf`,
/// the same functions the facade drives; there is no second transport implementation).
///
///     client:  AwaitingStatus --0x00--> Handshaking <--> AwaitingVerdict --> Open --> Closing --> Closed
///     server:  AwaitingPreamble --ok--> Handshaking <--> AwaitingVerdict --> Open --> Closing --> Closed
///     any phase --peer's bad bytes / EOF without Close / refusal / rejected key--> Failed (terminal)
///
/// C# use:
///     var (state, outputs) = Connection.Client(config)   // FSharpResult<ValueTuple<Connection, FSharpList<Output>>, WireError>
///     (state, outputs) = Connection.Step(state, Input.NewReceived(bytes));
///     foreach (var o in outputs) switch (o) { case Output.Transmit t: ...; case Output.Deliver d: ...;
///         case Output.VerifyPeerKey v: ... answer with Input.NewPeerKeyVerdict(ok); case Output.KeyRetired k:
///         k.Key.Dispose(); case Output.Failed f: throw ... }
/// Outputs must be acted on in order. `Transmit` bytes are to be written as they are. Answer
/// `VerifyPeerKey` before feeding more input: bytes received meanwhile are queued (not processed) and the
/// queue is not bounded by the core. For the transport phase a driver may either keep calling `Step`
/// (simple; allocates per message) or take the engine with `Connection.Traffic` and call its
/// `SendHalf`/`ReceiveHalf` on its own buffers (allocation-free per record; the facade does).
namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core
open HybridProtocol.Core.Noise

/// A connection: one case per phase, each carrying only what is valid there.
[<NoComparison; NoEquality>]
type Connection =
    | AwaitingStatus of ClientStart
    | AwaitingPreamble of ServerStart
    | Handshaking of HandshakePhase
    | AwaitingVerdict of VerdictPhase
    | Open of TransportPhase
    /// We sent Close; records from the peer are still delivered until its Close arrives.
    | Closing of TransportPhase
    /// Both Close records crossed: a clean end.
    | Closed
    | Failed of WireError

module private Machine =
    type Out = Output list

    /// A handshake frame taken from the received bytes, or why there is none.
    [<NoComparison; NoEquality>]
    type Incoming =
        | FrameReceived of byte[]
        | BadFrame of WireError
        | EndOfStream

    let retire (keys: IAeadKey seq) (out: Out) =
        keys |> Seq.fold (fun out k -> Output.KeyRetired k :: out) out

    let voptionToList (v: 'a voption) =
        match v with
        | ValueSome x -> [ x ]
        | ValueNone -> []

    let fail (error: WireError) (keys: IAeadKey seq) (out: Out) =
        struct (Failed error, Output.Failed error :: retire keys out)

    let transportKeys (transport: TransportState) =
        [ transport.Send; transport.Receive ]
        |> List.choose (ValueOption.bind CipherState.key >> ValueOption.toOption)

    let stepKeys (step: HandshakeStep) =
        match step with
        | Continue hs -> voptionToList (HandshakeState.currentKey hs)
        | Complete ts -> transportKeys ts

    /// The handshake key the step stopped using (keys made and dropped inside one message are not visible
    /// here; NSec frees those with their SafeHandle).
    let retiredBetween (before: HandshakeState) (after: HandshakeStep) =
        match HandshakeState.currentKey before, after with
        | ValueNone, _ -> []
        | ValueSome old, Continue hs ->
            match HandshakeState.currentKey hs with
            | ValueSome k when obj.ReferenceEquals(k, old) -> []
            | _ -> [ old ]
        | ValueSome old, Complete _ -> [ old ]

    /// Index of the last handshake message `role` sends: the one that carries its HandshakePayload.
    let lastMessageOf (pattern: HandshakePattern) (role: Role) =
        [ 0 .. pattern.Messages.Length - 1 ]
        |> List.filter (fun i -> Role.senderOf i = role)
        |> List.last

    /// Appends received bytes to what waits to be processed (the simple driver: it copies).
    let feed (context: Context) (bytes: ReadOnlySpan<byte>) =
        if bytes.IsEmpty then
            context
        else
            {
                context with
                    pending = Array.append context.pending (bytes.ToArray())
            }

    /// The next complete handshake frame received, if any (Frame.decode checks its length first).
    let nextFrame (context: Context) : struct (Incoming voption * Context) =
        match Frame.decode (ReadOnlySpan context.pending, Frame.MaxLength) with
        | Error e -> struct (ValueSome(BadFrame e), context)
        | Ok(FrameComplete(body, used)) ->
            struct (ValueSome(FrameReceived body),
                    {
                        context with
                            pending = Array.sub context.pending used (context.pending.Length - used)
                    })
        | Ok(NeedMore _) when context.ended -> struct (ValueSome EndOfStream, context)
        | Ok(NeedMore _) -> struct (ValueNone, context)

    /// Seals one Close record with the engine's send half; ValueNone when it cannot be sealed.
    let sealClose (send: SendHalf) (reason: CloseReason) =
        let buffer = Array.zeroCreate (SendHalf.ControlLength send)

        match SendHalf.Close(send, reason, Span buffer) with
        | Wrote(half, written, _, _, _) -> ValueSome(struct (half, Array.sub buffer 0 written))
        | NeedRoom _
        | SendRefused _ -> ValueNone

    /// Fails the transport phase, first telling the peer why with an authenticated Close when we still can
    /// (the reason is the engine's: Traffic.CloseReasonFor).
    let failTransport (t: TransportPhase) (error: WireError) (out: Out) =
        let out =
            if t.send.Closed then
                out
            else
                match sealClose t.send (Traffic.CloseReasonFor error) with
                | ValueSome(struct (_, bytes)) -> Output.Transmit bytes :: out
                | ValueNone -> out

        fail error (Traffic.Keys(t.send, t.receive)) out

    /// Sends one message through the engine's send half (it fragments; this driver gives it room for the
    /// whole message and joins what it wrote into one Transmit).
    let sendMessage (t: TransportPhase) (message: ReadOnlySpan<byte>) (out: Out) : struct (Connection * Out) =
        let buffer = Array.zeroCreate (int (SendHalf.MessageLength(t.send, message.Length)))
        let mutable send = t.send
        let mutable written = 0
        let mutable offset = 0
        let mutable retired = []
        let mutable result = ValueNone

        while result.IsNone do
            match SendHalf.Message(send, message, offset, Span(buffer, written, buffer.Length - written)) with
            | Wrote(half, n, consumed, finished, key) ->
                send <- half
                written <- written + n
                offset <- consumed
                retired <- voptionToList key @ retired

                if finished then
                    result <- ValueSome(Ok())
            | NeedRoom needed -> result <- ValueSome(Error(BufferTooSmall needed))
            | SendRefused e -> result <- ValueSome(Error e)

        let out = retire (List.rev retired) out

        match result.Value with
        | Error e when written = 0 && retired.IsEmpty -> struct (Open t, Output.Rejected e :: out)
        | Error e -> failTransport { t with send = send } e out
        | Ok() -> struct (Open { t with send = send }, Output.Transmit(Array.sub buffer 0 written) :: out)

    /// The handshake payload to send in message `index`: ours in our last message, empty otherwise.
    let payloadFor (context: Context) (index: int) =
        if index = lastMessageOf context.protocol.Pattern context.role then
            HandshakePayload.encode context.local
        else
            Ok [||]

    let rec advance (struct (state: Connection, out: Out)) : struct (Connection * Out) =
        match state with
        | Handshaking h ->
            match HandshakeState.Turn h.handshake with
            | ShouldWrite -> writeHandshake h out
            | ShouldRead ->
                match nextFrame h.context with
                | struct (ValueNone, _) -> struct (state, out)
                | struct (ValueSome item, context) -> readHandshake { h with context = context } item out
        | Open t -> receiveRecords Open t out
        | Closing t -> receiveRecords Closing t out
        | _ -> struct (state, out)

    and writeHandshake (h: HandshakePhase) (out: Out) =
        let hsKeys = voptionToList (HandshakeState.currentKey h.handshake)

        match payloadFor h.context (HandshakeState.MessageIndex h.handshake) with
        | Error e -> fail e hsKeys out
        | Ok payload ->
            match HandshakeState.WriteMessage payload h.handshake with
            | Error e -> fail (Noise e) hsKeys out
            | Ok(struct (message, step)) ->
                match Frame.encode (ReadOnlySpan message) with
                | Error e -> fail e (hsKeys @ stepKeys step) out
                | Ok frame ->
                    let out = retire (retiredBetween h.handshake step) (Output.Transmit frame :: out)
                    continueWith h.context step h.peer out

    and readHandshake (h: HandshakePhase) (item: Incoming) (out: Out) =
        let hsKeys = voptionToList (HandshakeState.currentKey h.handshake)

        match item with
        | EndOfStream -> fail Truncated hsKeys out
        | BadFrame e -> fail e hsKeys out
        | FrameReceived message ->
            let index = HandshakeState.MessageIndex h.handshake
            let knownBefore = HandshakeState.RemoteStatic h.handshake

            match HandshakeState.ReadMessage message h.handshake with
            | Error e -> fail (Noise e) hsKeys out
            | Ok(struct (payload, step)) ->
                let out = retire (retiredBetween h.handshake step) out
                let keys = stepKeys step
                let peerRole = Role.opposite h.context.role

                let peer =
                    if index = lastMessageOf h.context.protocol.Pattern peerRole then
                        HandshakePayload.decode (ReadOnlySpan payload) |> Result.map Some
                    elif payload.Length = 0 then
                        Ok h.peer
                    else
                        Error(Malformed(UnexpectedHandshakePayload index))

                let learned =
                    match knownBefore, step with
                    | Some _, _ -> None
                    | None, Continue hs -> HandshakeState.RemoteStatic hs
                    | None, Complete ts -> ts.RemoteStatic

                match peer, learned with
                | Error e, _ -> fail e keys out
                | Ok peer, Some key ->
                    match h.context.pinned with
                    | Some pinned when pinned.EqualsKey key -> continueWith h.context step peer out
                    | Some _ -> rejectPeerKey h.context step peer out
                    | None ->
                        struct (AwaitingVerdict {
                                    context = h.context
                                    step = step
                                    peer = peer
                                    peerKey = key
                                },
                                Output.VerifyPeerKey key :: out)
                | Ok peer, None -> continueWith h.context step peer out

    and continueWith (context: Context) (step: HandshakeStep) (peer: HandshakePayload option) (out: Out) =
        match step with
        | Continue hs ->
            advance (
                struct (Handshaking {
                            context = context
                            handshake = hs
                            peer = peer
                        },
                        out)
            )
        | Complete ts -> establish context ts peer out

    /// The peer's key was refused: after a complete handshake the peer is told so with an authenticated
    /// Close (AuthenticationFailed); mid-handshake nothing more is sent.
    and rejectPeerKey (context: Context) (step: HandshakeStep) (peer: HandshakePayload option) (out: Out) =
        match step, peer with
        | Complete ts, Some remote ->
            match RecordLayer.Create(ts, limitsFor context remote) with
            | Ok layer ->
                let traffic = Traffic.Create layer

                let out =
                    match sealClose traffic.Send (Traffic.CloseReasonFor PeerKeyRejected) with
                    | ValueSome(struct (_, bytes)) -> Output.Transmit bytes :: out
                    | ValueNone -> out

                fail PeerKeyRejected (Traffic.Keys(traffic.Send, traffic.Receive)) out
            | Error _ -> fail PeerKeyRejected (transportKeys ts) out
        | _ -> fail PeerKeyRejected (stepKeys step) out

    and limitsFor (context: Context) (remote: HandshakePayload) = {
        MaxRecordData = context.maxRecordData
        LocalMaxMessageSize = context.local.MaxMessageSize
        PeerMaxMessageSize = remote.MaxMessageSize
        Rekey = context.rekey
    }

    /// Noise §5.3 Split() has run: start the record layer, check what was negotiated, send what the
    /// application queued, and process records that arrived with the last handshake message.
    and establish (context: Context) (ts: TransportState) (peer: HandshakePayload option) (out: Out) =
        match peer with
        | None -> fail (Malformed(MissingField HandshakePayload.ApplicationProtocolField)) (transportKeys ts) out
        | Some remote ->
            match RecordLayer.Create(ts, limitsFor context remote) with
            | Error e -> fail e (transportKeys ts) out
            | Ok layer ->
                let info = {
                    ProtocolName = ProtocolName.toString context.protocol
                    HandshakeHash = ts.HandshakeHash
                    RemoteStatic = ts.RemoteStatic
                    Local = context.local
                    Remote = remote
                }

                let traffic = Traffic.Create layer

                let t = {
                    context = { context with outgoing = [] }
                    send = traffic.Send
                    receive = traffic.Receive
                    info = info
                    message = [||]
                }

                if remote.ApplicationProtocol <> context.local.ApplicationProtocol then
                    failTransport
                        t
                        (ApplicationProtocolMismatch(context.local.ApplicationProtocol, remote.ApplicationProtocol))
                        out
                else
                    let flushed =
                        List.rev context.outgoing
                        |> List.fold
                            (fun (struct (state, out)) message ->
                                match state with
                                | Open t -> sendMessage t (ReadOnlySpan message) out
                                | _ -> struct (state, out))
                            (struct (Open t, Output.HandshakeCompleted info :: out))

                    advance flushed

    /// Runs the engine's receive half over the bytes received: messages are reassembled into a buffer
    /// that always has room (the data of the pending bytes cannot be longer than they are), then delivered.
    /// The engine decides what each record means; this driver only acts on its events.
    and receiveRecords (rewrap: TransportPhase -> Connection) (t: TransportPhase) (out: Out) =
        let input = Array.copy t.context.pending
        let destination = Array.zeroCreate (t.message.Length + input.Length)
        t.message.CopyTo(destination, 0)
        let mutable receive = t.receive
        let mutable consumed = 0
        let mutable filled = t.message.Length
        let mutable out = out
        let mutable result = ValueNone

        let rest () =
            Array.sub t.context.pending consumed (input.Length - consumed)

        let answer (send: SendHalf) (reason: CloseReason voption) (out: Out) =
            match reason with
            | ValueSome reason when not send.Closed ->
                match sealClose send reason with
                | ValueSome(struct (send, bytes)) -> struct (send, Output.Transmit bytes :: out)
                | ValueNone -> struct (send, out)
            | _ -> struct (send, out)

        while result.IsNone do
            let r =
                ReceiveHalf.Receive(receive, Span(input, consumed, input.Length - consumed), Span destination, filled)

            receive <- r.Half
            consumed <- consumed + r.Consumed
            filled <- r.Written

            let r =
                match r.Event with
                | NeedData when t.context.ended -> ReceiveHalf.EndOfInput receive
                | _ -> r

            receive <- r.Half

            match r.Event with
            | NeedData ->
                result <-
                    ValueSome(
                        struct (rewrap {
                                    t with
                                        context.pending = rest ()
                                        receive = receive
                                        message = Array.sub destination 0 filled
                                },
                                out)
                    )
            | NeedSpace _ ->
                // Cannot happen (the destination is as long as the input); fail rather than loop.
                result <- ValueSome(failTransport { t with receive = receive } (BufferTooSmall input.Length) out)
            | MessageEnd ->
                out <- Output.Deliver(Array.sub destination 0 filled) :: out
                filled <- 0
            | KeyRetired key -> out <- retire (voptionToList key) out
            | PeerClosed ->
                // Noise §13 "Session termination": the peer's authenticated end of stream. Answer with ours
                // (unless already sent); anything after it is ignored.
                let struct (send, out) = answer t.send (ValueSome CloseReason.Normal) out
                result <- ValueSome(struct (Closed, Output.Closed :: retire (Traffic.Keys(send, receive)) out))
            | Fatal(error, reply) ->
                let struct (send, out) = answer t.send reply out
                result <- ValueSome(fail error (Traffic.Keys(send, receive)) out)

        result.Value

    let refuse (config: ServerConfig) (code: RefusalCode) (requested: string) (out: Out) =
        let refusal = {
            Code = code
            ServerVersion = Preamble.Version
            Supported = config.AcceptedProtocols |> List.map ProtocolName.toString
        }

        let out =
            match ServerStatus.encode (Declined refusal) with
            | Ok bytes -> Output.Transmit bytes :: out
            | Error _ -> out

        fail (RefusedPeer(code, requested)) [] out

    let newContext
        role
        protocol
        (local: HandshakePayload)
        pinned
        maxRecordData
        rekey
        outgoing
        : Result<Context, WireError> =
        Ok {
            role = role
            protocol = protocol
            local = local
            pinned = pinned
            maxRecordData = maxRecordData
            rekey = rekey
            pending = [||]
            ended = false
            outgoing = outgoing
        }

    let psksFor (pattern: HandshakePattern) (psk: byte[] option) =
        match psk with
        | Some psk -> List.replicate pattern.PskCount psk
        | None -> []

    let serverReceive (s: ServerStart) (bytes: ReadOnlySpan<byte>) (out: Out) =
        let received = Array.append s.received (bytes.ToArray())

        match Preamble.decode (ReadOnlySpan received) with
        | Ok(Incomplete _) -> struct (AwaitingPreamble { s with received = received }, out)
        | Error(Malformed(UnknownVersion _)) -> refuse s.config RefusalCode.UnsupportedVersion "" out
        | Error _ -> refuse s.config RefusalCode.MalformedPreamble "" out
        | Ok(Decoded(preamble, used)) ->
            match Policy.protocolChoice s.config.AcceptedProtocols preamble.ProtocolName with
            | Error code -> refuse s.config code preamble.ProtocolName out
            | Ok protocol ->
                let config = s.config

                let local = {
                    ApplicationProtocol = config.ApplicationProtocol
                    MaxMessageSize = config.MaxMessageSize
                }

                let initialized =
                    newContext Responder protocol local None config.MaxRecordData config.Rekey s.outgoing
                    |> Result.bind (fun context ->
                        HandshakeState.InitializeWithKem
                            (config.SuiteFor.Invoke protocol)
                            {
                                Protocol = protocol
                                Role = Responder
                                Prologue = Preamble.prologue (Array.sub received 0 used)
                                LocalStatic = config.LocalStatic
                                LocalEphemeral = Some config.LocalEphemeral
                                RemoteStatic = None
                                RemoteEphemeral = None
                                Psks = psksFor protocol.Pattern config.Psk
                            }
                            config.Kem
                        |> Result.mapError Noise
                        |> Result.map (fun hs -> context, hs))

                match initialized with
                | Error e -> fail e [] out
                | Ok(context, hs) ->
                    let context = feed context (ReadOnlySpan(received, used, received.Length - used))

                    advance (
                        struct (Handshaking {
                                    context = context
                                    handshake = hs
                                    peer = None
                                },
                                Output.Transmit [| ServerStatus.AcceptedByte |] :: out)
                    )

    let clientReceive (c: ClientStart) (bytes: ReadOnlySpan<byte>) (out: Out) =
        let received = Array.append c.received (bytes.ToArray())
        let hsKeys = voptionToList (HandshakeState.currentKey c.handshake)

        match ServerStatus.decode (ReadOnlySpan received) with
        | Error e -> fail e hsKeys out
        | Ok(Incomplete _) -> struct (AwaitingStatus { c with received = received }, out)
        | Ok(Decoded(Declined refusal, _)) ->
            fail (WireError.Refused(refusal.Code, refusal.ServerVersion, refusal.Supported)) hsKeys out
        | Ok(Decoded(Accepted, used)) ->
            let context = feed c.context (ReadOnlySpan(received, used, received.Length - used))

            advance (
                struct (Handshaking {
                            context = context
                            handshake = c.handshake
                            peer = None
                        },
                        out)
            )

    let keysOf (state: Connection) =
        match state with
        | AwaitingStatus c -> voptionToList (HandshakeState.currentKey c.handshake)
        | Handshaking h -> voptionToList (HandshakeState.currentKey h.handshake)
        | AwaitingVerdict v -> stepKeys v.step
        | Open t
        | Closing t -> Traffic.Keys(t.send, t.receive)
        | AwaitingPreamble _
        | Closed
        | Failed _ -> []

    let mapContext (f: Context -> Context) (state: Connection) =
        match state with
        | AwaitingStatus c -> AwaitingStatus { c with context = f c.context }
        | Handshaking h -> Handshaking { h with context = f h.context }
        | AwaitingVerdict v -> AwaitingVerdict { v with context = f v.context }
        | Open t -> Open { t with context = f t.context }
        | Closing t -> Closing { t with context = f t.context }
        | other -> other

    let closeRequested (t: TransportPhase) =
        match sealClose t.send CloseReason.Normal with
        | ValueSome(struct (send, bytes)) -> struct (Closing { t with send = send }, [ Output.Transmit bytes ])
        | ValueNone -> fail ConnectionClosed (Traffic.Keys(t.send, t.receive)) []

    let updateKey (t: TransportPhase) =
        let buffer = Array.zeroCreate (SendHalf.ControlLength t.send)

        match SendHalf.UpdateKey(t.send, Span buffer) with
        | Wrote(send, written, _, _, retired) ->
            struct (Open { t with send = send },
                    retire (voptionToList retired) [ Output.Transmit(Array.sub buffer 0 written) ])
        | NeedRoom needed -> failTransport t (BufferTooSmall needed) []
        | SendRefused e -> failTransport t e []

    let step (state: Connection) (input: Input) : struct (Connection * Out) =
        match state, input with
        | Failed e, _ -> struct (state, [ Output.Failed e ])
        | Closed, Input.SendMessage _ -> struct (state, [ Output.Rejected ConnectionClosed ])
        | Closed, Input.PeerKeyVerdict _ -> struct (state, [ Output.Rejected NoVerdictPending ])
        | Closed, _ -> struct (state, [])
        // Bytes from the transport.
        | AwaitingPreamble s, Input.Received bytes -> serverReceive s bytes.Span []
        | AwaitingStatus c, Input.Received bytes -> clientReceive c bytes.Span []
        | _, Input.Received bytes -> advance (struct (mapContext (fun context -> feed context bytes.Span) state, []))
        // End of input: queued behind what was received (a Close already received still counts).
        | AwaitingPreamble _, Input.EndOfInput
        | AwaitingStatus _, Input.EndOfInput -> fail Truncated (keysOf state) []
        | _, Input.EndOfInput -> advance (struct (mapContext (fun context -> { context with ended = true }) state, []))
        // Messages from the application.
        | Open t, Input.SendMessage message -> sendMessage t message.Span []
        | Closing _, Input.SendMessage _ -> struct (state, [ Output.Rejected ConnectionClosed ])
        | AwaitingPreamble s, Input.SendMessage message ->
            struct (AwaitingPreamble {
                        s with
                            outgoing = message.ToArray() :: s.outgoing
                    },
                    [])
        | _, Input.SendMessage message ->
            let copy = message.ToArray()

            struct (mapContext
                        (fun context -> {
                            context with
                                outgoing = copy :: context.outgoing
                        })
                        state,
                    [])
        // Close from the application.
        | Open t, Input.CloseRequested -> closeRequested t
        | Closing _, Input.CloseRequested -> struct (state, [])
        | Open t, Input.UpdateKey -> updateKey t
        | Closing _, Input.UpdateKey -> struct (state, [ Output.Rejected ConnectionClosed ])
        // Before the transport phase there is no transport key to update yet: nothing to do.
        | _, Input.UpdateKey -> struct (state, [])
        | _, Input.CloseRequested -> fail ClosedDuringHandshake (keysOf state) []
        // The application's verdict on the peer's key.
        | AwaitingVerdict v, Input.PeerKeyVerdict true -> continueWith v.context v.step v.peer []
        | AwaitingVerdict v, Input.PeerKeyVerdict false -> rejectPeerKey v.context v.step v.peer []
        | _, Input.PeerKeyVerdict _ -> struct (state, [ Output.Rejected NoVerdictPending ])

    /// Outputs in order, with consecutive Transmits joined into one write.
    let finish (struct (state: Connection, out: Out)) =
        let joined =
            List.foldBack
                (fun output acc ->
                    match output, acc with
                    | Output.Transmit a, Output.Transmit b :: rest -> Output.Transmit(Array.append a b) :: rest
                    | _ -> output :: acc)
                (List.rev out)
                []

        struct (state, joined)

type Connection with

    /// A client connection: checks the configuration, then writes the preamble and the first handshake
    /// message (sent together: the client does not wait for the status byte).
    static member Client(config: ClientConfig) : Result<struct (Connection * Output list), WireError> =
        match Policy.checkClient config with
        | Error e -> Error e
        | Ok() ->
            let protocol = config.ProtocolName
            let name = ProtocolName.toString protocol

            let transmitsServerKey = Policy.responderTransmitsKey protocol

            let local = {
                ApplicationProtocol = config.ApplicationProtocol
                MaxMessageSize = config.MaxMessageSize
            }

            let preambleBytes = Preamble.encode { ProtocolName = name }

            let initialized =
                preambleBytes
                |> Result.bind (fun preamble ->
                    HandshakeState.InitializeWithKem
                        config.Suite
                        {
                            Protocol = protocol
                            Role = Initiator
                            Prologue = Preamble.prologue preamble
                            LocalStatic = config.LocalStatic
                            LocalEphemeral = Some config.LocalEphemeral
                            // A pre-message key only where the pattern has one; a transmitted key is compared instead.
                            RemoteStatic =
                                if List.contains S protocol.Pattern.ResponderPreMessage then
                                    config.RemoteStatic
                                else
                                    None
                            RemoteEphemeral = None
                            Psks = Machine.psksFor protocol.Pattern config.Psk
                        }
                        config.Kem
                    |> Result.mapError Noise
                    |> Result.map (fun hs -> preamble, hs))
                |> Result.bind (fun (preamble, hs) ->
                    let pinned = if transmitsServerKey then config.RemoteStatic else None

                    Machine.newContext Initiator protocol local pinned config.MaxRecordData config.Rekey []
                    |> Result.map (fun context -> preamble, hs, context))

            match initialized with
            | Error e -> Error e
            | Ok(preamble, hs, context) ->
                // Write handshake messages until it is the server's turn (the first message only, for
                // interactive patterns), then wait for the status byte.
                match
                    Machine.writeHandshake
                        {
                            context = context
                            handshake = hs
                            peer = None
                        }
                        []
                with
                | struct (Handshaking h, out) ->
                    let out =
                        out
                        |> List.map (function
                            | Output.Transmit frame -> Output.Transmit(Array.append preamble frame)
                            | other -> other)

                    Ok(
                        Machine.finish (
                            struct (AwaitingStatus {
                                        context = h.context
                                        handshake = h.handshake
                                        received = [||]
                                    },
                                    out)
                        )
                    )
                | struct (Failed e, _) -> Error e
                | _ -> Error(InvalidConfig FirstMessageCompletesHandshake)

    /// A server connection: checks the configuration and waits for the client's preamble.
    static member Server(config: ServerConfig) : Result<struct (Connection * Output list), WireError> =
        Policy.checkServer config
        |> Result.map (fun () ->
            struct (AwaitingPreamble {
                        config = config
                        received = [||]
                        outgoing = []
                    },
                    []))

    /// One input in, the next state and the outputs (in the order to act on them) out.
    static member Step(state: Connection, input: Input) : struct (Connection * Output list) =
        Machine.finish (Machine.step state input)

    /// What the handshake established, once it has completed (and until the connection ends).
    static member HandshakeInfo(state: Connection) : HandshakeInfo option =
        match state with
        | Open t
        | Closing t -> Some t.info
        | _ -> None

    /// The engine as the handshake left it (Open phase only), for a driver that runs `SendHalf` and
    /// `ReceiveHalf` on its own buffers; the Connection value must not be used afterwards.
    static member Traffic(state: Connection) : Result<TrafficStart, WireError> =
        match state with
        | Open t ->
            Ok {
                Send = t.send
                Receive = t.receive
                Info = t.info
                Pending = t.context.pending
                PartialMessage = t.message
            }
        | _ -> Error ConnectionClosed
