/// The KEMs added for issue 25 (specs/HPKE.md "Suites" and "Key formats"): the optional package's
/// registration, keys of X448 (RFC 8410, checked against the openssl CLI both ways), ML-KEM-512/1024
/// (RFC 9935 seed form), the P-256/P-384 hybrids (no standard key file: Unsupported, raw bytes instead),
/// malformed key files, and sealed files to each new KEM.
module HybridProtocol.Tests.HpkeExtendedTests

open System
open System.IO
open Expecto
open HybridProtocol
open HybridProtocol.Crypto
open HybridProtocol.Tests.TestSupport
open HybridProtocol.Tests.CliSupport

let private added = [
    KeyAlgorithm.X448
    KeyAlgorithm.MlKem512
    KeyAlgorithm.MlKem1024
    KeyAlgorithm.MlKem768P256
    KeyAlgorithm.MlKem1024P384
]

/// The new algorithms that have a standard PKCS #8 / SPKI form.
let private withPem = [ KeyAlgorithm.X448; KeyAlgorithm.MlKem512; KeyAlgorithm.MlKem1024 ]

let private codeOf (f: unit -> 'T) =
    try
        f () |> ignore
        failtest "expected a HybridProtocolException"
    with HybridError e ->
        e.Code

let private der (pem: string) =
    pem.Split('\n')
    |> Array.filter (fun l -> l <> "" && not (l.StartsWith "-----"))
    |> String.concat ""
    |> Convert.FromBase64String

let private pemOf (label: string) (der: byte[]) =
    String(Security.Cryptography.PemEncoding.Write(label, der)) + "\n"

[<Tests>]
let tests =
    testList "HPKE extended" [
        testCase
            "HpkeExtended.Register is idempotent; after it every new suite is supported and its KEM has the registered sizes"
        <| fun () ->
            HpkeExtended.Register()
            HpkeExtended.Register()
            Expect.isTrue HpkeExtended.IsRegistered "registered"

            for algorithm in added do
                let suite = HpkeSuite.DefaultFor algorithm
                Expect.isTrue suite.IsSupported $"{algorithm}: {suite}"
                Expect.equal (int suite.Kem) (int (KeyAlgorithms.CoreKem algorithm).kem_id) $"{algorithm} kem_id"

            let sizes =
                added
                |> List.map (fun a ->
                    let k = KeyAlgorithms.CoreKem a
                    k.Nsecret, k.Nenc, k.Npk, k.Nsk, k.SupportsAuth)

            Expect.equal
                sizes
                [
                    64, 56, 56, 56, true
                    32, 768, 800, 64, false
                    32, 1568, 1568, 64, false
                    32, 1153, 1249, 32, false
                    32, 1665, 1665, 32, false
                ]
                "RFC 9180 §7.1 and draft-ietf-hpke-pq §7 sizes"

        testCase "X448, ML-KEM-512 and ML-KEM-1024: Generate, ToPem, FromPem and Save/Load round-trip"
        <| fun () ->
            HpkeExtended.Register()
            use dir = new TempDir()

            for algorithm in withPem do
                use key = PrivateKey.Generate algorithm
                use again = PrivateKey.FromPem(key.ToPem())
                Expect.equal again.PublicKey key.PublicKey $"{algorithm} private PEM round trip"
                Expect.equal again.Algorithm algorithm $"{algorithm} algorithm kept"
                Expect.equal (PublicKey.FromPem(key.PublicKey.ToPem())) key.PublicKey $"{algorithm} public PEM"
                key.Save(dir.File $"{algorithm}.key")
                use loaded = PrivateKey.Load(dir.File $"{algorithm}.key")
                Expect.equal loaded.Fingerprint key.Fingerprint $"{algorithm} file round trip"

        testCase "ML-KEM-512/1024: PKCS #8 with id-alg-ml-kem-512/1024 (RFC 9935) and the seed [0] form; SPKI"
        <| fun () ->
            HpkeExtended.Register()
            let seed = Array.init 64 (fun i -> byte (3 * i))

            for algorithm, arc, npk in [ KeyAlgorithm.MlKem512, "01", 800; KeyAlgorithm.MlKem1024, "03", 1568 ] do
                use key = PrivateKey.FromRawBytes(algorithm, ReadOnlySpan seed)

                Expect.equal
                    (toHex (der (key.ToPem())))
                    ("3054020100300b06096086480165030404" + arc + "044280" + "40" + toHex seed)
                    $"{algorithm} seed form, byte for byte"

                let p = der (key.PublicKey.ToPem())
                Expect.equal p.Length (22 + npk) $"{algorithm} SPKI length"
                Expect.equal (toHex (Array.sub p 4 13)) ("300b06096086480165030404" + arc) $"{algorithm} SPKI OID"

        testCase
            "X448: openssl genpkey's key loads and re-encodes byte for byte; openssl reads ours; openssl pkeyutl -derive equals our DH"
        <| fun () ->
            HpkeExtended.Register()
            use dir = new TempDir()
            let keyFile = dir.File "openssl.key"
            runOpenssl dir [ "genpkey"; "-algorithm"; "X448"; "-out"; keyFile ] |> ignore
            let pubPem = runOpenssl dir [ "pkey"; "-in"; keyFile; "-pubout" ]
            use key = PrivateKey.Load keyFile
            Expect.equal key.Algorithm KeyAlgorithm.X448 "algorithm"
            Expect.equal key.PublicKey (PublicKey.FromPem pubPem) "same public key"
            Expect.equal (key.ToPem()) (File.ReadAllText keyFile) "our PEM is byte for byte OpenSSL's"
            Expect.equal (key.PublicKey.ToPem()) pubPem "public PEM too"

            use ours = PrivateKey.Generate KeyAlgorithm.X448
            ours.Save(dir.File "ours.key")
            key.PublicKey.Save(dir.File "peer.pub")

            Expect.equal
                (PublicKey.FromPem(runOpenssl dir [ "pkey"; "-in"; dir.File "ours.key"; "-pubout" ]))
                ours.PublicKey
                "openssl derives our public key"

            runOpenssl dir [
                "pkeyutl"
                "-derive"
                "-inkey"
                dir.File "ours.key"
                "-peerkey"
                dir.File "peer.pub"
                "-out"
                dir.File "z"
            ]
            |> ignore

            let z = File.ReadAllBytes(dir.File "z")
            let output = Array.zeroCreate 56

            let sk =
                match (ours.ToHpke HpkeKem.X448HkdfSha512).Private with
                | Core.Hpke.DhPrivate sk -> sk
                | Core.Hpke.KemPrivate _ -> failtest "not a DH key"

            Expect.isTrue
                (BouncyCastleX448.Group.DH.Invoke(sk, ReadOnlySpan(key.PublicKey.RawBytes.ToArray()), Span output))
                "DH"

            Expect.equal (toHex output) (toHex z) "the same X448 shared secret"

        testCase
            "MLKEM768-P256 and MLKEM1024-P384 keys have no standard PEM form: ToPem and Save are Unsupported; raw bytes round-trip"
        <| fun () ->
            HpkeExtended.Register()
            use dir = new TempDir()

            for algorithm in [ KeyAlgorithm.MlKem768P256; KeyAlgorithm.MlKem1024P384 ] do
                let seed = Array.init 32 byte
                use key = PrivateKey.FromRawBytes(algorithm, ReadOnlySpan seed)
                Expect.equal (codeOf (fun () -> key.ToPem())) HybridErrorCode.Unsupported $"{algorithm} private PEM"

                Expect.equal
                    (codeOf (fun () -> key.PublicKey.ToPem()))
                    HybridErrorCode.Unsupported
                    $"{algorithm} public PEM"

                Expect.equal (codeOf (fun () -> key.Save(dir.File "k"))) HybridErrorCode.Unsupported $"{algorithm} Save"

                Expect.isFalse (File.Exists(dir.File "k")) "nothing written"
                use again = PrivateKey.FromRawBytes(algorithm, ReadOnlySpan seed)
                Expect.equal again.PublicKey key.PublicKey $"{algorithm}: the seed determines the key"

                Expect.equal
                    (PublicKey.FromRawBytes(algorithm, key.PublicKey.RawBytes.Span))
                    key.PublicKey
                    $"{algorithm} public raw round trip"

                // The traditional half is validated at import (RFC 9180 §7.1.4): a flipped last byte leaves the curve.
                let bad = key.PublicKey.RawBytes.ToArray()
                bad[bad.Length - 1] <- bad[bad.Length - 1] ^^^ 1uy

                Expect.equal
                    (codeOf (fun () -> PublicKey.FromRawBytes(algorithm, ReadOnlySpan bad)))
                    HybridErrorCode.InvalidKey
                    $"{algorithm} off-curve ek_T"

                Expect.equal
                    (codeOf (fun () -> PrivateKey.FromRawBytes(algorithm, ReadOnlySpan(Array.zeroCreate 31))))
                    HybridErrorCode.InvalidKey
                    $"{algorithm} short seed"

        testProperty
            "a truncated X448 / ML-KEM-512 / ML-KEM-1024 key file is InvalidKey; a bit-flipped one is InvalidKey or a key that re-encodes to itself, never another failure"
        <| fun (which: byte) (cut: int) (position: int) (bit: byte) ->
            HpkeExtended.Register()
            let algorithm = withPem[int which % withPem.Length]
            use key = PrivateKey.Generate algorithm
            let d = der (key.ToPem())
            let truncated = Array.sub d 0 (abs cut % d.Length)

            Expect.equal
                (codeOf (fun () -> PrivateKey.FromPem(pemOf "PRIVATE KEY" truncated)))
                HybridErrorCode.InvalidKey
                $"{algorithm} truncated at {truncated.Length}"

            let flipped = Array.copy d
            let i = abs position % flipped.Length
            flipped[i] <- flipped[i] ^^^ (1uy <<< (int bit % 8))

            try
                use other = PrivateKey.FromPem(pemOf "PRIVATE KEY" flipped)
                // Some flips still decode (the version 0 -> 1, ML-KEM's z, any bit of an X448 scalar): then the key read
                // is a key (the OID's last arc can turn ML-KEM-512 into ML-KEM-1024) whose own encoding reads back to it.
                use back = PrivateKey.FromPem(other.ToPem())
                Expect.equal back.PublicKey other.PublicKey $"{algorithm}: byte {i} flipped, re-encoded"
            with HybridError e ->
                Expect.equal e.Code HybridErrorCode.InvalidKey $"{algorithm} flipped byte {i}"

        testCase
            "sealed files to every new KEM open with the key (the suite from DefaultFor, read back from the header)"
        <| fun () ->
            HpkeExtended.Register()
            let plaintext = Array.init 200_000 byte

            for algorithm in added do
                use key = PrivateKey.Generate algorithm
                use sealedFile = new MemoryStream()

                SealedFile.Seal(
                    key.PublicKey,
                    new MemoryStream(plaintext),
                    sealedFile,
                    options = HpkeSenderOptions(Suite = HpkeSuite.DefaultFor algorithm),
                    chunkSize = 65536
                )

                use opened = new MemoryStream()
                SealedFile.Open(key, new MemoryStream(sealedFile.ToArray()), opened)
                Expect.equal (opened.ToArray()) plaintext $"{algorithm} round trip"
    ]
