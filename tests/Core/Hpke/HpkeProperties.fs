/// HPKE through the C# facade: round trips over arbitrary mode, suite, keys, info, aad and plaintext;
/// every kind of tampering or wrong input fails with a typed error; the core's PSK checks and
/// message limit; allocation of the span Seal.
module HybridProtocol.Tests.HpkeProperties

open System
open System.Security.Cryptography
open Expecto
open FsCheck
open HybridProtocol
open HybridProtocol.Core.Hpke
open HybridProtocol.Tests.TestSupport

type FacadeHpke = HybridProtocol.Hpke

let config = {
    FsCheckConfig.defaultConfig with
        maxTest = 60
}

/// A private key determined by an arbitrary seed (every 32-byte string is an X25519 private key).
let keyOf (seed: byte[]) =
    PrivateKey.FromRawBytes(ReadOnlySpan(SHA256.HashData(seed)))

let suites = [|
    for kdf in [ HpkeKdf.HkdfSha256; HpkeKdf.HkdfSha512 ] do
        for aead in [ HpkeAead.Aes256Gcm; HpkeAead.ChaCha20Poly1305 ] do
            HpkeSuite(HpkeKem.X25519HkdfSha256, kdf, aead)
|]

/// One sender/recipient setup: mode, suite, keys, info, PSK.
type Setup = {
    Mode: HpkeMode
    Suite: HpkeSuite
    Recipient: PrivateKey
    Sender: PrivateKey
    Info: byte[]
    Psk: byte[]
    PskId: byte[]
}

let setupOf (modeIndex: byte) (suiteIndex: byte) (seedR: byte[]) (seedS: byte[]) (info: byte[]) (pskSeed: byte[]) = {
    Mode = enum<HpkeMode>(int modeIndex % 4)
    Suite = suites[int suiteIndex % suites.Length]
    Recipient = keyOf (Array.append [| 1uy |] seedR)
    Sender = keyOf (Array.append [| 2uy |] seedS)
    Info = info
    Psk = SHA512.HashData(pskSeed)
    PskId = Array.append [| 0x49uy |] pskSeed
}

let usesPsk (s: Setup) =
    s.Mode = HpkeMode.Psk || s.Mode = HpkeMode.AuthPsk

let usesAuth (s: Setup) =
    s.Mode = HpkeMode.Auth || s.Mode = HpkeMode.AuthPsk

let senderOptions (s: Setup) =
    HpkeSenderOptions(
        Suite = s.Suite,
        Psk = (if usesPsk s then s.Psk else null),
        PskId = (if usesPsk s then s.PskId else null),
        SenderPrivateKey = (if usesAuth s then s.Sender else null)
    )

let recipientOptions (s: Setup) =
    HpkeRecipientOptions(
        Suite = s.Suite,
        Psk = (if usesPsk s then s.Psk else null),
        PskId = (if usesPsk s then s.PskId else null),
        SenderPublicKey = (if usesAuth s then s.Sender.PublicKey else null)
    )

