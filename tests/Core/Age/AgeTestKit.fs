/// age's published test kit (C2SP CCTV age vectors, tests/vectors/age/testkit): every vector that names an identity (or
/// none at all) runs through the public API, AgeFile.Decrypt with PrivateKey.FromAgeIdentity, and through the core's
/// layers (Armor, Header, AgeFileFormat.unwrapFileKey) to check that the failure is the one the kit expects. The 25 vectors
/// for passphrase (scrypt) recipients only are skipped: we do not implement scrypt recipients (specs/AGE.md).
module HybridProtocol.Tests.AgeTestKit

open System
open System.IO
open System.IO.Compression
open System.Security.Cryptography
open System.Text
open Expecto
open HybridProtocol
open HybridProtocol.Core.Age
open HybridProtocol.Tests.TestSupport

type private Vector = {
    Name: string
    Expect: string
    Payload: string option
    Identities: string list
    Passphrases: string list
    Armored: bool
    Body: byte[]
}

let private parse (path: string) =
    let bytes = File.ReadAllBytes path
    let mutable offset = 0
    let fields = ResizeArray<string * string>()
    let mutable reading = true

    while reading do
        let lf = Array.IndexOf(bytes, 0x0Auy, offset)
        let line = Encoding.UTF8.GetString(bytes, offset, lf - offset)
        offset <- lf + 1

        if line = "" then
            reading <- false
        else
            let colon = line.IndexOf ": "
            fields.Add(line.Substring(0, colon), line.Substring(colon + 2))

    let values key =
        fields |> Seq.filter (fun (k, _) -> k = key) |> Seq.map snd |> List.ofSeq

    let body = bytes[offset..]

    let body =
        if values "compressed" = [ "zlib" ] then
            use z = new ZLibStream(new MemoryStream(body), CompressionMode.Decompress)
            use m = new MemoryStream()
            z.CopyTo m
            m.ToArray()
        else
            body

    {
        Name = nonNull (Path.GetFileName path)
        Expect = List.exactlyOne (values "expect")
        Payload = List.tryHead (values "payload")
        Identities = values "identity"
        Passphrases = values "passphrase"
        Armored = values "armored" = [ "yes" ]
        Body = body
    }

let private vectors () =
    Directory.GetFiles(nonNull (Path.GetDirectoryName(vectorFile "age/testkit/x25519")))
    |> Array.sort
    |> Array.map parse

let private crypto () =
    let suite =
        HpkeSuite(HpkeKem.XWing, HpkeKdf.HkdfSha256, HpkeAead.ChaCha20Poly1305).ToCore()

    {
        Recipients.AgeCrypto.X25519 = HybridProtocol.Crypto.NSecSuite.X25519
        Recipients.AgeCrypto.SHA256 = HybridProtocol.Crypto.NSecSuite.Sha256
        Recipients.AgeCrypto.ChaCha20Poly1305 = HybridProtocol.Crypto.NSecSuite.ChaChaPoly
        Recipients.AgeCrypto.MlKem768X25519Hpke = suite
    }

/// The kit's failure kind as the core's layers see it (the layer that refuses the file).
let private coreOutcome (keys: PrivateKey list) (v: Vector) =
    let binary =
        if v.Armored then
            Armor.decode (ReadOnlySpan v.Body) |> Result.mapError (fun _ -> "armor failure")
        else
            Ok v.Body

    binary
    |> Result.bind (fun binary ->
        match Header.decode (ReadOnlySpan binary, true) with
        | Error _
        | Ok Header.NeedMore -> Error "header failure"
        | Ok(Header.Complete(header, length)) ->
            let identities = [
                for k in keys ->
                    if k.Algorithm = KeyAlgorithm.X25519 then
                        Recipients.X25519Identity(k.ToKeyPair())
                    else
                        Recipients.MlKem768X25519Identity(k.ToHpke HpkeKem.XWing)
            ]

            match AgeFileFormat.unwrapFileKey (crypto ()) identities header with
            | Error(AgeError.Stanza _) -> Error "header failure"
            | Error NoIdentityMatched -> Error "no match"
            | Error HeaderMacMismatch -> Error "HMAC failure"
            | Error e -> failtestf "%s: unexpected %A" v.Name e
            | Ok _ when binary.Length - length < 16 -> Error "header failure"
            | Ok _ -> Ok())

