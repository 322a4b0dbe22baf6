/// HPKE with every KEM and AEAD the library offers (specs/HPKE.md "Suites"): round trips in every mode
/// each KEM allows; tampering and wrong inputs fail with typed codes; the PQ KEMs refuse the auth
/// modes; keys of the wrong algorithm and malformed public keys (wrong length, identity, off the
/// curve, coordinates out of range) are refused at import; §7.1.3's rejection sampling and retry limit.
module HybridProtocol.Tests.HpkeSuitesTests

open System
open System.Security.Cryptography
open Expecto
open FsCheck
open HybridProtocol
open HybridProtocol.Core
open HybridProtocol.Core.Hpke
open HybridProtocol.Tests.TestSupport

type private FacadeHpke = HybridProtocol.Hpke

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 40
}

let private algorithms = [|
    KeyAlgorithm.X25519
    KeyAlgorithm.P256
    KeyAlgorithm.P384
    KeyAlgorithm.P521
    KeyAlgorithm.MlKem768
    KeyAlgorithm.XWing
    KeyAlgorithm.X448
    KeyAlgorithm.MlKem512
    KeyAlgorithm.MlKem1024
    KeyAlgorithm.MlKem768P256
    KeyAlgorithm.MlKem1024P384
|]

/// The post-quantum KEMs (no AuthEncap/AuthDecap).
let private postQuantum = [
    KeyAlgorithm.MlKem768
    KeyAlgorithm.XWing
    KeyAlgorithm.MlKem512
    KeyAlgorithm.MlKem1024
    KeyAlgorithm.MlKem768P256
    KeyAlgorithm.MlKem1024P384
]

let private aeads = [|
    HpkeAead.Aes128Gcm
    if NSec.Cryptography.Aes256Gcm.IsSupported then
        HpkeAead.Aes256Gcm
    HpkeAead.ChaCha20Poly1305
    HpkeAead.ExportOnly
|]

let private kdfFor (algorithm: KeyAlgorithm) (pick: int) =
    let kdfs = [|
        HpkeKdf.HkdfSha256
        HpkeKdf.HkdfSha384
        HpkeKdf.HkdfSha512
        HpkeKdf.Shake128
        HpkeKdf.Shake256
    |]

    ignore algorithm
    kdfs[abs pick % kdfs.Length]

/// Two recipient keys and one sender key per algorithm, made once (key generation is not what is tested here).
let private keys =
    // X448, ML-KEM-512/1024 and MLKEM1024-P384 come from the optional package, registered as an application would.
    HybridProtocol.HpkeExtended.Register()

    algorithms
    |> Array.map (fun a -> a, (PrivateKey.Generate a, PrivateKey.Generate a, PrivateKey.Generate a))
    |> dict

let private nullSafe (b: byte[] | null) : byte[] =
    match b with
    | null -> [||]
    | b -> b

