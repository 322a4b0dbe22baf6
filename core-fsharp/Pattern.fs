/// Handshake patterns as data (Noise §7), interpreted once by HandshakeState.
namespace HybridProtocol.Core.Noise

/// Noise §7.1: "A message pattern is some sequence of tokens from the set ("e", "s", "ee", "es", "se", "ss")"
/// plus "psk" (§9.2) and the Noise HFS §4 KEM tokens "e1" and "ekem1".
type Token =
    | E
    | S
    | EE
    | ES
    | SE
    | SS
    | Psk
    /// HFS §4: "This token directs the sender to call GENERATE_KEM_KEYPAIR(). The resulting KEM public key is
    /// transferred to the recipient as if it was a static DH public key (i.e. using EncryptAndHash() if a key is available)."
    | E1
    /// HFS §4: "This token directs the sender to call GENERATE_KEM_CIPHERTEXT() using a previously received KEM
    /// public key. ... On sending or receiving this token, the parties call MixKey(kem_output)."
    | Ekem1

/// Who sends a message: "->" is the initiator, "<-" the responder (§7.1).
type Direction =
    | InitiatorToResponder
    | ResponderToInitiator

/// Noise §5: "Initiator" and "responder" are the roles; the initiator sends the first handshake message.
type Role =
    | Initiator
    | Responder

/// A handshake pattern: pre-messages (only "e" and "s" allowed), then message patterns that alternate
/// direction starting with the initiator (§7.1).
type HandshakePattern = {
    /// The pattern's name with its modifiers, e.g. "XXpsk0+psk3".
    Name: string
    InitiatorPreMessage: Token list
    ResponderPreMessage: Token list
    Messages: Token list list
} with

    /// Noise §7.4: one-way patterns have a single message from initiator to responder.
    member this.IsOneWay = this.Messages.Length = 1

    /// §9.2: any psk token makes this a PSK handshake, where "e" also calls MixKey.
    member this.IsPsk = this.Messages |> List.exists (List.contains Psk)

    /// The number of "psk" tokens, which is how many PSKs the handshake consumes.
    member this.PskCount =
        this.Messages |> List.sumBy (List.filter ((=) Psk) >> List.length)

module Role =
    let opposite =
        function
        | Initiator -> Responder
        | Responder -> Initiator

    /// Which role sends message number `index` (0-based): the conversation alternates, initiator first.
    let senderOf (index: int) =
        if index % 2 = 0 then Initiator else Responder

