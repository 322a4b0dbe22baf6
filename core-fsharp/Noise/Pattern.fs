namespace HybridProtocol.Core.Noise

type Token =
    | E
    | S
    | EE
    | ES
    | SE
    | SS
    | Psk
    | E1
    | Ekem1

type Direction =
    | InitiatorToResponder
    | ResponderToInitiator

type Role =
    | Initiator
    | Responder

type HandshakePattern = {
    Name: string
    InitiatorPreMessage: Token list
    ResponderPreMessage: Token list
    Messages: Token list list
} with

    member this.IsOneWay = this.Messages.Length = 1

    member this.IsPsk =
        this.Messages |> List.exists (fun tokens -> List.contains Psk tokens)

    member this.PskCount =
        this.Messages
        |> List.sumBy (fun tokens -> tokens |> List.sumBy (fun token -> if token = Psk then 1 else 0))

module Role =
    let opposite =
        function
        | Initiator -> Responder
        | Responder -> Initiator

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

    let oneWay = [ N; K; X ]

    let fundamental = [ NN; NK; NX; KN; KK; KX; XN; XK; XX; IN; IK; IX ]

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

    let all = oneWay @ fundamental @ deferred

    let private byName = all |> List.map (fun p -> p.Name, p) |> Map.ofList

    let tryFind (name: string) = Map.tryFind name byName

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
        // Message i is written by Role.senderOf i (walked with its index, without pairing each message with it).
        let rec from index =
            function
            | [] -> false
            | tokens :: rest ->
                (Role.senderOf index = role && List.contains token tokens)
                || from (index + 1) rest

        from 0 pattern.Messages

    let sends (role: Role) (token: Token) (pattern: HandshakePattern) =
        List.contains token (preMessageOf role pattern) || writes role token pattern

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

    let messagesWithSender (pattern: HandshakePattern) =
        pattern.Messages |> List.mapi (fun i tokens -> i, Role.senderOf i, tokens)
