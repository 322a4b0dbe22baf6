namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core
open HybridProtocol.Core.Noise

[<NoComparison; NoEquality>]
type Connection =
    | AwaitingStatus of ClientStart
    | AwaitingPreamble of ServerStart
    | Handshaking of HandshakePhase
    | AwaitingVerdict of VerdictPhase
    | Open of TransportPhase
    | Closing of TransportPhase
    | Closed
    | Failed of WireError

module private Machine =
    open Steps

    let fail (error: WireError) (keys: IAeadKey seq) (out: Out) =
        struct (Failed error, Output.Failed error :: retire keys out)

    /// Fails the transport phase, first telling the peer why with an authenticated Close when we still can
    /// (the reason is the engine's: Traffic.CloseReasonFor).
    let failTransport (t: TransportPhase) (error: WireError) (out: Out) =
        fail error (Traffic.Keys(t.send, t.receive)) (closeFor t.send error out)

    /// Fails the transport phase, telling the peer with the Close the engine chose (`reply`), if any and if it can
    /// still be sealed.
    let failWithReply (t: TransportPhase) (error: WireError) (reply: CloseReason voption) (out: Out) =
        let out =
            match reply with
            | ValueSome reason when not t.send.Closed ->
                match sealClose t.send reason with
                | ValueSome(struct (_, bytes)) -> Output.Transmit bytes :: out
                | ValueNone -> out
            | _ -> out

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
            | NeedRoom needed -> result <- ValueSome(Error(struct (BufferTooSmall needed, ValueNone)))
            | SendRefused e -> result <- ValueSome(Error(struct (e, ValueNone)))
            | SendFailed(e, reply) -> result <- ValueSome(Error(struct (e, reply)))

        let out = retire (List.rev retired) out
        // What was sealed before a failure goes out first (the production driver has written it already).
        let sent =
            if written = 0 then
                out
            else
                Output.Transmit(Array.sub buffer 0 written) :: out

        match result.Value with
        | Error(struct (e, _)) when written = 0 && retired.IsEmpty -> struct (Open t, Output.Rejected e :: out)
        | Error(struct (e, reply)) -> failWithReply { t with send = send } e reply sent
        | Ok() -> struct (Open { t with send = send }, Output.Transmit(Array.sub buffer 0 written) :: out)

    /// Seals a KeyUpdate record (the application's `Input.UpdateKey`, or the client's liveness proof).
    let sealKeyUpdate (t: TransportPhase) (out: Out) =
        let buffer = Array.zeroCreate (SendHalf.ControlLength t.send)

        match SendHalf.UpdateKey(t.send, Span buffer) with
        | Wrote(send, written, _, _, retired) ->
            struct (Open { t with send = send },
                    retire (voptionToList retired) (Output.Transmit(Array.sub buffer 0 written) :: out))
        | NeedRoom needed -> failTransport t (BufferTooSmall needed) out
        | SendRefused e -> failTransport t e out
        | SendFailed(e, reply) -> failWithReply t e reply out

    /// Where a handshake step left the connection. Once the transport phase starts, the messages the application
    /// queued are sent (the records behind the last handshake message are not read here: `advance` does that).
    let enter (struct (outcome: HandshakeOutcome, out: Out)) : struct (Connection * Out) =
        match outcome with
        | StillAwaitingStatus c -> struct (AwaitingStatus c, out)
        | StillAwaitingPreamble s -> struct (AwaitingPreamble s, out)
        | Exchanging h -> struct (Handshaking h, out)
        | AwaitingPeerKey v -> struct (AwaitingVerdict v, out)
        | HandshakeFailed e -> struct (Failed e, out)
        | Established t ->
            let queued = List.rev t.context.outgoing

            let t = { t with context.outgoing = [] }

            // PROTOCOL.md §12a [S7]: where the server wrote the last handshake message, the client's first
            // record (a KeyUpdate) follows at once, so the server can tell a live client from a replay.
            let opened =
                if t.context.role = Initiator && Admission.livenessProofNeeded t.context.protocol then
                    sealKeyUpdate t out
                else
                    struct (Open t, out)

            queued
            |> List.fold
                (fun (struct (state, out)) message ->
                    match state with
                    | Open t -> sendMessage t (ReadOnlySpan message) out
                    | _ -> struct (state, out))
                opened

    let rec advance (struct (state: Connection, out: Out)) : struct (Connection * Out) =
        match state with
        | Handshaking h -> afterHandshake (Handshake.advance h out)
        | Open t -> receiveRecords Open t out
        | Closing t -> receiveRecords Closing t out
        | _ -> struct (state, out)

    /// A handshake step, then (the reference driver) the records that arrived behind its last message.
    and afterHandshake (step: struct (HandshakeOutcome * Out)) : struct (Connection * Out) =
        match enter step with
        | struct (Open t, out) -> receiveRecords Open t out
        | entered -> entered

    /// Runs the engine's receive half over the bytes received: messages are reassembled into a buffer
    /// that always has room (the data of the pending bytes cannot be longer than they are), then delivered.
    /// The engine decides what each record means; this driver only acts on its events.
    and receiveRecords (rewrap: TransportPhase -> Connection) (t: TransportPhase) (out: Out) =
        let input = t.context.pending.ToArray()
        let destination = Array.zeroCreate (t.message.Length + input.Length)
        t.message.CopyTo(destination, 0)
        let mutable receive = t.receive
        let mutable consumed = 0
        let mutable filled = t.message.Length
        let mutable out = out
        let mutable result = ValueNone

        let rest () =
            ArraySegment(input, consumed, input.Length - consumed)

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
            | PeerClosed reply ->
                // Noise §13 "Session termination": the peer's authenticated end of stream. Answer as the engine
                // says (unless already sent); anything after it is ignored.
                let struct (send, out) = answer t.send (ValueSome reply) out
                result <- ValueSome(struct (Closed, Output.Closed :: retire (Traffic.Keys(send, receive)) out))
            | Fatal(error, reply) ->
                let struct (send, out) = answer t.send reply out
                result <- ValueSome(fail error (Traffic.Keys(send, receive)) out)

        result.Value

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

    let updateKey (t: TransportPhase) = sealKeyUpdate t []

    /// What a phase holds of the bytes `Step` was given and has not consumed.
    let held (state: Connection) =
        match state with
        | AwaitingPreamble s -> s.received
        | AwaitingStatus c -> c.received
        | Handshaking h -> h.context.pending
        | AwaitingVerdict v -> v.context.pending
        | Open t
        | Closing t -> t.context.pending
        | Closed
        | Failed _ -> ArraySegment.Empty

    /// The phase holding `bytes` (and no others) as received and not consumed.
    let withHeld (bytes: ArraySegment<byte>) (state: Connection) =
        match state with
        | AwaitingPreamble s -> AwaitingPreamble { s with received = bytes }
        | AwaitingStatus c -> AwaitingStatus { c with received = bytes }
        | other -> mapContext (fun context -> { context with pending = bytes }) other

    /// The handshake's reading of `input`, the one path both drivers run (PROTOCOL.md §7): whole units only (the
    /// preamble or the status, then frames), read in place, up to the frame that completes the handshake, the one that
    /// asks for a verdict, or a failure; what it did not consume is the phase's `pending` (a view of `input`).
    let receiveHandshake (state: Connection) (input: ArraySegment<byte>) : struct (Connection * int * Out) =
        let run (struct (outcome: HandshakeOutcome, out: Out)) =
            let consumed =
                match outcome with
                | StillAwaitingStatus _
                | StillAwaitingPreamble _ -> 0
                | Exchanging h -> input.Count - h.context.pending.Count
                | AwaitingPeerKey v -> input.Count - v.context.pending.Count
                | Established t -> input.Count - t.context.pending.Count
                | HandshakeFailed _ -> input.Count

            let struct (state, out) = enter (struct (outcome, out))
            struct (state, consumed, out)

        match state with
        | AwaitingPreamble s -> run (HandshakeOpening.serverReceive s input [])
        | AwaitingStatus c -> run (HandshakeOpening.clientReceive c input [])
        | Handshaking h -> run (Handshake.advance { h with context.pending = input } [])
        | Failed e -> struct (state, 0, [ Output.Failed e ])
        | AwaitingVerdict _
        | Open _
        | Closing _
        | Closed -> struct (state, 0, [])

    let step (state: Connection) (input: Input) : struct (Connection * Out) =
        match state, input with
        | Failed e, _ -> struct (state, [ Output.Failed e ])
        | Closed, Input.SendMessage _ -> struct (state, [ Output.Rejected ConnectionClosed ])
        | Closed, Input.PeerKeyVerdict _ -> struct (state, [ Output.Rejected NoVerdictPending ])
        | Closed, _ -> struct (state, [])
        // Bytes from the transport: the reference driver keeps its own copy of what is not consumed yet, then runs the
        // handshake's reader (the same one `ReceiveHandshake` runs) and the engine on the rest.
        | (AwaitingPreamble _ | AwaitingStatus _ | Handshaking _), Input.Received bytes ->
            let all = Handshake.join (held state) bytes.Span

            match receiveHandshake state all with
            | struct (Open t, _, out) -> receiveRecords Open t out
            | struct ((AwaitingPreamble _ | AwaitingStatus _) as waiting, _, out) -> struct (withHeld all waiting, out)
            | struct (other, _, out) -> struct (other, out)
        | _, Input.Received bytes -> advance (struct (withHeld (Handshake.join (held state) bytes.Span) state, []))
        // End of input: queued behind what was received (a Close already received still counts).
        | AwaitingPreamble _, Input.EndOfInput ->
            fail (HandshakeTruncated HandshakeTruncation.PeerBrokeOff) (keysOf state) []
        // No status yet: the server never answered; nothing here is about keys (issue 26 item 5).
        | AwaitingStatus _, Input.EndOfInput -> fail ClosedBeforeAnswer (keysOf state) []
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
        | AwaitingVerdict v, Input.PeerKeyVerdict accept -> afterHandshake (Handshake.verdict v accept [])
        | _, Input.PeerKeyVerdict _ -> struct (state, [ Output.Rejected NoVerdictPending ])

    /// Outputs in order, with consecutive Transmits joined into one write.
    let inOrder (out: Out) =
        List.foldBack
            (fun output acc ->
                match output, acc with
                | Output.Transmit a, Output.Transmit b :: rest -> Output.Transmit(Array.append a b) :: rest
                | _ -> output :: acc)
            (List.rev out)
            []

    let finish (struct (state: Connection, out: Out)) = struct (state, inOrder out)

