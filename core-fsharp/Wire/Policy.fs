namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core.Noise

type ServerKeyKnowledge =
    | Pinned
    | Learned

type ClientChoice = {
    ServerKey: ServerKeyKnowledge
    ClientIdentity: bool
    PreSharedKey: bool
    Hybrid: bool
}

type ServerPostQuantum =
    | HybridOrClassical
    | HybridOnly
    | ClassicalOnly

[<RequireQualifiedAccess>]
type ClientKeys =
    | NotAccepted
    | Optional
    | Required

type ServerRequirement = {
    ClientKeys: ClientKeys
    PreSharedKey: bool
    PostQuantum: ServerPostQuantum
}

type SuiteName = {
    Dh: DhName
    Cipher: CipherName
    Hash: HashName
}

type KemRandomness = {
    KeyPairSeed: bool
    EncapsulationRandomness: bool
}

module Policy =
    /// The pattern for a client's knowledge of the server key and whether it proves a key of its own:
    ///
    ///     server key  | no client identity | client identity
    ///     Pinned      | NK                 | IK
    ///     Learned     | NX                 | XX
    let basePattern (serverKey: ServerKeyKnowledge) (clientIdentity: bool) : HandshakePattern =
        match serverKey, clientIdentity with
        | Pinned, false -> HandshakePattern.NK
        | Pinned, true -> HandshakePattern.IK
        | Learned, false -> HandshakePattern.NX
        | Learned, true -> HandshakePattern.XX

    /// Noise §9.4 "pskN places a psk token at the end of the Nth handshake message": we place it at the end of
    /// the pattern's last message (psk2 for NK, NX and IK, psk3 for XX), where both parties' ephemeral and
    /// static keys are already mixed in, so the PSK protects every transport message.
    let pskModifier (pattern: HandshakePattern) : int = pattern.Messages.Length

    /// The pattern and psk modifiers a client with these options runs.
    let clientPattern (choice: ClientChoice) : struct (HandshakePattern * int list) =
        let pattern = basePattern choice.ServerKey choice.ClientIdentity
        struct (pattern, (if choice.PreSharedKey then [ pskModifier pattern ] else []))

    /// The KEM of every hybrid name (Noise HFS: "25519+MLKEM768").
    let hybridKem = MLKEM768

    /// The name for a pattern, its psk modifiers and a suite; hybrid adds the hfs modifier first and the KEM
    /// ("NKhfs+psk2", "25519+MLKEM768").
    let private protocol (struct (pattern: HandshakePattern, psks: int list)) (hybrid: bool) (suite: SuiteName) =
        let modifiers = (if hybrid then [ HfsModifier ] else []) @ List.map PskModifier psks

        ProtocolName.createWithModifiers
            pattern
            modifiers
            suite.Dh
            (if hybrid then Some hybridKem else None)
            suite.Cipher
            suite.Hash
        |> Result.mapError (BadProtocolName >> Malformed)

    let clientProtocol (choice: ClientChoice) (suite: SuiteName) : Result<ProtocolName, WireError> =
        protocol (clientPattern choice) choice.Hybrid suite

    /// Every client choice, in the order a server lists what it accepts: NK, NX, XX, IK.
    let private choiceOrder = [ Pinned, false; Learned, false; Learned, true; Pinned, true ]

    let accepts (requirement: ServerRequirement) (choice: ClientChoice) : bool =
        choice.PreSharedKey = requirement.PreSharedKey
        && (match requirement.ClientKeys with
            | ClientKeys.NotAccepted -> not choice.ClientIdentity
            | ClientKeys.Optional -> true
            | ClientKeys.Required -> choice.ClientIdentity)
        && (match requirement.PostQuantum with
            | HybridOrClassical -> true
            | HybridOnly -> choice.Hybrid
            | ClassicalOnly -> not choice.Hybrid)

    let serverAccepted (requirement: ServerRequirement) (suites: SuiteName seq) : Result<ProtocolName list, WireError> =
        let choices =
            choiceOrder
            |> List.collect (fun (serverKey, identity) ->
                [ true; false ]
                |> List.map (fun hybrid -> {
                    ServerKey = serverKey
                    ClientIdentity = identity
                    PreSharedKey = requirement.PreSharedKey
                    Hybrid = hybrid
                }))
            |> List.filter (accepts requirement)

        let rec collect acc =
            function
            | [] -> Ok(List.rev acc)
            | (choice, suite) :: rest ->
                match clientProtocol choice suite with
                | Ok name when List.contains name acc -> collect acc rest
                | Ok name -> collect (name :: acc) rest
                | Error e -> Error e

        collect [] [
            for suite in suites do
                for choice in choices -> choice, suite
        ]

    /// Whether `role` sends its static key in one of the pattern's messages.
    let private sendsStatic (role: Role) (pattern: HandshakePattern) =
        pattern.Messages
        |> List.indexed
        |> List.exists (fun (i, tokens) -> Role.senderOf i = role && List.contains S tokens)

    let initiatorProvesKey (name: ProtocolName) = sendsStatic Initiator name.Pattern

    let responderTransmitsKey (name: ProtocolName) = sendsStatic Responder name.Pattern

    let private parsedChoice (accepted: ProtocolName list) (requested: string) : Result<ProtocolName, RefusalCode> =
        match ProtocolName.parse requested with
        | Error(UnknownPattern _)
        | Error(InvalidModifier _) -> Error RefusalCode.UnsupportedPattern
        | Error(UnsupportedDh _)
        | Error(UnsupportedKem _)
        | Error(UnsupportedCipher _)
        | Error(UnsupportedHash _) -> Error RefusalCode.UnsupportedSuite
        // NonCanonical (a name of ours in another order or case), NotNoise, MalformedName, MissingKem, KemWithoutHfs.
        | Error _ -> Error RefusalCode.MalformedPreamble
        | Ok name ->
            let sameBase (a: ProtocolName) = a.BasePattern = name.BasePattern

            if List.contains name accepted then
                Ok name
            elif not name.IsHfs && not accepted.IsEmpty && accepted |> List.forall _.IsHfs then
                Error RefusalCode.PostQuantumRequired
            elif name.Pattern.IsPsk && not (accepted |> List.exists _.Pattern.IsPsk) then
                Error RefusalCode.PskNotConfigured
            elif
                not name.Pattern.IsPsk
                && accepted |> List.exists (fun a -> sameBase a && a.Pattern.IsPsk)
                && not (accepted |> List.exists (fun a -> sameBase a && not a.Pattern.IsPsk))
            then
                Error RefusalCode.PskRequired
            elif not (initiatorProvesKey name) && accepted |> List.forall initiatorProvesKey then
                Error RefusalCode.ClientAuthenticationRequired
            elif accepted |> List.exists (fun a -> a.Pattern = name.Pattern) then
                Error RefusalCode.UnsupportedSuite
            else
                Error RefusalCode.UnsupportedPattern

    let protocolChoice (accepted: ProtocolName list) (requested: string) : Result<ProtocolName, RefusalCode> =
        // An accepted name as written: what parsing it gives (`parse (toString n) = Ok n`), without parsing it.
        match
            accepted
            |> List.tryFind (fun a -> String.Equals(a.Text, requested, StringComparison.Ordinal))
        with
        | Some name -> Ok name
        | None -> parsedChoice accepted requested

    let kemRandomness (role: Role) (names: ProtocolName list) : KemRandomness =
        let writes token =
            names |> List.exists (fun n -> HandshakePattern.writes role token n.Pattern)

        {
            KeyPairSeed = writes E1
            EncapsulationRandomness = writes Ekem1
        }

    let refusedAsClassicalOnly (code: RefusalCode) (supported: string list) : bool =
        code = RefusalCode.UnsupportedPattern
        && not supported.IsEmpty
        && supported
           |> List.forall (fun n ->
               match ProtocolName.parse n with
               | Ok name -> not name.IsHfs
               | Error _ -> true)

    let checkMaxMessageSize (size: int) =
        if size < 1 then
            Error(InvalidConfig(MessageSizeOutOfRange size))
        else
            Ok()

    let checkMaxRecordData (size: int) =
        if size < 1 || size > ConfigDefaults.MaxRecordData then
            Error(InvalidConfig(RecordDataOutOfRange(size, ConfigDefaults.MaxRecordData)))
        else
            Ok()

    let checkRekey (rekey: RekeyPolicy) =
        if rekey.AfterRecords < 1L || rekey.AfterBytes < 1L then
            Error(InvalidConfig(RekeyIntervalOutOfRange(rekey.AfterRecords, rekey.AfterBytes)))
        else
            Ok()

    let checkPsk (psk: byte[]) =
        if psk.Length <> Limits.PskLength then
            Error(Noise(Init WrongPskLength))
        else
            Ok()

    let checkApplicationProtocol (name: string) =
        HandshakePayload.checkApplicationProtocol name |> Result.map ignore

    let checkSizes (maxMessageSize: int) (maxRecordData: int) (rekey: RekeyPolicy) (applicationProtocol: string) =
        checkMaxMessageSize maxMessageSize
        |> Result.bind (fun () -> checkMaxRecordData maxRecordData)
        |> Result.bind (fun () -> checkRekey rekey)
        |> Result.bind (fun () -> checkApplicationProtocol applicationProtocol)

    let checkClient (config: ClientConfig) : Result<unit, WireError> =
        if config.ProtocolName.Pattern.IsOneWay then
            Error(InvalidConfig(OneWayPattern config.ProtocolName))
        else
            match config.RemoteStatic with
            | Some pinned when
                List.contains S config.ProtocolName.Pattern.ResponderPreMessage
                && config.RevokedServerKeys |> List.exists pinned.EqualsKey
                ->
                Error(InvalidConfig PinnedKeyRevoked)
            | _ -> checkSizes config.MaxMessageSize config.MaxRecordData config.Rekey config.ApplicationProtocol

    let checkServer (config: ServerConfig) : Result<unit, WireError> =
        let problems = [
            if config.AcceptedProtocols.IsEmpty then
                InvalidConfig NoAcceptedProtocol
            for name in config.AcceptedProtocols do
                if name.Pattern.IsOneWay then
                    InvalidConfig(OneWayPattern name)
                elif not name.Pattern.InitiatorPreMessage.IsEmpty then
                    InvalidConfig(ClientStaticKeyInAdvance name)
                elif name.Pattern.IsPsk && config.Psk.IsNone then
                    InvalidConfig(PskMissing name)
                elif
                    config.LocalStatic.IsNone
                    && (List.contains S name.Pattern.ResponderPreMessage || responderTransmitsKey name)
                then
                    InvalidConfig(ServerStaticKeyMissing name)
            match checkSizes config.MaxMessageSize config.MaxRecordData config.Rekey config.ApplicationProtocol with
            | Error e -> e
            | Ok() -> ()
            match config.Psk |> Option.map checkPsk with
            | Some(Error e) -> e
            | _ -> ()
            let count =
                List.length config.OtherStatics + (if config.LocalStatic.IsSome then 1 else 0)

            if count > ConfigDefaults.MaxServerKeys then
                InvalidConfig(TooManyServerKeys count)
        ]

        match problems with
        | e :: _ -> Error e
        | [] -> Ok()
