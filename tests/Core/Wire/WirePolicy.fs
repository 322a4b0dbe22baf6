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

/// The same section: what a server accepts, per suite, for (client authentication required, PSK).
let private serverTable = [
    (false, false), [ "NK"; "NX"; "XX"; "IK" ]
    (true, false), [ "XX"; "IK" ]
    (false, true), [ "NKpsk2"; "NXpsk2"; "XXpsk3"; "IKpsk2" ]
    (true, true), [ "XXpsk3"; "IKpsk2" ]
]

let private choice (serverKey, identity, psk) = {
    ServerKey = serverKey
    ClientIdentity = identity
    PreSharedKey = psk
}

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
                && not name.Pattern.IsOneWay
                && Policy.initiatorProvesKey name = c.ClientIdentity
                && List.contains S name.Pattern.ResponderPreMessage = (c.ServerKey = Pinned)
                && Policy.responderTransmitsKey name = (c.ServerKey = Learned))

        test "a server accepts the names of the spec's table, for each of its suites in order" {
            let mutable cases = 0

            for ((required, psk), patterns) in serverTable do
                for set in suiteSets do
                    let requirement = {
                        ClientAuthentication = required
                        PreSharedKey = psk
                    }

                    let expected = [
                        for (_, suffix) in set do
                            for p in patterns -> $"Noise_{p}_{suffix}"
                    ]

                    Expect.equal
                        (accepted requirement (List.map fst set) |> List.map ProtocolName.toString)
                        expected
                        $"{requirement}"

                    cases <- cases + 1

            Expect.equal cases 60 "4 requirements x 15 suite sets"
        }

        test "a repeated suite is listed once" {
            let chacha = fst suites.Head

            Expect.equal
                (accepted
                    {
                        ClientAuthentication = true
                        PreSharedKey = false
                    }
                    [ chacha; chacha ]
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

                    for required in [ false; true ] do
                        for serverPsk in [ false; true ] do
                            for set in suiteSets do
                                let requirement = {
                                    ClientAuthentication = required
                                    PreSharedKey = serverPsk
                                }

                                let list = accepted requirement (List.map fst set)
                                let suiteAccepted = set |> List.exists (fun (s, _) -> s = clientSuite)

                                // specs/PROTOCOL.md §3: exact match, then 06, 05 (the base pattern is accepted with psk), 07, 04.
                                let expected =
                                    if suiteAccepted && Policy.accepts requirement c then
                                        Ok requested
                                    elif c.PreSharedKey && not serverPsk then
                                        Error RefusalCode.PskNotConfigured
                                    elif not c.PreSharedKey && serverPsk && (c.ClientIdentity || not required) then
                                        // The server accepts this base pattern, only with its psk modifier.
                                        Error RefusalCode.PskRequired
                                    elif not c.ClientIdentity && required then
                                        Error RefusalCode.ClientAuthenticationRequired
                                    else
                                        Error RefusalCode.UnsupportedSuite

                                let actual =
                                    Policy.protocolChoice list requested |> Result.map ProtocolName.toString

                                Expect.equal actual expected $"{requested} to {requirement} with {List.map snd set}"
                                let key = $"%A{actual}"
                                counts <- counts |> Map.add key (1 + (Map.tryFind key counts |> Option.defaultValue 0))

            // Every outcome occurs; the total is 8 choices x 4 suites x 4 requirements x 15 suite sets.
            Expect.equal (counts |> Map.toList |> List.sumBy snd) 1920 "every case ran"
            Expect.equal counts.Count (32 + 4) "32 distinct accepted names and the four refusals"
        }

        test "preambles no facade client sends get the code of the spec's table" {
            let none =
                accepted
                    {
                        ClientAuthentication = false
                        PreSharedKey = false
                    }
                    [ fst suites.Head ]

            let mutual =
                accepted
                    {
                        ClientAuthentication = true
                        PreSharedKey = false
                    }
                    [ fst suites.Head ]

            let withPsk =
                accepted
                    {
                        ClientAuthentication = false
                        PreSharedKey = true
                    }
                    [ fst suites.Head ]

            let cases = [
                none, "Noise_XX_25519_ChaChaPoly_BLAKE2b", Ok "Noise_XX_25519_ChaChaPoly_BLAKE2b"
                none, "Noise_NN_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                none, "Noise_KK_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                none, "Noise_QQ_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                none, "Noise_XXpsk9_25519_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedPattern
                none, "Noise_XX_448_ChaChaPoly_BLAKE2b", Error RefusalCode.UnsupportedSuite
                none, "Noise_XX_25519_AESGCM_SHA256", Error RefusalCode.UnsupportedSuite
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
                        for (suite, _) in suites ->
                            Policy.clientProtocol (choice row) suite |> Result.defaultWith (failwithf "%A")
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

        test "server configurations that cannot work are refused with InvalidConfig" {
            let isInvalid =
                function
                | Error(InvalidConfig _) -> true
                | _ -> false

            Expect.isTrue (isInvalid (Policy.checkSizes 0 100 RekeyPolicy.Default "x")) "message size 0"
            Expect.isTrue (isInvalid (Policy.checkSizes 1 0 RekeyPolicy.Default "x")) "record data 0"

            Expect.isTrue
                (isInvalid (Policy.checkSizes 1 (ConfigDefaults.MaxRecordData + 1) RekeyPolicy.Default "x"))
                "record data too large"

            Expect.isTrue
                (isInvalid (
                    Policy.checkSizes
                        1
                        1
                        {
                            RekeyPolicy.Default with
                                AfterBytes = 0L
                        }
                        "x"
                ))
                "rekey 0 bytes"

            Expect.isTrue
                (isInvalid (
                    Policy.checkSizes
                        1
                        1
                        {
                            RekeyPolicy.Default with
                                AfterRecords = 0L
                        }
                        "x"
                ))
                "rekey 0 records"

            Expect.equal
                (Policy.checkSizes 1 ConfigDefaults.MaxRecordData RekeyPolicy.Default "x")
                (Ok())
                "the limits themselves are fine"
        }
    ]
