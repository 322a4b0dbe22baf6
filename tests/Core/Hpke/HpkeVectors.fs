/// The whole RFC 9180 Appendix A vector file (128 entries) and the draft-ietf-hpke-pq file, run through
/// the public API: the core KEM record's DerivePrivateKey, DeriveKeyPair, Encap/AuthEncap (with the
/// vector's ikmE as the KEM randomness) and Decap/AuthDecap, KeySchedule and ComputeNonce for the
/// intermediate values, and the C# facade's sender and recipient contexts (the sender through the
/// test-only randomness hook, so its enc is the vector's) for every ciphertext and export. Every entry
/// whose suite is offered runs; the counts per suite are asserted, so a skipped entry fails the test.
/// X448, ML-KEM-512/1024 and MLKEM1024-P384 come from the optional HybridProtocol.Hpke.Extended package,
/// registered here as an application would; TurboSHAKE has no provider (see specs/HPKE.md).
module HybridProtocol.Tests.HpkeVectors

open System
open System.IO
open System.IO.Compression
open System.Text.Json
open Expecto
open HybridProtocol
open HybridProtocol.Core.Hpke
open HybridProtocol.Tests.TestSupport

let private text (e: JsonElement) =
    match e.GetString() with
    | null -> ""
    | s -> s

let private ok label (r: Result<'T, 'E>) =
    match r with
    | Ok x -> x
    | Error e -> failtestf "%s: %A" label e

let private disposePair (pair: HpkeKeyPair) =
    match pair.Private with
    | DhPrivate k -> k.Dispose()
    | KemPrivate k -> k.Dispose()

/// What the run checked per suite "kem/kdf/aead", so that a silently skipped entry cannot pass.
type private Counts = {
    Entries: Collections.Generic.Dictionary<string, int>
    mutable Encryptions: int
    mutable Exports: int
    mutable Skipped: int
    SkippedSuites: Collections.Generic.List<string>
}

let private suiteName (kem: int) (kdf: int) (aead: int) = $"0x%04x{kem}/0x%04x{kdf}/0x%04x{aead}"

