/// Noise HFS test vectors (specs/vectors/noise-hfs-mlkem768.json): the generator that wrote them, a check that
/// the file is exactly what the generator makes, and a replay of the file through the public API
/// (ProtocolName.parse, NSecSuite.For, SodiumKem, HandshakeState.InitializeWithKem, TransportState), both roles,
/// byte for byte. Also the KEM alone against the one published ML-KEM-768 entry we have (draft-ietf-hpke-pq 0x0041).
module HybridProtocol.Tests.HfsVectors

open System
open System.IO
open System.Text
open System.Text.Json
open Expecto
open HybridProtocol.Core
open HybridProtocol.Core.Noise
open HybridProtocol.Crypto
open HybridProtocol.Tests.TestSupport

/// The file, relative to the repository root.
let vectorPath = Path.Combine("specs", "vectors", "noise-hfs-mlkem768.json")

/// The patterns the HFS spec's table defines (§5), all interactive fundamental patterns.
let specPatterns = [ "NN"; "NK"; "NX"; "XN"; "XK"; "XX"; "KN"; "KK"; "KX"; "IN"; "IK"; "IX" ]

let private suites = [
    for c in [ "ChaChaPoly"; "AESGCM"; "AEGIS256"; "AEGIS128L" ] do
        for h in [ "SHA256"; "SHA512"; "BLAKE2b" ] -> c, h
]

/// The two suites the psk variants are generated for (psk placement does not depend on the suite).
let private pskSuites = [ "ChaChaPoly", "BLAKE2b"; "AESGCM", "SHA256" ]

/// Every protocol name in the file, in file order: each spec pattern with "hfs" in every suite, then each
/// spec pattern with "hfs" and one psk modifier at every valid position in two suites.
let vectorNames = [
    for p in specPatterns do
        for c, h in suites -> $"Noise_{p}hfs_25519+MLKEM768_{c}_{h}"
    for p in specPatterns do
        let messages = (HandshakePattern.tryFind p).Value.Messages.Length

        for position in 0..messages do
            for c, h in pskSuites -> $"Noise_{p}hfs+psk{position}_25519+MLKEM768_{c}_{h}"
]

// The fixed inputs. The DH keys, prologue, PSK and payloads are cacophony's, so the classical part of each
// vector is comparable with the published classical vectors; the KEM inputs are SHA-512 of a label.
let private initStatic =
    hex "e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1"

let private initEphemeral =
    hex "893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a"

let private respStatic =
    hex "4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893"

let private respEphemeral =
    hex "bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b"

let private prologue = Encoding.ASCII.GetBytes "John Galt"
let private psk = Encoding.ASCII.GetBytes "This is my Austrian perspective!"

let private label (text: string) length =
    Security.Cryptography.SHA512.HashData(Encoding.ASCII.GetBytes text)[.. length - 1]

let private kem = SodiumKem.MlKem768

let private initKemSeed =
    label "HybridProtocol Noise HFS vectors: init_kem_seed" kem.SEEDLEN

let private respKemSeed =
    label "HybridProtocol Noise HFS vectors: resp_kem_seed" kem.SEEDLEN

let private initRandomness =
    label "HybridProtocol Noise HFS vectors: init_encaps_randomness" kem.ENCAPSRANDOMNESSLEN

let private respRandomness =
    label "HybridProtocol Noise HFS vectors: resp_encaps_randomness" kem.ENCAPSRANDOMNESSLEN

let private payloads =
    [
        "Ludwig von Mises"
        "Murray Rothbard"
        "F. A. Hayek"
        "Carl Menger"
        "Jean-Baptiste Say"
        "Eugen Böhm von Bawerk"
    ]
    |> List.map Encoding.Latin1.GetBytes

