/// The official Noise test vectors (cacophony and noise-c), run through the public API:
/// ProtocolName.parse, NSecSuite.For, HandshakeState.Initialize/WriteMessage/ReadMessage, TransportState.
module HybridProtocol.Tests.NoiseVectors

open System.IO
open System.Text.Json
open Expecto
open HybridProtocol.Core
open HybridProtocol.Crypto
open HybridProtocol.Core.Noise
open HybridProtocol.Tests.TestSupport

type Vector = {
    Name: string
    InitPrologue: byte[]
    RespPrologue: byte[]
    InitStatic: byte[] option
    RespStatic: byte[] option
    InitEphemeral: byte[] option
    RespEphemeral: byte[] option
    InitRemoteStatic: byte[] option
    RespRemoteStatic: byte[] option
    InitPsks: byte[] list
    RespPsks: byte[] list
    HandshakeHash: byte[] option
    Messages: (byte[] * byte[]) list
}

let private text (e: JsonElement) =
    match e.GetString() with
    | null -> ""
    | s -> s

let readVectors (path: string) =
    use doc = JsonDocument.Parse(File.ReadAllText path)

    [
        for v in doc.RootElement.GetProperty("vectors").EnumerateArray() do
            let str (name: string) =
                match v.TryGetProperty name with
                | true, p -> Some(text p)
                | _ -> None

            let bytes name = str name |> Option.map hex

            let psks name =
                match v.TryGetProperty(name: string) with
                | true, p -> [ for x in p.EnumerateArray() -> hex (text x) ]
                | _ -> []

            {
                Name = defaultArg (str "protocol_name") (defaultArg (str "name") "")
                InitPrologue = defaultArg (bytes "init_prologue") [||]
                RespPrologue = defaultArg (bytes "resp_prologue") [||]
                InitStatic = bytes "init_static"
                RespStatic = bytes "resp_static"
                InitEphemeral = bytes "init_ephemeral"
                RespEphemeral = bytes "resp_ephemeral"
                InitRemoteStatic = bytes "init_remote_static"
                RespRemoteStatic = bytes "resp_remote_static"
                InitPsks = psks "init_psks"
                RespPsks = psks "resp_psks"
                HandshakeHash = bytes "handshake_hash"
                Messages = [
                    for m in v.GetProperty("messages").EnumerateArray() ->
                        hex (text (m.GetProperty "payload")), hex (text (m.GetProperty "ciphertext"))
                ]
            }
    ]

/// The suites NSec can run: 25519 with ChaChaPoly or AESGCM and SHA256, SHA512 or BLAKE2b.
let usable (name: string) =
    name.StartsWith "Noise_"
    && name.Contains "_25519_"
    && (name.Contains "_ChaChaPoly_" || name.Contains "_AESGCM_")
    && (name.EndsWith "_SHA256" || name.EndsWith "_SHA512" || name.EndsWith "_BLAKE2b")

/// The facade's two crypto providers: NSec's objects, and SodiumSuite (NSec's libsodium called directly, keys in
/// pooled native blocks). Both run every vector.
let private providers: (string * (ProtocolName -> CryptoSuite) * DhFunctions) list = [
    "NSecSuite", NSecSuite.For, NSecSuite.X25519
    "SodiumSuite", SodiumSuite.For, SodiumSuite.X25519
]