let private runEntry (counts: Counts) (v: JsonElement) =
    let str (name: string) =
        match v.TryGetProperty name with
        | true, p -> Some(text p)
        | _ -> None

    let bytes name = str name |> Option.map hex
    let req name = (bytes name).Value
    let mode = v.GetProperty("mode").GetInt32()
    let kemId = v.GetProperty("kem_id").GetInt32()
    let kdfId = v.GetProperty("kdf_id").GetInt32()
    let aeadId = v.GetProperty("aead_id").GetInt32()
    let name = $"mode {mode} suite {suiteName kemId kdfId aeadId}"

    let facadeSuite =
        HpkeSuite(enum<HpkeKem> kemId, enum<HpkeKdf> kdfId, enum<HpkeAead> aeadId)

    if not facadeSuite.IsSupported then
        counts.Skipped <- counts.Skipped + 1
        counts.SkippedSuites.Add(suiteName kemId kdfId aeadId)
    else
        let suite = facadeSuite.ToCore()
        let kem = suite.Kem
        let algorithm = KeyAlgorithms.OfKem facadeSuite.Kem
        let info = req "info"

        bytes "suite_id"
        |> Option.iter (fun id -> Expect.equal (toHex suite.SuiteId) (toHex id) $"{name} suite_id")

        // §7.1.3 DeriveKeyPair (draft-ietf-hpke-pq §3-4 for the PQ KEMs): ikm -> (sk, pk).
        let derive who =
            let sk =
                kem.DerivePrivateKey(req $"ikm{who}") |> ok $"{name} DerivePrivateKey {who}"
            // The hpke-pq file omits skEm and pkEm.
            bytes $"sk{who}m"
            |> Option.iter (fun m -> Expect.equal (toHex sk) (toHex m) $"{name} sk{who}m")

            let pair =
                Kem.DeriveKeyPair kem (req $"ikm{who}") |> ok $"{name} DeriveKeyPair {who}"

            bytes $"pk{who}m"
            |> Option.iter (fun m -> Expect.equal (toHex pair.Public) (toHex m) $"{name} pk{who}m")

            pair

        let skR = derive "R"
        // DHKEM's ephemeral key is DeriveKeyPair(ikmE); the PQ KEMs take ikmE as encapsulation randomness.
        if kem.SupportsAuth then
            disposePair (derive "E")

        let skS = if mode >= 2 then Some(derive "S") else None
        let pkR = kem.DeserializePublicKey(req "pkRm") |> ok $"{name} pkR"
        let psk = defaultArg (bytes "psk") [||]
        let psk_id = defaultArg (bytes "psk_id") [||]

        let encapsulation =
            match skS with
            | None -> kem.Encap (req "ikmE") pkR
            | Some s -> kem.AuthEncap (req "ikmE") pkR s
            |> ok $"{name} Encap"

        Expect.equal (toHex encapsulation.enc) (toHex (req "enc")) $"{name} enc"
        Expect.equal (toHex encapsulation.shared_secret) (toHex (req "shared_secret")) $"{name} shared_secret"

        let decapsulated =
            match skS with
            | None -> kem.Decap (req "enc") skR
            | Some s ->
                let pkS = kem.DeserializePublicKey s.Public |> ok $"{name} pkS"
                kem.AuthDecap (req "enc") skR pkS
            |> ok $"{name} Decap"

        Expect.equal (toHex decapsulated) (toHex (req "shared_secret")) $"{name} Decap shared_secret"

        // §5.1 KeySchedule (the single-stage form for SHAKE).
        let hpkeMode = (Mode.tryOfValue (byte mode)).Value

        let ks =
            KeySchedule.Derive suite hpkeMode (req "shared_secret") info psk psk_id
            |> ok $"{name} KeySchedule"

        bytes "key_schedule_context"
        |> Option.iter (fun c -> Expect.equal (toHex ks.key_schedule_context) (toHex c) $"{name} key_schedule_context")

        bytes "secret"
        |> Option.iter (fun c -> Expect.equal (toHex ks.secret) (toHex c) $"{name} secret")

        Expect.equal (toHex ks.key) (toHex (req "key")) $"{name} key"
        Expect.equal (toHex ks.base_nonce) (toHex (req "base_nonce")) $"{name} base_nonce"
        Expect.equal (toHex ks.exporter_secret) (toHex (req "exporter_secret")) $"{name} exporter_secret"
        let baseNonce = Array.copy ks.base_nonce
        disposePair skR

        // The facade's contexts, set up with the vector's keys.
        let skSm =
            skS
            |> Option.map (fun s ->
                disposePair s
                HybridProtocol.PrivateKey.FromRawBytes(algorithm, ReadOnlySpan(req "skSm")))

        let senderOptions =
            HpkeSenderOptions(
                Suite = facadeSuite,
                Psk = (if psk.Length > 0 then psk else null),
                PskId = (if psk_id.Length > 0 then psk_id else null),
                SenderPrivateKey = Option.toObj skSm
            )

        let recipientOptions =
            HpkeRecipientOptions(
                Suite = facadeSuite,
                Psk = senderOptions.Psk,
                PskId = senderOptions.PskId,
                SenderPublicKey =
                    (if mode >= 2 then
                         HybridProtocol.PublicKey.FromRawBytes(algorithm, ReadOnlySpan(req "pkSm"))
                     else
                         null)
            )

        Expect.equal (int senderOptions.Mode) mode $"{name} sender options select the vector's mode"

        use sender =
            HybridProtocol.Hpke.SetupS(
                HybridProtocol.PublicKey.FromRawBytes(algorithm, ReadOnlySpan(req "pkRm")),
                ReadOnlySpan info,
                senderOptions,
                req "ikmE"
            )

        Expect.equal (toHex sender.EncapsulatedKey) (toHex (req "enc")) $"{name} facade enc"

        use recipientKey =
            HybridProtocol.PrivateKey.FromRawBytes(algorithm, ReadOnlySpan(req "skRm"))

        Expect.equal (toHex (recipientKey.PublicKey.RawBytes.ToArray())) (toHex (req "pkRm")) $"{name} pk(skRm)"

        use recipient =
            HybridProtocol.Hpke.SetupR(ReadOnlySpan(req "enc"), recipientKey, ReadOnlySpan info, recipientOptions)

        for e in v.GetProperty("encryptions").EnumerateArray() do
            let seq = sender.SequenceNumber
            let nonce = Array.zeroCreate 12
            Context.ComputeNonce(ReadOnlySpan baseNonce, seq, Span nonce)
            Expect.equal (toHex nonce) (text (e.GetProperty "nonce")) $"{name} ComputeNonce seq {seq}"
            let aad = hex (text (e.GetProperty "aad"))
            let pt = hex (text (e.GetProperty "pt"))
            let ct = sender.Seal(ReadOnlySpan pt, ReadOnlySpan aad)
            Expect.equal (toHex ct) (text (e.GetProperty "ct")) $"{name} ct seq {seq}"

            let opened =
                recipient.Open(ReadOnlySpan(hex (text (e.GetProperty "ct"))), ReadOnlySpan aad)

            Expect.equal (toHex opened) (toHex pt) $"{name} pt seq {seq}"
            counts.Encryptions <- counts.Encryptions + 1

        for x in v.GetProperty("exports").EnumerateArray() do
            let exporterContext = hex (text (x.GetProperty "exporter_context"))
            let length = x.GetProperty("L").GetInt32()
            let expected = text (x.GetProperty "exported_value")
            Expect.equal (toHex (sender.Export(ReadOnlySpan exporterContext, length))) expected $"{name} sender export"

            Expect.equal
                (toHex (recipient.Export(ReadOnlySpan exporterContext, length)))
                expected
                $"{name} recipient export"

            counts.Exports <- counts.Exports + 1

        skSm |> Option.iter (fun k -> k.Dispose())
        let key = suiteName kemId kdfId aeadId

        counts.Entries[key] <-
            (match counts.Entries.TryGetValue key with
             | true, n -> n + 1
             | _ -> 1)