module HandshakePattern =
    let private p name initiatorPre responderPre messages = {
        Name = name
        InitiatorPreMessage = initiatorPre
        ResponderPreMessage = responderPre
        Messages = messages
    }

    // §7.4 One-way patterns.
    let N = p "N" [] [ S ] [ [ E; ES ] ]
    let K = p "K" [ S ] [ S ] [ [ E; ES; SS ] ]
    let X = p "X" [] [ S ] [ [ E; ES; S; SS ] ]

    // §7.5 Fundamental interactive patterns.
    let NN = p "NN" [] [] [ [ E ]; [ E; EE ] ]
    let NK = p "NK" [] [ S ] [ [ E; ES ]; [ E; EE ] ]
    let NX = p "NX" [] [] [ [ E ]; [ E; EE; S; ES ] ]
    let KN = p "KN" [ S ] [] [ [ E ]; [ E; EE; SE ] ]
    let KK = p "KK" [ S ] [ S ] [ [ E; ES; SS ]; [ E; EE; SE ] ]
    let KX = p "KX" [ S ] [] [ [ E ]; [ E; EE; SE; S; ES ] ]
    let XN = p "XN" [] [] [ [ E ]; [ E; EE ]; [ S; SE ] ]
    let XK = p "XK" [] [ S ] [ [ E; ES ]; [ E; EE ]; [ S; SE ] ]
    let XX = p "XX" [] [] [ [ E ]; [ E; EE; S; ES ]; [ S; SE ] ]
    let IN = p "IN" [] [] [ [ E; S ]; [ E; EE; SE ] ]
    let IK = p "IK" [] [ S ] [ [ E; ES; S; SS ]; [ E; EE; SE ] ]
    let IX = p "IX" [] [] [ [ E; S ]; [ E; EE; SE; S; ES ] ]

    // §18.1 Deferred patterns.
    let NK1 = p "NK1" [] [ S ] [ [ E ]; [ E; EE; ES ] ]
    let NX1 = p "NX1" [] [] [ [ E ]; [ E; EE; S ]; [ ES ] ]
    let X1N = p "X1N" [] [] [ [ E ]; [ E; EE ]; [ S ]; [ SE ] ]
    let X1K = p "X1K" [] [ S ] [ [ E; ES ]; [ E; EE ]; [ S ]; [ SE ] ]
    let XK1 = p "XK1" [] [ S ] [ [ E ]; [ E; EE; ES ]; [ S; SE ] ]
    let X1K1 = p "X1K1" [] [ S ] [ [ E ]; [ E; EE; ES ]; [ S ]; [ SE ] ]
    let X1X = p "X1X" [] [] [ [ E ]; [ E; EE; S; ES ]; [ S ]; [ SE ] ]
    let XX1 = p "XX1" [] [] [ [ E ]; [ E; EE; S ]; [ ES; S; SE ] ]
    let X1X1 = p "X1X1" [] [] [ [ E ]; [ E; EE; S ]; [ ES; S ]; [ SE ] ]
    let K1N = p "K1N" [ S ] [] [ [ E ]; [ E; EE ]; [ SE ] ]
    let K1K = p "K1K" [ S ] [ S ] [ [ E; ES ]; [ E; EE ]; [ SE ] ]
    let KK1 = p "KK1" [ S ] [ S ] [ [ E ]; [ E; EE; SE; ES ] ]
    let K1K1 = p "K1K1" [ S ] [ S ] [ [ E ]; [ E; EE; ES ]; [ SE ] ]
    let K1X = p "K1X" [ S ] [] [ [ E ]; [ E; EE; S; ES ]; [ SE ] ]
    let KX1 = p "KX1" [ S ] [] [ [ E ]; [ E; EE; SE; S ]; [ ES ] ]
    let K1X1 = p "K1X1" [ S ] [] [ [ E ]; [ E; EE; S ]; [ SE; ES ] ]
    let I1N = p "I1N" [] [] [ [ E; S ]; [ E; EE ]; [ SE ] ]
    let I1K = p "I1K" [] [ S ] [ [ E; ES; S ]; [ E; EE ]; [ SE ] ]
    let IK1 = p "IK1" [] [ S ] [ [ E; S ]; [ E; EE; SE; ES ] ]
    let I1K1 = p "I1K1" [] [ S ] [ [ E; S ]; [ E; EE; ES ]; [ SE ] ]
    let I1X = p "I1X" [] [] [ [ E; S ]; [ E; EE; S; ES ]; [ SE ] ]
    let IX1 = p "IX1" [] [] [ [ E; S ]; [ E; EE; SE; S ]; [ ES ] ]
    let I1X1 = p "I1X1" [] [] [ [ E; S ]; [ E; EE; S ]; [ SE; ES ] ]

    /// The 3 one-way patterns (§7.4).
    let oneWay = [ N; K; X ]

    /// The 12 fundamental interactive patterns (§7.5).
    let fundamental = [ NN; NK; NX; KN; KK; KX; XN; XK; XX; IN; IK; IX ]

    /// The 23 deferred patterns (§18.1).
    let deferred = [
        NK1
        NX1
        X1N
        X1K
        XK1
        X1K1
        X1X
        XX1
        X1X1
        K1N
        K1K
        KK1
        K1K1
        K1X
        KX1
        K1X1
        I1N
        I1K
        IK1
        I1K1
        I1X
        IX1
        I1X1
    ]

    /// Every base pattern, without modifiers: 38 in all.
    let all = oneWay @ fundamental @ deferred

    let private byName = all |> List.map (fun p -> p.Name, p) |> Map.ofList

    /// Looks up a base pattern by name ("XX", "X1K1", ...).
    let tryFind (name: string) = Map.tryFind name byName

    /// Noise §9.4: "psk0 places a psk token at the beginning of the first handshake message.
    /// The modifiers psk1, psk2, etc., place a psk token at the end of the first, second, etc., handshake message."
    let applyPsk (position: int) (pattern: HandshakePattern) : HandshakePattern option =
        let count = pattern.Messages.Length

        if position < 0 || position > count then
            None
        else
            let messages =
                pattern.Messages
                |> List.mapi (fun i tokens ->
                    if position = 0 && i = 0 then Psk :: tokens
                    elif position > 0 && i = position - 1 then tokens @ [ Psk ]
                    else tokens)

            Some { pattern with Messages = messages }

    let preMessageOf (role: Role) (pattern: HandshakePattern) =
        match role with
        | Initiator -> pattern.InitiatorPreMessage
        | Responder -> pattern.ResponderPreMessage

    let writes (role: Role) (token: Token) (pattern: HandshakePattern) =
        pattern.Messages
        |> List.indexed
        |> List.exists (fun (i, tokens) -> Role.senderOf i = role && List.contains token tokens)

    let sends (role: Role) (token: Token) (pattern: HandshakePattern) =
        List.contains token (preMessageOf role pattern) || writes role token pattern

    /// Noise §9.3 validity rule: "A party may not send any encrypted data after it processes a psk token
    /// unless it has previously sent an ephemeral public key (an e token), either before or after the psk token."
    /// Every pattern in the spec sends "e" in each party's first message, so this holds when each party
    /// that processes a psk token also sends "e" at some point; we check it for any combination of modifiers.
    let satisfiesPskValidity (pattern: HandshakePattern) =
        (not pattern.IsPsk)
        || (writes Initiator E pattern && (pattern.IsOneWay || writes Responder E pattern))

    let private isDh token =
        match token with
        | EE
        | ES
        | SE
        | SS -> true
        | _ -> false

    /// Noise HFS §5: "The "hfs" pattern modifier adds an "e1" token directly following the first occurrence of "e",
    /// unless there is a DH operation in this same message, in which case the "hfs" token is placed directly after
    /// this DH (so that the public key will be encrypted). The "hfs" modifier also adds an "ekem1" token directly
    /// following the first occurrence of "ee"."
    /// Read as snow reads it: "this DH" is the first DH token of the message holding the first "e". The spec's
    /// table differs for KKhfs and INhfs; specs/NOISE-CORE.md records why the rule wins. None for a pattern
    /// without "e" or "ee" (the one-way patterns), where the modifier cannot apply, or one already hfs.
    let applyHfs (pattern: HandshakePattern) : HandshakePattern option =
        let has token =
            pattern.Messages |> List.exists (List.contains token)

        let insertAfter index token (tokens: Token list) =
            List.take (index + 1) tokens @ token :: List.skip (index + 1) tokens

        let rec placeE1 =
            function
            | [] -> []
            | tokens :: rest when List.contains E tokens ->
                let at =
                    match List.tryFindIndex isDh tokens with
                    | Some dh -> dh
                    | None -> List.findIndex ((=) E) tokens

                insertAfter at E1 tokens :: rest
            | tokens :: rest -> tokens :: placeE1 rest

        let rec placeEkem1 =
            function
            | [] -> []
            | tokens :: rest when List.contains EE tokens ->
                insertAfter (List.findIndex ((=) EE) tokens) Ekem1 tokens :: rest
            | tokens :: rest -> tokens :: placeEkem1 rest

        if has E && has EE && not (has E1) then
            Some {
                pattern with
                    Messages = pattern.Messages |> placeE1 |> placeEkem1
            }
        else
            None

    /// The tokens each message carries, with its index and sender.
    let messagesWithSender (pattern: HandshakePattern) =
        pattern.Messages |> List.mapi (fun i tokens -> i, Role.senderOf i, tokens)
