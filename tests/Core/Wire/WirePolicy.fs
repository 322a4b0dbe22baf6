/// The protocol policy (core-fsharp/Wire/Policy.fs) against the tables of specs/PROTOCOL.md: the pattern each
/// client option selects, the names a server accepts, and the server's answer to every preamble a facade client
/// can send (and to a few it cannot).
module HybridProtocol.Tests.WirePolicy

open Expecto
open HybridProtocol.Core.Noise
open HybridProtocol.Core.Wire

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 200
}

let private suites = [
    {
        Dh = Curve25519
        Cipher = ChaChaPoly
        Hash = BLAKE2b
    },
    "25519_ChaChaPoly_BLAKE2b"
    {
        Dh = Curve25519
        Cipher = AESGCM
        Hash = SHA256
    },
    "25519_AESGCM_SHA256"
    {
        Dh = Curve25519
        Cipher = AEGIS256
        Hash = BLAKE2b
    },
    "25519_AEGIS256_BLAKE2b"
    {
        Dh = Curve25519
        Cipher = AEGIS128L
        Hash = SHA512
    },
    "25519_AEGIS128L_SHA512"
]

/// specs/PROTOCOL.md "Authentication modes and patterns", row by row: server key, client identity, PSK.
let private clientTable = [
    (Pinned, false, false), "NK"
    (Pinned, true, false), "IK"
    (Learned, false, false), "NX"
    (Learned, true, false), "XX"
    (Pinned, false, true), "NKpsk2"
    (Pinned, true, true), "IKpsk2"
    (Learned, false, true), "NXpsk2"
    (Learned, true, true), "XXpsk3"
]

/// The same section: what a server accepts, per suite, for (client keys taken, PSK).
let private serverTable = [
    (ClientKeys.NotAccepted, false), [ "NK"; "NX" ]
    (ClientKeys.Optional, false), [ "NK"; "NX"; "XX"; "IK" ]
    (ClientKeys.Required, false), [ "XX"; "IK" ]
    (ClientKeys.NotAccepted, true), [ "NKpsk2"; "NXpsk2" ]
    (ClientKeys.Optional, true), [ "NKpsk2"; "NXpsk2"; "XXpsk3"; "IKpsk2" ]
    (ClientKeys.Required, true), [ "XXpsk3"; "IKpsk2" ]
]

let private clientKeyModes = [ ClientKeys.NotAccepted; ClientKeys.Optional; ClientKeys.Required ]

/// Whether a server that takes client keys so admits a client with or without an identity (any PSK, suite, KEM).
let private identityAdmitted keys identity =
    match keys with
    | ClientKeys.NotAccepted -> not identity
    | ClientKeys.Optional -> true
    | ClientKeys.Required -> identity

let private choice (serverKey, identity, psk) = {
    ServerKey = serverKey
    ClientIdentity = identity
    PreSharedKey = psk
    Hybrid = false
}

/// A classical server requirement (the tables above); the post-quantum tests below vary PostQuantum.
let private classical keys psk = {
    ClientKeys = keys
    PreSharedKey = psk
    PostQuantum = ClassicalOnly
}

/// The hfs twin of a table entry: "NKpsk2" with "25519_ChaChaPoly_BLAKE2b" is
/// "Noise_NKhfs+psk2_25519+MLKEM768_ChaChaPoly_BLAKE2b" (hfs written first, then the psk modifier).
let private hybridName (pattern: string) (suffix: string) =
    let section =
        match pattern.IndexOf "psk" with
        | -1 -> pattern + "hfs"
        | i -> pattern.Substring(0, i) + "hfs+" + pattern.Substring i

    $"Noise_{section}_25519+MLKEM768{suffix.Substring 5}"

let private nameOf result =
    match result with
    | Ok name -> ProtocolName.toString name
    | Error e -> failtestf "%A" e

let private accepted requirement suiteNames =
    match Policy.serverAccepted requirement suiteNames with
    | Ok names -> names
    | Error e -> failtestf "%A" e

/// Every non-empty subset of the suites, in their order.
let private suiteSets =
    [ 1 .. (1 <<< suites.Length) - 1 ]
    |> List.map (fun mask ->
        suites
        |> List.indexed
        |> List.filter (fun (i, _) -> mask &&& (1 <<< i) <> 0)
        |> List.map snd)

