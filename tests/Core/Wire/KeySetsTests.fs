/// Key sets, revocation and the server's key announcement in the core (specs/PROTOCOL.md §6a, specs/KEYS.md
/// "Revoked keys"): the `@revoked` line codec and its precedence, `KeySet.decide`, the announcement codec (round
/// trip, malformed input), its proofs (a copied or unprovable entry is refused with its own error), servers holding
/// several keys for every pattern (trial reading of NK/IK first messages), pinned sets and revoked keys, and the
/// published vectors (specs/vectors/key-announcement.json) replayed.
module HybridProtocol.Tests.KeySetsTests

open System
open System.IO
open System.Text.Json
open System.Text.Json.Nodes
open Expecto
open HybridProtocol.Core
open HybridProtocol.Core.Formats
open HybridProtocol.Core.Noise
open HybridProtocol.Core.Wire
open HybridProtocol.Crypto
open HybridProtocol.Tests.TestSupport
open HybridProtocol.Tests.WireDriver

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 200
}

let private suite = NSecSuite.For(parse "Noise_XX_25519_ChaChaPoly_BLAKE2b")
let private h = Array.init 64 (fun i -> byte (i * 7 + 1))

let private key32 (seed: byte array) =
    let seed = nonNullBytes seed

    Array.init 32 (fun i ->
        if seed.Length = 0 then
            byte i
        else
            seed[i % seed.Length] + byte i)

let private hostKey seed = HostKey.X25519(key32 seed)

let revokedLineTests =
    testList "@revoked lines" [
        testPropertyWithConfig config "decode (encode line) = Ok line for revoked lines (any host or one host:port)"
        <| fun (seed: byte array) (anyHost: bool) (p: uint16) ->
            let line =
                Revoked {
                    Scope =
                        if anyHost then
                            RevokedScope.AnyHost
                        else
                            RevokedScope.HostPort(HostPortTests.hostFrom 0uy seed, 1 + int p % 65535)
                    Key = hostKey seed
                    Comment = if p % 2us = 0us then None else Some "leaked 2026-01"
                }

            match KnownHostsLine.decode (KnownHostsLine.encode line), line with
            | Ok(Revoked a), Revoked b ->
                a.Scope = b.Scope && a.Comment = b.Comment && KnownHostsLine.sameKey a.Key b.Key
            | _ -> false

        test "a revoked key is refused even where another line trusts it; * revokes for every host" {
            let a = hostKey [| 1uy |]
            let b = hostKey [| 2uy |]

            let text =
                String.concat "\n" [
                    "h:1 x25519 "
                    + Convert.ToBase64String(
                        match a with
                        | HostKey.X25519 k -> k
                    )
                    "h:1 x25519 "
                    + Convert.ToBase64String(
                        match b with
                        | HostKey.X25519 k -> k
                    )
                    "@revoked h:1 x25519 "
                    + Convert.ToBase64String(
                        match b with
                        | HostKey.X25519 k -> k
                    )
                    "@revoked * x25519 "
                    + Convert.ToBase64String(
                        match a with
                        | HostKey.X25519 k -> k
                    )
                    + " leaked"
                    ""
                ]

            let lines =
                KnownHostsFile.decode text |> Result.defaultWith (fun e -> failtestf "%A" e)

            Expect.equal (KnownHostsFile.verify "h" 1 b lines) (RevokedKey 3) "b revoked for h:1"
            Expect.equal (KnownHostsFile.verify "h" 1 a lines) (RevokedKey 4) "a revoked everywhere"
            Expect.equal (KnownHostsFile.verify "other" 2 a lines) (RevokedKey 4) "a revoked for another host too"
            Expect.equal (KnownHostsFile.verify "other" 2 b lines) Unrecorded "b only revoked for h:1"
            Expect.equal (KnownHostsFile.encode lines) text "the file round-trips"
            let kept, removed = KnownHostsFile.remove "h" None lines
            Expect.equal removed 2 "two entries removed"
            Expect.equal kept.Length 2 "revoked lines stay"
        }
    ]

