/// Noise HFS in the core, checked directly: the token placement for every pattern the HFS spec's table defines
/// (typed in by hand, so the §5 rule in Pattern.fs is checked against the spec, not against itself), names,
/// Initialize's refusals, one KEM operation per side, the message sizes specs/NOISE-CORE.md lists, and a
/// refused KEM public key as a typed error. The general properties (completion, tampering, prologue, PSK)
/// run over every hfs pattern in NoiseProperties.
module HybridProtocol.Tests.HfsTests

open System
open Expecto
open HybridProtocol.Core
open HybridProtocol.Core.Noise
open HybridProtocol.Crypto
open HybridProtocol.Tests.TestSupport
open HybridProtocol.Tests.NoiseProperties

let private parse name =
    ProtocolName.parse name
    |> Result.defaultWith (fun e -> failtestf "%s: %A" name e)

let private hfsName pattern =
    $"Noise_{pattern}hfs_25519+MLKEM768_ChaChaPoly_BLAKE2b"

/// The HFS spec's §5 table as printed, except KKhfs and INhfs, where the table disagrees with the §5 rule
/// and we follow the rule (as snow does); specs/NOISE-CORE.md gives the reasoning.
let private specTable = [
    "NN", [ [ E; E1 ]; [ E; EE; Ekem1 ] ]
    "NK", [ [ E; ES; E1 ]; [ E; EE; Ekem1 ] ]
    "NX", [ [ E; E1 ]; [ E; EE; Ekem1; S; ES ] ]
    "XN", [ [ E; E1 ]; [ E; EE; Ekem1 ]; [ S; SE ] ]
    "XK", [ [ E; ES; E1 ]; [ E; EE; Ekem1 ]; [ S; SE ] ]
    "XX", [ [ E; E1 ]; [ E; EE; Ekem1; S; ES ]; [ S; SE ] ]
    "KN", [ [ E; E1 ]; [ E; EE; Ekem1; SE ] ]
    // Table: "-> e, e1, es, ss". The rule puts e1 directly after the first DH of the message, es.
    "KK", [ [ E; ES; E1; SS ]; [ E; EE; Ekem1; SE ] ]
    "KX", [ [ E; E1 ]; [ E; EE; Ekem1; SE; S; ES ] ]
    // Table: "<- e, ekem1, se" (no ee). The rule only adds tokens; ee stays and ekem1 follows it.
    "IN", [ [ E; E1; S ]; [ E; EE; Ekem1; SE ] ]
    "IK", [ [ E; ES; E1; S; SS ]; [ E; EE; Ekem1; SE ] ]
    "IX", [ [ E; E1; S ]; [ E; EE; Ekem1; SE; S; ES ] ]
]

/// Handshake message sizes in bytes with empty payloads (ChaChaPoly, any hash): classical, then hfs.
/// e = 32, s = 32 (+16 once a key exists), e1 = KEMPUBLICKEYLEN 1184 (+16), ekem1 = KEMCIPHERTEXTLEN 1088 + 16
/// (always after ee, so always encrypted), and a 16-byte tag on the payload once a key exists.
let sizeTable = [
    "NN", [ 32; 48 ], [ 1216; 1152 ]
    "NK", [ 48; 48 ], [ 1248; 1152 ]
    "NX", [ 32; 96 ], [ 1216; 1200 ]
    "XN", [ 32; 48; 64 ], [ 1216; 1152; 64 ]
    "XK", [ 48; 48; 64 ], [ 1248; 1152; 64 ]
    "XX", [ 32; 96; 64 ], [ 1216; 1200; 64 ]
    "KN", [ 32; 48 ], [ 1216; 1152 ]
    "KK", [ 48; 48 ], [ 1248; 1152 ]
    "KX", [ 32; 96 ], [ 1216; 1200 ]
    "IN", [ 64; 48 ], [ 1248; 1152 ]
    "IK", [ 96; 48 ], [ 1296; 1152 ]
    "IX", [ 64; 96 ], [ 1248; 1200 ]
]

let private side seed = {
    Static = Array.create 32 seed
    Ephemeral = Array.create 32 (seed + 1uy)
    Prologue = [||]
    Psks = []
}

