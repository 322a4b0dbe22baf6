/// The C# entry point (NoiseHandshake / NoiseTransport) driven by the same official vectors, plus its
/// error behaviour: typed exceptions with codes, and no use after a failure.
module HybridProtocol.Tests.FacadeNoiseTests

open System
open Expecto
open HybridProtocol
open HybridProtocol.Noise
open HybridProtocol.Tests.TestSupport
open HybridProtocol.Tests.NoiseVectors

let private options name role prologue (s: byte[] option) (e: byte[] option) (rs: byte[] option) (psks: byte[] list) =
    NoiseHandshakeOptions(
        ProtocolName = name,
        Role = role,
        Prologue = ReadOnlyMemory prologue,
        LocalStatic = (s |> Option.map PrivateKey.FromRawBytes |> Option.toObj),
        RemoteStatic = (rs |> Option.map PublicKey.FromRawBytes |> Option.toObj),
        Psks = (psks |> List.map ReadOnlyMemory |> Array.ofList),
        FixedEphemeralForTestVectorsOnly = (e |> Option.map PrivateKey.FromRawBytes |> Option.toObj)
    )

/// Runs one vector through the C# API; returns the number of messages checked.
let private run (v: Vector) =
    use i =
        NoiseHandshake.Create(
            options v.Name NoiseRole.Initiator v.InitPrologue v.InitStatic v.InitEphemeral v.InitRemoteStatic v.InitPsks
        )

    use r =
        NoiseHandshake.Create(
            options v.Name NoiseRole.Responder v.RespPrologue v.RespStatic v.RespEphemeral v.RespRemoteStatic v.RespPsks
        )

    let oneWay =
        v.Name.StartsWith "Noise_N_"
        || v.Name.StartsWith "Noise_K_"
        || v.Name.StartsWith "Noise_X_"
        || v.Name.Contains "_Npsk"
        || v.Name.Contains "_Kpsk"
        || v.Name.Contains "_Xpsk"

    let mutable index = 0

    for payload, ciphertext in v.Messages do
        if i.Turn <> NoiseHandshakeTurn.Completed then
            let sender, receiver = if i.Turn = NoiseHandshakeTurn.Write then i, r else r, i
            let message = sender.WriteMessage(ReadOnlySpan payload)
            Expect.equal (toHex message) (toHex ciphertext) $"{v.Name} handshake message {index}"
            Expect.equal (receiver.ReadMessage(ReadOnlySpan message)) payload $"{v.Name} payload {index}"
        else
            let initiatorSends = oneWay || index % 2 = 0

            let sender, receiver =
                if initiatorSends then
                    i.Transport, r.Transport
                else
                    r.Transport, i.Transport

            let message = sender.Encrypt(ReadOnlySpan payload)
            Expect.equal (toHex message) (toHex ciphertext) $"{v.Name} transport message {index}"
            Expect.equal (receiver.Decrypt(ReadOnlySpan message)) payload $"{v.Name} transport payload {index}"

        index <- index + 1

    v.HandshakeHash
    |> Option.iter (fun h -> Expect.equal (toHex (i.GetHandshakeHash())) (toHex h) $"{v.Name} handshake hash")

    index