/// The HybridErrorCode of the exception `f` throws (fails the test when it returns or throws anything else).
let codeOf (f: unit -> 'T) =
    try
        f () |> ignore
        failtest "expected a HybridProtocolException"
    with HybridError e ->
        e.Code

let seal (s: Setup) (pt: byte[]) (aad: byte[]) =
    FacadeHpke.Seal(s.Recipient.PublicKey, ReadOnlySpan pt, ReadOnlySpan s.Info, ReadOnlySpan aad, senderOptions s)

let openWith (s: Setup) (sealedMessage: byte[]) (aad: byte[]) =
    FacadeHpke.Open(s.Recipient, ReadOnlySpan sealedMessage, ReadOnlySpan s.Info, ReadOnlySpan aad, recipientOptions s)

/// A variation of the recipient's inputs that must make Open fail.
type Wrong =
    | WrongRecipientKey
    | WrongInfo
    | WrongAad
    | WrongPsk
    | WrongPskId
    | WrongSenderKey

[<Tests>]
let tests =
    testList "HPKE properties" [
        test "one rule selects the mode from the inputs, for the sender's and the recipient's options (RFC 9180 §5)" {
            use sender = PrivateKey.Generate()

            for psk, key, expected in
                [
                    false, false, Mode.Base
                    true, false, Mode.Psk
                    false, true, Mode.Auth
                    true, true, Mode.AuthPsk
                ] do
                Expect.equal (Mode.select psk key) expected $"core select {psk} {key}"
                let pskBytes: byte array | null = if psk then Array.create 32 1uy else null
                let id: byte array | null = if psk then [| 1uy |] else null
                let senderKey: PrivateKey | null = if key then sender else null
                let senderPublic: PublicKey | null = if key then sender.PublicKey else null

                let senderOptions =
                    HpkeSenderOptions(Psk = pskBytes, PskId = id, SenderPrivateKey = senderKey)

                let recipientOptions =
                    HpkeRecipientOptions(Psk = pskBytes, PskId = id, SenderPublicKey = senderPublic)

                Expect.equal (byte senderOptions.Mode) (Mode.value expected) "sender options"
                Expect.equal (byte recipientOptions.Mode) (Mode.value expected) "recipient options"
        }

        testPropertyWithConfig
            config
            "single-shot Seal/Open round-trips for any mode, suite, keys, info, aad, plaintext"
        <| fun modeIndex suiteIndex seedR seedS (info: byte[]) (aad: byte[]) (pt: byte[]) pskSeed ->
            let s = setupOf modeIndex suiteIndex seedR seedS info pskSeed
            let sealedMessage = seal s pt aad
            Expect.equal sealedMessage.Length (32 + pt.Length + 16) "enc || ct length"
            Expect.equal (openWith s sealedMessage aad) pt "opened plaintext"

        testPropertyWithConfig config "contexts: several messages in order, and Export agrees on both sides"
        <| fun
               modeIndex
               suiteIndex
               seedR
               seedS
               info
               pskSeed
               (messages: (byte[] * byte[]) list)
               (exporterContext: byte[]) ->
            let s = setupOf modeIndex suiteIndex seedR seedS info pskSeed

            use sender =
                FacadeHpke.SetupS(s.Recipient.PublicKey, ReadOnlySpan s.Info, senderOptions s)

            use recipient =
                FacadeHpke.SetupR(
                    ReadOnlySpan sender.EncapsulatedKey,
                    s.Recipient,
                    ReadOnlySpan s.Info,
                    recipientOptions s
                )

            Expect.equal sender.Mode s.Mode "mode selected by the options"

            for (pt, aad) in messages do
                let ct = sender.Seal(ReadOnlySpan pt, ReadOnlySpan aad)
                Expect.equal (recipient.Open(ReadOnlySpan ct, ReadOnlySpan aad)) pt "message"

            Expect.equal sender.SequenceNumber (uint64 messages.Length) "sender seq"
            Expect.equal recipient.SequenceNumber (uint64 messages.Length) "recipient seq"

            Expect.equal
                (sender.Export(ReadOnlySpan exporterContext, 42))
                (recipient.Export(ReadOnlySpan exporterContext, 42))
                "exports agree"

        testPropertyWithConfig config "any bit flip in enc or ct makes Open fail with a typed error"
        <| fun modeIndex suiteIndex seedR seedS info pskSeed (pt: byte[]) (position: uint32) (bit: byte) ->
            let s = setupOf modeIndex suiteIndex seedR seedS info pskSeed
            let sealedMessage = seal s pt [||]
            let i = int (position % uint32 sealedMessage.Length)
            sealedMessage[i] <- sealedMessage[i] ^^^ (1uy <<< int (bit % 8uy))
            let code = codeOf (fun () -> openWith s sealedMessage [||])
            // A flipped enc can land on a low-order point (InvalidPeerKey); otherwise authentication fails.
            Expect.contains [ HybridErrorCode.DecryptionFailed; HybridErrorCode.InvalidPeerKey ] code "typed failure"

        testPropertyWithConfig config "a wrong recipient key, info, aad, psk, psk_id or sender key makes Open fail"
        <| fun modeIndex suiteIndex seedR seedS info pskSeed (pt: byte[]) (wrong: Wrong) ->
            let s = setupOf modeIndex suiteIndex seedR seedS info pskSeed
            let sealedMessage = seal s pt [| 7uy |]
            let other = keyOf (Array.append [| 3uy |] seedR)

            let s', aad, applies =
                match wrong with
                | WrongRecipientKey -> { s with Recipient = other }, [| 7uy |], true
                | WrongInfo ->
                    {
                        s with
                            Info = Array.append s.Info [| 0uy |]
                    },
                    [| 7uy |],
                    true
                | WrongAad -> s, [| 8uy |], true
                | WrongPsk ->
                    {
                        s with
                            Psk = Array.map ((^^^) 1uy) s.Psk
                    },
                    [| 7uy |],
                    usesPsk s
                | WrongPskId ->
                    {
                        s with
                            PskId = Array.append s.PskId [| 0uy |]
                    },
                    [| 7uy |],
                    usesPsk s
                | WrongSenderKey -> { s with Sender = other }, [| 7uy |], usesAuth s

            if applies then
                let code = codeOf (fun () -> openWith s' sealedMessage aad)
                Expect.equal code HybridErrorCode.DecryptionFailed "typed failure"
            else
                Expect.equal (openWith s' sealedMessage aad) pt "input not used by this mode"

        testCase "mode mismatch between sender and recipient fails"
        <| fun () ->
            let s = setupOf 1uy 0uy [| 1uy |] [| 2uy |] [||] [| 3uy |]
            let sealedMessage = seal s [| 1uy; 2uy |] [||]

            let code =
                codeOf (fun () -> openWith { s with Mode = HpkeMode.Base } sealedMessage [||])

            Expect.equal code HybridErrorCode.DecryptionFailed "base recipient, psk sender"

        testCase "PSK inputs: VerifyPSKInputs' three errors and the 32-byte floor"
        <| fun () ->
            let psk = Array.create 32 1uy
            let id = [| 1uy |]

            Expect.equal
                (KeySchedule.VerifyPSKInputs Mode.Psk psk [||])
                (Error(PskInputs InconsistentPskInputs))
                "psk without id"

            Expect.equal
                (KeySchedule.VerifyPSKInputs Mode.Psk [||] id)
                (Error(PskInputs InconsistentPskInputs))
                "id without psk"

            Expect.equal
                (KeySchedule.VerifyPSKInputs Mode.Base psk id)
                (Error(PskInputs PskInputNotNeeded))
                "psk in base"

            Expect.equal
                (KeySchedule.VerifyPSKInputs Mode.Auth psk id)
                (Error(PskInputs PskInputNotNeeded))
                "psk in auth"

            Expect.equal
                (KeySchedule.VerifyPSKInputs Mode.Psk [||] [||])
                (Error(PskInputs MissingRequiredPsk))
                "no psk in psk"

            Expect.equal
                (KeySchedule.VerifyPSKInputs Mode.AuthPsk [||] [||])
                (Error(PskInputs MissingRequiredPsk))
                "no psk in auth_psk"

            Expect.equal
                (KeySchedule.VerifyPSKInputs Mode.Psk (Array.create 31 1uy) id)
                (Error(PskInputs(PskTooShort 31)))
                "31-byte psk"

            Expect.equal (KeySchedule.VerifyPSKInputs Mode.AuthPsk psk id) (Ok()) "valid"
            use r = PrivateKey.Generate()
            let shortPsk = HpkeSenderOptions(Psk = Array.create 16 1uy, PskId = id)

            Expect.equal
                (codeOf (fun () -> FacadeHpke.Seal(r.PublicKey, ReadOnlySpan [||], options = shortPsk)))
                HybridErrorCode.InvalidArgument
                "facade: short psk"

            let noId = HpkeSenderOptions(Psk = psk)

            Expect.equal
                (codeOf (fun () -> FacadeHpke.Seal(r.PublicKey, ReadOnlySpan [||], options = noId)))
                HybridErrorCode.InvalidArgument
                "facade: psk without id"

        testCase
            "message limit: a context at seq 2^64 - 1 refuses to Seal and Open (MessageLimitReached, NonceExhausted)"
        <| fun () ->
            use r = PrivateKey.Generate()
            use sender = FacadeHpke.SetupBaseS(r.PublicKey, ReadOnlySpan [||])

            use recipient =
                FacadeHpke.SetupBaseR(ReadOnlySpan sender.EncapsulatedKey, r, ReadOnlySpan [||])

            let nearS = Context.withSequenceS (UInt64.MaxValue - 1UL) sender.CoreContext
            let nearR = Context.withSequenceR (UInt64.MaxValue - 1UL) recipient.CoreContext

            match Context.SealToArray nearS [||] [| 1uy |] with
            | Error e -> failtestf "the last message must seal: %A" e
            | Ok(struct (lastS, ct)) ->
                Expect.equal (Context.sequenceS lastS) UInt64.MaxValue "seq advanced to the limit"

                Expect.equal
                    (Context.SealToArray lastS [||] [| 1uy |] |> Result.map ignore)
                    (Error MessageLimitReached)
                    "sender limit"

                match Context.OpenToArray nearR [||] ct with
                | Error e -> failtestf "the last message must open: %A" e
                | Ok(struct (lastR, pt)) ->
                    Expect.equal pt [| 1uy |] "last plaintext"

                    Expect.equal
                        (Context.OpenToArray lastR [||] ct |> Result.map ignore)
                        (Error MessageLimitReached)
                        "recipient limit"

            Expect.equal (Context.IncrementSeq UInt64.MaxValue) (Error MessageLimitReached) "IncrementSeq"

            use atLimit =
                new HpkeSenderContext(
                    sender.Suite,
                    sender.Mode,
                    sender.EncapsulatedKey,
                    Context.withSequenceS UInt64.MaxValue sender.CoreContext
                )

            Expect.equal
                (codeOf (fun () -> atLimit.Seal(ReadOnlySpan [| 1uy |])))
                HybridErrorCode.NonceExhausted
                "facade code"

        testCase "keys and sizes: low-order public key, short sealed message, export-only, export length"
        <| fun () ->
            use r = PrivateKey.Generate()
            let zero = HybridProtocol.PublicKey.FromRawBytes(ReadOnlySpan(Array.zeroCreate 32))

            Expect.equal
                (codeOf (fun () -> FacadeHpke.Seal(zero, ReadOnlySpan [| 1uy |])))
                HybridErrorCode.InvalidPeerKey
                "all-zero pkR"

            let sealedMessage = FacadeHpke.Seal(r.PublicKey, ReadOnlySpan [| 1uy |])
            Array.Clear(sealedMessage, 0, 32)

            Expect.equal
                (codeOf (fun () -> FacadeHpke.Open(r, ReadOnlySpan sealedMessage)))
                HybridErrorCode.InvalidPeerKey
                "all-zero enc"

            Expect.equal
                (codeOf (fun () -> FacadeHpke.Open(r, ReadOnlySpan(Array.zeroCreate 47))))
                HybridErrorCode.InvalidCiphertext
                "47 bytes"

            Expect.equal
                (codeOf (fun () -> FacadeHpke.SetupBaseR(ReadOnlySpan(Array.zeroCreate 31), r, ReadOnlySpan [||])))
                HybridErrorCode.InvalidCiphertext
                "31-byte enc"

            let exportOnly =
                HpkeSuite(HpkeKem.X25519HkdfSha256, HpkeKdf.HkdfSha512, HpkeAead.ExportOnly)

            use sender = FacadeHpke.SetupBaseS(r.PublicKey, ReadOnlySpan [| 9uy |], exportOnly)

            use recipient =
                FacadeHpke.SetupBaseR(ReadOnlySpan sender.EncapsulatedKey, r, ReadOnlySpan [| 9uy |], exportOnly)

            Expect.equal
                (sender.Export(ReadOnlySpan "x"B, 100))
                (recipient.Export(ReadOnlySpan "x"B, 100))
                "export-only exports agree"

            Expect.equal
                (codeOf (fun () -> sender.Seal(ReadOnlySpan [| 1uy |])))
                HybridErrorCode.Unsupported
                "export-only Seal"

            Expect.equal
                (codeOf (fun () -> recipient.Open(ReadOnlySpan(Array.zeroCreate 16))))
                HybridErrorCode.Unsupported
                "export-only Open"

            Expect.equal (sender.Export(ReadOnlySpan [||], 255 * 64).Length) (255 * 64) "L = 255 * Nh"

            Expect.equal
                (codeOf (fun () -> sender.Export(ReadOnlySpan [||], 255 * 64 + 1)))
                HybridErrorCode.InvalidArgument
                "L > 255 * Nh"

            Expect.equal
                (codeOf (fun () -> Hpke.DeriveKeyPair(ReadOnlySpan(Array.zeroCreate 31))))
                HybridErrorCode.InvalidKey
                "short ikm"

        testCase "the span Seal does not allocate per message"
        <| fun () ->
            use r = PrivateKey.Generate()
            use sender = FacadeHpke.SetupBaseS(r.PublicKey, ReadOnlySpan [||])
            let pt = Array.zeroCreate 1024
            let ct = Array.zeroCreate 1040
            sender.Seal(ReadOnlySpan pt, ReadOnlySpan [||], Span ct) |> ignore
            let before = GC.GetAllocatedBytesForCurrentThread()

            for _ in 1..1000 do
                sender.Seal(ReadOnlySpan pt, ReadOnlySpan [||], Span ct) |> ignore

            let allocated = GC.GetAllocatedBytesForCurrentThread() - before
            Expect.isLessThan allocated 1000L $"bytes allocated by 1000 Seals: {allocated}"
    ]