/// One vector as the file holds it (cacophony's fields plus the KEM ones, see specs/vectors/README.md).
type HfsVector = {
    Name: string
    InitPrologue: byte[]
    RespPrologue: byte[]
    InitPsks: byte[] list
    RespPsks: byte[] list
    InitStatic: byte[] option
    RespStatic: byte[] option
    InitEphemeral: byte[]
    RespEphemeral: byte[]
    InitRemoteStatic: byte[] option
    RespRemoteStatic: byte[] option
    InitKemSeed: byte[] option
    RespKemSeed: byte[] option
    InitEncapsRandomness: byte[] option
    RespEncapsRandomness: byte[] option
    KemPublicKey: byte[]
    KemCiphertext: byte[]
    KemOutput: byte[]
    HandshakeHash: byte[]
    Messages: (byte[] * byte[]) list
}

let private sends (pattern: HandshakePattern) role token =
    HandshakePattern.messagesWithSender pattern
    |> List.exists (fun (_, sender, tokens) -> sender = role && List.contains token tokens)

let private usesStatic (pattern: HandshakePattern) role =
    sends pattern role S
    || List.contains
        S
        (match role with
         | Initiator -> pattern.InitiatorPreMessage
         | Responder -> pattern.ResponderPreMessage)

let private parse name =
    ProtocolName.parse name
    |> Result.defaultWith (fun e -> failtestf "%s: %A" name e)

/// The inputs of a vector for a protocol name; outputs are left empty for `play` to fill or check.
let private inputsFor (name: string) =
    let pattern = (parse name).Pattern
    let publicOf key = (importKeyPair key).Public.Bytes
    let psks = List.replicate pattern.PskCount psk

    let ifSends role token value =
        if sends pattern role token then Some value else None

    {
        Name = name
        InitPrologue = prologue
        RespPrologue = prologue
        InitPsks = psks
        RespPsks = psks
        InitStatic =
            if usesStatic pattern Initiator then
                Some initStatic
            else
                None
        RespStatic =
            if usesStatic pattern Responder then
                Some respStatic
            else
                None
        InitEphemeral = initEphemeral
        RespEphemeral = respEphemeral
        InitRemoteStatic =
            if List.contains S pattern.ResponderPreMessage then
                Some(publicOf respStatic)
            else
                None
        RespRemoteStatic =
            if List.contains S pattern.InitiatorPreMessage then
                Some(publicOf initStatic)
            else
                None
        InitKemSeed = ifSends Initiator E1 initKemSeed
        RespKemSeed = ifSends Responder E1 respKemSeed
        InitEncapsRandomness = ifSends Initiator Ekem1 initRandomness
        RespEncapsRandomness = ifSends Responder Ekem1 respRandomness
        KemPublicKey = [||]
        KemCiphertext = [||]
        KemOutput = [||]
        HandshakeHash = [||]
        Messages = payloads |> List.map (fun p -> p, [||])
    }