/// Plays a handshake with empty payloads; `tamper` may alter message i. Returns the message sizes or the failure.
let private handshake (suiteFor: ProtocolName -> Role -> CryptoSuite) name tamper =
    let protocol = parse name
    let psks = List.replicate protocol.Pattern.PskCount (Array.create 32 7uy)
    let i = { side 1uy with Psks = psks }
    let r = { side 3uy with Psks = psks }

    let start role (mine: Side) (theirs: Side) =
        let peerPre =
            match role with
            | Initiator -> protocol.Pattern.ResponderPreMessage
            | Responder -> protocol.Pattern.InitiatorPreMessage

        HandshakeState.InitializeWithKem
            (suiteFor protocol role)
            {
                Protocol = protocol
                Role = role
                Prologue = [||]
                LocalStatic = Some(importKeyPair mine.Static)
                LocalEphemeral = Some(importKeyPair mine.Ephemeral)
                RemoteStatic =
                    if List.contains S peerPre then
                        Some (importKeyPair theirs.Static).Public
                    else
                        None
                RemoteEphemeral = None
                Psks = mine.Psks
            }
            (kemInputs protocol mine)
        |> Result.defaultWith (failwithf "%A")

    let rec loop (a: HandshakeStep) (b: HandshakeStep) index sizes =
        match a, b with
        | Complete ta, Complete tb -> Ok(List.rev sizes, ta.HandshakeHash = tb.HandshakeHash)
        | Continue ia, Continue rb ->
            let initiatorSends = Role.senderOf index = Initiator
            let sender, receiver = if initiatorSends then ia, rb else rb, ia

            match HandshakeState.WriteMessage [||] sender with
            | Error e -> Error(index, e)
            | Ok(struct (message, sent)) ->
                match HandshakeState.ReadMessage (tamper index message) receiver with
                | Error e -> Error(index, e)
                | Ok(struct (_, read)) ->
                    let a, b = if initiatorSends then sent, read else read, sent
                    loop a b (index + 1) (message.Length :: sizes)
        | _ -> failwith "the two sides disagree about the end of the handshake"

    loop (Continue(start Initiator i r)) (Continue(start Responder r i)) 0 []

let private plainSuite (protocol: ProtocolName) (_: Role) = NSecSuite.For protocol

