/// RFC 9180 Appendix A test vectors (DHKEM(X25519, HKDF-SHA256), HKDF-SHA256, AES-256-GCM and
/// ChaCha20Poly1305, all four modes), run through the public API: the core's DeriveKeyPair, Encap,
/// Decap, KeySchedule and ComputeNonce for the intermediate values, and the C# facade's sender and
/// recipient contexts (with the vector's skE as the ephemeral key) for every ciphertext and export.
module HybridProtocol.Tests.HpkeVectors

open System
open System.IO
open System.Text.Json
open Expecto
open HybridProtocol
open HybridProtocol.Core
open HybridProtocol.Core.Hpke
open HybridProtocol.Tests.TestSupport

let private text (e: JsonElement) =
    match e.GetString() with
    | null -> ""
    | s -> s

let private suiteOf (kdf: int) (aead: int) =
    HpkeSuite(HpkeKem.X25519HkdfSha256, enum<HpkeKdf> kdf, enum<HpkeAead> aead)

let private ok label (r: Result<'T, 'E>) =
    match r with
    | Ok x -> x
    | Error e -> failtestf "%s: %A" label e

/// What the run checked, so that a silently skipped entry cannot pass.
type private Counts = {
    mutable Entries: int
    mutable Encryptions: int
    mutable Exports: int
}

let private runEntry (counts: Counts) (v: JsonElement) =
    let str (name: string) =
        match v.TryGetProperty name with
        | true, p -> Some(text p)
        | _ -> None

    let bytes name = str name |> Option.map hex
    let req name = (bytes name).Value
    let mode = v.GetProperty("mode").GetInt32()

    let facadeSuite =
        suiteOf (v.GetProperty("kdf_id").GetInt32()) (v.GetProperty("aead_id").GetInt32())

    let suite = facadeSuite.ToCore()
    let aeadId = v.GetProperty("aead_id").GetInt32()
    let name = $"mode {mode} aead {aeadId}"
    let info = req "info"

    // §7.1.3 DeriveKeyPair: ikm -> (sk, pk) for R, E and (auth modes) S.
    let derive who =
        let sk =
            Dhkem.DerivePrivateKey suite (req $"ikm{who}")
            |> ok $"{name} DerivePrivateKey {who}"

        Expect.equal (toHex sk) (toHex (req $"sk{who}m")) $"{name} sk{who}m"

        let pair =
            Dhkem.DeriveKeyPair suite (req $"ikm{who}") |> ok $"{name} DeriveKeyPair {who}"

        Expect.equal (toHex pair.Public.Bytes) (toHex (req $"pk{who}m")) $"{name} pk{who}m"
        pair

    let skR = derive "R"
    let skE = derive "E"
    let skS = if mode >= 2 then Some(derive "S") else None
    let psk = defaultArg (bytes "psk") [||]
    let psk_id = defaultArg (bytes "psk_id") [||]

    // §4.1 Encap / AuthEncap with the vector's ephemeral key, and Decap / AuthDecap.
    let encapsulation =
        match skS with
        | None -> Dhkem.Encap suite skE skR.Public
        | Some s -> Dhkem.AuthEncap suite skE skR.Public s
        |> ok $"{name} Encap"

    Expect.equal (toHex encapsulation.enc) (toHex (req "enc")) $"{name} enc"
    Expect.equal (toHex encapsulation.shared_secret) (toHex (req "shared_secret")) $"{name} shared_secret"

    let decapsulated =
        match skS with
        | None -> Dhkem.Decap suite (ReadOnlySpan(req "enc")) skR
        | Some s -> Dhkem.AuthDecap suite (ReadOnlySpan(req "enc")) skR s.Public
        |> ok $"{name} Decap"

    Expect.equal (toHex decapsulated) (toHex (req "shared_secret")) $"{name} Decap shared_secret"

    // §5.1 KeySchedule.
    let hpkeMode = (Mode.tryOfValue (byte mode)).Value

    let ks =
        KeySchedule.Derive suite hpkeMode (req "shared_secret") info psk psk_id
        |> ok $"{name} KeySchedule"

    Expect.equal (toHex ks.key_schedule_context) (toHex (req "key_schedule_context")) $"{name} key_schedule_context"
    Expect.equal (toHex ks.secret) (toHex (req "secret")) $"{name} secret"
    Expect.equal (toHex ks.key) (toHex (req "key")) $"{name} key"
    Expect.equal (toHex ks.base_nonce) (toHex (req "base_nonce")) $"{name} base_nonce"
    Expect.equal (toHex ks.exporter_secret) (toHex (req "exporter_secret")) $"{name} exporter_secret"

    // The facade's contexts, set up with the vector's keys.
    let skSm =
        if mode >= 2 then
            Some(HybridProtocol.PrivateKey.FromRawBytes(ReadOnlySpan(req "skSm")))
        else
            None

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
                     HybridProtocol.PublicKey.FromRawBytes(ReadOnlySpan(req "pkSm"))
                 else
                     null)
        )

    Expect.equal (int senderOptions.Mode) mode $"{name} sender options select the vector's mode"
    let ephemeralPair = importKeyPair (req "skEm")

    use sender =
        HybridProtocol.Hpke.SetupS(
            HybridProtocol.PublicKey.FromRawBytes(ReadOnlySpan(req "pkRm")),
            ReadOnlySpan info,
            senderOptions,
            ephemeralPair
        )

    ephemeralPair.Private.Dispose()
    Expect.equal (toHex sender.EncapsulatedKey) (toHex (req "enc")) $"{name} facade enc"

    use recipientKey = HybridProtocol.PrivateKey.FromRawBytes(ReadOnlySpan(req "skRm"))

    use recipient =
        HybridProtocol.Hpke.SetupR(ReadOnlySpan(req "enc"), recipientKey, ReadOnlySpan info, recipientOptions)

    for e in v.GetProperty("encryptions").EnumerateArray() do
        let seq = sender.SequenceNumber
        let nonce = Array.zeroCreate 12
        Context.ComputeNonce(ReadOnlySpan ks.base_nonce, seq, Span nonce)
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
    counts.Entries <- counts.Entries + 1

[<Tests>]
let tests =
    testList "HPKE RFC 9180 vectors" [
        testCase "every entry: derived keys, enc, shared_secret, key schedule, 257 encryptions and 3 exports"
        <| fun () ->
            let path =
                vectorFile "hpke/rfc9180-test-vectors.x25519-sha256-aes256gcm-chachapoly.json"

            use doc = JsonDocument.Parse(File.ReadAllText path)

            let counts = {
                Entries = 0
                Encryptions = 0
                Exports = 0
            }

            for v in doc.RootElement.EnumerateArray() do
                runEntry counts v

            Expect.isGreaterThanOrEqual counts.Entries 8 "entries run"
            Expect.isGreaterThanOrEqual counts.Encryptions 2056 "encryptions checked (8 x 257)"
            Expect.isGreaterThanOrEqual counts.Exports 24 "exports checked (8 x 3)"

            printfn
                $"HPKE vectors: {counts.Entries} entries, {counts.Encryptions} encryptions, {counts.Exports} exports"
    ]