type Connection with

    static member Client(config: ClientConfig) : Result<struct (Connection * Output list), WireError> =
        HandshakeOpening.start config
        |> Result.map (fun (struct (start, out)) -> Machine.finish (struct (AwaitingStatus start, out)))

    static member Server(config: ServerConfig) : Result<struct (Connection * Output list), WireError> =
        Policy.checkServer config
        |> Result.map (fun () ->
            struct (AwaitingPreamble {
                        config = config
                        received = ArraySegment.Empty
                        outgoing = []
                    },
                    []))

    static member Step(state: Connection, input: Input) : struct (Connection * Output list) =
        Machine.finish (Machine.step state input)

    static member ReceiveHandshake
        (state: Connection, received: ArraySegment<byte>)
        : struct (Connection * int * Output list) =
        // Bytes a `Step` held back come first (a driver that switched inputs); the usual case holds none and reads the
        // caller's bytes in place.
        let held = Machine.held state

        let all =
            if held.Count = 0 then
                received
            else
                Handshake.join held (Steps.view received)

        let struct (next, consumed, out) = Machine.receiveHandshake state all

        // The core keeps no view of the caller's buffer: the bytes not consumed are the caller's to keep.
        let next =
            if consumed >= held.Count then
                Machine.withHeld ArraySegment.Empty next
            else
                Machine.withHeld (all.Slice(consumed, held.Count - consumed)) next

        struct (next, max 0 (consumed - held.Count), Machine.inOrder out)

    static member HandshakeInfo(state: Connection) : HandshakeInfo option =
        match state with
        | Open t
        | Closing t -> Some t.info
        | _ -> None

    static member Traffic(state: Connection) : Result<TrafficStart, WireError> =
        match state with
        | Open t when t.context.pending.Count = 0 && t.message.Length = 0 ->
            Ok {
                Send = t.send
                Receive = t.receive
                Info = t.info
            }
        | _ -> Error ConnectionClosed
