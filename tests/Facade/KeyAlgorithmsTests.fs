/// Keys of the HPKE-only algorithms (specs/HPKE.md "Key formats"): P-256/384/521 in the PKCS #8 / SPKI
/// PEM `openssl genpkey -algorithm EC` writes (checked both ways with the openssl CLI), ML-KEM-768 in
/// the IETF LAMPS seed form and X-Wing in its draft's form; fingerprints; malformed files refused; and
/// Noise refusing keys that are not X25519.
module HybridProtocol.Tests.KeyAlgorithmsTests

open System
open System.IO
open Expecto
open HybridProtocol
open HybridProtocol.Tests.TestSupport
open HybridProtocol.Tests.CliSupport

let private all = [
    KeyAlgorithm.X25519
    KeyAlgorithm.P256
    KeyAlgorithm.P384
    KeyAlgorithm.P521
    KeyAlgorithm.MlKem768
    KeyAlgorithm.XWing
]

let private codeOf (f: unit -> 'T) =
    try
        f () |> ignore
        failtest "expected a HybridProtocolException"
    with HybridError e ->
        e.Code

let private der (pem: string) =
    let b =
        pem.Split('\n')
        |> Array.filter (fun l -> l <> "" && not (l.StartsWith "-----"))
        |> String.concat ""

    Convert.FromBase64String b

let private pemOf (label: string) (der: byte[]) =
    String(Security.Cryptography.PemEncoding.Write(label, der)) + "\n"

let private curves = [
    KeyAlgorithm.P256, "P-256"
    KeyAlgorithm.P384, "P-384"
    KeyAlgorithm.P521, "P-521"
]

let private opensslTests =
    testList "openssl interop" [
        for (algorithm, curve) in curves do
            testCase $"{curve}: openssl genpkey's key loads and re-encodes byte for byte; its pubout equals ours"
            <| fun () ->
                use dir = new TempDir()
                let keyFile = dir.File "openssl.key"
                let pubFile = dir.File "openssl.pub"

                runOpenssl dir [
                    "genpkey"
                    "-algorithm"
                    "EC"
                    "-pkeyopt"
                    $"ec_paramgen_curve:{curve}"
                    "-out"
                    keyFile
                ]
                |> ignore

                runOpenssl dir [ "pkey"; "-in"; keyFile; "-pubout"; "-out"; pubFile ] |> ignore
                use key = PrivateKey.Load keyFile
                let pub = PublicKey.Load pubFile
                Expect.equal key.Algorithm algorithm "algorithm"
                Expect.equal key.PublicKey pub "same public key"
                Expect.equal (key.ToPem()) (File.ReadAllText keyFile) "our PEM is byte for byte OpenSSL's"
                Expect.equal (pub.ToPem()) (File.ReadAllText pubFile) "public PEM too"

            testCase
                $"{curve}: our saved key is read by openssl pkey, which derives our public key and re-encodes it identically"
            <| fun () ->
                use dir = new TempDir()
                let keyFile = dir.File "ours.key"
                use key = PrivateKey.Generate algorithm
                key.Save keyFile
                let pubPem = runOpenssl dir [ "pkey"; "-in"; keyFile; "-pubout" ]
                Expect.equal (PublicKey.FromPem pubPem) key.PublicKey "openssl derives our public key"
                Expect.equal (runOpenssl dir [ "pkey"; "-in"; keyFile ]) (key.ToPem()) "identical re-encoding"
                let text = runOpenssl dir [ "ec"; "-in"; keyFile; "-noout"; "-check" ]
                ignore text

            testCase $"{curve}: an ECDH secret computed by openssl pkeyutl -derive equals ours (through HPKE's DH)"
            <| fun () ->
                use dir = new TempDir()
                use a = PrivateKey.Generate algorithm
                use b = PrivateKey.Generate algorithm
                a.Save(dir.File "a.key")
                b.PublicKey.Save(dir.File "b.pub")

                runOpenssl dir [
                    "pkeyutl"
                    "-derive"
                    "-inkey"
                    dir.File "a.key"
                    "-peerkey"
                    dir.File "b.pub"
                    "-out"
                    dir.File "z"
                ]
                |> ignore

                let group = (KeyAlgorithms.Nist algorithm |> nonNull)
                let pair = a.ToHpke(KeyAlgorithms.Kem algorithm)
                let output = Array.zeroCreate group.Size

                let sk =
                    match pair.Private with
                    | Core.Hpke.DhPrivate sk -> sk
                    | Core.Hpke.KemPrivate _ -> failtest "not a DH key"

                Expect.isTrue
                    (group.Group.DH.Invoke(sk, ReadOnlySpan(b.PublicKey.RawBytes.ToArray()), Span output))
                    "DH"

                Expect.equal (toHex output) (toHex (File.ReadAllBytes(dir.File "z"))) "same x-coordinate"
    ]

let private formatTests =
    testList "formats" [
        testCase
            "every algorithm: Generate, ToPem, FromPem and Save/Load round-trip; fingerprints are SHA256: of the encoded key"
        <| fun () ->
            use dir = new TempDir()

            for algorithm in all do
                use key = PrivateKey.Generate algorithm
                use again = PrivateKey.FromPem(key.ToPem())
                Expect.equal again.PublicKey key.PublicKey $"{algorithm} private PEM round trip"
                Expect.equal again.Algorithm algorithm $"{algorithm} algorithm kept"

                Expect.equal
                    (PublicKey.FromPem(key.PublicKey.ToPem()))
                    key.PublicKey
                    $"{algorithm} public PEM round trip"

                key.Save(dir.File $"{algorithm}.key")
                key.PublicKey.Save(dir.File $"{algorithm}.pub")
                use loaded = PrivateKey.Load(dir.File $"{algorithm}.key")
                Expect.equal loaded.Fingerprint key.Fingerprint $"{algorithm} file round trip"
                Expect.equal (PublicKey.Load(dir.File $"{algorithm}.pub")) key.PublicKey $"{algorithm} public file"

                let expected =
                    "SHA256:"
                    + Convert
                        .ToBase64String(Security.Cryptography.SHA256.HashData(key.PublicKey.RawBytes.Span))
                        .TrimEnd('=')

                Expect.equal key.Fingerprint expected $"{algorithm} fingerprint"
                Expect.equal key.PublicKey.RawBytes.Length (KeyAlgorithms.PublicLength algorithm) $"{algorithm} Npk"

        testCase "ML-KEM-768: PKCS #8 with id-alg-ml-kem-768 and the seed [0] form; SPKI with the 1184-byte key"
        <| fun () ->
            let seed = Array.init 64 byte
            use key = PrivateKey.FromRawBytes(KeyAlgorithm.MlKem768, ReadOnlySpan seed)
            let d = der (key.ToPem())

            Expect.equal
                (toHex d)
                ("3054020100300b0609608648016503040402044280" + "40" + toHex seed)
                "LAMPS seed form, byte for byte"

            let p = der (key.PublicKey.ToPem())
            Expect.equal p.Length (22 + 1184) "SPKI length"
            Expect.equal (toHex (Array.sub p 0 22)) "308204b2300b0609608648016503040402038204a100" "SPKI prefix"

            // The expanded-only form is refused (we need the seed), with InvalidKey.
            let expanded =
                Array.concat [
                    Convert.FromHexString "30820978020100300b06096086480165030404020482096404820960"
                    Array.zeroCreate 2400
                ]

            Expect.equal
                (codeOf (fun () -> PrivateKey.FromPem(pemOf "PRIVATE KEY" expanded)))
                HybridErrorCode.InvalidKey
                "expanded only"

        testCase "X-Wing: PKCS #8 with OID 1.3.6.1.4.1.62253.25722 around the 32-byte seed; SPKI with the 1216-byte key"
        <| fun () ->
            let seed = Array.init 32 (fun i -> byte (i * 7))
            use key = PrivateKey.FromRawBytes(KeyAlgorithm.XWing, ReadOnlySpan seed)
            let d = der (key.ToPem())
            Expect.equal (toHex d) ("30340201003" + "00d060b2b0601040183e62d81c87a0420" + toHex seed) "draft form"
            let p = der (key.PublicKey.ToPem())
            Expect.equal (toHex (Array.sub p 0 24)) "308204d4300d060b2b0601040183e62d81c87a038204c100" "SPKI prefix"
            Expect.equal p.Length (24 + 1216) "SPKI length"

        testCase
            "malformed key files are InvalidKey: a P-256 PKCS #8 whose embedded public key is another's, a scalar >= n, a short seed"
        <| fun () ->
            use a = PrivateKey.Generate KeyAlgorithm.P256
            use b = PrivateKey.Generate KeyAlgorithm.P256
            let da = der (a.ToPem())
            let db = der (b.ToPem())
            // The ECPrivateKey's [1] publicKey is the last 65 bytes.
            let mixed =
                Array.append (Array.sub da 0 (da.Length - 65)) (Array.sub db (db.Length - 65) 65)

            Expect.equal
                (codeOf (fun () -> PrivateKey.FromPem(pemOf "PRIVATE KEY" mixed)))
                HybridErrorCode.InvalidKey
                "mismatch"

            let group = (KeyAlgorithms.Nist KeyAlgorithm.P256 |> nonNull)

            Expect.equal
                (codeOf (fun () -> PrivateKey.FromRawBytes(KeyAlgorithm.P256, ReadOnlySpan group.Order)))
                HybridErrorCode.InvalidKey
                "sk = n"

            Expect.equal
                (codeOf (fun () -> PrivateKey.FromRawBytes(KeyAlgorithm.P256, ReadOnlySpan(Array.zeroCreate 32))))
                HybridErrorCode.InvalidKey
                "sk = 0"

            Expect.equal
                (codeOf (fun () -> PrivateKey.FromRawBytes(KeyAlgorithm.MlKem768, ReadOnlySpan(Array.zeroCreate 32))))
                HybridErrorCode.InvalidKey
                "ML-KEM seed of 32 bytes"

        testCase "Noise takes X25519 keys only: other keys give InvalidKey at the core boundary"
        <| fun () ->
            for algorithm in all |> List.filter (fun a -> a <> KeyAlgorithm.X25519) do
                use key = PrivateKey.Generate algorithm
                Expect.equal (codeOf (fun () -> key.ToKeyPair())) HybridErrorCode.InvalidKey $"{algorithm} private"

                Expect.equal
                    (codeOf (fun () -> key.PublicKey.ToCore()))
                    HybridErrorCode.InvalidKey
                    $"{algorithm} public"

            use x = PrivateKey.Generate()
            Expect.equal x.Algorithm KeyAlgorithm.X25519 "the default is X25519"

            Expect.equal
                (PublicKey.FromRawBytes(KeyAlgorithm.X25519, x.PublicKey.RawBytes.Span))
                x.PublicKey
                "X25519 raw"
    ]

[<Tests>]
let tests = testList "Key algorithms" [ formatTests; opensslTests ]
