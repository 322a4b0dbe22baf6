namespace HybridProtocol.Core.Noise

open System
open HybridProtocol.Core

[<NoComparison; NoEquality>]
type HandshakeParameters = {
    Protocol: ProtocolName
    Role: Role
    Prologue: byte[]
    LocalStatic: DhKeyPair option
    LocalEphemeral: DhKeyPair option
    RemoteStatic: DhPublicKey option
    RemoteEphemeral: DhPublicKey option
    Psks: byte[] list
}

[<NoComparison; NoEquality>]
type KemParameters = {
    LocalKemKeyPair: KemKeyPair option
    EncapsulationRandomness: byte[] option
}

module KemParameters =
    let none = {
        LocalKemKeyPair = None
        EncapsulationRandomness = None
    }

[<NoComparison; NoEquality>]
type HandshakeState = private {
    suite: CryptoSuite
    protocol: ProtocolName
    role: Role
    symmetricState: SymmetricState
    s: DhKeyPair option
    e: DhKeyPair option
    rs: DhPublicKey option
    re: DhPublicKey option
    /// Noise HFS: our KEM key pair for "e1" (the caller's; never disposed here).
    e1: KemKeyPair option
    /// Noise HFS: the peer's KEM public key once read from its "e1".
    re1: byte[] option
    /// Noise HFS: the randomness our "ekem1" encapsulates with; dropped from the state once used.
    encapsulationRandomness: byte[] option
    /// PSKs not yet consumed by a "psk" token.
    psks: byte[] list
    /// The message patterns not yet processed; the head is the next message.
    messagePatterns: Token list list
    /// Index of the next message (0 is the initiator's first).
    messageIndex: int
}

type HandshakeTurn =
    | ShouldWrite
    | ShouldRead

[<NoComparison; NoEquality>]
type HandshakeStep =
    | Continue of HandshakeState
    | Complete of TransportState