/// Runs a vector's conversation through the public API. With `check`, every message, the KEM values and the
/// handshake hash must equal the vector's; without, they are recorded. Returns the vector with the outputs
/// and the number of messages checked.
let play (check: bool) (v: HfsVector) =
    let protocol = parse v.Name
    Expect.equal (ProtocolName.toString protocol) v.Name "the name prints back as written"
    let suite = NSecSuite.For protocol
    Expect.isSome suite.Kem "an hfs name gets a suite with a KEM"

    let kemPair (seed: byte[] option) =
        seed |> Option.map (fun s -> kem.GENERATE_KEM_KEYPAIR.Invoke(ReadOnlySpan s))

    let initKem = kemPair v.InitKemSeed
    let respKem = kemPair v.RespKemSeed

    try
        let init role prologue s e rs psks pair randomness =
            HandshakeState.InitializeWithKem
                suite
                {
                    Protocol = protocol
                    Role = role
                    Prologue = prologue
                    LocalStatic = s |> Option.map importKeyPair
                    LocalEphemeral = Some(importKeyPair e)
                    RemoteStatic = rs |> Option.map publicKey
                    RemoteEphemeral = None
                    Psks = psks
                }
                {
                    LocalKemKeyPair = pair
                    EncapsulationRandomness = randomness
                }
            |> Result.defaultWith (fun err -> failtestf "%s: Initialize refused: %A" v.Name err)

        let initiator =
            init
                Initiator
                v.InitPrologue
                v.InitStatic
                v.InitEphemeral
                v.InitRemoteStatic
                v.InitPsks
                initKem
                v.InitEncapsRandomness

        let responder =
            init
                Responder
                v.RespPrologue
                v.RespStatic
                v.RespEphemeral
                v.RespRemoteStatic
                v.RespPsks
                respKem
                v.RespEncapsRandomness

        let exchange expected (actual: byte[]) what =
            if check then
                Expect.equal (toHex actual) (toHex expected) $"{v.Name}: {what}"

        let rec handshake (i: HandshakeStep) (r: HandshakeStep) messages index written =
            match i, r, messages with
            | Complete ti, Complete tr, rest ->
                Expect.equal ti.HandshakeHash tr.HandshakeHash "both sides agree on the handshake hash"
                exchange v.HandshakeHash ti.HandshakeHash "handshake hash"
                ti.HandshakeHash, transport ti tr rest index written
            | Continue ihs, Continue rhs, (payload, ciphertext) :: rest ->
                let initiatorSends = Role.senderOf index = Initiator
                let sender, receiver = if initiatorSends then ihs, rhs else rhs, ihs

                let struct (message, senderNext) =
                    HandshakeState.WriteMessage payload sender
                    |> Result.defaultWith (fun e -> failtestf "%s: write %d: %A" v.Name index e)

                exchange ciphertext message $"handshake message {index}"

                let struct (read, receiverNext) =
                    HandshakeState.ReadMessage message receiver
                    |> Result.defaultWith (fun e -> failtestf "%s: read %d: %A" v.Name index e)

                Expect.equal read payload $"{v.Name}: handshake payload {index}"

                let i', r' =
                    if initiatorSends then
                        senderNext, receiverNext
                    else
                        receiverNext, senderNext

                handshake i' r' rest (index + 1) ((payload, message) :: written)
            | _ -> failtestf "%s: the two sides disagree about the end of the handshake" v.Name

        and transport (ti: TransportState) (tr: TransportState) messages index written =
            match messages with
            | [] -> List.rev written
            | (payload, ciphertext) :: rest ->
                let initiatorSends = Role.senderOf index = Initiator
                let sender, receiver = if initiatorSends then ti, tr else tr, ti

                let struct (senderNext, message) =
                    TransportState.writeMessage payload sender
                    |> Result.defaultWith (fun e -> failtestf "%s: transport write %d: %A" v.Name index e)

                exchange ciphertext message $"transport message {index}"

                let struct (receiverNext, read) =
                    TransportState.readMessage message receiver
                    |> Result.defaultWith (fun e -> failtestf "%s: transport read %d: %A" v.Name index e)

                Expect.equal read payload $"{v.Name}: transport payload {index}"
                let next = (payload, message) :: written

                if initiatorSends then
                    transport senderNext receiverNext rest (index + 1) next
                else
                    transport receiverNext senderNext rest (index + 1) next

        let hash, messages =
            handshake (Continue initiator) (Continue responder) v.Messages 0 []

        // The KEM values on their own, so another implementer can check the KEM apart from Noise.
        let pair = initKem |> Option.orElse respKem |> Option.get

        let randomness =
            v.InitEncapsRandomness |> Option.orElse v.RespEncapsRandomness |> Option.get

        let ciphertext = Array.zeroCreate kem.KEMCIPHERTEXTLEN
        let output = Array.zeroCreate kem.KEMOUTPUTLEN

        Expect.isTrue
            (kem.GENERATE_KEM_CIPHERTEXT.Invoke(
                ReadOnlySpan pair.Public,
                ReadOnlySpan randomness,
                Span ciphertext,
                Span output
            ))
            "encapsulation"

        exchange v.KemPublicKey pair.Public "KEM public key"
        exchange v.KemCiphertext ciphertext "KEM ciphertext"
        exchange v.KemOutput output "KEM output"

        {
            v with
                KemPublicKey = pair.Public
                KemCiphertext = ciphertext
                KemOutput = output
                HandshakeHash = hash
                Messages = messages
        },
        messages.Length
    finally
        initKem |> Option.iter _.Private.Dispose()
        respKem |> Option.iter _.Private.Dispose()

