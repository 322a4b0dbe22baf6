/// specs/vectors/endorsement.json through the public API: the authority key from its seed, the endorsement of a fixed
/// server key (Ed25519 is deterministic, so every byte is reproducible), its signature input, its PEM file, the
/// `@authority` line, and the verdict of each listed check. `HYBRID_UPDATE_VECTORS=1` rewrites the file from the code
/// (review the diff).
module HybridProtocol.Tests.EndorsementVectors

open System
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Expecto
open HybridProtocol
open HybridProtocol.Core.Formats
open HybridProtocol.Tests.TestSupport

let private file = Path.Combine(repoRoot, "specs", "vectors", "endorsement.json")

let private authoritySeed = Array.init 32 byte
let private serverPrivate = Array.init 32 (fun i -> byte (0xA0 + i))
let private hosts = [ "*.fleet.example"; "10.0.0.5:443" ]
let private notBefore = 1767225600L // 2026-01-01T00:00:00Z
let private notAfter = 1798761599L // 2026-12-31T23:59:59Z

/// A node that must be there.
let private get (node: JsonNode | null) (key: string) : JsonNode =
    match node with
    | null -> failtestf "no JSON at %s" key
    | n ->
        match n[key] with
        | null -> failtestf "%s is missing" key
        | v -> v

/// The checks the vector lists: host, port, time, and the expected result.
let private checks = [
    "a.fleet.example", 443, 1780000000L, "Ok"
    "10.0.0.5", 443, notBefore, "Ok"
    "10.0.0.5", 444, 1780000000L, "WrongHost"
    "a.b.fleet.example", 443, 1780000000L, "WrongHost"
    "a.fleet.example", 443, notBefore - 1L, "NotYetValid"
    "a.fleet.example", 443, notAfter + 1L, "Expired"
]

let private verdict (authority: byte array) (serverKey: byte array) (endorsement: byte array) host port now =
    let policy = {
        Authorities = [ { Key = authority; Hosts = [] } ]
        RevokedAuthorities = []
        RevokedServerKeys = []
        Required = true
        Host = host
        Port = port
        Now = now
        VERIFY =
            VerifyFn(fun key message signature ->
                let mutable imported = Unchecked.defaultof<NSec.Cryptography.PublicKey>

                NSec.Cryptography.PublicKey.TryImport(
                    NSec.Cryptography.SignatureAlgorithm.Ed25519,
                    key,
                    NSec.Cryptography.KeyBlobFormat.RawPublicKey,
                    &imported
                )
                && NSec.Cryptography.SignatureAlgorithm.Ed25519.Verify(imported, message, signature))
    }

    match EndorsementCheck.check policy serverKey (ReadOnlySpan endorsement) with
    | Ok _ -> "Ok"
    | Error e ->
        let text = sprintf "%A" e
        text.Split([| ' '; '(' |])[0]

