namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core
open HybridProtocol.Core.Noise

module internal Handshake =
    open Steps

    /// A handshake frame taken from the received bytes, or why there is none.
    [<NoComparison; NoEquality>]
    type private Incoming =
        /// The frame's body: `length` bytes of the array from `start` (read in place).
        | FrameReceived of bytes: byte[] * start: int * length: int
        | BadFrame of WireError
        | EndOfStream

    let fail (error: WireError) (keys: IAeadKey seq) (out: Out) =
        struct (HandshakeFailed error, Output.Failed error :: retire keys out)

    /// The handshake key the step stopped using (keys made and dropped inside one message are not visible
    /// here; NSec frees those with their SafeHandle).
    let private retiredBetween (before: HandshakeState) (after: HandshakeStep) =
        match HandshakeState.currentKey before, after with
        | ValueNone, _ -> []
        | ValueSome old, Continue hs ->
            match HandshakeState.currentKey hs with
            | ValueSome k when obj.ReferenceEquals(k, old) -> []
            | _ -> [ old ]
        | ValueSome old, Complete _ -> [ old ]

    /// Index of the last handshake message `role` sends: the one that carries its HandshakePayload.
    let private lastMessageOf (pattern: HandshakePattern) (role: Role) =
        // Messages alternate, the initiator's first (Noise §7.1): the last one, or the one before it.
        let last = pattern.Messages.Length - 1
        if Role.senderOf last = role then last else last - 1

    let join (first: ArraySegment<byte>) (second: ReadOnlySpan<byte>) =
        let joined = Array.zeroCreate (first.Count + second.Length)
        (view first).CopyTo(Span joined)
        second.CopyTo(Span(joined, first.Count, second.Length))
        ArraySegment joined

    /// What an end of input before the handshake completed means (PROTOCOL.md §7.2, [P14] for the client
    /// without a status, which is `ClosedBeforeAnswer` and never reaches here).
    let truncation (context: Context) =
        // Pinned: as a pre-message (NK, IK) or to compare with the transmitted key (XX with a pin).
        let pinned =
            not context.pinned.IsEmpty
            || List.contains S context.protocol.Pattern.ResponderPreMessage

        if context.role = Initiator && pinned then
            HandshakeTruncation.PinnedKeyNotAccepted
        else
            HandshakeTruncation.PeerBrokeOff

    /// The next complete handshake frame received, if any (its length checked first), read in place: the frame's
    /// bytes are the caller's, read during this step and never kept.
    let private nextFrame (context: Context) : struct (Incoming voption * Context) =
        let pending = context.pending

        match Frame.TryReadHeader(view pending, Frame.MaxLength), pending.Array with
        | Error e, _ -> struct (ValueSome(BadFrame e), context)
        | Ok(ValueSome length), NonNull bytes when pending.Count >= Frame.HeaderLength + length ->
            struct (ValueSome(FrameReceived(bytes, pending.Offset + Frame.HeaderLength, length)),
                    {
                        context with
                            pending = pending.Slice(Frame.HeaderLength + length)
                    })
        | Ok _, _ when context.ended -> struct (ValueSome EndOfStream, context)
        | Ok _, _ -> struct (ValueNone, context)

    /// specs/PROTOCOL.md §6a: the server's announcement of the keys it holds besides the one this handshake uses,
    /// each proven for this connection (h before our last message, the client's "e").
    let private announcementFor (context: Context) (hs: HandshakeState) =
        match context.announcing, HandshakeState.RemoteEphemeral hs with
        | Announces(suite, keys), Some re when keys.Length > 1 ->
            let used = keys[context.staticIndex]
            let h = HandshakeState.GetHandshakeHash hs

            keys
            |> List.indexed
            |> List.filter (fun (i, _) -> i <> context.staticIndex)
            |> List.truncate KeyAnnouncement.MaxKeys
            |> List.map (fun (_, pair) -> KeyAnnouncement.prove suite h used.Public re pair)
            |> List.fold
                (fun acc entry ->
                    match acc, entry with
                    | Ok entries, Ok e -> Ok(e :: entries)
                    | Error e, _
                    | _, Error e -> Error e)
                (Ok [])
            |> Result.map (fun entries -> Some(KeyAnnouncement.encode (List.rev entries)))
            |> Result.mapError BadKeyAnnouncement
        | _ -> Ok None

    /// The handshake payload to send in message `index`: ours in our last message, empty otherwise.
    let private payloadFor (context: Context) (hs: HandshakeState) (index: int) =
        if index = lastMessageOf context.protocol.Pattern context.role then
            announcementFor context hs
            |> Result.bind (fun announcement ->
                HandshakePayload.encode {
                    context.local with
                        KeyAnnouncement = announcement
                })
        else
            Ok [||]

    /// specs/PROTOCOL.md §6a: a client that checks announcements checks the server's (`h` from before the message
    /// that carried it, the key the handshake authenticated); the proven keys minus revoked ones.
    let private checkAnnouncement
        (context: Context)
        (h: byte array)
        (serverKey: DhPublicKey option)
        (peer: HandshakePayload)
        =
        match context.announcing, peer.KeyAnnouncement, serverKey with
        | Checks(suite, ephemeral), Some value, Some serverKey ->
            KeyAnnouncement.decode suite.Dh.DHLEN suite.Hash.HASHLEN (ReadOnlySpan value)
            |> Result.bind (KeyAnnouncement.verify suite h serverKey ephemeral)
            |> Result.map (List.filter (fun k -> not (context.revoked |> List.exists k.EqualsKey)))
            |> Result.mapError BadKeyAnnouncement
        | _ -> Ok []

    let private limitsFor (context: Context) (remote: HandshakePayload) = {
        MaxRecordData = context.maxRecordData
        LocalMaxMessageSize = context.local.MaxMessageSize
        PeerMaxMessageSize = remote.MaxMessageSize
        Rekey = context.rekey
    }

    let rec advance (h: HandshakePhase) (out: Out) : struct (HandshakeOutcome * Out) =
        match HandshakeState.Turn h.handshake with
        | ShouldWrite -> writeHandshake [||] h out
        | ShouldRead ->
            match nextFrame h.context with
            | struct (ValueNone, _) -> struct (Exchanging h, out)
            | struct (ValueSome item, context) -> readHandshake { h with context = context } item out

    /// Writes our next message as one frame, after `prefix` (the client's preamble, sent with its first message), in
    /// one array.
    and writeHandshake (prefix: byte[]) (h: HandshakePhase) (out: Out) =
        let hsKeys = voptionToList (HandshakeState.currentKey h.handshake)

        match payloadFor h.context h.handshake (HandshakeState.MessageIndex h.handshake) with
        | Error e -> fail e hsKeys out
        | Ok payload ->
            let room = prefix.Length + Frame.HeaderLength

            match HandshakeState.WriteMessageAfter room payload h.handshake with
            | Error e -> fail (Noise e) hsKeys out
            | Ok(struct (frame, step)) ->
                match Frame.checkLength (frame.Length - room, Frame.MaxLength) with
                | Error e -> fail e (hsKeys @ stepKeys step) out
                | Ok length ->
                    Buffer.BlockCopy(prefix, 0, frame, 0, prefix.Length)
                    Frame.WriteHeader(length, Span(frame, prefix.Length, Frame.HeaderLength))
                    let out = retire (retiredBetween h.handshake step) (Output.Transmit frame :: out)
                    continueWith h.context step h.peer out

    and private readHandshake (h: HandshakePhase) (item: Incoming) (out: Out) =
        let hsKeys = voptionToList (HandshakeState.currentKey h.handshake)

        match item with
        | EndOfStream -> fail (HandshakeTruncated(truncation h.context)) hsKeys out
        | BadFrame e -> fail e hsKeys out
        | FrameReceived(message, start, length) ->
            let index = HandshakeState.MessageIndex h.handshake
            let knownBefore = HandshakeState.RemoteStatic h.handshake
            let hBefore = HandshakeState.GetHandshakeHash h.handshake

            // specs/PROTOCOL.md §6a: a server holding several keys reads the client's first message of a pre-message
            // pattern with each in turn; the first whose DH makes the payload's AEAD tag verify is the one meant.
            let attempt =
                match HandshakeState.ReadMessageIn message start length h.handshake with
                | Ok r -> Ok(struct (h.context.staticIndex, r))
                | Error e ->
                    h.alternatives
                    |> List.tryPick (fun (i, hs) ->
                        match HandshakeState.ReadMessageIn message start length hs with
                        | Ok r -> Some(struct (i, r))
                        | Error _ -> None)
                    |> Option.map Ok
                    |> Option.defaultValue (Error e)

            match attempt with
            | Error e -> fail (Noise e) hsKeys out
            | Ok(struct (staticIndex, struct (payload, step))) ->
                let h = {
                    h with
                        context = {
                            h.context with
                                staticIndex = staticIndex
                        }
                }

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

                let serverKey =
                    match h.context.role with
                    | Initiator -> Option.orElse learned knownBefore
                    | Responder -> None

                let announced =
                    match peer with
                    | Ok(Some remote) when index = lastMessageOf h.context.protocol.Pattern peerRole ->
                        checkAnnouncement h.context hBefore serverKey remote
                        |> Result.map (fun proven -> Some remote, proven)
                    | _ -> peer |> Result.map (fun p -> p, [])

                match announced, learned with
                | Error e, _ -> fail e keys out
                | Ok(peer, proven), learned ->
                    let context = {
                        h.context with
                            proven = h.context.proven @ proven
                    }

                    match learned with
                    | Some key ->
                        let ask () =
                            struct (AwaitingPeerKey {
                                        context = context
                                        step = step
                                        peer = peer
                                        peerKey = key
                                    },
                                    Output.VerifyPeerKey key :: out)

                        match context.pinned, KeySet.decide context.pinned context.revoked key with
                        | _, KeySetMatch.KeyRevoked -> rejectPeerKey PeerKeyRevoked context step peer out
                        | _, KeySetMatch.InSet _ -> continueWith context step peer out
                        | _ :: _, KeySetMatch.NotInSet -> rejectPeerKey PeerKeyRejected context step peer out
                        | [], KeySetMatch.NotInSet ->
                            match context.authority with
                            | Some policy ->
                                // specs/PROTOCOL.md, endorsements: checked against the key this handshake authenticated.
                                let endorsement = peer |> Option.bind (fun p -> p.Endorsement)

                                match
                                    HybridProtocol.Core.Formats.EndorsementCheck.decide policy key.Bytes endorsement
                                with
                                | HybridProtocol.Core.Formats.EndorsementVerdict.Endorsed _ ->
                                    continueWith context step peer out
                                | HybridProtocol.Core.Formats.EndorsementVerdict.NotEndorsed -> ask ()
                                | HybridProtocol.Core.Formats.EndorsementVerdict.Refuse reason ->
                                    rejectPeerKey (EndorsementRefused reason) context step peer out
                            | None -> ask ()
                    | None -> continueWith context step peer out

    and private continueWith (context: Context) (step: HandshakeStep) (peer: HandshakePayload option) (out: Out) =
        match step with
        | Continue hs ->
            advance
                {
                    context = context
                    handshake = hs
                    peer = peer
                    alternatives = []
                }
                out
        | Complete ts -> establish context ts peer out

    /// The peer's key was refused: after a complete handshake the peer is told so with an authenticated
    /// Close (AuthenticationFailed); mid-handshake nothing more is sent.
    and private rejectPeerKey
        (error: WireError)
        (context: Context)
        (step: HandshakeStep)
        (peer: HandshakePayload option)
        (out: Out)
        =
        match step, peer with
        | Complete ts, Some remote ->
            match RecordLayer.Create(ts, limitsFor context remote) with
            | Ok layer ->
                let traffic = Traffic.Create layer
                let out = closeFor traffic.Send error out
                fail error (Traffic.Keys(traffic.Send, traffic.Receive)) out
            | Error _ -> fail error (transportKeys ts) out
        | _ -> fail error (stepKeys step) out

    /// Noise §5.3 Split() has run: start the record layer and check what was negotiated.
    and private establish (context: Context) (ts: TransportState) (peer: HandshakePayload option) (out: Out) =
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
                    AnnouncedKeys = context.proven
                    LocalStaticIndex = context.staticIndex
                }

                let traffic = Traffic.Create layer

                if remote.ApplicationProtocol <> context.local.ApplicationProtocol then
                    let error =
                        ApplicationProtocolMismatch(context.local.ApplicationProtocol, remote.ApplicationProtocol)

                    fail error (Traffic.Keys(traffic.Send, traffic.Receive)) (closeFor traffic.Send error out)
                else
                    struct (Established {
                                context = context
                                send = traffic.Send
                                receive = traffic.Receive
                                info = info
                                message = [||]
                            },
                            Output.HandshakeCompleted info :: out)

    let verdict (v: VerdictPhase) (accept: bool) (out: Out) =
        if accept then
            continueWith v.context v.step v.peer out
        else
            rejectPeerKey PeerKeyRejected v.context v.step v.peer out