let keySetTests =
    testList "KeySet.decide" [
        test "revoked wins, else the index of the trusted key, else not in set" {
            let k i = (keyPair i).Public
            Expect.equal (KeySet.decide [ k 1; k 2 ] [] (k 2)) (KeySetMatch.InSet 1) "second of the set"
            Expect.equal (KeySet.decide [ k 1; k 2 ] [ k 2 ] (k 2)) KeySetMatch.KeyRevoked "revoked though trusted"
            Expect.equal (KeySet.decide [ k 1 ] [] (k 3)) KeySetMatch.NotInSet "stranger"
            Expect.equal (KeySet.decide [] [ k 3 ] (k 3)) KeySetMatch.KeyRevoked "revoked without a set"
        }
    ]

let private entry (key: byte array) (proof: byte array) = {
    Key = DhPublicKey.TryCreate(32, ReadOnlySpan key).Value
    Proof = proof
}

let codecTests =
    testList "KeyAnnouncement codec" [
        testPropertyWithConfig config "decode (encode entries) = entries, for 1..3 entries"
        <| fun (seeds: byte array list) ->
            let entries =
                seeds
                |> List.truncate KeyAnnouncement.MaxKeys
                |> List.map (fun s ->
                    entry (key32 s) (Array.init 64 (fun i -> byte i + (Array.length (nonNullBytes s) |> byte))))

            if entries.IsEmpty then
                true
            else
                match KeyAnnouncement.decode 32 64 (ReadOnlySpan(KeyAnnouncement.encode entries)) with
                | Ok decoded ->
                    List.forall2
                        (fun (a: AnnouncedKey) (b: AnnouncedKey) -> a.Key.EqualsKey b.Key && a.Proof = b.Proof)
                        decoded
                        entries
                | Error _ -> false

        testPropertyWithConfig config "any other length is AnnouncementLength; arbitrary bytes never throw"
        <| fun (bytes: byte array) ->
            let bytes = nonNullBytes bytes

            match KeyAnnouncement.decode 32 32 (ReadOnlySpan bytes) with
            | Ok entries -> bytes.Length = 64 * entries.Length && entries.Length >= 1 && entries.Length <= 3
            | Error(AnnouncementLength n) ->
                n = bytes.Length
                && (bytes.Length % 64 <> 0 || bytes.Length = 0 || bytes.Length > 192)
            | Error _ -> false

        test "four entries are too many; an empty field is refused by the payload codec" {
            match KeyAnnouncement.decode 32 32 (ReadOnlySpan(Array.zeroCreate 256)) with
            | Error(AnnouncementLength 256) -> ()
            | other -> failtestf "4 entries: %A" (other |> Result.map List.length)

            let payload = [| 1uy; 1uy; 0uy; 0uy; 2uy; 0uy; 4uy; 0uy; 0uy; 0uy; 9uy; 4uy; 0uy; 0uy |]

            Expect.equal
                (HandshakePayload.decode (ReadOnlySpan payload))
                (Error(Malformed(BadField HandshakePayload.KeyAnnouncementField)))
                "empty field 04"
        }

        testPropertyWithConfig config "a payload with an announcement round-trips"
        <| fun (value: byte array) ->
            let value = nonNullBytes value

            let payload = {
                ApplicationProtocol = "a"
                MaxMessageSize = 10
                KeyAnnouncement = if value.Length = 0 then None else Some value
                Endorsement = None
            }

            match HandshakePayload.encode payload with
            | Ok bytes -> HandshakePayload.decode (ReadOnlySpan bytes) = Ok payload
            | Error _ -> false
    ]