/// The vector as this code computes it.
let private computed () =
    use authority = AuthoritySigningKey.FromSeed(ReadOnlySpan authoritySeed)
    use server = PrivateKey.FromRawBytes(ReadOnlySpan serverPrivate)

    let endorsement =
        authority.Endorse(
            server.PublicKey,
            hosts,
            DateTimeOffset.FromUnixTimeSeconds notBefore,
            DateTimeOffset.FromUnixTimeSeconds notAfter
        )

    let bytes = endorsement.ToBytes()

    let input =
        match
            Endorsement.decode (ReadOnlySpan bytes)
            |> Result.bind (fun e -> Endorsement.signatureInput e.Body)
        with
        | Ok i -> i
        | Error e -> failtestf "%A" e

    let o = JsonObject()

    o["description"] <-
        JsonValue.Create
            "An authority endorsement (specs/KEYS.md \"Endorsements\", PROTOCOL.md §6b): Ed25519 authority, X25519 server key; every byte string lowercase hex, times in seconds since the Unix epoch."

    o["authority_seed"] <- JsonValue.Create(toHex authoritySeed)
    o["authority_public"] <- JsonValue.Create(toHex (authority.PublicKey.RawBytes.ToArray()))
    o["server_private"] <- JsonValue.Create(toHex serverPrivate)
    o["server_public"] <- JsonValue.Create(toHex (server.PublicKey.RawBytes.ToArray()))
    let hostArray = JsonArray()

    for h in hosts do
        hostArray.Add h

    o["hosts"] <- hostArray
    o["not_before"] <- JsonValue.Create notBefore
    o["not_after"] <- JsonValue.Create notAfter
    o["signature_input"] <- JsonValue.Create(toHex input)
    o["signature"] <- JsonValue.Create(toHex bytes[bytes.Length - 64 ..])
    o["endorsement"] <- JsonValue.Create(toHex bytes)
    o["endorsement_pem"] <- JsonValue.Create(endorsement.ToPem())
    o["authority_public_pem"] <- JsonValue.Create(authority.PublicKey.ToPem())
    o["known_hosts_line"] <- JsonValue.Create($"@authority {String.Join(',', hosts)} {authority.PublicKey}")

    // The server's handshake payload carrying it (PROTOCOL.md §6: application protocol "hybrid", largest message
    // 16 MiB, field 10 the endorsement), the plaintext of message 2's payload in NX and XX.
    let payload =
        HybridProtocol.Core.Wire.HandshakePayload.encode {
            ApplicationProtocol = "hybrid"
            MaxMessageSize = 16777216
            KeyAnnouncement = None
            Endorsement = Some bytes
        }
        |> Result.defaultWith (fun e -> failtestf "%A" e)

    o["server_handshake_payload"] <- JsonValue.Create(toHex payload)

    o["checks"] <-
        JsonArray(
            [|
                for host, port, now, expected in checks ->
                    let actual =
                        verdict
                            (authority.PublicKey.RawBytes.ToArray())
                            (server.PublicKey.RawBytes.ToArray())
                            bytes
                            host
                            port
                            now

                    Expect.equal actual expected $"{host}:{port} at {now}"
                    let c = JsonObject()
                    c["host"] <- JsonValue.Create host
                    c["port"] <- JsonValue.Create port
                    c["now"] <- JsonValue.Create now
                    c["result"] <- JsonValue.Create expected
                    c :> JsonNode
            |]
        )

    o

[<Tests>]
let tests =
    testList "Endorsement vectors" [
        test "the published endorsement reproduces through the public API" {
            let expected = computed ()
            let text = expected.ToJsonString(JsonSerializerOptions(WriteIndented = true)) + "\n"

            if Environment.GetEnvironmentVariable "HYBRID_UPDATE_VECTORS" = "1" then
                File.WriteAllText(file, text)

            let published = JsonNode.Parse(File.ReadAllText file)

            for key in
                [
                    "authority_public"
                    "server_public"
                    "signature_input"
                    "signature"
                    "endorsement"
                    "endorsement_pem"
                    "authority_public_pem"
                    "known_hosts_line"
                    "server_handshake_payload"
                ] do
                Expect.equal (string (get published key)) (string (get expected key)) key

            let publishedChecks = (get published "checks").AsArray()
            Expect.equal publishedChecks.Count 6 "six checks"

            // The published payload decodes to the endorsement's bytes (an old reader skips field 10).
            let payload =
                Convert.FromHexString(string (get published "server_handshake_payload"))

            match HybridProtocol.Core.Wire.HandshakePayload.decode (ReadOnlySpan payload) with
            | Ok p ->
                Expect.equal
                    p.Endorsement
                    (Some(Convert.FromHexString(string (get published "endorsement"))))
                    "field 10"
            | Error e -> failtestf "%A" e

            // The published bytes, read back: the endorsement decodes, and each listed check gives its result.
            let bytes = Convert.FromHexString(string (get published "endorsement"))
            let read = ServerEndorsement.FromBytes(ReadOnlySpan bytes)
            Expect.equal (List.ofSeq read.Hosts) hosts "hosts"
            Expect.equal (read.NotAfter.ToUnixTimeSeconds()) notAfter "not after"
            let authority = Convert.FromHexString(string (get published "authority_public"))
            let server = Convert.FromHexString(string (get published "server_public"))

            for c in publishedChecks do
                let host, port, now =
                    string (get c "host"), (get c "port").GetValue<int>(), (get c "now").GetValue<int64>()

                Expect.equal
                    (verdict authority server bytes host port now)
                    (string (get c "result"))
                    $"{host}:{port} at {now}"
        }
    ]
