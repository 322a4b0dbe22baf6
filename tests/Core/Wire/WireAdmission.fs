/// The admission rules of specs/PROTOCOL.md §12a as pure functions: the bound on a pattern's first message, the
/// first-flight verdict, address shares, which patterns need a liveness proof, and the drop statuses.
module HybridProtocol.Tests.WireAdmission

open System
open Expecto
open HybridProtocol.Core.Noise
open HybridProtocol.Core.Wire
open HybridProtocol.Crypto
open HybridProtocol.Tests.TestSupport
open HybridProtocol.Tests.WireDriver

let private limitOf name =
    Admission.firstMessageLimit (parse name)

/// A real client's first flight for `name`, with an application protocol of `appProtocol`.
let private firstFlightOf (name: string) (appProtocol: string) =
    let protocol = parse name
    let suite = NSecSuite.For protocol

    let config =
        ClientConfig.Create(protocol, suite, keyPair 3, appProtocol)
        |> fun c ->
            if initiatorSendsStatic name then
                c.WithLocalStatic(keyPair 1)
            else
                c
        |> fun c ->
            if serverKeyPreKnown name then
                c.WithRemoteStatic((keyPair 2).Public)
            else
                c
        |> fun c -> if protocol.Pattern.IsPsk then c.WithPsk psk else c
        |> fun c ->
            if protocol.IsHfs then
                c.WithKemKeyPair(kemKeyPair ())
            else
                c

    match Connection.Client config with
    | Ok(_, outputs) ->
        outputs
        |> List.pick (function
            | Output.Transmit bytes -> Some bytes
            | _ -> None)
    | Error e -> failwithf "%A" e