let proofTests =
    let server = keyPair 2
    let next = keyPair 5
    let other = keyPair 6
    let ephemeral = keyPair 3

    let proved h (e: DhKeyPair) (announced: DhKeyPair) =
        KeyAnnouncement.prove suite h server.Public e.Public announced
        |> Result.defaultWith (fun e -> failtestf "%A" e)

    testList "KeyAnnouncement proofs" [
        test "a proof for this connection checks" {
            let entries = [ proved h ephemeral next; proved h ephemeral other ]

            let verified =
                KeyAnnouncement.verify suite h server.Public ephemeral entries
                |> Result.defaultWith (fun e -> failtestf "%A" e)

            Expect.isTrue
                (List.forall2 (fun (a: DhPublicKey) (b: DhKeyPair) -> a.EqualsKey b.Public) verified [ next; other ])
                "both keys"
        }

        test "an entry copied from another connection (other h, other client ephemeral) is BadProof" {
            let otherH = Array.map (fun b -> b ^^^ 1uy) h
            let copied = proved otherH ephemeral next

            Expect.equal
                (KeyAnnouncement.verify suite h server.Public ephemeral [ copied ])
                (Error(BadProof 0))
                "other h"

            let copied = proved h (keyPair 7) next

            Expect.equal
                (KeyAnnouncement.verify suite h server.Public ephemeral [ proved h ephemeral other; copied ])
                (Error(BadProof 1))
                "other e"
        }

        test
            "a key the server cannot prove (proof made with another private key) is BadProof; the handshake key or a repeat is refused" {
            let forged = {
                proved h ephemeral other with
                    Key = next.Public
            }

            Expect.equal
                (KeyAnnouncement.verify suite h server.Public ephemeral [ forged ])
                (Error(BadProof 0))
                "forged"

            let self = proved h ephemeral server

            Expect.equal
                (KeyAnnouncement.verify suite h server.Public ephemeral [ self ])
                (Error(HandshakeKeyAnnounced 0))
                "self"

            let n = proved h ephemeral next

            Expect.equal
                (KeyAnnouncement.verify suite h server.Public ephemeral [ n; n ])
                (Error(DuplicateKey 1))
                "repeat"
        }

        testPropertyWithConfig config "a flipped bit anywhere in an entry is refused"
        <| fun (at: uint16) ->
            let e = proved h ephemeral next
            let bytes = KeyAnnouncement.encode [ e ]
            let i = int at % bytes.Length
            bytes[i] <- bytes[i] ^^^ 0x10uy

            match KeyAnnouncement.decode 32 suite.Hash.HASHLEN (ReadOnlySpan bytes) with
            | Ok entries ->
                match KeyAnnouncement.verify suite h server.Public ephemeral entries with
                | Ok _ -> false
                | Error _ -> true
            | Error _ -> true
    ]

/// A server holding `held` keys (first current) and a client configured by `client`.
let private run name (held: DhKeyPair list) (client: ClientConfig -> ClientConfig) =
    let c, s = configs name
    let pair = pairOf (client c) (s.WithLocalStatics(held).WithKeyAnnouncements(true))
    pair.Client.Send "x"B
    Pair.pump Whole pair
    pair