/// The vectors as JSON, in cacophony's layout and field order, KEM fields after the keys they go with.
let toJson (vectors: HfsVector list) =
    let options = JsonWriterOptions(Indented = true)
    use stream = new MemoryStream()

    do
        use w = new Utf8JsonWriter(stream, options)
        let hexField (name: string) (b: byte[]) = w.WriteString(name, toHex b)
        let optional name = Option.iter (hexField name)

        let list (name: string) (items: byte[] list) =
            if not items.IsEmpty then
                w.WriteStartArray name

                for b in items do
                    w.WriteStringValue(toHex b)

                w.WriteEndArray()

        w.WriteStartObject()
        w.WriteStartArray "vectors"

        for v in vectors do
            w.WriteStartObject()
            w.WriteString("protocol_name", v.Name)
            hexField "init_prologue" v.InitPrologue
            list "init_psks" v.InitPsks
            optional "init_static" v.InitStatic
            hexField "init_ephemeral" v.InitEphemeral
            optional "init_remote_static" v.InitRemoteStatic
            optional "init_kem_seed" v.InitKemSeed
            optional "init_encaps_randomness" v.InitEncapsRandomness
            hexField "resp_prologue" v.RespPrologue
            list "resp_psks" v.RespPsks
            optional "resp_static" v.RespStatic
            hexField "resp_ephemeral" v.RespEphemeral
            optional "resp_remote_static" v.RespRemoteStatic
            optional "resp_kem_seed" v.RespKemSeed
            optional "resp_encaps_randomness" v.RespEncapsRandomness
            hexField "kem_public_key" v.KemPublicKey
            hexField "kem_ciphertext" v.KemCiphertext
            hexField "kem_output" v.KemOutput
            hexField "handshake_hash" v.HandshakeHash
            w.WriteStartArray "messages"

            for payload, ciphertext in v.Messages do
                w.WriteStartObject()
                hexField "payload" payload
                hexField "ciphertext" ciphertext
                w.WriteEndObject()

            w.WriteEndArray()
            w.WriteEndObject()

        w.WriteEndArray()
        w.WriteEndObject()

    Encoding.UTF8.GetString(stream.ToArray()) + "\n"

/// Generates every vector (inputs fixed above, outputs from our implementation).
let generate () =
    vectorNames |> List.map (inputsFor >> play false >> fst)

/// Reads the file generically, as another implementer would: every field by its name.
let readFile (path: string) =
    use doc = JsonDocument.Parse(File.ReadAllText path)

    [
        for v in doc.RootElement.GetProperty("vectors").EnumerateArray() do
            let str (name: string) =
                match v.TryGetProperty name with
                | true, p -> p.GetString() |> Option.ofObj
                | _ -> None

            let bytes name = str name |> Option.map hex
            let required name = (bytes name).Value

            let psks name =
                match v.TryGetProperty(name: string) with
                | true, p -> [
                    for x in p.EnumerateArray() -> hex (x.GetString() |> Option.ofObj |> Option.get)
                  ]
                | _ -> []

            {
                Name = (str "protocol_name").Value
                InitPrologue = required "init_prologue"
                RespPrologue = required "resp_prologue"
                InitPsks = psks "init_psks"
                RespPsks = psks "resp_psks"
                InitStatic = bytes "init_static"
                RespStatic = bytes "resp_static"
                InitEphemeral = required "init_ephemeral"
                RespEphemeral = required "resp_ephemeral"
                InitRemoteStatic = bytes "init_remote_static"
                RespRemoteStatic = bytes "resp_remote_static"
                InitKemSeed = bytes "init_kem_seed"
                RespKemSeed = bytes "resp_kem_seed"
                InitEncapsRandomness = bytes "init_encaps_randomness"
                RespEncapsRandomness = bytes "resp_encaps_randomness"
                KemPublicKey = required "kem_public_key"
                KemCiphertext = required "kem_ciphertext"
                KemOutput = required "kem_output"
                HandshakeHash = required "handshake_hash"
                Messages = [
                    for m in v.GetProperty("messages").EnumerateArray() ->
                        hex (m.GetProperty("payload").GetString() |> Option.ofObj |> Option.get),
                        hex (m.GetProperty("ciphertext").GetString() |> Option.ofObj |> Option.get)
                ]
            }
    ]

