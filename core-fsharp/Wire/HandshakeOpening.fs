namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core
open HybridProtocol.Core.Noise

module internal HandshakeOpening =
    open Steps
    open Handshake

    let private refuse (config: ServerConfig) (code: RefusalCode) (requested: string) (out: Out) =
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

    let private newContext
        role
        protocol
        (local: HandshakePayload)
        pinned
        authority
        maxRecordData
        rekey
        outgoing
        : Context = {
        role = role
        protocol = protocol
        local = local
        pinned = pinned
        revoked = []
        announcing = NotAnnouncing
        proven = []
        staticIndex = 0
        authority = authority
        maxRecordData = maxRecordData
        rekey = rekey
        pending = ArraySegment.Empty
        ended = false
        outgoing = outgoing
    }

    let private psksFor (pattern: HandshakePattern) (psk: byte[] option) =
        match psk with
        | Some psk -> List.replicate pattern.PskCount psk
        | None -> []

    let serverReceive (s: ServerStart) (input: ArraySegment<byte>) (out: Out) =
        let received = view input

        match Preamble.decode received with
        | Ok(Incomplete _) -> struct (StillAwaitingPreamble s, out)
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
                    KeyAnnouncement = None
                    Endorsement = config.Endorsement
                }

                let suite = config.SuiteFor.Invoke protocol
                let prologue = Preamble.prologue (received.Slice(0, used).ToArray())
                let held = Option.toList config.LocalStatic @ config.OtherStatics

                let context = {
                    newContext Responder protocol local [] None config.MaxRecordData config.Rekey s.outgoing with
                        announcing =
                            if config.AnnounceKeys && held.Length > 1 then
                                Announces(suite, held)
                            else
                                NotAnnouncing
                }

                let initialize (localStatic: DhKeyPair option) =
                    HandshakeState.InitializeWithKem
                        suite
                        {
                            Protocol = protocol
                            Role = Responder
                            Prologue = prologue
                            LocalStatic = localStatic
                            LocalEphemeral = Some config.LocalEphemeral
                            RemoteStatic = None
                            RemoteEphemeral = None
                            Psks = psksFor protocol.Pattern config.Psk
                        }
                        config.Kem

                // specs/PROTOCOL.md §6a: for a pre-message pattern (NK, IK) the client may have encrypted to any held key.
                let alternatives =
                    if List.contains S protocol.Pattern.ResponderPreMessage then
                        config.OtherStatics
                        |> List.mapi (fun i pair -> i + 1, initialize (Some pair))
                        |> List.choose (fun (i, r) ->
                            match r with
                            | Ok hs -> Some(i, hs)
                            | Error _ -> None)
                    else
                        []

                match initialize config.LocalStatic with
                | Error e -> fail (Noise e) [] out
                | Ok hs ->
                    let context = {
                        context with
                            pending = input.Slice used
                    }

                    advance
                        {
                            context = context
                            handshake = hs
                            peer = None
                            alternatives = alternatives
                        }
                        (Output.Transmit [| ServerStatus.AcceptedByte |] :: out)

    let clientReceive (c: ClientStart) (input: ArraySegment<byte>) (out: Out) =
        let hsKeys = voptionToList (HandshakeState.currentKey c.handshake)

        match ServerStatus.decode (view input) with
        | Error e -> fail e hsKeys out
        | Ok(Incomplete _) -> struct (StillAwaitingStatus c, out)
        | Ok(Decoded(Declined refusal, _)) ->
            fail (WireError.Refused(refusal.Code, refusal.ServerVersion, refusal.Supported)) hsKeys out
        | Ok(Decoded(Accepted, used)) ->
            let context = {
                c.context with
                    pending = input.Slice used
            }

            advance
                {
                    context = context
                    handshake = c.handshake
                    peer = None
                    alternatives = []
                }
                out

    let start (config: ClientConfig) : Result<struct (ClientStart * Out), WireError> =
        match Policy.checkClient config with
        | Error e -> Error e
        | Ok() ->
            let protocol = config.ProtocolName
            let name = ProtocolName.toString protocol

            let local = {
                ApplicationProtocol = config.ApplicationProtocol
                MaxMessageSize = config.MaxMessageSize
                KeyAnnouncement = None
                Endorsement = None
            }

            let initialized =
                Preamble.encode { ProtocolName = name }
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
                            Psks = psksFor protocol.Pattern config.Psk
                        }
                        config.Kem
                    |> Result.mapError Noise
                    |> Result.map (fun hs -> preamble, hs))

            match initialized with
            | Error e -> Error e
            | Ok(preamble, hs) ->
                let pinned =
                    if Policy.responderTransmitsKey protocol then
                        Option.toList config.RemoteStatic @ config.TrustedServerKeys
                    else
                        []

                let authority =
                    if Policy.responderTransmitsKey protocol then
                        config.Authority
                    else
                        None

                let context = {
                    newContext Initiator protocol local pinned authority config.MaxRecordData config.Rekey [] with
                        revoked = config.RevokedServerKeys
                        announcing =
                            if config.CheckKeyAnnouncements then
                                Checks(config.Suite, config.LocalEphemeral)
                            else
                                NotAnnouncing
                }

                // Write handshake messages until it is the server's turn (the first message only, for
                // interactive patterns), then wait for the status byte.
                match
                    writeHandshake
                        preamble
                        {
                            context = context
                            handshake = hs
                            peer = None
                            alternatives = []
                        }
                        []
                with
                | struct (Exchanging h, out) ->
                    Ok(
                        struct ({
                                    context = h.context
                                    handshake = h.handshake
                                    received = ArraySegment.Empty
                                },
                                out)
                    )
                | struct (HandshakeFailed e, _) -> Error e
                | _ -> Error(InvalidConfig FirstMessageCompletesHandshake)