let connectionTests =
    let withStatic =
        protocols |> List.filter (fun n -> not ((parse n).Pattern.Name.StartsWith "NN"))

    testList "several server keys" [
        for name in withStatic do
            test $"{name}: the client reaches the key it knows, and checks the announcement of the others" {
                // configs pins keyPair 2 for NK/IK; NX/XX learn the current key.
                let held =
                    if serverKeyPreKnown name then
                        [ keyPair 5; keyPair 6; keyPair 2 ]
                    else
                        [ keyPair 2; keyPair 5; keyPair 6 ]

                let pair = run name held (fun c -> c.WithKeyAnnouncements(true))
                Expect.isNone pair.Client.Failure "client"
                Expect.isNone pair.Server.Failure "server"
                let si = pair.Server.Completed.Value
                let ci = pair.Client.Completed.Value
                Expect.equal si.LocalStaticIndex (if serverKeyPreKnown name then 2 else 0) "the key used"
                Expect.isTrue (ci.RemoteStatic.Value.EqualsKey (keyPair 2).Public) "the client's server key"
                let announced = ci.AnnouncedKeys |> List.map _.Bytes
                Expect.equal announced [ (keyPair 5).Public.Bytes; (keyPair 6).Public.Bytes ] "announced and proven"
                Expect.equal pair.Server.Delivered [ "x"B ] "delivered"
            }

        test "a client that does not check announcements skips the field (as an earlier version does)" {
            let pair = run "Noise_XX_25519_ChaChaPoly_BLAKE2b" [ keyPair 2; keyPair 5 ] id
            Expect.isNone pair.Client.Failure "client"
            Expect.isEmpty pair.Client.Completed.Value.AnnouncedKeys "nothing checked"
        }

        test "NK to a key the server does not hold fails as before (Decrypt at the server)" {
            let pair = run "Noise_NK_25519_ChaChaPoly_BLAKE2b" [ keyPair 5; keyPair 6 ] id
            Expect.equal pair.Server.Failure (Some(Noise NoiseError.Decrypt)) "server"
        }

        test
            "a pinned set accepts any of its keys, refuses others with PeerKeyRejected, revoked ones with PeerKeyRevoked" {
            let name = "Noise_NX_25519_ChaChaPoly_BLAKE2b"

            let ok =
                run name [ keyPair 2 ] (fun c -> c.WithTrustedServerKeys [ (keyPair 9).Public; (keyPair 2).Public ])

            Expect.isNone ok.Client.Failure "in the set"

            let no =
                run name [ keyPair 2 ] (fun c -> c.WithTrustedServerKeys [ (keyPair 9).Public ])

            Expect.equal no.Client.Failure (Some PeerKeyRejected) "not in the set"

            let revoked =
                run name [ keyPair 2 ] (fun c ->
                    c.WithTrustedServerKeys([ (keyPair 2).Public ]).WithRevokedServerKeys [ (keyPair 2).Public ])

            Expect.equal revoked.Client.Failure (Some PeerKeyRevoked) "revoked though in the set"

            Expect.equal
                revoked.Server.Failure
                (Some(ClosedByPeer CloseReason.AuthenticationFailed))
                "the server is told"

            let learned =
                run name [ keyPair 2 ] (fun c -> c.WithRevokedServerKeys [ (keyPair 2).Public ])

            Expect.equal learned.Client.Failure (Some PeerKeyRevoked) "revoked without a set: no VerifyPeerKey asked"
        }

        test "a revoked pinned pre-message key, and more than 4 server keys, are configuration errors" {
            let c, s = configs "Noise_NK_25519_ChaChaPoly_BLAKE2b"

            match Connection.Client(c.WithRevokedServerKeys [ (keyPair 2).Public ]) with
            | Error(InvalidConfig PinnedKeyRevoked) -> ()
            | other -> failtestf "%A" other

            match Connection.Server(s.WithLocalStatics [ for i in 10..14 -> keyPair i ]) with
            | Error(InvalidConfig(TooManyServerKeys 5)) -> ()
            | other -> failtestf "%A" other
        }

        test "announced revoked keys are proven but not reported" {
            let pair =
                run "Noise_XX_25519_ChaChaPoly_BLAKE2b" [ keyPair 2; keyPair 5; keyPair 6 ] (fun c ->
                    c.WithKeyAnnouncements(true).WithRevokedServerKeys [ (keyPair 5).Public ])

            Expect.equal
                (pair.Client.Completed.Value.AnnouncedKeys |> List.map _.Bytes)
                [ (keyPair 6).Public.Bytes ]
                "6 only"
        }
    ]

/// specs/vectors/key-announcement.json: every input with its private key, and every output byte.
let private vectorPath =
    Path.Combine(repoRoot, "specs", "vectors", "key-announcement.json")

let private hex (b: byte array) =
    Convert.ToHexString(b).ToLowerInvariant()

let private vectorCases = [
    "Noise_XX_25519_ChaChaPoly_BLAKE2b", 2, [ 5; 6 ], 3
    "Noise_NK_25519_AESGCM_SHA256", 4, [ 7 ], 8
]