let private run (doc: JsonDocument) =
    HybridProtocol.HpkeExtended.Register()

    let counts = {
        Entries = Collections.Generic.Dictionary()
        Encryptions = 0
        Exports = 0
        Skipped = 0
        SkippedSuites = Collections.Generic.List()
    }

    for v in doc.RootElement.EnumerateArray() do
        runEntry counts v

    counts

let private total (counts: Counts) = Seq.sum counts.Entries.Values

let private report label (counts: Counts) =
    let perSuite =
        counts.Entries
        |> Seq.sortBy (fun kv -> kv.Key)
        |> Seq.map (fun kv -> $"{kv.Key}: {kv.Value}")
        |> String.concat ", "

    printfn
        $"{label}: {total counts} entries run, {counts.Skipped} refused as unsupported, {counts.Encryptions} encryptions, {counts.Exports} exports; per suite {perSuite}"

[<Tests>]
let tests =
    testList "HPKE vectors" [
        testCase
            "RFC 9180: every entry of the whole file (128 of 128), per suite 4 (one per mode); X448 through HybridProtocol.Hpke.Extended"
        <| fun () ->
            use gz =
                new GZipStream(
                    File.OpenRead(vectorFile "hpke/rfc9180-test-vectors.json.gz"),
                    CompressionMode.Decompress
                )

            use doc = JsonDocument.Parse(gz)
            let counts = run doc
            report "RFC 9180 vectors" counts
            Expect.equal (total counts) 128 "entries run"
            Expect.equal counts.Skipped 0 "entries refused"

            for kem in [ 0x10; 0x12; 0x20; 0x21 ] do
                for kdf in [ 1; 3 ] do
                    for aead in [ 1; 2; 3; 0xFFFF ] do
                        Expect.equal
                            (match counts.Entries.TryGetValue(suiteName kem kdf aead) with
                             | true, n -> n
                             | _ -> 0)
                            4
                            $"entries of suite {suiteName kem kdf aead}"

            Expect.isGreaterThanOrEqual counts.Encryptions (96 * 257) "encryptions checked (96 sealing entries x 257)"
            Expect.equal counts.Exports (128 * 3) "exports checked (128 x 3)"

        testCase
            "draft-ietf-hpke-pq: 10 of 13 entries run (every KEM: ML-KEM-512/768/1024, MLKEM768-P256, MLKEM1024-P384, X-Wing); the 3 TurboSHAKE entries are refused: no TurboSHAKE implementation exists in .NET, libsodium or BouncyCastle 2.7.0"
        <| fun () ->
            use doc =
                JsonDocument.Parse(File.ReadAllText(vectorFile "hpke/hpke-pq-test-vectors.json"))

            let counts = run doc
            report "hpke-pq vectors" counts

            for suite in
                [
                    suiteName 0x40 1 1
                    suiteName 0x41 1 1
                    suiteName 0x42 2 2
                    suiteName 0x50 1 1
                    suiteName 0x647a 1 3
                    suiteName 0x51 2 2
                    suiteName 0x10 0x10 1
                    suiteName 0x11 0x11 2
                    suiteName 0x50 0x10 2
                    suiteName 0x647a 0x11 3
                ] do
                Expect.equal
                    (match counts.Entries.TryGetValue suite with
                     | true, n -> n
                     | _ -> 0)
                    1
                    $"entries of suite {suite}"

            Expect.equal (total counts) 10 "entries run"
            Expect.equal counts.Skipped 3 "entries refused"

            Expect.equal
                (List.ofSeq counts.SkippedSuites)
                [ suiteName 0x20 0x12 3; suiteName 0x21 0x13 3; suiteName 0x42 0x13 1 ]
                "the refused entries are exactly the TurboSHAKE128 (0x0012) and TurboSHAKE256 (0x0013) ones"

            Expect.equal counts.Encryptions 100 "encryptions checked (10 x 10)"
            Expect.equal counts.Exports 50 "exports checked (10 x 5)"
    ]