[<Tests>]
let tests =
    testList "Noise HFS" [
        test "the hfs modifier places e1 and ekem1 as the HFS spec's §5 rule says, for every pattern its table lists" {
            for pattern, expected in specTable do
                Expect.equal (parse (hfsName pattern)).Pattern.Messages expected $"{pattern}hfs"

            Expect.equal specTable.Length 12 "the table's 12 patterns"
        }

        test "hfs combines with psk modifiers in one canonical order: hfs first (the other order is refused)" {
            let a = parse "Noise_XXhfs+psk0_25519+MLKEM768_ChaChaPoly_BLAKE2b"

            Expect.equal
                a.Pattern.Messages
                [ [ Psk; E; E1 ]; [ E; EE; Ekem1; S; ES ]; [ S; SE ] ]
                "psk0 first, e1 after e"

            Expect.equal
                (ProtocolName.parse "Noise_XXpsk0+hfs_25519+MLKEM768_ChaChaPoly_BLAKE2b")
                (Error(NonCanonical "Noise_XXhfs+psk0_25519+MLKEM768_ChaChaPoly_BLAKE2b"))
                "psk before hfs names the canonical spelling"

            Expect.isTrue a.IsHfs "hfs"
            Expect.equal a.Kem (Some MLKEM768) "the KEM"
            Expect.equal a.PskModifiers [ 0 ] "the psk position"
        }

        test "hfs names are refused with a typed error when malformed" {
            for name, error in
                [
                    "Noise_XXhfs_25519_ChaChaPoly_BLAKE2b", MissingKem
                    "Noise_XX_25519+MLKEM768_ChaChaPoly_BLAKE2b", KemWithoutHfs
                    "Noise_XXhfs_25519+Kyber1024_ChaChaPoly_BLAKE2b", UnsupportedKem "Kyber1024"
                    "Noise_XXhfs_25519+MLKEM768+X_ChaChaPoly_BLAKE2b", UnsupportedDh "25519+MLKEM768+X"
                    "Noise_XXhfs+hfs_25519+MLKEM768_ChaChaPoly_BLAKE2b", InvalidModifier "hfs"
                    // Noise HFS needs "ee" for "ekem1": the one-way patterns cannot be hfs (snow refuses them too).
                    "Noise_Nhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b", InvalidModifier "hfs"
                    "Noise_Xhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b", InvalidModifier "hfs"
                    "Noise_XXhfs1_25519+MLKEM768_ChaChaPoly_BLAKE2b", InvalidModifier "hfs1"
                ] do
                Expect.equal (ProtocolName.parse name) (Error error) name
        }

        test "Initialize refuses an hfs handshake without its KEM inputs or KEM functions" {
            let protocol = parse (hfsName "NN")
            let suite = NSecSuite.For protocol
            let e = Some(importKeyPair (Array.create 32 2uy))

            let parameters role = {
                Protocol = protocol
                Role = role
                Prologue = [||]
                LocalStatic = None
                LocalEphemeral = e
                RemoteStatic = None
                RemoteEphemeral = None
                Psks = []
            }

            let refused suite role kem =
                HandshakeState.InitializeWithKem suite (parameters role) kem
                |> Result.map ignore

            Expect.equal
                (HandshakeState.Initialize suite (parameters Initiator) |> Result.map ignore)
                (Error(Init MissingLocalKemKeyPair))
                "the initiator sends e1"

            Expect.equal
                (refused suite Responder KemParameters.none)
                (Error(Init MissingEncapsulationRandomness))
                "the responder sends ekem1"

            Expect.equal
                (refused suite Responder {
                    KemParameters.none with
                        EncapsulationRandomness = Some(Array.zeroCreate 31)
                })
                (Error(Init MissingEncapsulationRandomness))
                "ENCAPSRANDOMNESSLEN is 32"

            Expect.equal
                (refused { suite with Kem = None } Responder {
                    KemParameters.none with
                        EncapsulationRandomness = Some(Array.zeroCreate 32)
                })
                (Error(Init SuiteMismatch))
                "an hfs name needs a suite with its KEM"
        }

        test "each side runs exactly one KEM operation: the responder encapsulates, the initiator decapsulates" {
            let counts = Collections.Generic.Dictionary<Role * string, int>()

            let bump key =
                counts[key] <-
                    (match counts.TryGetValue key with
                     | true, n -> n
                     | _ -> 0)
                    + 1

            let counted (protocol: ProtocolName) (role: Role) =
                let inner = NSecSuite.For protocol
                let kem = inner.Kem.Value

                {
                    inner with
                        Kem =
                            Some {
                                kem with
                                    GENERATE_KEM_CIPHERTEXT =
                                        KemEncapsulateFn(fun pk r ct o ->
                                            bump (role, "encaps")
                                            kem.GENERATE_KEM_CIPHERTEXT.Invoke(pk, r, ct, o))
                                    KEM =
                                        KemDecapsulateFn(fun k ct o ->
                                            bump (role, "decaps")
                                            kem.KEM.Invoke(k, ct, o))
                            }
                }

            for pattern, _ in specTable do
                counts.Clear()

                match handshake counted (hfsName pattern) (fun _ m -> m) with
                | Ok(_, agree) -> Expect.isTrue agree $"{pattern}hfs: hashes agree"
                | Error f -> failtestf "%s: %A" pattern f

                Expect.equal
                    (counts |> Seq.map (fun kv -> kv.Key, kv.Value) |> Set.ofSeq)
                    (set [ (Responder, "encaps"), 1; (Initiator, "decaps"), 1 ])
                    $"{pattern}hfs: one encapsulation, one decapsulation"
        }

        test "handshake message sizes: classical and hfs, as specs/NOISE-CORE.md lists them" {
            for pattern, classical, hybrid in sizeTable do
                let sizes name =
                    match handshake plainSuite name (fun _ m -> m) with
                    | Ok(sizes, true) -> sizes
                    | other -> failtestf "%s: %A" name other

                Expect.equal (sizes $"Noise_{pattern}_25519_ChaChaPoly_BLAKE2b") classical $"{pattern}"
                Expect.equal (sizes (hfsName pattern)) hybrid $"{pattern}hfs"
        }

        test "a KEM public key that fails ML-KEM's input check is refused with a typed KEM error" {
            // NNhfs without psk sends e1 in clear, right after e: bytes 32..1215 of message 1.
            let corrupt index (message: byte[]) =
                if index = 0 then
                    let copy = Array.copy message
                    Array.fill copy 32 1184 0xFFuy
                    copy
                else
                    message

            // The responder reads it (it is only hashed), then cannot encapsulate to it.
            Expect.equal
                (handshake plainSuite (hfsName "NN") corrupt |> Result.map ignore)
                (Error(1, Kem))
                "refused when writing ekem1"
        }
    ]