[<Tests>]
let tests =
    testList "age test kit" [
        testCase "every applicable CCTV age vector gives the expected result through AgeFile.Decrypt"
        <| fun () ->
            let all = vectors ()

            let skipped =
                all
                |> Array.filter (fun v -> List.isEmpty v.Identities && not (List.isEmpty v.Passphrases))

            let run =
                all
                |> Array.filter (fun v -> not (List.isEmpty v.Identities) || List.isEmpty v.Passphrases)

            let counts = Collections.Generic.Dictionary<string, int>()

            let failures = ResizeArray<string>()

            for v in run do
                try
                    use spare = PrivateKey.Generate()

                    let keys =
                        match v.Identities with
                        | [] -> [ spare ]
                        | ids -> ids |> List.map PrivateKey.FromAgeIdentity

                    let output = new MemoryStream()

                    let error =
                        try
                            AgeFile.Decrypt(keys, new MemoryStream(v.Body), output)
                            None
                        with HybridError e ->
                            Some e.Code

                    let released = toHex (SHA256.HashData(output.ToArray()))

                    match v.Expect, error with
                    | "success", None -> Expect.equal (Some released) v.Payload $"{v.Name}: payload"
                    | "success", Some code -> failtestf "%s: expected success, got %A" v.Name code
                    | "payload failure", Some code ->
                        Expect.contains
                            [ HybridErrorCode.DecryptionFailed; HybridErrorCode.InvalidCiphertext ]
                            code
                            $"{v.Name}: code"

                        Expect.equal (Some released) v.Payload $"{v.Name}: the plaintext released before the failure"
                    | ("armor failure" | "header failure"), Some code ->
                        Expect.contains
                            [ HybridErrorCode.InvalidCiphertext; HybridErrorCode.Unsupported ]
                            code
                            $"{v.Name}: code"

                        Expect.equal output.Length 0L $"{v.Name}: nothing released"
                    | ("no match" | "HMAC failure"), Some code ->
                        Expect.equal code HybridErrorCode.DecryptionFailed $"{v.Name}: code"
                        Expect.equal output.Length 0L $"{v.Name}: nothing released"
                    | expected, outcome -> failtestf "%s: expected %s, got %A" v.Name expected outcome

                    // The layer that refuses it: armor, header (and stanza, nonce), unwrap, MAC, or none before the payload.
                    match v.Expect, coreOutcome keys v with
                    | ("success" | "payload failure"), Ok() -> ()
                    | expected, Error kind -> Expect.equal kind expected $"{v.Name}: the core's layer"
                    | expected, Ok() -> failtestf "%s: the core's layers accept a %s vector" v.Name expected

                    for k in keys do
                        if not (obj.ReferenceEquals(k, spare)) then
                            k.Dispose()

                    counts[v.Expect] <-
                        (match counts.TryGetValue v.Expect with
                         | true, n -> n + 1
                         | _ -> 1)
                with :? AssertException as e ->
                    failures.Add e.Message

            Expect.isEmpty failures (String.concat "\n" failures)

            let summary =
                counts
                |> Seq.sortBy (fun kv -> kv.Key)
                |> Seq.map (fun kv -> $"{kv.Key}: {kv.Value}")
                |> String.concat ", "

            printfn
                $"age test kit: {run.Length} vectors passed ({summary}); {skipped.Length} skipped (scrypt passphrase recipients, not implemented)"

            Expect.equal all.Length 143 "vectors in the kit"
            Expect.equal run.Length 118 "vectors run"
            Expect.equal skipped.Length 25 "vectors skipped: scrypt only"

            Expect.isTrue
                (skipped |> Array.forall (fun v -> v.Name.Contains "scrypt"))
                "only scrypt vectors are skipped"
    ]