[<Tests>]
let tests =
    testList "Wire policy" [
        test "every client option selects the pattern of the spec's table, for every suite" {
            let mutable cases = 0

            for (row, pattern) in clientTable do
                for (suite, suffix) in suites do
                    let result = Policy.clientProtocol (choice row) suite
                    Expect.equal (nameOf result) $"Noise_{pattern}_{suffix}" $"{row}"

                    Expect.equal
                        (result
                         |> Result.bind (
                             ProtocolName.toString
                             >> ProtocolName.parse
                             >> Result.mapError (BadProtocolName >> Malformed)
                         ))
                        result
                        "the name parses back to the same value"

                    cases <- cases + 1

            Expect.equal cases 32 "8 rows x 4 suites"
        }

        testPropertyWithConfig
            config
            "any option combination gives an interactive name whose keys match the options"
            (fun (c: ClientChoice) ->
                let name =
                    Policy.clientProtocol c (fst suites.Head) |> Result.defaultWith (failwithf "%A")

                name.Pattern.IsPsk = c.PreSharedKey
                && name.IsHfs = c.Hybrid
                && name.Kem.IsSome = c.Hybrid
                && not name.Pattern.IsOneWay
                && Policy.initiatorProvesKey name = c.ClientIdentity
                && List.contains S name.Pattern.ResponderPreMessage = (c.ServerKey = Pinned)
                && Policy.responderTransmitsKey name = (c.ServerKey = Learned))

        test "a server accepts the names of the spec's table, for each of its suites in order" {
            let mutable cases = 0

            for ((keys, psk), patterns) in serverTable do
                for set in suiteSets do
                    let requirement = classical keys psk

                    let expected = [
                        for (_, suffix) in set do
                            for p in patterns -> $"Noise_{p}_{suffix}"
                    ]

                    Expect.equal
                        (accepted requirement (List.map fst set) |> List.map ProtocolName.toString)
                        expected
                        $"{requirement}"

                    cases <- cases + 1

            Expect.equal cases 90 "6 requirements x 15 suite sets"
        }

        test "a repeated suite is listed once" {
            let chacha = fst suites.Head

            Expect.equal
                (accepted (classical ClientKeys.Required false) [ chacha; chacha ]
                 |> List.map ProtocolName.toString)
                [ "Noise_XX_25519_ChaChaPoly_BLAKE2b"; "Noise_IK_25519_ChaChaPoly_BLAKE2b" ]
                "no duplicates"
        }

        test "the server's answer to every preamble a facade client can send follows the spec's order of checks" {
            let mutable counts = Map.empty

            for (row, _) in clientTable do
                let c = choice row

                for (clientSuite, _) in suites do
                    let requested = nameOf (Policy.clientProtocol c clientSuite)

                    for keys in clientKeyModes do
                        for serverPsk in [ false; true ] do
                            for set in suiteSets do
                                let requirement = classical keys serverPsk

                                let list = accepted requirement (List.map fst set)
                                let suiteAccepted = set |> List.exists (fun (s, _) -> s = clientSuite)

                                // specs/PROTOCOL.md §3: exact match, then 06, 05 (the base pattern is accepted with psk), 07,
                                // 04, and 03 for a client identity at a server that takes no client keys.
                                let expected =
                                    if suiteAccepted && Policy.accepts requirement c then
                                        Ok requested
                                    elif c.PreSharedKey && not serverPsk then
                                        Error RefusalCode.PskNotConfigured
                                    elif not c.PreSharedKey && serverPsk && identityAdmitted keys c.ClientIdentity then
                                        // The server accepts this base pattern, only with its psk modifier.
                                        Error RefusalCode.PskRequired
                                    elif not c.ClientIdentity && keys = ClientKeys.Required then
                                        Error RefusalCode.ClientAuthenticationRequired
                                    elif identityAdmitted keys c.ClientIdentity then
                                        Error RefusalCode.UnsupportedSuite
                                    else
                                        Error RefusalCode.UnsupportedPattern

                                let actual =
                                    Policy.protocolChoice list requested |> Result.map ProtocolName.toString

                                Expect.equal actual expected $"{requested} to {requirement} with {List.map snd set}"
                                let key = $"%A{actual}"
                                counts <- counts |> Map.add key (1 + (Map.tryFind key counts |> Option.defaultValue 0))

            // Every outcome occurs; the total is 8 choices x 4 suites x 6 requirements x 15 suite sets.
            Expect.equal (counts |> Map.toList |> List.sumBy snd) 2880 "every case ran"
            Expect.equal counts.Count (32 + 5) "32 distinct accepted names and the five refusals"

            Expect.equal
                (counts |> Map.tryFind $"%A{Error RefusalCode.UnsupportedPattern}")
                (Some(6 * 4 * 15))
                "03 only for a client identity at a server without client keys: 4 suites x 15 suite sets x (XX and IK to both servers, XXpsk3 and IKpsk2 to the PSK one; to the other they get 06)"
        }

        test "preambles no facade client sends get the code of the spec's table" {
            let none = accepted (classical ClientKeys.NotAccepted false) [ fst suites.Head ]

            let optional = accepted (classical ClientKeys.Optional false) [ fst suites.Head ]

            let mutual = accepted (classical ClientKeys.Required false) [ fst suites.Head ]

            let withPsk = accepted (classical ClientKeys.Optional true) [ fst suites.Head ]

            let pskNoKeys = accepted (classical ClientKeys.NotAccepted true) [ fst suites.Head ]

            let cases = [
                optional, "Noise_XX_25519_ChaChaPoly_BLAKE2b", Ok "Noise_XX_25519_ChaChaPoly_BLAKE2b"
                optional, "Noise_IK_25519_ChaChaPoly_BLAKE2b", Ok "Noise_IK_25519_ChaChaPoly_BLAKE2b"
                optional, "Noise_NK_25519_ChaChaPoly_BLAKE2b", Ok "Noise_NK_25519_ChaChaPoly_BLAKE2b"
                none, "Noise_NX_25519_ChaChaPoly_BLAKE2b", Ok "Noise_NX_25519_ChaChaPoly_BLAKE2b"
                none, "Noise_XX_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                none, "Noise_IK_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                none, "Noise_XX_25519_AESGCM_SHA256", Error RefusalCode.UnsupportedPattern
                pskNoKeys, "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                pskNoKeys, "Noise_XX_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                pskNoKeys, "Noise_NX_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.PskRequired
                none, "Noise_NN_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                optional, "Noise_NN_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                none, "Noise_KK_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                none, "Noise_QQ_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                none, "Noise_XXpsk9_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                none, "Noise_XX_448_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedSuite
                optional, "Noise_XX_25519_AESGCM_SHA256", Error RefusalCode.UnsupportedSuite
                none, "Noise_NK_25519_AESGCM_SHA256", Error RefusalCode.UnsupportedSuite
                none, "Noise_XX_25519_ChaChaPoly", Error RefusalCode.MalformedPreamble
                none, "Nois_XX_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.MalformedPreamble
                none, "Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.PskNotConfigured
                mutual, "Noise_NN_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.ClientAuthenticationRequired
                mutual, "Noise_KK_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.ClientAuthenticationRequired
                mutual, "Noise_XK_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                withPsk, "Noise_XXpsk0_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                withPsk, "Noise_NN_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                withPsk, "Noise_XX_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.PskRequired
            ]

            for (list, requested, expected) in cases do
                Expect.equal
                    (Policy.protocolChoice list requested |> Result.map ProtocolName.toString)
                    expected
                    requested
        }

        testPropertyWithConfig
            config
            "only a name on the accepted list is accepted, and it is returned as parsed"
            (fun (rows: bool list) ->
                // A random accepted list drawn from the facade's names; a random request from the same names.
                let names = [
                    for (row, _) in clientTable do
                        for (suite, _) in suites do
                            for hybrid in [ false; true ] ->
                                Policy.clientProtocol { choice row with Hybrid = hybrid } suite
                                |> Result.defaultWith (failwithf "%A")
                ]

                let list =
                    List.zip names (rows @ List.replicate names.Length false |> List.truncate names.Length)
                    |> List.filter snd
                    |> List.map fst

                names
                |> List.forall (fun n ->
                    match Policy.protocolChoice list (ProtocolName.toString n) with
                    | Ok chosen -> chosen = n && List.contains n list
                    | Error _ -> not (List.contains n list)))

        test "hybrid: every client option selects its pattern's hfs twin, for every suite" {
            let mutable cases = 0

            for (row, pattern) in clientTable do
                for (suite, suffix) in suites do
                    let result = Policy.clientProtocol { choice row with Hybrid = true } suite
                    Expect.equal (nameOf result) (hybridName pattern suffix) $"{row}"
                    Expect.equal (result |> Result.map _.Kem) (Ok(Some MLKEM768)) "the KEM"

                    Expect.equal
                        (result
                         |> Result.bind (
                             ProtocolName.toString
                             >> ProtocolName.parse
                             >> Result.mapError (BadProtocolName >> Malformed)
                         ))
                        result
                        "the name parses back to the same value"

                    cases <- cases + 1

            Expect.equal cases 32 "8 rows x 4 suites"
        }

        test "hybrid: a server lists each accepted name's hfs twin first, or only hfs names, or only classical" {
            let mutable cases = 0

            for ((keys, psk), patterns) in serverTable do
                for (suite, suffix) in suites do
                    let names postQuantum =
                        accepted
                            {
                                classical keys psk with
                                    PostQuantum = postQuantum
                            }
                            [ suite ]
                        |> List.map ProtocolName.toString

                    Expect.equal
                        (names HybridOrClassical)
                        [
                            for p in patterns do
                                hybridName p suffix
                                $"Noise_{p}_{suffix}"
                        ]
                        "both"

                    Expect.equal (names HybridOnly) [ for p in patterns -> hybridName p suffix ] "hybrid only"
                    Expect.equal (names ClassicalOnly) [ for p in patterns -> $"Noise_{p}_{suffix}" ] "classical only"
                    cases <- cases + 1

            Expect.equal cases 24 "6 requirements x 4 suites"
        }

        test "hybrid: the server's answer to hybrid and classical clients, with PostQuantumRequired checked first" {
            let mutable counts = Map.empty
            let suite, _ = suites.Head

            for (row, _) in clientTable do
                for hybrid in [ false; true ] do
                    let c = { choice row with Hybrid = hybrid }
                    let requested = nameOf (Policy.clientProtocol c suite)

                    for postQuantum in [ HybridOrClassical; HybridOnly; ClassicalOnly ] do
                        for keys in clientKeyModes do
                            for serverPsk in [ false; true ] do
                                let requirement = {
                                    classical keys serverPsk with
                                        PostQuantum = postQuantum
                                }

                                let list = accepted requirement [ suite ]

                                // specs/PROTOCOL.md §3: exact match, 09, then 06, 05, 07 as for classical names;
                                // a hybrid name to a classical-only server is an unsupported pattern (03).
                                let expected =
                                    if Policy.accepts requirement c then
                                        Ok requested
                                    elif not hybrid && postQuantum = HybridOnly then
                                        Error RefusalCode.PostQuantumRequired
                                    elif c.PreSharedKey && not serverPsk then
                                        Error RefusalCode.PskNotConfigured
                                    elif not c.PreSharedKey && serverPsk && identityAdmitted keys c.ClientIdentity then
                                        Error RefusalCode.PskRequired
                                    elif not c.ClientIdentity && keys = ClientKeys.Required then
                                        Error RefusalCode.ClientAuthenticationRequired
                                    else
                                        Error RefusalCode.UnsupportedPattern

                                let actual =
                                    Policy.protocolChoice list requested |> Result.map ProtocolName.toString

                                Expect.equal actual expected $"{requested} to {requirement}"
                                let key = $"%A{actual}"
                                counts <- counts |> Map.add key (1 + (Map.tryFind key counts |> Option.defaultValue 0))

            Expect.equal (counts |> Map.toList |> List.sumBy snd) 288 "8 choices x 2 x 3 x 3 x 2"
            Expect.equal counts.Count (16 + 5) "16 distinct accepted names and five refusals"
            Expect.isTrue (counts.ContainsKey $"%A{Error RefusalCode.PostQuantumRequired}") "09 occurs"
        }

        test "hybrid: preambles with a KEM the server does not know, or a malformed hfs name, get their codes" {
            let both =
                accepted
                    {
                        classical ClientKeys.Optional false with
                            PostQuantum = HybridOrClassical
                    }
                    [ fst suites.Head ]

            for requested, expected in
                [
                    "Noise_XXhfs_25519+Kyber1024_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedSuite
                    "Noise_XXhfs_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.MalformedPreamble
                    "Noise_XX_25519+MLKEM768_ChaChaPoly_BLAKE2b", Error RefusalCode.MalformedPreamble
                    "Noise_NNhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                    "Noise_XXhfs_25519+MLKEM768_AESGCM_SHA256", Error RefusalCode.UnsupportedSuite
                    "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b", Ok "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b"
                ] do
                Expect.equal
                    (Policy.protocolChoice both requested |> Result.map ProtocolName.toString)
                    expected
                    requested
        }
        test
            "the KEM randomness each side supplies: the client a key pair seed (e1), the server encapsulation randomness (ekem1), only for hfs names" {
            let name pattern =
                match ProtocolName.parse pattern with
                | Ok n -> n
                | Error e -> failtest $"{pattern}: {e}"

            let hfs = name "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b"
            let classical = name "Noise_XX_25519_ChaChaPoly_BLAKE2b"
            let need role names = Policy.kemRandomness role names

            Expect.equal
                (need Initiator [ hfs ])
                {
                    KeyPairSeed = true
                    EncapsulationRandomness = false
                }
                "a hybrid client writes e1"

            Expect.equal
                (need Responder [ classical; hfs ])
                {
                    KeyPairSeed = false
                    EncapsulationRandomness = true
                }
                "a server with one hfs name among its accepted writes ekem1"

            for role in [ Initiator; Responder ] do
                Expect.equal
                    (need role [ classical ])
                    {
                        KeyPairSeed = false
                        EncapsulationRandomness = false
                    }
                    $"{role}: a classical name needs none"

            Expect.isTrue
                (HandshakePattern.sends Responder S HandshakePattern.NK)
                "NK: the responder's s is a pre-message"

            Expect.isFalse (HandshakePattern.writes Responder S HandshakePattern.NK) "that no message carries"

            // Noise HFS §5 places e1 in the initiator's first message and ekem1 after the first "ee", which the
            // responder writes in every interactive pattern: so it reads for every hfs pattern.
            for pattern in HandshakePattern.fundamental @ HandshakePattern.deferred do
                match HandshakePattern.applyHfs pattern with
                | Some p ->
                    Expect.isTrue (HandshakePattern.writes Initiator E1 p) $"{p.Name}: the initiator writes e1"
                    Expect.isFalse (HandshakePattern.writes Responder E1 p) $"{p.Name}: the responder does not"
                    Expect.isTrue (HandshakePattern.writes Responder Ekem1 p) $"{p.Name}: the responder writes ekem1"
                    Expect.isFalse (HandshakePattern.writes Initiator Ekem1 p) $"{p.Name}: the initiator does not"
                | None -> failtest $"{pattern.Name} takes hfs"
        }
        test "a refusal reads as 'classical only' exactly when no listed name is an hfs name" {
            let classical = "Noise_NK_25519_ChaChaPoly_BLAKE2b"
            let hybrid = "Noise_NKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b"
            let reads = Policy.refusedAsClassicalOnly
            Expect.isTrue (reads RefusalCode.UnsupportedPattern [ classical ]) "only classical names"
            Expect.isFalse (reads RefusalCode.UnsupportedPattern [ classical; hybrid ]) "one hfs name among them"
            Expect.isFalse (reads RefusalCode.UnsupportedPattern []) "no list: nothing to read"
            Expect.isFalse (reads RefusalCode.UnsupportedSuite [ classical ]) "another refusal"
            // A name containing "hfs" that does not parse as one is not taken for a hybrid offer.
            Expect.isTrue (reads RefusalCode.UnsupportedPattern [ "Noise_hfsXX_garbage" ]) "unparsable names"
        }
    ]