module HandshakeState =
    let private requireKey (error: InitError) (key: 'k option) =
        match key with
        | Some k -> Ok k
        | None -> Error(Init error)

    let private suiteMatches (suite: CryptoSuite) (name: ProtocolName) =
        suite.Dh.Name = ProtocolName.dhToString name.Dh
        && suite.Cipher.Name = ProtocolName.cipherToString name.Cipher
        && suite.Hash.Name = ProtocolName.hashToString name.Hash
        && (match name.Kem, suite.Kem with
            | None, _ -> true
            | Some kem, Some functions -> functions.Name = ProtocolName.kemToString kem
            | Some _, None -> false)

    /// The next check, run only when the one before passed (inlined: no closure per check).
    let inline private andThen
        ([<InlineIfLambda>] next: unit -> Result<unit, NoiseError>)
        (previous: Result<unit, NoiseError>)
        =
        match previous with
        | Ok() -> next ()
        | Error _ -> previous

    let private checkLength (suite: CryptoSuite) (key: DhPublicKey option) =
        match key with
        | Some k when k.Length <> suite.Dh.DHLEN -> Error(Init WrongKeyLength)
        | _ -> Ok()

    /// Noise §9.2: "In a PSK handshake, all of these calls [MixHash(e.public_key)] are followed by MixKey(e.public_key)."
    let private mixEphemeral (pattern: HandshakePattern) (publicKey: DhPublicKey) (ss: SymmetricState) =
        let ss = SymmetricState.MixHash publicKey.Bytes ss

        if pattern.IsPsk then
            SymmetricState.MixKey publicKey.Bytes ss
        else
            ss

    let InitializeWithKem
        (suite: CryptoSuite)
        (parameters: HandshakeParameters)
        (kem: KemParameters)
        : Result<HandshakeState, NoiseError> =
        let pattern = parameters.Protocol.Pattern
        let role = parameters.Role
        let peer = Role.opposite role

        let needs condition error key =
            if condition then
                requireKey error key |> Result.map ignore
            else
                Ok()

        // The first failing check, in this order; each runs only when the ones before it passed.
        let checks =
            (if suiteMatches suite parameters.Protocol then
                 Ok()
             else
                 Error(Init SuiteMismatch))
            |> andThen (fun () ->
                needs (HandshakePattern.sends role S pattern) MissingLocalStatic parameters.LocalStatic)
            |> andThen (fun () ->
                needs (HandshakePattern.sends role E pattern) MissingLocalEphemeral parameters.LocalEphemeral)
            |> andThen (fun () ->
                needs
                    (List.contains S (HandshakePattern.preMessageOf peer pattern))
                    MissingRemoteStatic
                    parameters.RemoteStatic)
            |> andThen (fun () ->
                needs
                    (List.contains E (HandshakePattern.preMessageOf peer pattern))
                    MissingRemoteEphemeral
                    parameters.RemoteEphemeral)
            |> andThen (fun () ->
                if parameters.Psks.Length = pattern.PskCount then
                    Ok()
                else
                    Error(Init(WrongPskCount(pattern.PskCount, parameters.Psks.Length))))
            |> andThen (fun () ->
                if parameters.Psks |> List.forall (fun psk -> psk.Length = Limits.PskLength) then
                    Ok()
                else
                    Error(Init WrongPskLength))
            |> andThen (fun () -> checkLength suite parameters.RemoteStatic)
            |> andThen (fun () -> checkLength suite parameters.RemoteEphemeral)
            |> andThen (fun () -> checkLength suite (parameters.LocalStatic |> Option.map _.Public))
            |> andThen (fun () -> checkLength suite (parameters.LocalEphemeral |> Option.map _.Public))
            |> andThen (fun () ->
                match suite.Kem, kem.LocalKemKeyPair with
                | _, None when HandshakePattern.sends role E1 pattern -> Error(Init MissingLocalKemKeyPair)
                | Some functions, Some pair when pair.Public.Length <> functions.KEMPUBLICKEYLEN ->
                    Error(Init WrongKeyLength)
                | _ -> Ok())
            |> andThen (fun () ->
                match suite.Kem, kem.EncapsulationRandomness with
                | _, None when HandshakePattern.sends role Ekem1 pattern -> Error(Init MissingEncapsulationRandomness)
                | Some functions, Some r when r.Length <> functions.ENCAPSRANDOMNESSLEN ->
                    Error(Init MissingEncapsulationRandomness)
                | _ -> Ok())

        match checks with
        | Error error -> Error error
        | Ok() ->
            let ss =
                SymmetricState.InitializeSymmetric suite (ProtocolName.toString parameters.Protocol)
                |> SymmetricState.MixHash parameters.Prologue

            // The public key a pre-message token refers to, seen from our role.
            let preMessageKey owner token =
                match owner = role, token with
                | true, S -> parameters.LocalStatic |> Option.map _.Public
                | true, E -> parameters.LocalEphemeral |> Option.map _.Public
                | false, S -> parameters.RemoteStatic
                | false, E -> parameters.RemoteEphemeral
                | _ -> None

            let mixPreMessage owner ss =
                HandshakePattern.preMessageOf owner pattern
                |> List.fold
                    (fun ss token ->
                        match token, preMessageKey owner token with
                        | E, Some key -> mixEphemeral pattern key ss
                        | _, Some key -> SymmetricState.MixHash key.Bytes ss
                        | _, None -> ss)
                    ss

            let ss = ss |> mixPreMessage Initiator |> mixPreMessage Responder

            Ok {
                suite = suite
                protocol = parameters.Protocol
                role = role
                symmetricState = ss
                s = parameters.LocalStatic
                e = parameters.LocalEphemeral
                rs = parameters.RemoteStatic
                re = parameters.RemoteEphemeral
                e1 = kem.LocalKemKeyPair
                re1 = None
                encapsulationRandomness = kem.EncapsulationRandomness
                psks = parameters.Psks
                messagePatterns = pattern.Messages
                messageIndex = 0
            }

    let Initialize (suite: CryptoSuite) (parameters: HandshakeParameters) : Result<HandshakeState, NoiseError> =
        InitializeWithKem suite parameters KemParameters.none

    let Turn (state: HandshakeState) =
        if Role.senderOf state.messageIndex = state.role then
            ShouldWrite
        else
            ShouldRead

    let GetHandshakeHash (state: HandshakeState) =
        SymmetricState.GetHandshakeHash state.symmetricState

    let RemoteStatic (state: HandshakeState) = state.rs

    let RemoteEphemeral (state: HandshakeState) = state.re

    let Role (state: HandshakeState) = state.role
    let Protocol (state: HandshakeState) = state.protocol

    let MessageIndex (state: HandshakeState) = state.messageIndex

    let currentKey (state: HandshakeState) =
        SymmetricState.currentKey state.symmetricState

    /// Noise §4.1 DH(key_pair, public_key), refusing outputs the provider rejects.
    /// The output is a pinned array (the GC never moves or copies it), zeroed by `mixDh` right after MixKey.
    let private dh (state: HandshakeState) (keyPair: DhKeyPair) (publicKey: DhPublicKey) =
        let output = Hkdf.pinnedArray state.suite.Dh.DHLEN

        if state.suite.Dh.DH.Invoke(keyPair.Private, ReadOnlySpan publicKey.Bytes, Span output) then
            Ok output
        else
            Error Dh

    /// Noise §5.3, the DH tokens, which are processed the same way when writing and reading:
    /// "For "ee": Calls MixKey(DH(e, re)).
    ///  For "es": Calls MixKey(DH(e, rs)) if initiator, MixKey(DH(s, re)) if responder.
    ///  For "se": Calls MixKey(DH(s, re)) if initiator, MixKey(DH(e, rs)) if responder.
    ///  For "ss": Calls MixKey(DH(s, rs))."
    let private mixDh (state: HandshakeState) (token: Token) =
        let local, remote =
            match token, state.role with
            | EE, _ -> state.e, state.re
            | ES, Initiator -> state.e, state.rs
            | ES, Responder -> state.s, state.re
            | SE, Initiator -> state.s, state.re
            | SE, Responder -> state.e, state.rs
            | _ -> state.s, state.rs

        match local, remote with
        | Some keyPair, Some publicKey ->
            dh state keyPair publicKey
            |> Result.map (fun shared ->
                let ss = SymmetricState.MixKey shared state.symmetricState
                Security.Cryptography.CryptographicOperations.ZeroMemory(Span shared)
                { state with symmetricState = ss })
        | None, _ ->
            Error(
                Init(
                    if
                        token = EE
                        || (token = ES && state.role = Initiator)
                        || (token = SE && state.role = Responder)
                    then
                        MissingLocalEphemeral
                    else
                        MissingLocalStatic
                )
            )
        | _, None -> Error(Init MissingRemoteStatic)

    /// The suite's KEM functions; Initialize has checked that an hfs name comes with them.
    let private kemFunctions (state: HandshakeState) =
        match state.suite.Kem with
        | Some kem -> Ok kem
        | None -> Error(Init SuiteMismatch)

    /// Noise §5.3 "For "psk": Calls MixKeyAndHash(psk)" (§9.2), consuming the next PSK.
    let private mixPsk (state: HandshakeState) =
        match state.psks with
        | psk :: rest ->
            Ok {
                state with
                    symmetricState = SymmetricState.MixKeyAndHash psk state.symmetricState
                    psks = rest
            }
        | [] -> Error(Init(WrongPskCount(state.protocol.Pattern.PskCount, 0)))

    /// After the message just processed: more patterns left means Continue, none means Split() and
    /// hand over to the transport phase.
    let private finish (remaining: Token list list) (state: HandshakeState) =
        match remaining with
        | [] ->
            let struct (c1, c2) = SymmetricState.Split state.symmetricState
            let oneWay = state.protocol.Pattern.IsOneWay

            let send, receive =
                match state.role with
                | Initiator -> ValueSome c1, (if oneWay then ValueNone else ValueSome c2)
                | Responder -> (if oneWay then ValueNone else ValueSome c2), ValueSome c1

            Complete {
                Role = state.role
                Send = send
                Receive = receive
                HandshakeHash = SymmetricState.GetHandshakeHash state.symmetricState
                RemoteStatic = state.rs
            }
        | rest ->
            Continue {
                state with
                    messagePatterns = rest
                    messageIndex = state.messageIndex + 1
            }

    let private currentPattern (state: HandshakeState) expected =
        match state.messagePatterns with
        | [] -> Error(State HandshakeFinished)
        | tokens :: rest when Turn state = expected -> Ok(tokens, rest)
        | _ when expected = ShouldWrite -> Error(State NotTurnToWrite)
        | _ -> Error(State NotTurnToRead)

    /// The length of the message `tokens` and a `payload` of `payloadLength` make: each field's size, with a tag
    /// once a key is set (Noise §5.3: "s" is DHLEN + 16 bytes "if HasKey() == True"; HFS §4 "e1" and "ekem1" alike).
    let private messageLength (state: HandshakeState) (tokens: Token list) (payloadLength: int) =
        let tag = state.suite.Cipher.TAGLEN

        let kemLength select =
            match state.suite.Kem with
            | Some kem -> select kem
            | None -> 0

        let rec measure keyed total =
            function
            | [] -> total + payloadLength + (if keyed then tag else 0)
            | token :: rest ->
                let sealedLength plain = plain + (if keyed then tag else 0)

                match token with
                | E -> measure (keyed || state.protocol.Pattern.IsPsk) (total + state.suite.Dh.DHLEN) rest
                | S -> measure keyed (total + sealedLength state.suite.Dh.DHLEN) rest
                | E1 -> measure keyed (total + sealedLength (kemLength _.KEMPUBLICKEYLEN)) rest
                | Ekem1 -> measure true (total + sealedLength (kemLength _.KEMCIPHERTEXTLEN)) rest
                | _ -> measure true total rest

        measure (SymmetricState.HasKey state.symmetricState) 0 tokens

    let WriteMessageAfter
        (room: int)
        (payload: byte[])
        (state: HandshakeState)
        : Result<struct (byte[] * HandshakeStep), NoiseError> =
        // One array: `room` bytes left for the caller's framing, then the message, each field written in place.
        let written (tokens: Token list) =
            let length = messageLength state tokens payload.Length
            struct (length, Array.zeroCreate (room + length))

        let writeToken (message: byte[]) (struct (state: HandshakeState, offset: int)) token =
            match token with
            // "For "e": Sets e (which must be empty) to GENERATE_KEYPAIR(). Appends e.public_key to the buffer.
            //  Calls MixHash(e.public_key)." Here e was generated by the caller and given to Initialize.
            | E ->
                requireKey MissingLocalEphemeral state.e
                |> Result.map (fun e ->
                    Buffer.BlockCopy(e.Public.Bytes, 0, message, offset, e.Public.Bytes.Length)

                    struct ({
                                state with
                                    symmetricState = mixEphemeral state.protocol.Pattern e.Public state.symmetricState
                            },
                            offset + e.Public.Bytes.Length))
            // "For "s": Appends EncryptAndHash(s.public_key) to the buffer."
            | S ->
                requireKey MissingLocalStatic state.s
                |> Result.bind (fun s ->
                    SymmetricState.EncryptAndHashInto s.Public.Bytes message offset state.symmetricState)
                |> Result.map (fun struct (ss, next) -> struct ({ state with symmetricState = ss }, next))
            // HFS §4 "e1": "The resulting KEM public key is transferred to the recipient as if it was a static DH
            // public key (i.e. using EncryptAndHash() if a key is available)." The key pair was made by the caller.
            | E1 ->
                // The suite's KEM sized the field (`messageLength`); Initialize checked the key's length against it.
                kemFunctions state
                |> Result.bind (fun _ -> requireKey MissingLocalKemKeyPair state.e1)
                |> Result.bind (fun e1 ->
                    SymmetricState.EncryptAndHashInto e1.Public message offset state.symmetricState)
                |> Result.map (fun struct (ss, next) -> struct ({ state with symmetricState = ss }, next))
            // HFS §4 "ekem1": "call GENERATE_KEM_CIPHERTEXT() using a previously received KEM public key. The
            // resulting KEM ciphertext is transferred ... using EncryptAndHash() if a key is available). ... On sending
            // or receiving this token, the parties call MixKey(kem_output)."
            | Ekem1 ->
                match kemFunctions state, state.re1, state.encapsulationRandomness with
                | Error e, _, _ -> Error e
                | Ok kem, Some re1, Some randomness ->
                    let ciphertext = Array.zeroCreate kem.KEMCIPHERTEXTLEN
                    let output = Array.zeroCreate kem.KEMOUTPUTLEN

                    if
                        kem.GENERATE_KEM_CIPHERTEXT.Invoke(
                            ReadOnlySpan re1,
                            ReadOnlySpan randomness,
                            Span ciphertext,
                            Span output
                        )
                    then
                        let result =
                            SymmetricState.EncryptAndHashInto ciphertext message offset state.symmetricState
                            |> Result.map (fun struct (ss, next) ->
                                struct ({
                                            state with
                                                symmetricState = SymmetricState.MixKey output ss
                                                encapsulationRandomness = None
                                        },
                                        next))

                        Security.Cryptography.CryptographicOperations.ZeroMemory(Span output)
                        result
                    else
                        Error Kem
                | Ok _, None, _ -> Error(State NotTurnToWrite)
                | Ok _, _, None -> Error(Init MissingEncapsulationRandomness)
            | Psk -> mixPsk state |> Result.map (fun state -> struct (state, offset))
            | dhToken -> mixDh state dhToken |> Result.map (fun state -> struct (state, offset))

        currentPattern state ShouldWrite
        |> Result.bind (fun (tokens, remaining) ->
            let struct (length, message) = written tokens

            tokens
            |> List.fold
                (fun acc token -> acc |> Result.bind (fun acc -> writeToken message acc token))
                (Ok(struct (state, room)))
            |> Result.bind (fun struct (state, offset) ->
                SymmetricState.EncryptAndHashInto payload message offset state.symmetricState
                |> Result.bind (fun struct (ss, _) ->
                    if length > Limits.MaxMessageLength then
                        Error(Input(MessageTooLong length))
                    else
                        Ok(struct (message, finish remaining { state with symmetricState = ss })))))

    let WriteMessage (payload: byte[]) (state: HandshakeState) = WriteMessageAfter 0 payload state

    let ReadMessageIn
        (message: byte[])
        (start: int)
        (messageLength: int)
        (state: HandshakeState)
        : Result<struct (byte[] * HandshakeStep), NoiseError> =
        let dhlen = state.suite.Dh.DHLEN
        let ending = start + messageLength

        // DecryptAndHash over the next `length` bytes, read in place.
        let decryptAt length (offset: int) (ss: SymmetricState) =
            if ending - offset < length then
                Error(Input(MessageTooShort messageLength))
            else
                SymmetricState.DecryptSliceAndHash message offset length ss

        let readToken (struct (state: HandshakeState, offset: int)) token =
            match token with
            // "For "e": Sets re (which must be empty) to the next DHLEN bytes from the message. Calls MixHash(re.public_key)."
            | E ->
                if ending - offset < dhlen then
                    Error(Input(MessageTooShort messageLength))
                else
                    match DhPublicKey.TryCreate(dhlen, ReadOnlySpan(message, offset, dhlen)) with
                    | ValueSome re ->
                        Ok(
                            struct ({
                                        state with
                                            re = Some re
                                            symmetricState = mixEphemeral state.protocol.Pattern re state.symmetricState
                                    },
                                    offset + dhlen)
                        )
                    | ValueNone -> Error(Input(MessageTooShort messageLength))
            // "For "s": Sets temp to the next DHLEN + 16 bytes of the message if HasKey() == True, or to the next DHLEN
            //  bytes otherwise. Sets rs (which must be empty) to DecryptAndHash(temp)."
            | S ->
                let length = dhlen + SymmetricState.tagLength state.symmetricState

                decryptAt length offset state.symmetricState
                |> Result.bind (fun struct (ss, plaintext) ->
                    match DhPublicKey.TryCreate(dhlen, ReadOnlySpan plaintext) with
                    | ValueSome rs ->
                        Ok(
                            struct ({
                                        state with
                                            rs = Some rs
                                            symmetricState = ss
                                    },
                                    offset + length)
                        )
                    | ValueNone -> Error(Input(MessageTooShort messageLength)))
            // HFS §4 "e1", read like "s": the next KEMPUBLICKEYLEN (+ 16 if HasKey()) bytes, DecryptAndHash'ed.
            | E1 ->
                kemFunctions state
                |> Result.bind (fun kem ->
                    let length = kem.KEMPUBLICKEYLEN + SymmetricState.tagLength state.symmetricState

                    decryptAt length offset state.symmetricState
                    |> Result.map (fun struct (ss, re1) ->
                        struct ({
                                    state with
                                        re1 = Some re1
                                        symmetricState = ss
                                },
                                offset + length)))
            // HFS §4 "ekem1": "On receiving this token, the recipient will call KEM(key_pair, ciphertext) to derive
            // the same kem_output as the sender possesses", then MixKey(kem_output).
            | Ekem1 ->
                match kemFunctions state, state.e1 with
                | Error e, _ -> Error e
                | Ok _, None -> Error(Init MissingLocalKemKeyPair)
                | Ok kem, Some e1 ->
                    let length = kem.KEMCIPHERTEXTLEN + SymmetricState.tagLength state.symmetricState

                    decryptAt length offset state.symmetricState
                    |> Result.bind (fun struct (ss, ciphertext) ->
                        let output = Array.zeroCreate kem.KEMOUTPUTLEN

                        if kem.KEM.Invoke(e1.Private, ReadOnlySpan ciphertext, Span output) then
                            let next = {
                                state with
                                    symmetricState = SymmetricState.MixKey output ss
                            }

                            Security.Cryptography.CryptographicOperations.ZeroMemory(Span output)
                            Ok(struct (next, offset + length))
                        else
                            Error Kem)
            | Psk -> mixPsk state |> Result.map (fun state -> struct (state, offset))
            | dhToken -> mixDh state dhToken |> Result.map (fun state -> struct (state, offset))

        if messageLength > Limits.MaxMessageLength then
            Error(Input(MessageTooLong messageLength))
        else
            currentPattern state ShouldRead
            |> Result.bind (fun (tokens, remaining) ->
                tokens
                |> List.fold
                    (fun acc token -> acc |> Result.bind (fun acc -> readToken acc token))
                    (Ok(struct (state, start)))
                |> Result.bind (fun struct (state, offset) ->
                    let rest = ending - offset

                    if rest < SymmetricState.tagLength state.symmetricState then
                        Error(Input(MessageTooShort messageLength))
                    else
                        SymmetricState.DecryptSliceAndHash message offset rest state.symmetricState
                        |> Result.map (fun struct (ss, payload) ->
                            struct (payload, finish remaining { state with symmetricState = ss }))))

    let ReadMessage (message: byte[]) (state: HandshakeState) =
        ReadMessageIn message 0 message.Length state