let private computeVector (name: string, server: int, announced: int list, ephemeral: int) =
    let suite = NSecSuite.For(parse name)
    let h = Hkdf.hashConcat suite.Hash [ Text.Encoding.ASCII.GetBytes name ]

    let privateOf label =
        Array.init 32 (fun i -> byte (label * 37 + i * 11 + 5))

    let e = keyPair ephemeral

    let entries =
        announced
        |> List.map (fun a ->
            KeyAnnouncement.prove suite h (keyPair server).Public e.Public (keyPair a)
            |> Result.defaultWith (fun e -> failtestf "%A" e))

    let node = JsonObject()
    node["protocol_name"] <- JsonValue.Create name
    node["h"] <- JsonValue.Create(hex h)
    node["handshake_static_private"] <- JsonValue.Create(hex (privateOf server))
    node["handshake_static_public"] <- JsonValue.Create(hex (keyPair server).Public.Bytes)
    node["client_ephemeral_private"] <- JsonValue.Create(hex (privateOf ephemeral))
    node["client_ephemeral_public"] <- JsonValue.Create(hex e.Public.Bytes)
    let keys = JsonArray()

    for a, entry in List.zip announced entries do
        let k = JsonObject()
        k["private"] <- JsonValue.Create(hex (privateOf a))
        k["public"] <- JsonValue.Create(hex entry.Key.Bytes)
        k["proof"] <- JsonValue.Create(hex entry.Proof)
        keys.Add k

    node["announced"] <- keys
    node["field_value"] <- JsonValue.Create(hex (KeyAnnouncement.encode entries))
    node, (suite, h, e, entries, (keyPair server).Public)

let vectorTests =
    testList "key announcement vectors" [
        test "specs/vectors/key-announcement.json: every proof and field value is reproduced and checks" {
            let computed = vectorCases |> List.map computeVector

            if Environment.GetEnvironmentVariable "HYBRID_UPDATE_VECTORS" = "1" then
                let root = JsonObject()

                root["description"] <-
                    JsonValue.Create
                        "HybridProtocol key announcement (specs/PROTOCOL.md section 6a): private keys as 32 raw bytes, h as given (here HASH of the protocol name, standing in for a handshake hash), proof = HMAC-HASH(HKDF(h, DH(announced, client e), 2)[0], label || handshake static public || announced public), field_value = the value of payload field 0x04."

                root["label"] <- JsonValue.Create KeyAnnouncement.Label
                let arr = JsonArray()

                for node, _ in computed do
                    arr.Add node

                root["vectors"] <- arr
                File.WriteAllText(vectorPath, root.ToJsonString(JsonSerializerOptions(WriteIndented = true)) + "\n")

            let published = nonNull (JsonNode.Parse(File.ReadAllText vectorPath))
            let vectors = (nonNull published["vectors"]).AsArray()
            Expect.equal vectors.Count 2 "two vectors"
            Expect.equal ((nonNull published["label"]).GetValue<string>()) KeyAnnouncement.Label "label"

            for (node, (suite, h, e, _, server)), v in List.zip computed (List.ofSeq vectors) do
                let v = nonNull v
                Expect.equal (v.ToJsonString()) (node.ToJsonString()) "every byte as published"
                let value = Convert.FromHexString((nonNull v["field_value"]).GetValue<string>())

                let entries =
                    KeyAnnouncement.decode 32 suite.Hash.HASHLEN (ReadOnlySpan value)
                    |> Result.defaultWith (fun e -> failtestf "%A" e)

                let proven =
                    KeyAnnouncement.verify suite h server e entries
                    |> Result.defaultWith (fun e -> failtestf "%A" e)

                Expect.equal proven.Length ((nonNull v["announced"]).AsArray().Count) "every key proven"
        }
    ]

[<Tests>]
let tests =
    testList "Key sets (core)" [
        revokedLineTests
        keySetTests
        codecTests
        proofTests
        connectionTests
        vectorTests
    ]