[<Tests>]
let tests =
    testList "Wire admission" [
        test "firstMessageLimit: the largest first message of each pattern (tokens, payload bound, tags)" {
            Expect.equal (limitOf "Noise_XX_25519_ChaChaPoly_BLAKE2b") 32 "XX: e"
            Expect.equal (limitOf "Noise_NK_25519_ChaChaPoly_BLAKE2b") (32 + 512 + 16) "NK: e, es, encrypted parameters"
            Expect.equal (limitOf "Noise_NX_25519_ChaChaPoly_BLAKE2b") (32 + 512) "NX: e, cleartext parameters"

            Expect.equal
                (limitOf "Noise_IK_25519_AESGCM_SHA512")
                (32 + 48 + 512 + 16)
                "IK: e, es, s (encrypted), ss, parameters"

            Expect.equal (limitOf "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b") (32 + 1184) "XXhfs: e, e1"

            Expect.equal
                (limitOf "Noise_NKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b")
                (32 + 1184 + 16 + 512 + 16)
                "NKhfs: e, es, e1 (encrypted), parameters"

            Expect.equal
                (limitOf "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b")
                (32 + 16)
                "XXpsk3: e mixes a key, the empty payload has a tag"
        }

        test "every first flight a real client writes is Complete at its exact length and within its pattern's bound" {
            let mutable checkedCount = 0

            for name in protocols do
                for appProtocol in [ ""; "test/1"; String('p', 255) ] do
                    let flight = firstFlightOf name appProtocol

                    match Admission.firstFlight (ReadOnlySpan flight) with
                    | FirstFlightVerdict.Complete length ->
                        Expect.equal length flight.Length $"{name}: the whole flight"
                    | other -> failtestf "%s: %A" name other

                    for cut in [ 0; 1; 5; flight.Length / 2; flight.Length - 1 ] do
                        match Admission.firstFlight (ReadOnlySpan(flight, 0, cut)) with
                        | FirstFlightVerdict.Waiting needed -> Expect.isGreaterThan needed 0 "asks for more"
                        | other -> failtestf "%s cut at %d: %A" name cut other

                    checkedCount <- checkedCount + 1

            Expect.equal checkedCount (protocols.Length * 3) "every protocol and application protocol checked"
        }

        test "a first frame longer than the pattern's first message is Oversized as soon as its length arrives" {
            let flight = firstFlightOf "Noise_XX_25519_ChaChaPoly_BLAKE2b" "test/1"
            let preamble = flight.Length - 2 - 32
            let forged = Array.append flight[.. preamble - 1] [| 0xFFuy; 0xFFuy |]

            Expect.equal
                (Admission.firstFlight (ReadOnlySpan forged))
                (FirstFlightVerdict.Oversized(65535, 32))
                "65,535 announced, 32 possible"

            let oneOver = Array.append flight[.. preamble - 1] [| 0uy; 33uy |]

            Expect.equal (Admission.firstFlight (ReadOnlySpan oneOver)) (FirstFlightVerdict.Oversized(33, 32)) "33"
        }

        test "bytes that can be no first flight, or an unknown name, are answered by the handshake at once" {
            let answer (bytes: byte[]) =
                match Admission.firstFlight (ReadOnlySpan bytes) with
                | FirstFlightVerdict.Answer _ -> true
                | _ -> false

            Expect.isTrue (answer "GET / HTTP/1.1\r\n"B) "HTTP"
            Expect.isTrue (answer [| yield! "HYBR"B; 2uy |]) "version 2"
            Expect.isTrue (answer [| yield! "HYBR"B; 1uy; 5uy; yield! "Noise"B |]) "no Noise name"
        }

        testPropertyWithConfig
            WireCodecs.config
            "firstFlight is total: any bytes give a verdict, never more than they hold"
        <| fun (bytes: byte[]) ->
            let bytes = WireCodecs.nonNull bytes

            match Admission.firstFlight (ReadOnlySpan bytes) with
            | FirstFlightVerdict.Complete length -> length <= bytes.Length && length > 0
            | FirstFlightVerdict.Waiting needed -> needed > 0
            | FirstFlightVerdict.Oversized(length, limit) -> length > limit
            | FirstFlightVerdict.Answer _ -> true

        test "shareKey: IPv4 as it is, IPv4-mapped as IPv4, IPv6 by its /64" {
            let key (text: string) =
                Admission.shareKey (Net.IPAddress.Parse(text).GetAddressBytes())

            Expect.equal (key "127.0.0.1") [| 127uy; 0uy; 0uy; 1uy |] "IPv4"
            Expect.equal (key "::ffff:127.0.0.1") (key "127.0.0.1") "mapped"
            Expect.equal (key "2001:db8:1:2::1") (key "2001:db8:1:2:ffff:1:2:3") "one /64"
            Expect.notEqual (key "2001:db8:1:2::1") (key "2001:db8:1:3::1") "another /64"
            Expect.equal (key "2001:db8:1:2::1").Length 8 "8 bytes"
        }

        test "livenessProofNeeded: where the server writes last (NK, NX, IK and variants), not XX" {
            for name, expected in
                [
                    "Noise_NK_25519_ChaChaPoly_BLAKE2b", true
                    "Noise_NX_25519_ChaChaPoly_BLAKE2b", true
                    "Noise_IK_25519_ChaChaPoly_BLAKE2b", true
                    "Noise_NKhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b", true
                    "Noise_IKhfs+psk2_25519+MLKEM768_AESGCM_SHA256", true
                    "Noise_XX_25519_ChaChaPoly_BLAKE2b", false
                    "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b", false
                    "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b", false
                ] do
                Expect.equal (Admission.livenessProofNeeded (parse name)) expected name
        }

        test "dropStatus: ServerBusy and TooSlow refusals a client decodes, listing no names" {
            for reason, code in
                [
                    DropReason.Busy, RefusalCode.ServerBusy
                    DropReason.TooSlow, RefusalCode.TooSlow
                ] do
                let bytes = Admission.dropStatus reason

                match ServerStatus.decode (ReadOnlySpan bytes) with
                | Ok(Decoded(Declined refusal, used)) ->
                    Expect.equal refusal.Code code "the code"
                    Expect.isEmpty refusal.Supported "no names"
                    Expect.equal used bytes.Length "all of it"
                | other -> failtestf "%A" other
        }
    ]
