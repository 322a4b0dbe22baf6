/// One canonical spelling per protocol name (specs/NOISE-CORE.md, "Canonical names"): for every pattern the core
/// accepts, with every modifier combination of NoiseProperties.patternSections, the canonical name parses and
/// prints back, and every other order of its modifiers and every other case of its sections is refused with
/// `NonCanonical` naming the canonical name, by `parse`, by `createWithModifiers` and by a server (02).
module HybridProtocol.Tests.CanonicalNames

open System.Text.RegularExpressions
open Expecto
open HybridProtocol.Core.Noise
open HybridProtocol.Core.Wire
open HybridProtocol.Tests.NoiseProperties

/// A pattern section's base name (upper case and digits: "XX", "X1K1") and its modifiers ("psk0", "hfs"), by the
/// letters' case alone, independently of the parser under test.
let private splitSection (section: string) =
    let m = Regex.Match(section, "^([A-Z0-9]+)(.*)$")

    match m.Groups[2].Value with
    | "" -> section, []
    | modifiers -> m.Groups[1].Value, modifiers.Split('+') |> List.ofArray

let rec private permutations =
    function
    | [] -> [ [] ]
    | items ->
        items
        |> List.collect (fun x ->
            permutations (List.filter (fun y -> y <> x) items)
            |> List.map (fun rest -> x :: rest))

/// The name of `written` (a spelling of the pattern section `section`) with `section`'s DH section.
let private spelled section written suite =
    "Noise_" + written + "_" + dhSection section + "_" + suite

let private nameOf section suite = spelled section section suite

let private suites = [ "ChaChaPoly_SHA256"; "AESGCM_BLAKE2b"; "AEGIS256_SHA512" ]

[<Tests>]
let tests =
    testList "Noise names/canonical" [
        test "every accepted name is canonical and prints back; every other order of its modifiers names it" {
            let mutable reordered = 0

            for section in patternSections do
                for suite in suites do
                    let canonical = nameOf section suite
                    let parsed = ProtocolName.parse canonical
                    Expect.equal (parsed |> Result.map ProtocolName.toString) (Ok canonical) canonical
                    let baseName, modifiers = splitSection section

                    for order in permutations modifiers do
                        if order <> modifiers then
                            let written = spelled section (baseName + String.concat "+" order) suite
                            Expect.equal (ProtocolName.parse written) (Error(NonCanonical canonical)) written
                            reordered <- reordered + 1

            // NNhfs+psk0 and NNpsk0+hfs, XXpsk0+psk3 and XXpsk3+psk0, ... in three suites each.
            Expect.isGreaterThan reordered 300 "non-canonical orders checked"
        }

        test "every accepted name in another case is refused with the canonical name" {
            for section in patternSections do
                let canonical = nameOf section "ChaChaPoly_SHA256"
                let baseName, modifiers = splitSection section
                let modifierText = String.concat "+" modifiers

                for written in
                    [
                        spelled section (baseName.ToLowerInvariant() + modifierText) "ChaChaPoly_SHA256"
                        spelled section (baseName + modifierText.ToUpperInvariant()) "ChaChaPoly_SHA256"
                        nameOf section "chachapoly_sha256"
                        "noise" + canonical.Substring 5
                    ] do
                    if written <> canonical then
                        Expect.equal (ProtocolName.parse written) (Error(NonCanonical canonical)) written

            let hybrid = "Noise_XXhfs+psk3_25519+MLKEM768_ChaChaPoly_BLAKE2b"

            for written in
                [
                    "Noise_XXhfs+psk3_25519+mlkem768_ChaChaPoly_BLAKE2b"
                    "Noise_xxPSK3+HFS_25519+MLKEM768_chachapoly_blake2b"
                    "Noise_XXpsk3+hfs_25519+MLKEM768_ChaChaPoly_BLAKE2b"
                ] do
                Expect.equal (ProtocolName.parse written) (Error(NonCanonical hybrid)) written
        }

        test "names that are not ours in any case keep their own error" {
            for written, error in
                [
                    "Noise_yy_25519_ChaChaPoly_SHA256", UnknownPattern "yy"
                    "Noise_XXPSK4_25519_ChaChaPoly_SHA256", UnknownPattern "XXPSK4"
                    "Noise_XX_25519_chacha_SHA256", UnsupportedCipher "chacha"
                    "NoisePSK_XX_25519_ChaChaPoly_SHA256", NotNoise
                ] do
                Expect.equal (ProtocolName.parse written) (Error error) written
        }

        test "createWithModifiers refuses every order but the canonical one" {
            let build modifiers kem =
                ProtocolName.createWithModifiers HandshakePattern.XX modifiers Curve25519 kem ChaChaPoly BLAKE2b
                |> Result.map ProtocolName.toString

            Expect.equal
                (build [ HfsModifier; PskModifier 3 ] (Some MLKEM768))
                (Ok "Noise_XXhfs+psk3_25519+MLKEM768_ChaChaPoly_BLAKE2b")
                "canonical"

            Expect.equal
                (build [ PskModifier 3; HfsModifier ] (Some MLKEM768))
                (Error(NonCanonical "Noise_XXhfs+psk3_25519+MLKEM768_ChaChaPoly_BLAKE2b"))
                "psk before hfs"

            Expect.equal
                (build [ PskModifier 3; PskModifier 0 ] None)
                (Error(NonCanonical "Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b"))
                "psk3 before psk0"
        }

        test "a server refuses a non-canonical name with MalformedPreamble (02)" {
            let accepted =
                [
                    "Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b"
                    "Noise_NNhfs+psk0_25519+MLKEM768_ChaChaPoly_BLAKE2b"
                ]
                |> List.map (ProtocolName.parse >> Result.defaultWith (fun e -> failtestf "%A" e))

            for requested in
                [
                    "Noise_XXpsk3+psk0_25519_ChaChaPoly_BLAKE2b"
                    "Noise_NNpsk0+hfs_25519+MLKEM768_ChaChaPoly_BLAKE2b"
                    "Noise_xxpsk0+psk3_25519_ChaChaPoly_BLAKE2b"
                ] do
                Expect.equal (Policy.protocolChoice accepted requested) (Error RefusalCode.MalformedPreamble) requested

            for requested in accepted do
                let name = ProtocolName.toString requested
                Expect.equal (Policy.protocolChoice accepted name) (Ok requested) name
        }
    ]