/// Base hfs vectors: 12 patterns x 12 suites; psk variants: 3 positions for the 9 two-message patterns and
/// 4 for the 3 three-message ones (39) x 2 suites.
[<Literal>]
let ExpectedVectors = 144 + 78

[<Tests>]
let tests =
    testList "Noise HFS vectors" [
        test
            $"specs/vectors/noise-hfs-mlkem768.json replays through the public API, both roles ({ExpectedVectors} vectors)" {
            let vectors = readFile (Path.Combine(repoRoot, vectorPath))
            let mutable messages = 0

            for v in vectors do
                messages <- messages + snd (play true v)

            printfn $"Noise HFS vectors: {vectors.Length} vectors, {messages} messages checked byte for byte"
            Expect.equal vectors.Length ExpectedVectors "number of vectors run"
            Expect.equal messages (ExpectedVectors * 6) "every vector has 6 messages, all checked"
            Expect.equal (vectors |> List.map _.Name) vectorNames "every spec pattern, suite and psk position"
        }

        test "the file is exactly what the generator makes (set HYBRID_WRITE_VECTORS=1 to rewrite it)" {
            let generated = toJson (generate ())
            let path = Path.Combine(repoRoot, vectorPath)

            if Environment.GetEnvironmentVariable "HYBRID_WRITE_VECTORS" = "1" then
                File.WriteAllText(path, generated)

            Expect.equal (File.ReadAllText path) generated "the published file matches the generator"
        }

        test "ML-KEM-768 against draft-ietf-hpke-pq's 0x0041 entry: seed to public key, encapsulation, decapsulation" {
            use doc =
                JsonDocument.Parse(File.ReadAllText(vectorFile "hpke/hpke-pq-test-vectors.json"))

            let field (v: JsonElement) (name: string) =
                hex (v.GetProperty(name).GetString() |> Option.ofObj |> Option.get)

            let entries = [
                for v in doc.RootElement.EnumerateArray() do
                    if v.GetProperty("kem_id").GetInt32() = 0x0041 then
                        v
            ]

            Expect.equal entries.Length 1 "the file has one ML-KEM-768 entry"

            for v in entries do
                let pair = kem.GENERATE_KEM_KEYPAIR.Invoke(ReadOnlySpan(field v "skRm"))
                use _ = pair.Private
                Expect.equal (toHex pair.Public) (toHex (field v "pkRm")) "pkRm from the 64-byte seed skRm"
                let ciphertext = Array.zeroCreate kem.KEMCIPHERTEXTLEN
                let output = Array.zeroCreate kem.KEMOUTPUTLEN

                Expect.isTrue
                    (kem.GENERATE_KEM_CIPHERTEXT.Invoke(
                        ReadOnlySpan pair.Public,
                        ReadOnlySpan(field v "ikmE"),
                        Span ciphertext,
                        Span output
                    ))
                    "encapsulation"

                Expect.equal (toHex ciphertext) (toHex (field v "enc")) "enc from the randomness ikmE"
                Expect.equal (toHex output) (toHex (field v "shared_secret")) "shared_secret"
                let decapsulated = Array.zeroCreate kem.KEMOUTPUTLEN
                Expect.isTrue (kem.KEM.Invoke(pair.Private, ReadOnlySpan(field v "enc"), Span decapsulated)) "decaps"
                Expect.equal (toHex decapsulated) (toHex (field v "shared_secret")) "decapsulated shared_secret"
        }
    ]
