/// Protocol policy as values: which Noise protocol a client's options select, which names a server with
/// given requirements accepts, which refusal a server sends for a preamble, and which configurations can
/// work at all. specs/PROTOCOL.md §3 (refusal codes, in the order checked here) and §"Authentication
/// modes and patterns" (the tables) say the same; tests `Wire policy` check every row.
///
/// Names are built from typed parts (`ProtocolName.create`) and compared as values: nothing here
/// concatenates or re-parses a protocol name, and a server's accepted list is parsed once, when its
/// configuration is made, not per preamble.
///
/// C# use: `Policy.clientProtocol(new ClientChoice(ServerKeyKnowledge.Pinned, false, false), suite)`;
/// `Policy.serverAccepted(new ServerRequirement(true, false), suites)`.
namespace HybridProtocol.Core.Wire

open HybridProtocol.Core.Noise

/// How a client knows the server's static key before the handshake.
type ServerKeyKnowledge =
    /// The client holds the server's key in advance ("pinned"): the key is a responder pre-message and
    /// the first message is encrypted to it (NK, IK).
    | Pinned
    /// The client learns the key in the handshake and decides about it through `VerifyPeerKey` (known
    /// hosts, a callback, accept-any): the server transmits it (NX, XX).
    | Learned

/// What a client's options ask for; the handshake pattern follows from it (`Policy.clientPattern`).
type ClientChoice = {
    ServerKey: ServerKeyKnowledge
    /// The client proves a static key of its own.
    ClientIdentity: bool
    /// The client has a pre-shared key (Noise §9).
    PreSharedKey: bool
    /// The client asks for post-quantum hybrid key agreement: the pattern's hfs twin with ML-KEM-768
    /// (Noise HFS). A client that asks for it never falls back to a classical name on its own.
    Hybrid: bool
}

/// Which key agreements a server accepts (specs/PROTOCOL.md, "Post-quantum hybrid key agreement").
type ServerPostQuantum =
    /// Hybrid (hfs) names and their classical twins: the client chooses (the default).
    | HybridOrClassical
    /// Only hybrid names; a classical request is refused with `PostQuantumRequired`.
    | HybridOnly
    /// Only classical names (a hybrid request is refused with `UnsupportedPattern`, as a server of an earlier
    /// version refuses it).
    | ClassicalOnly

/// What a server demands of every client; its accepted names follow from it (`Policy.serverAccepted`).
type ServerRequirement = {
    /// Every client must prove a static key (an allow-list or a callback decides about it).
    ClientAuthentication: bool
    /// The server has a pre-shared key: it accepts only the psk variants.
    PreSharedKey: bool
    /// Whether hybrid, classical or both kinds of name are accepted.
    PostQuantum: ServerPostQuantum
}