let private codeOf (f: unit -> 'T) =
    try
        f () |> ignore
        failtest "expected a HybridProtocolException"
    with HybridError e ->
        e.Code

/// The auth modes exist with a DHKEM and an HKDF KDF only (not ML-KEM, X-Wing or the hybrids, not SHAKE).
let private modesOf (algorithm: KeyAlgorithm) (kdf: HpkeKdf) =
    if
        List.contains algorithm postQuantum
        || kdf = HpkeKdf.Shake128
        || kdf = HpkeKdf.Shake256
    then
        [| HpkeMode.Base; HpkeMode.Psk |]
    else
        [| HpkeMode.Base; HpkeMode.Psk; HpkeMode.Auth; HpkeMode.AuthPsk |]

type private Case = {
    Algorithm: KeyAlgorithm
    Suite: HpkeSuite
    Mode: HpkeMode
    Info: byte[]
    Psk: byte[]
    PskId: byte[]
}

let private caseOf (a: byte) (k: byte) (e: byte) (m: byte) (info: byte[]) (pskSeed: byte[]) =
    let algorithm = algorithms[int a % algorithms.Length]
    let kdf = kdfFor algorithm (int k)
    let modes = modesOf algorithm kdf

    {
        Algorithm = algorithm
        Suite = HpkeSuite(KeyAlgorithms.Kem algorithm, kdf, aeads[int e % aeads.Length])
        Mode = modes[int m % modes.Length]
        Info = info
        Psk = SHA256.HashData(pskSeed)
        PskId = Array.append [| 0x50uy |] pskSeed
    }

let private usesPsk (c: Case) =
    c.Mode = HpkeMode.Psk || c.Mode = HpkeMode.AuthPsk

let private usesAuth (c: Case) =
    c.Mode = HpkeMode.Auth || c.Mode = HpkeMode.AuthPsk

let private recipient (c: Case) =
    let (r, _, _) = keys[c.Algorithm]
    r

let private otherRecipient (c: Case) =
    let (_, o, _) = keys[c.Algorithm]
    o

let private sender (c: Case) =
    let (_, _, s) = keys[c.Algorithm]
    s

let private senderOptions (c: Case) (psk: byte[]) (senderKey: PrivateKey) =
    HpkeSenderOptions(
        Suite = c.Suite,
        Psk = (if usesPsk c then psk else null),
        PskId = (if usesPsk c then c.PskId else null),
        SenderPrivateKey = (if usesAuth c then senderKey else null)
    )

let private recipientOptions (c: Case) (psk: byte[]) (senderKey: PublicKey) =
    HpkeRecipientOptions(
        Suite = c.Suite,
        Psk = (if usesPsk c then psk else null),
        PskId = (if usesPsk c then c.PskId else null),
        SenderPublicKey = (if usesAuth c then senderKey else null)
    )

let private seal (c: Case) (pt: byte[]) (aad: byte[]) =
    FacadeHpke.Seal(
        (recipient c).PublicKey,
        ReadOnlySpan pt,
        ReadOnlySpan c.Info,
        ReadOnlySpan aad,
        senderOptions c c.Psk (sender c)
    )

let private openAs
    (c: Case)
    (key: PrivateKey)
    (info: byte[])
    (psk: byte[])
    (pkS: PublicKey)
    (sealedMessage: byte[])
    (aad: byte[])
    =
    FacadeHpke.Open(key, ReadOnlySpan sealedMessage, ReadOnlySpan info, ReadOnlySpan aad, recipientOptions c psk pkS)

let private flip (bytes: byte[]) (position: int) (bit: byte) =
    let copy = Array.copy bytes
    let i = abs position % copy.Length
    copy[i] <- copy[i] ^^^ (1uy <<< (int bit % 8))
    copy

/// A NIST public key changed so that it is off the curve (y + 1), and one with x = p.
let private offCurve (pk: byte[]) =
    let copy = Array.copy pk
    copy[copy.Length - 1] <- copy[copy.Length - 1] ^^^ 1uy
    copy

let private tests' =
    testList "HPKE suites" [
        testPropertyWithConfig
            config
            "every KEM x KDF x AEAD round-trips in every mode the KEM allows (export-only: equal exports)"
        <| fun (a: byte) (k: byte) (e: byte) (m: byte) (info: byte[]) (pskSeed: byte[]) (pt: byte[]) (aad: byte[]) ->
            let c = caseOf a k e m (nullSafe info) (nullSafe pskSeed)
            let pt = nullSafe pt
            let aad = nullSafe aad

            if c.Suite.Aead = HpkeAead.ExportOnly then
                use s =
                    FacadeHpke.SetupS((recipient c).PublicKey, ReadOnlySpan c.Info, senderOptions c c.Psk (sender c))

                use r =
                    FacadeHpke.SetupR(
                        ReadOnlySpan s.EncapsulatedKey,
                        recipient c,
                        ReadOnlySpan c.Info,
                        recipientOptions c c.Psk (sender c).PublicKey
                    )

                Expect.equal s.EncapsulatedKey.Length c.Suite.EncapsulatedKeyLength "enc is Nenc bytes"
                Expect.equal (r.Export(ReadOnlySpan aad, 48)) (s.Export(ReadOnlySpan aad, 48)) "exports agree"
            else
                let sealedMessage = seal c pt aad
                Expect.equal sealedMessage.Length (c.Suite.EncapsulatedKeyLength + pt.Length + 16) "enc || ct"

                let opened =
                    openAs c (recipient c) c.Info c.Psk (sender c).PublicKey sealedMessage aad

                Expect.equal opened pt $"{c.Suite} {c.Mode} round trip"

        testPropertyWithConfig
            config
            "a flipped bit in enc or ct, or the wrong key, info, aad, psk or sender key, fails with a typed code"
        <| fun (a: byte) (k: byte) (e: byte) (m: byte) (which: byte) (position: int) (bit: byte) ->
            let c0 = caseOf a k e m [| 1uy; 2uy |] [| 3uy |]

            let c = {
                c0 with
                    Suite =
                        HpkeSuite(
                            c0.Suite.Kem,
                            c0.Suite.Kdf,
                            (if c0.Suite.Aead = HpkeAead.ExportOnly then
                                 HpkeAead.Aes128Gcm
                             else
                                 c0.Suite.Aead)
                        )
            }

            let pt = "attack at dawn"B
            let aad = "aad"B
            let sealedMessage = seal c pt aad
            let nenc = c.Suite.EncapsulatedKeyLength
            let pkS = (sender c).PublicKey
            let openIt key info psk pkS message aad () = openAs c key info psk pkS message aad

            let code =
                match int which % 7 with
                | 0 ->
                    // enc: DHKEM over a NIST curve usually leaves the curve (InvalidPeerKey); otherwise the KEM
                    // yields another secret (X25519, ML-KEM's implicit rejection) and the AEAD refuses.
                    let tampered = flip sealedMessage (abs position % nenc) bit
                    codeOf (openIt (recipient c) c.Info c.Psk pkS tampered aad)
                | 1 ->
                    let tampered =
                        flip sealedMessage (nenc + abs position % (sealedMessage.Length - nenc)) bit

                    codeOf (openIt (recipient c) c.Info c.Psk pkS tampered aad)
                | 2 -> codeOf (openIt (otherRecipient c) c.Info c.Psk pkS sealedMessage aad)
                | 3 -> codeOf (openIt (recipient c) (Array.append c.Info [| 0uy |]) c.Psk pkS sealedMessage aad)
                | 4 -> codeOf (openIt (recipient c) c.Info c.Psk pkS sealedMessage "AAD"B)
                | 5 when usesPsk c ->
                    codeOf (openIt (recipient c) c.Info (flip c.Psk position bit) pkS sealedMessage aad)
                | 6 when usesAuth c ->
                    codeOf (openIt (recipient c) c.Info c.Psk (otherRecipient c).PublicKey sealedMessage aad)
                | _ ->
                    codeOf (
                        openIt (recipient c) c.Info c.Psk pkS (flip sealedMessage (sealedMessage.Length - 1) bit) aad
                    )

            let allowed =
                if int which % 7 = 0 then
                    [ HybridErrorCode.DecryptionFailed; HybridErrorCode.InvalidPeerKey ]
                else
                    [ HybridErrorCode.DecryptionFailed ]

            Expect.contains allowed code $"{c.Suite} {c.Mode} case {int which % 7}"

        testCase
            "ML-KEM-512/768/1024, X-Wing, MLKEM768-P256 and MLKEM1024-P384 refuse the auth modes with Unsupported (AuthModeNotSupported in the core)"
        <| fun () ->
            for algorithm in postQuantum do
                let (r, _, s) = keys[algorithm]
                let suite = HpkeSuite.DefaultFor algorithm
                Expect.isFalse suite.SupportsAuth "SupportsAuth says so"

                let sealAuth () =
                    FacadeHpke.Seal(
                        r.PublicKey,
                        ReadOnlySpan "x"B,
                        options = HpkeSenderOptions(Suite = suite, SenderPrivateKey = s)
                    )

                Expect.equal (codeOf sealAuth) HybridErrorCode.Unsupported $"{algorithm} AuthEncap"

                let sealedMessage =
                    FacadeHpke.Seal(r.PublicKey, ReadOnlySpan "x"B, options = HpkeSenderOptions(Suite = suite))

                let openAuth () =
                    FacadeHpke.Open(
                        r,
                        ReadOnlySpan sealedMessage,
                        options = HpkeRecipientOptions(Suite = suite, SenderPublicKey = s.PublicKey)
                    )

                Expect.equal (codeOf openAuth) HybridErrorCode.Unsupported $"{algorithm} AuthDecap"

                let core = KeyAlgorithms.CoreKem algorithm
                let pkR = core.DeserializePublicKey(r.PublicKey.RawBytes.ToArray())

                match pkR with
                | Ok pkR ->
                    match core.AuthEncap (Array.zeroCreate core.Nrandom) pkR (r.ToHpke(suite.Kem)) with
                    | Error(AuthModeNotSupported id) -> Expect.equal id core.kem_id "the core's typed error"
                    | Error err -> failtestf "%A" err
                    | Ok _ -> failtest "AuthEncap succeeded"
                | Error err -> failtestf "%A" err

        testCase "the auth modes with a SHAKE KDF are refused: Unsupported (AuthModeNotDefinedForKdf in the core)"
        <| fun () ->
            for algorithm in [ KeyAlgorithm.X25519; KeyAlgorithm.P256 ] do
                for kdf in [ HpkeKdf.Shake128; HpkeKdf.Shake256 ] do
                    let (r, _, s) = keys[algorithm]
                    let suite = HpkeSuite(KeyAlgorithms.Kem algorithm, kdf, HpkeAead.ChaCha20Poly1305)
                    Expect.isFalse suite.SupportsAuth $"{algorithm} {kdf}: SupportsAuth"
                    let psk = Array.create 32 7uy

                    for withPsk in [ false; true ] do
                        let sealAuth () =
                            FacadeHpke.Seal(
                                r.PublicKey,
                                ReadOnlySpan "x"B,
                                options =
                                    HpkeSenderOptions(
                                        Suite = suite,
                                        SenderPrivateKey = s,
                                        Psk = (if withPsk then psk else null),
                                        PskId = (if withPsk then "id"B else null)
                                    )
                            )

                        Expect.equal (codeOf sealAuth) HybridErrorCode.Unsupported $"{algorithm} {kdf} psk={withPsk}"

                        let sealedMessage =
                            FacadeHpke.Seal(r.PublicKey, ReadOnlySpan "x"B, options = HpkeSenderOptions(Suite = suite))

                        let openAuth () =
                            FacadeHpke.Open(
                                r,
                                ReadOnlySpan sealedMessage,
                                options =
                                    HpkeRecipientOptions(
                                        Suite = suite,
                                        SenderPublicKey = s.PublicKey,
                                        Psk = (if withPsk then psk else null),
                                        PskId = (if withPsk then "id"B else null)
                                    )
                            )

                        Expect.equal
                            (codeOf openAuth)
                            HybridErrorCode.Unsupported
                            $"{algorithm} {kdf} open psk={withPsk}"

                    // The same suites with HKDF keep the auth modes.
                    Expect.isTrue
                        (HpkeSuite(KeyAlgorithms.Kem algorithm, HpkeKdf.HkdfSha256, HpkeAead.ChaCha20Poly1305))
                            .SupportsAuth
                        $"{algorithm} HKDF-SHA256"

            let suite =
                HpkeSuite(HpkeKem.X25519HkdfSha256, HpkeKdf.Shake256, HpkeAead.ChaCha20Poly1305).ToCore()

            let (r, _, s) = keys[KeyAlgorithm.X25519]
            let pkR = suite.Kem.DeserializePublicKey(r.PublicKey.RawBytes.ToArray())

            match pkR with
            | Ok pkR ->
                match
                    Setup.SetupAuthS
                        suite
                        (Array.zeroCreate suite.Kem.Nrandom)
                        pkR
                        [||]
                        (s.ToHpke HpkeKem.X25519HkdfSha256)
                with
                | Error(AuthModeNotDefinedForKdf id) -> Expect.equal id 0x0011us "the core's typed error names SHAKE256"
                | Error err -> failtestf "%A" err
                | Ok _ -> failtest "SetupAuthS succeeded"
            | Error err -> failtestf "%A" err

        testCase "Hpke.EncapsulatedKeyLength is the suite's Nenc, and enc has that length"
        <| fun () ->
            Expect.equal (FacadeHpke.EncapsulatedKeyLength()) 32 "the default suite (X25519)"

            for algorithm, nenc in
                [
                    KeyAlgorithm.X25519, 32
                    KeyAlgorithm.P256, 65
                    KeyAlgorithm.P384, 97
                    KeyAlgorithm.P521, 133
                    KeyAlgorithm.MlKem768, 1088
                    KeyAlgorithm.XWing, 1120
                ] do
                let suite = HpkeSuite.DefaultFor algorithm
                Expect.equal (FacadeHpke.EncapsulatedKeyLength suite) nenc $"{algorithm}"
                let (r, _, _) = keys[algorithm]

                let sealedMessage =
                    FacadeHpke.Seal(r.PublicKey, ReadOnlySpan "abc"B, options = HpkeSenderOptions(Suite = suite))

                Expect.equal sealedMessage.Length (nenc + 3 + 16) $"{algorithm}: enc || ct"

        testCase "an ML-KEM-768 or X-Wing public key failing FIPS 203's modulus check is refused at import"
        <| fun () ->
            for algorithm in [ KeyAlgorithm.MlKem768; KeyAlgorithm.XWing ] do
                let (r, _, _) = keys[algorithm]
                let good = r.PublicKey.RawBytes.ToArray()

                // Each 3 bytes hold two 12-bit coefficients; 0xFFF (4095) and 3329 are not below q = 3329,
                // 3328 is. Place them first, last (bytes 1149..1151) and in the middle of the 1152 encoded bytes.
                let withCoefficient (offset: int) (high: bool) (value: int) =
                    let bytes = Array.copy good

                    if high then
                        bytes[offset + 1] <- byte ((int bytes[offset + 1] &&& 0x0F) ||| ((value &&& 0x0F) <<< 4))
                        bytes[offset + 2] <- byte (value >>> 4)
                    else
                        bytes[offset] <- byte value
                        bytes[offset + 1] <- byte ((int bytes[offset + 1] &&& 0xF0) ||| (value >>> 8))

                    bytes

                for offset in [ 0; 576; 1149 ] do
                    for high in [ false; true ] do
                        for value in [ 3329; 4095 ] do
                            let bad = withCoefficient offset high value
                            let what = $"{algorithm} offset {offset} high={high} value {value}"

                            Expect.equal
                                (codeOf (fun () -> PublicKey.FromRawBytes(algorithm, ReadOnlySpan bad)))
                                HybridErrorCode.InvalidKey
                                what

                            match (KeyAlgorithms.CoreKem algorithm).DeserializePublicKey bad with
                            | Error(KemFailure EncapsulationKeyCheck) -> ()
                            | other -> failtestf "%s: %A" what other

                        // 3328 = q - 1 passes the check (the key is then not the generated one, but well-formed).
                        let edge = withCoefficient offset high 3328
                        PublicKey.FromRawBytes(algorithm, ReadOnlySpan edge) |> ignore

                let pem = PublicKey.FromRawBytes(algorithm, ReadOnlySpan good).ToPem()
                Expect.equal (PublicKey.FromPem(pem).RawBytes.ToArray()) good $"{algorithm}: a valid key imports"

        testCase "Export's length errors say what is wrong: negative, above 255 * Nh (HKDF), above 65535 (SHAKE)"
        <| fun () ->
            let (r, _, _) = keys[KeyAlgorithm.X25519]

            let messageOf (f: unit -> 'T) =
                try
                    f () |> ignore
                    failtest "expected a HybridProtocolException"
                with HybridError e ->
                    Expect.equal e.Code HybridErrorCode.InvalidArgument "code"
                    e.Message

            let exporter kdf =
                FacadeHpke.SetupS(
                    r.PublicKey,
                    ReadOnlySpan.Empty,
                    HpkeSenderOptions(Suite = HpkeSuite(HpkeKem.X25519HkdfSha256, kdf, HpkeAead.ChaCha20Poly1305))
                )

            use hkdf = exporter HpkeKdf.HkdfSha256
            use shake = exporter HpkeKdf.Shake256
            let negative = messageOf (fun () -> hkdf.Export(ReadOnlySpan.Empty, -1))
            Expect.stringContains negative "negative" "L = -1"
            Expect.isFalse (negative.Contains "above") "not 'above'"
            Expect.stringContains (messageOf (fun () -> shake.Export(ReadOnlySpan.Empty, -1))) "negative" "SHAKE L = -1"
            let hkdfLimit = messageOf (fun () -> hkdf.Export(ReadOnlySpan.Empty, 255 * 32 + 1))
            Expect.stringContains hkdfLimit "255 * Nh" "HKDF's limit"
            let shakeLimit = messageOf (fun () -> shake.Export(ReadOnlySpan.Empty, 65536))
            Expect.isFalse (shakeLimit.Contains "Nh") "SHAKE has no 255 * Nh limit"
            Expect.stringContains shakeLimit "65535" "SHAKE's limit"

            Expect.equal
                (shake.Export(ReadOnlySpan.Empty, 255 * 64 + 1).Length)
                (255 * 64 + 1)
                "SHAKE goes past 255 * Nh"

        testCase "a key of another algorithm than the suite's KEM is InvalidKey (facade) and WrongKeyKem (core)"
        <| fun () ->
            for algorithm in algorithms do
                for other in algorithms do
                    if other <> algorithm then
                        let (r, _, _) = keys[algorithm]
                        let (o, _, _) = keys[other]
                        let suite = HpkeSuite.DefaultFor algorithm
                        let options = HpkeSenderOptions(Suite = suite)

                        Expect.equal
                            (codeOf (fun () -> FacadeHpke.Seal(o.PublicKey, ReadOnlySpan "x"B, options = options)))
                            HybridErrorCode.InvalidKey
                            $"seal to a {other} key with {suite}"

                        let sealedMessage =
                            FacadeHpke.Seal(r.PublicKey, ReadOnlySpan "x"B, options = options)

                        Expect.equal
                            (codeOf (fun () ->
                                FacadeHpke.Open(
                                    o,
                                    ReadOnlySpan sealedMessage,
                                    options = HpkeRecipientOptions(Suite = suite)
                                )))
                            HybridErrorCode.InvalidKey
                            $"open with a {other} key, {suite}"

            let x25519 = KeyAlgorithms.CoreKem KeyAlgorithm.X25519
            let (p256, _, _) = keys[KeyAlgorithm.P256]
            let enc = Array.zeroCreate x25519.Nenc

            Expect.equal
                (x25519.Decap enc (p256.ToHpke HpkeKem.P256HkdfSha256))
                (Error(KemFailure(WrongKeyKem(Ids.DhkemX25519HkdfSha256, Ids.DhkemP256HkdfSha256))))
                "the core checks the key's kem_id"

        testCase "malformed public keys are refused at import: wrong length, identity, off the curve, x or y >= p"
        <| fun () ->
            for algorithm in algorithms do
                let (r, _, _) = keys[algorithm]
                let pk = r.PublicKey.RawBytes.ToArray()

                for length in [ 0; 1; pk.Length - 1; pk.Length + 1; 33 ] do
                    Expect.equal
                        (codeOf (fun () -> PublicKey.FromRawBytes(algorithm, ReadOnlySpan(Array.create length 4uy))))
                        HybridErrorCode.InvalidKey
                        $"{algorithm} length {length}"

                Expect.equal
                    (PublicKey.FromRawBytes(algorithm, ReadOnlySpan pk))
                    r.PublicKey
                    $"{algorithm} the valid key"

            for algorithm in [ KeyAlgorithm.P256; KeyAlgorithm.P384; KeyAlgorithm.P521 ] do
                let (r, _, _) = keys[algorithm]
                let pk = r.PublicKey.RawBytes.ToArray()
                let size = (pk.Length - 1) / 2
                let group = (KeyAlgorithms.Nist algorithm |> nonNull)

                let atP =
                    Array.append [| 4uy |] (Array.append group.Prime (Array.sub pk (1 + size) size))

                let bad = [
                    "the identity (SEC 1's single 0x00)", [| 0uy |]
                    "all zero (no 0x04 prefix)", Array.zeroCreate pk.Length
                    "(0, 0) with the 0x04 prefix", Array.append [| 4uy |] (Array.zeroCreate (pk.Length - 1))
                    "off the curve (y changed)", offCurve pk
                    "x = p", atP
                    "compressed form", Array.append [| 2uy |] (Array.sub pk 1 size)
                ]

                for (what, bytes) in bad do
                    Expect.equal
                        (codeOf (fun () -> PublicKey.FromRawBytes(algorithm, ReadOnlySpan bytes)))
                        HybridErrorCode.InvalidKey
                        $"{algorithm}: {what}"

                // The same points as enc: Decap refuses them (§7.1.4) with InvalidPeerKey.
                let suite = HpkeSuite.DefaultFor algorithm

                for (what, bytes) in bad |> List.filter (fun (_, b) -> b.Length = pk.Length) do
                    let message = Array.append bytes (Array.zeroCreate 16)

                    Expect.equal
                        (codeOf (fun () ->
                            FacadeHpke.Open(r, ReadOnlySpan message, options = HpkeRecipientOptions(Suite = suite))))
                        HybridErrorCode.InvalidPeerKey
                        $"{algorithm} enc {what}"

        testCase
            "sealed files round-trip with every KEM and sealing AEAD; the header carries the ids and enc_length = Nenc, another length is refused"
        <| fun () ->
            for algorithm in algorithms do
                for aead in aeads |> Array.filter (fun a -> a <> HpkeAead.ExportOnly) do
                    let (r, _, _) = keys[algorithm]
                    let suite = HpkeSuite(KeyAlgorithms.Kem algorithm, HpkeKdf.HkdfSha256, aead)
                    let data = Array.init 10_000 byte
                    use sealedStream = new IO.MemoryStream()

                    SealedFile.Seal(
                        r.PublicKey,
                        new IO.MemoryStream(data),
                        sealedStream,
                        options = HpkeSenderOptions(Suite = suite),
                        chunkSize = 4096
                    )

                    let bytes = sealedStream.ToArray()
                    let nenc = suite.EncapsulatedKeyLength
                    Expect.equal ((int bytes[10] <<< 8) ||| int bytes[11]) (int suite.Kem) $"{suite} kem_id"
                    Expect.equal ((int bytes[14] <<< 8) ||| int bytes[15]) (int aead) $"{suite} aead_id"
                    Expect.equal ((int bytes[20] <<< 8) ||| int bytes[21]) nenc $"{suite} enc_length"
                    Expect.equal bytes.Length (22 + nenc + data.Length + 3 * 16) $"{suite} file size"
                    use opened = new IO.MemoryStream()
                    SealedFile.Open(r, new IO.MemoryStream(bytes), opened)
                    Expect.equal (opened.ToArray()) data $"{suite} round trip"
                    let wrongLength = Array.copy bytes
                    wrongLength[21] <- wrongLength[21] ^^^ 1uy

                    Expect.equal
                        (codeOf (fun () -> SealedFile.Open(r, new IO.MemoryStream(wrongLength), new IO.MemoryStream())))
                        HybridErrorCode.InvalidCiphertext
                        $"{suite} enc_length not Nenc"

        testCase
            "§7.1.3 NIST DeriveKeyPair: candidates >= order are rejected (bitmask, counter), and 256 failures are DeriveKeyPairError"
        <| fun () ->
            let groupWith (order: byte[]) : DhGroup = {
                Name = "test"
                Ndh = 32
                Npk = 65
                Nsk = 32
                Order = ValueSome order
                Bitmask = 0xFFuy
                ImportPrivate = ImportScalarFn(fun _ _ -> ValueNone)
                ValidatePublic = ValidatePublicFn(fun _ -> true)
                DH = DhFn(fun _ _ _ -> false)
            }

            // Order 2^255: about half of the first candidates are >= order and need the next counter value.
            let half = Array.append [| 0x80uy |] (Array.zeroCreate 31)

            let kem =
                Dhkem.create Ids.DhkemP256HkdfSha256 (groupWith half) Crypto.NSecSuite.Sha256

            let suiteId = Array.append "KEM"B [| 0uy; 0x10uy |]
            let mutable retried = 0

            for i in 0..63 do
                let ikm = Array.create 32 (byte i)

                match kem.DerivePrivateKey ikm with
                | Ok sk ->
                    Expect.isLessThan sk[0] 0x80uy "sk < order"

                    let prk = Labeled.LabeledExtract Crypto.NSecSuite.Sha256 suiteId [||] "dkp_prk"B ikm

                    match Labeled.LabeledExpand Crypto.NSecSuite.Sha256 suiteId prk "candidate"B [| 0uy |] 32 with
                    | Ok first when first[0] >= 0x80uy ->
                        retried <- retried + 1
                        Expect.notEqual sk first "a rejected candidate is not used"
                    | Ok first -> Expect.equal sk first "the first candidate below the order is used"
                    | Error e -> failtestf "%A" e
                | Error e -> failtestf "%A" e

            Expect.isGreaterThan retried 10 "some derivations needed the retry counter"

            let impossible =
                Dhkem.create Ids.DhkemP256HkdfSha256 (groupWith (Array.zeroCreate 32)) Crypto.NSecSuite.Sha256

            Expect.equal
                (impossible.DerivePrivateKey(Array.zeroCreate 32))
                (Error(KemFailure DeriveKeyPairError))
                "counter > 255 raises DeriveKeyPairError"
    ]

[<Tests>]
let tests = tests'