let private code (f: unit -> 'a) =
    try
        f () |> ignore
        None
    with HybridError e ->
        Some e.Code

/// One Noise HFS vector (specs/vectors/noise-hfs-mlkem768.json) through NoiseHandshake and NoiseTransport, with
/// its KEM seed and encapsulation randomness fixed; returns the number of messages checked.
let private runHfs (v: HybridProtocol.Tests.HfsVectors.HfsVector) =
    let side
        role
        (prologue: byte[])
        (s: byte[] option)
        (e: byte[])
        (rs: byte[] option)
        (psks: byte[] list)
        (seed: byte[] option)
        (randomness: byte[] option)
        =
        NoiseHandshakeOptions(
            ProtocolName = v.Name,
            Role = role,
            Prologue = ReadOnlyMemory prologue,
            LocalStatic = (s |> Option.map PrivateKey.FromRawBytes |> Option.toObj),
            RemoteStatic = (rs |> Option.map PublicKey.FromRawBytes |> Option.toObj),
            Psks = (psks |> List.map ReadOnlyMemory |> Array.ofList),
            FixedEphemeralForTestVectorsOnly = PrivateKey.FromRawBytes(ReadOnlySpan e),
            FixedKemSeedForTestVectorsOnly = (seed |> Option.map ReadOnlyMemory |> Option.toNullable),
            FixedEncapsulationRandomnessForTestVectorsOnly =
                (randomness |> Option.map ReadOnlyMemory |> Option.toNullable)
        )

    use i =
        NoiseHandshake.Create(
            side
                NoiseRole.Initiator
                v.InitPrologue
                v.InitStatic
                v.InitEphemeral
                v.InitRemoteStatic
                v.InitPsks
                v.InitKemSeed
                v.InitEncapsRandomness
        )

    use r =
        NoiseHandshake.Create(
            side
                NoiseRole.Responder
                v.RespPrologue
                v.RespStatic
                v.RespEphemeral
                v.RespRemoteStatic
                v.RespPsks
                v.RespKemSeed
                v.RespEncapsRandomness
        )

    let mutable index = 0

    for payload, ciphertext in v.Messages do
        if i.Turn <> NoiseHandshakeTurn.Completed then
            let sender, receiver = if i.Turn = NoiseHandshakeTurn.Write then i, r else r, i
            let message = sender.WriteMessage(ReadOnlySpan payload)
            Expect.equal (toHex message) (toHex ciphertext) $"{v.Name} handshake message {index}"
            Expect.equal (receiver.ReadMessage(ReadOnlySpan message)) payload $"{v.Name} payload {index}"
        else
            let sender, receiver =
                if index % 2 = 0 then
                    i.Transport, r.Transport
                else
                    r.Transport, i.Transport

            let message = sender.Encrypt(ReadOnlySpan payload)
            Expect.equal (toHex message) (toHex ciphertext) $"{v.Name} transport message {index}"
            Expect.equal (receiver.Decrypt(ReadOnlySpan message)) payload $"{v.Name} transport payload {index}"

        index <- index + 1

    Expect.equal (toHex (i.GetHandshakeHash())) (toHex v.HandshakeHash) $"{v.Name} handshake hash"
    index

[<Tests>]
let tests =
    testList "Facade Noise" [
        test "all 222 Noise HFS vectors through NoiseHandshake and NoiseTransport (fixed KEM seed and randomness)" {
            let vectors =
                HybridProtocol.Tests.HfsVectors.readFile (
                    IO.Path.Combine(repoRoot, HybridProtocol.Tests.HfsVectors.vectorPath)
                )

            let messages = vectors |> List.sumBy runHfs
            Expect.equal vectors.Length HybridProtocol.Tests.HfsVectors.ExpectedVectors "vectors run"
            Expect.equal messages (HybridProtocol.Tests.HfsVectors.ExpectedVectors * 6) "messages checked"
        }

        test "an hfs handshake with fresh KEM randomness completes; a fixed seed of the wrong length is refused" {
            let name = "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b"
            use a = PrivateKey.Generate()
            use b = PrivateKey.Generate()

            let create role (key: PrivateKey) =
                NoiseHandshake.Create(NoiseHandshakeOptions(ProtocolName = name, Role = role, LocalStatic = key))

            use i = create NoiseRole.Initiator a
            use r = create NoiseRole.Responder b
            let m1 = i.WriteMessage(ReadOnlySpan.Empty)
            Expect.equal m1.Length (32 + 1184) "e and e1 in clear"
            r.ReadMessage(ReadOnlySpan m1) |> ignore
            i.ReadMessage(ReadOnlySpan(r.WriteMessage(ReadOnlySpan.Empty))) |> ignore
            r.ReadMessage(ReadOnlySpan(i.WriteMessage(ReadOnlySpan.Empty))) |> ignore
            Expect.equal i.Turn NoiseHandshakeTurn.Completed "completed"
            Expect.equal (i.GetHandshakeHash()) (r.GetHandshakeHash()) "same handshake hash"
            Expect.equal r.RemoteStatic a.PublicKey "the responder learned the initiator's key"

            Expect.equal
                (code (fun () ->
                    NoiseHandshake.Create(
                        NoiseHandshakeOptions(
                            ProtocolName = name,
                            Role = NoiseRole.Initiator,
                            LocalStatic = a,
                            FixedKemSeedForTestVectorsOnly = Nullable(ReadOnlyMemory(Array.zeroCreate<byte> 63))
                        )
                    )))
                (Some HybridErrorCode.InvalidArgument)
                "a 63-byte seed"
        }

        test "all 444 NSec-usable vectors through NoiseHandshake and NoiseTransport" {
            let vectors =
                [ "cacophony.txt"; "noise-c-basic.txt" ]
                |> List.collect (fun f -> readVectors (vectorFile $"noise/{f}"))
                |> List.filter (fun v -> usable v.Name)

            let messages = vectors |> List.sumBy run
            Expect.equal vectors.Length 444 "vectors run"
            Expect.equal messages (444 * 6) "messages checked"
        }

        test "bad names, missing keys and tampering raise typed exceptions; a failed handshake refuses further use" {
            Expect.equal
                (code (fun () ->
                    NoiseHandshake.Create(
                        NoiseHandshakeOptions(
                            ProtocolName = "Noise_XX_448_ChaChaPoly_SHA256",
                            Role = NoiseRole.Initiator
                        )
                    )))
                (Some HybridErrorCode.Unsupported)
                "unsupported DH"

            Expect.equal
                (code (fun () ->
                    NoiseHandshake.Create(
                        NoiseHandshakeOptions(
                            ProtocolName = "Noise_NK_25519_ChaChaPoly_SHA256",
                            Role = NoiseRole.Initiator
                        )
                    )))
                (Some HybridErrorCode.InvalidArgument)
                "NK initiator without the server's key"

            use serverKey = PrivateKey.Generate()

            use client =
                NoiseHandshake.Create(
                    NoiseHandshakeOptions(
                        ProtocolName = "Noise_NK_25519_ChaChaPoly_SHA256",
                        Role = NoiseRole.Initiator,
                        RemoteStatic = serverKey.PublicKey
                    )
                )

            use server =
                NoiseHandshake.Create(
                    NoiseHandshakeOptions(
                        ProtocolName = "Noise_NK_25519_ChaChaPoly_SHA256",
                        Role = NoiseRole.Responder,
                        LocalStatic = serverKey
                    )
                )

            Expect.equal
                (code (fun () -> server.WriteMessage(ReadOnlySpan [||])))
                (Some HybridErrorCode.InvalidState)
                "responder writing first"

            let first = client.WriteMessage(ReadOnlySpan "hello"B)
            first[40] <- first[40] ^^^ 1uy

            Expect.equal
                (code (fun () -> server.ReadMessage(ReadOnlySpan first)))
                (Some HybridErrorCode.DecryptionFailed)
                "tampered"

            first[40] <- first[40] ^^^ 1uy

            Expect.equal
                (code (fun () -> server.ReadMessage(ReadOnlySpan first)))
                (Some HybridErrorCode.DecryptionFailed)
                "no second try after a failure"

            Expect.equal
                (code (fun () -> server.Turn))
                (Some HybridErrorCode.DecryptionFailed)
                "the handshake stays failed"
        }

        test "transport rekey in step keeps working; out of step fails" {
            use c =
                NoiseHandshake.Create(
                    NoiseHandshakeOptions(ProtocolName = "Noise_NN_25519_AESGCM_SHA256", Role = NoiseRole.Initiator)
                )

            use s =
                NoiseHandshake.Create(
                    NoiseHandshakeOptions(ProtocolName = "Noise_NN_25519_AESGCM_SHA256", Role = NoiseRole.Responder)
                )

            s.ReadMessage(ReadOnlySpan(c.WriteMessage(ReadOnlySpan [||]))) |> ignore
            c.ReadMessage(ReadOnlySpan(s.WriteMessage(ReadOnlySpan [||]))) |> ignore
            Expect.equal (c.GetHandshakeHash()) (s.GetHandshakeHash()) "same session"
            use ct = c.Transport
            use st = s.Transport
            ct.RekeySending()
            st.RekeyReceiving()
            Expect.equal (st.Decrypt(ReadOnlySpan(ct.Encrypt(ReadOnlySpan "after rekey"B)))) "after rekey"B "in step"
            ct.RekeySending()

            Expect.equal
                (code (fun () -> st.Decrypt(ReadOnlySpan(ct.Encrypt(ReadOnlySpan "x"B)))))
                (Some HybridErrorCode.DecryptionFailed)
                "out of step"
        }
    ]