/// The DH, cipher and hash sections of a Noise protocol name (Noise §8, §12).
type SuiteName = {
    Dh: DhName
    Cipher: CipherName
    Hash: HashName
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

    /// The Noise protocol a client with these options asks for: the pattern of its authentication mode, or
    /// that pattern's hfs twin when it asks for hybrid (NKhfs, NXhfs, XXhfs, IKhfs and their psk variants).
    let clientProtocol (choice: ClientChoice) (suite: SuiteName) : Result<ProtocolName, WireError> =
        protocol (clientPattern choice) choice.Hybrid suite

    /// Every client choice, in the order a server lists what it accepts: NK, NX, XX, IK.
    let private choiceOrder = [ Pinned, false; Learned, false; Learned, true; Pinned, true ]

    /// Which client choices a server with this requirement accepts: the same PSK setting, a client identity
    /// where the server requires one, and a key agreement (hybrid or classical) the server takes.
    let accepts (requirement: ServerRequirement) (choice: ClientChoice) : bool =
        choice.PreSharedKey = requirement.PreSharedKey
        && (choice.ClientIdentity || not requirement.ClientAuthentication)
        && (match requirement.PostQuantum with
            | HybridOrClassical -> true
            | HybridOnly -> choice.Hybrid
            | ClassicalOnly -> not choice.Hybrid)

    /// The names a server with this requirement accepts, for each suite in the order given: NK, NX, XX and
    /// IK (only XX and IK when clients must authenticate), each as its hfs twin first and then classical, as
    /// far as the server takes them; their psk variants when the server has a pre-shared key. Exactly the
    /// `clientProtocol` of every choice `accepts` allows.
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

    /// The client proves a static key in this pattern (XX, IK, ...).
    let initiatorProvesKey (name: ProtocolName) = sendsStatic Initiator name.Pattern

    /// The server sends its static key in this pattern (NX, XX, ...), as opposed to a pre-message (NK, IK).
    let responderTransmitsKey (name: ProtocolName) = sendsStatic Responder name.Pattern

    /// specs/PROTOCOL.md §3: the server's answer to the name in a preamble. The checks run in this order:
    /// parse, exact match with an accepted name (accept), then PostQuantumRequired, PskNotConfigured,
    /// PskRequired, ClientAuthenticationRequired, UnsupportedSuite, UnsupportedPattern. `accepted` is the
    /// server's parsed list; only the requested name is parsed here.
    let protocolChoice (accepted: ProtocolName list) (requested: string) : Result<ProtocolName, RefusalCode> =
        match ProtocolName.parse requested with
        | Error(UnknownPattern _)
        | Error(InvalidModifier _) -> Error RefusalCode.UnsupportedPattern
        | Error(UnsupportedDh _)
        | Error(UnsupportedKem _)
        | Error(UnsupportedCipher _)
        | Error(UnsupportedHash _) -> Error RefusalCode.UnsupportedSuite
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

    /// A refusal of a pattern by a server whose list of accepted names holds no hfs name: the server speaks only
    /// classical handshakes. The list is unauthenticated, so this only shapes the client's message (specs/PROTOCOL.md
    /// §8a: no fallback on a refusal's word); names that do not parse count as classical.
    let refusedAsClassicalOnly (code: RefusalCode) (supported: string list) : bool =
        code = RefusalCode.UnsupportedPattern
        && not supported.IsEmpty
        && supported
           |> List.forall (fun n ->
               match ProtocolName.parse n with
               | Ok name -> not name.IsHfs
               | Error _ -> true)

    /// specs/PROTOCOL.md §9 limits a configuration must respect, and the application protocol's length (§6).
    let checkSizes (maxMessageSize: int) (maxRecordData: int) (rekey: RekeyPolicy) (applicationProtocol: string) =
        if maxMessageSize < 1 then
            Error(InvalidConfig(MessageSizeOutOfRange maxMessageSize))
        elif maxRecordData < 1 || maxRecordData > ConfigDefaults.MaxRecordData then
            Error(InvalidConfig(RecordDataOutOfRange(maxRecordData, ConfigDefaults.MaxRecordData)))
        elif rekey.AfterRecords < 1L || rekey.AfterBytes < 1L then
            Error(InvalidConfig(RekeyIntervalOutOfRange(rekey.AfterRecords, rekey.AfterBytes)))
        else
            HandshakePayload.checkApplicationProtocol applicationProtocol
            |> Result.map ignore

    /// Whether a client configuration can work: an interactive pattern and sizes within the limits.
    let checkClient (config: ClientConfig) : Result<unit, WireError> =
        if config.ProtocolName.Pattern.IsOneWay then
            Error(InvalidConfig(OneWayPattern config.ProtocolName))
        else
            checkSizes config.MaxMessageSize config.MaxRecordData config.Rekey config.ApplicationProtocol

    /// Whether a server configuration can work: every accepted name is interactive, needs no client key in
    /// advance, and has the PSK and static key it needs; sizes within the limits; a 32-byte PSK.
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
            match config.Psk with
            | Some psk when psk.Length <> 32 -> Noise(Init WrongPskLength)
            | _ -> ()
        ]

        match problems with
        | e :: _ -> Error e
        | [] -> Ok()