/// Runs one vector; returns the number of messages checked.
let private run (forName: ProtocolName -> CryptoSuite, dh: DhFunctions) (v: Vector) =
    let protocol =
        match ProtocolName.parse v.Name with
        | Ok p -> p
        | Error e -> failtestf "%s: name refused: %A" v.Name e

    Expect.equal (ProtocolName.toString protocol) v.Name "the name prints back as written"
    let suite = forName protocol

    let importKeyPair (raw: byte[]) =
        match dh.IMPORT_PRIVATE.Invoke(System.ReadOnlySpan raw) with
        | ValueSome pair -> pair
        | ValueNone -> failtest "not an X25519 private key"

    let init role prologue s e rs psks =
        match
            HandshakeState.Initialize suite {
                Protocol = protocol
                Role = role
                Prologue = prologue
                LocalStatic = s |> Option.map importKeyPair
                LocalEphemeral = e |> Option.map importKeyPair
                RemoteStatic = rs |> Option.map publicKey
                RemoteEphemeral = None
                Psks = psks
            }
        with
        | Ok hs -> hs
        | Error err -> failtestf "%s: Initialize refused: %A" v.Name err

    let initiator =
        init Initiator v.InitPrologue v.InitStatic v.InitEphemeral v.InitRemoteStatic v.InitPsks

    let responder =
        init Responder v.RespPrologue v.RespStatic v.RespEphemeral v.RespRemoteStatic v.RespPsks

    let oneWay = protocol.Pattern.IsOneWay

    let rec handshake (i: HandshakeStep) (r: HandshakeStep) (messages: (byte[] * byte[]) list) index =
        match i, r, messages with
        | Complete ti, Complete tr, rest ->
            Expect.equal ti.HandshakeHash tr.HandshakeHash "both sides agree on the handshake hash"

            v.HandshakeHash
            |> Option.iter (fun h -> Expect.equal (toHex ti.HandshakeHash) (toHex h) $"{v.Name}: handshake hash")

            transport ti tr rest index
        | Continue ihs, Continue rhs, (payload, ciphertext) :: rest ->
            let initiatorSends = Role.senderOf index = Initiator
            let sender, receiver = if initiatorSends then ihs, rhs else rhs, ihs

            let struct (message, senderNext) =
                HandshakeState.WriteMessage payload sender
                |> Result.defaultWith (fun e -> failtestf "%s: write %d: %A" v.Name index e)

            Expect.equal (toHex message) (toHex ciphertext) $"{v.Name}: handshake message {index}"

            let struct (read, receiverNext) =
                HandshakeState.ReadMessage message receiver
                |> Result.defaultWith (fun e -> failtestf "%s: read %d: %A" v.Name index e)

            Expect.equal read payload $"{v.Name}: handshake payload {index}"

            let i', r' =
                if initiatorSends then
                    senderNext, receiverNext
                else
                    receiverNext, senderNext

            handshake i' r' rest (index + 1)
        | _ -> failtestf "%s: the two sides disagree about the end of the handshake" v.Name

    and transport (ti: TransportState) (tr: TransportState) messages index =
        match messages with
        | [] -> index
        | (payload, ciphertext) :: rest ->
            let initiatorSends = oneWay || Role.senderOf index = Initiator
            let sender, receiver = if initiatorSends then ti, tr else tr, ti

            let struct (senderNext, message) =
                TransportState.writeMessage payload sender
                |> Result.defaultWith (fun e -> failtestf "%s: transport write %d: %A" v.Name index e)

            Expect.equal (toHex message) (toHex ciphertext) $"{v.Name}: transport message {index}"

            let struct (receiverNext, read) =
                TransportState.readMessage message receiver
                |> Result.defaultWith (fun e -> failtestf "%s: transport read %d: %A" v.Name index e)

            Expect.equal read payload $"{v.Name}: transport payload {index}"

            if initiatorSends then
                transport senderNext receiverNext rest (index + 1)
            else
                transport receiverNext senderNext rest (index + 1)

    handshake (Continue initiator) (Continue responder) v.Messages 0

let private suiteTest file expectedCount (provider, forName, dh) =
    test $"every NSec-usable Noise_ vector in {file} ({expectedCount}), {provider}" {
        let vectors =
            readVectors (vectorFile $"noise/{file}") |> List.filter (fun v -> usable v.Name)

        let mutable messages = 0

        for v in vectors do
            messages <- messages + run (forName, dh) v

        printfn
            $"Noise vectors ({provider}): {file}: {vectors.Length} vectors, {messages} messages checked byte for byte"
        // A parser that silently skips entries cannot pass: the count is what the vectors README states.
        Expect.equal vectors.Length expectedCount "number of vectors run"
        Expect.equal messages (expectedCount * 6) "every vector has 6 messages, all checked"
    }

[<Tests>]
let tests =
    testList "Noise vectors" [
        for provider in providers do
            suiteTest "cacophony.txt" 354 provider
            suiteTest "noise-c-basic.txt" 90 provider
    ]
