/// Keys and trust (specs/KEYS.md): PEM files as OpenSSL writes them, owner-only key files, fingerprints,
/// and the known-hosts store for trust on first use. Everything through the facade's public API
/// (plus the internal ToKeyPair that hands a key to the core).
module HybridProtocol.Tests.KeysTests

open System
open System.Diagnostics
open System.IO
open System.Threading.Tasks
open Expecto
open FsCheck
open FsCheck.FSharp
open HybridProtocol
open HybridProtocol.Crypto
open HybridProtocol.Tests.TestSupport

type private PrivateKey = HybridProtocol.PrivateKey
type private PublicKey = HybridProtocol.PublicKey

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 200
}

// RFC 7748 §6.1: Alice's and Bob's X25519 keys and their shared secret.
let private alicePrivate =
    hex "77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a"

let private alicePublic =
    hex "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"

let private bobPrivate =
    hex "5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb"

let private sharedSecret =
    hex "4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"

// Alice's keys as `openssl pkey -inform DER` writes them (DER built from the RFC bytes, then converted by OpenSSL 3.0).
let private alicePrivatePem =
    "-----BEGIN PRIVATE KEY-----\n"
    + "MC4CAQAwBQYDK2VuBCIEIHcHbQpzGKV9PBbBclGyZkXfTC+H68CZKrF3+6UduSwq\n"
    + "-----END PRIVATE KEY-----\n"

let private alicePublicPem =
    "-----BEGIN PUBLIC KEY-----\n"
    + "MCowBQYDK2VuAyEAhSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n"
    + "-----END PUBLIC KEY-----\n"

/// base64(SHA-256(alicePublic)) without padding, computed with `xxd -r -p | openssl dgst -sha256 -binary | base64`.
let private aliceFingerprint = "SHA256:MAyclgO5Kks57TlYv5JAEUgE20/TcwEsDKR0MtY0Ja4"

// Keys of other algorithms, made by `openssl genpkey`.
let private ed25519PrivatePem =
    "-----BEGIN PRIVATE KEY-----\n"
    + "MC4CAQAwBQYDK2VwBCIEICES7dl7lopUW+RCOjSBxCjUGFCNJidZ2LVNfqFGW4gz\n"
    + "-----END PRIVATE KEY-----\n"

let private ed25519PublicPem =
    "-----BEGIN PUBLIC KEY-----\n"
    + "MCowBQYDK2VwAyEAtMjeBrIiAovymh9yNEq73L5/8qVx0gFVIlSPPXoMfao=\n"
    + "-----END PUBLIC KEY-----\n"

let private x448PrivatePem =
    "-----BEGIN PRIVATE KEY-----\n"
    + "MEYCAQAwBQYDK2VvBDoEOChixE/kMczpQKOt7BvaUVKCqcRsNqtQP4IkGWCxdMGL\n"
    + "9otMc7Pff2zJzkPZxIpntp8mE4WSYWmJ\n"
    + "-----END PRIVATE KEY-----\n"

let private rsaPrivatePem =
    "-----BEGIN PRIVATE KEY-----\n"
    + "MIIBUwIBADANBgkqhkiG9w0BAQEFAASCAT0wggE5AgEAAkEA9Iq5U5k2wcT1QkdH\n"
    + "ooZ/6U9SRo1GESFNaUkgHj8mrXFs+mJYohMer4Po/Mj06wQlZrXfrpggyDTNZnC7\n"
    + "EzgTQQIDAQABAkAN85gtL9GS7oS7mkt490l26yKbidXUhlzfQ9/EOgAf5vsuzUBd\n"
    + "CQ1tPG9Wx0dzJ7RqOv972AM2ssEiKT8PwSABAiEA+90oUewvGTq5OTVTqZmMCbnL\n"
    + "XI4UxKaY3ywRUkViXIECIQD4jsjWjud7RN+8OcGwNakpB/MXGJr6LJDrOKKPjn1W\n"
    + "wQIgatlhEJgtRvvFtoJsEshkQ4ABySsxnle7BPqyAoATAYECID/gIcjRzLcnCgBL\n"
    + "L3VjNOewfU4wKpOkJFHuqggObDOBAiA/DMrkRE3rz3kIywgFBIxymE2Fy4WzowVS\n"
    + "BjdqPhLOJQ==\n"
    + "-----END PRIVATE KEY-----\n"

let private encryptedPrivatePem =
    "-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
    + "MIGbMFcGCSqGSIb3DQEFDTBKMCkGCSqGSIb3DQEFDDAcBAhYvxcqmQasAwICCAAw\n"
    + "DAYIKoZIhvcNAgkFADAdBglghkgBZQMEASoEENv+wYltqtGgIoF/1QBecCIEQGM2\n"
    + "+MT35z3eTUo9IititoIMWjb9oHuviPvdhs38tSKeOLCSLXqwqJSzFKSRb+35+dbA\n"
    + "6INVcEC7bn1s8J47cSk=\n"
    + "-----END ENCRYPTED PRIVATE KEY-----\n"

let private pem (label: string) (der: byte[]) =
    $"-----BEGIN {label}-----\n{Convert.ToBase64String der}\n-----END {label}-----\n"

/// Runs `f` and returns the HybridProtocolException it throws; fails the test for anything else.
let private throwsHybrid (f: unit -> unit) =
    let e =
        try
            f ()
            None
        with HybridError e ->
            Some e

    match e with
    | Some e -> e
    | None -> failtest "expected a HybridProtocolException, but nothing was thrown"

let private expectCode code (f: unit -> unit) =
    let e = throwsHybrid f
    Expect.equal e.Code code $"error code (message: {e.Message})"
    e

let private expectInvalidKey (f: unit -> unit) = expectCode HybridErrorCode.InvalidKey f

/// A fresh directory under the system temp directory, deleted when disposed.
type private TempDir() =
    let path =
        Path.Combine(Path.GetTempPath(), "hybrid-keys-" + Guid.NewGuid().ToString "N")

    do Directory.CreateDirectory path |> ignore
    member _.File(name: string) = Path.Combine(path, name)
    member _.Path = path

    interface IDisposable with
        member _.Dispose() =
            try
                Directory.Delete(path, true)
            with _ ->
                ()

let private ownerOnly = UnixFileMode.UserRead ||| UnixFileMode.UserWrite

let private publicOf (raw: byte[]) =
    use k = PrivateKey.FromRawBytes raw
    k.PublicKey

/// 32 arbitrary bytes.
type private Raw32 = Raw32 of byte[]

let private raw32 =
    Gen.arrayOfLength 32 (Gen.choose (0, 255) |> Gen.map byte)
    |> Gen.map Raw32
    |> Arb.fromGen

let private pemTests =
    testList "Keys PEM" [
        testPropertyWithConfig config "private PEM round trip over random raw keys"
        <| Prop.forAll raw32 (fun (Raw32 raw) ->
            use key = PrivateKey.FromRawBytes raw
            let text = key.ToPem()
            use again = PrivateKey.FromPem text
            again.ToPem() = text && again.PublicKey = key.PublicKey && text.Length = 119)

        testPropertyWithConfig config "public PEM round trip over random raw keys"
        <| Prop.forAll raw32 (fun (Raw32 raw) ->
            let key = PublicKey.FromRawBytes raw
            let again = PublicKey.FromPem(key.ToPem())
            again = key && again.RawBytes.ToArray() = raw && again.ToPem() = key.ToPem())

        testCase "RFC 7748 Alice: PEM text byte for byte as OpenSSL writes it, public key from the private key"
        <| fun () ->
            use alice = PrivateKey.FromRawBytes alicePrivate
            Expect.equal (alice.ToPem()) alicePrivatePem "private PEM"
            Expect.equal (alice.PublicKey.ToPem()) alicePublicPem "public PEM"
            Expect.equal (alice.PublicKey.RawBytes.ToArray()) alicePublic "X25519(a, 9)"
            use loaded = PrivateKey.FromPem alicePrivatePem
            Expect.equal loaded.PublicKey (PublicKey.FromPem alicePublicPem) "loaded"

        testCase "PEM with CRLF line ends and text around the block is read"
        <| fun () ->
            let crlf =
                "Comment line\r\n" + alicePrivatePem.Replace("\n", "\r\n") + "trailing\r\n"

            use k = PrivateKey.FromPem crlf
            Expect.equal (k.PublicKey.RawBytes.ToArray()) alicePublic "same key"

        testCase "RFC 5958 v2 PKCS #8 with the matching public key is read; a mismatched one is refused"
        <| fun () ->
            let v2 (pub: byte[]) =
                Array.concat [ hex "3051020101300506032b656e04220420"; alicePrivate; hex "812100"; pub ]

            use k = PrivateKey.FromPem(pem "PRIVATE KEY" (v2 alicePublic))
            Expect.equal (k.PublicKey.RawBytes.ToArray()) alicePublic "v2 accepted"
            let wrong = Array.copy alicePublic
            wrong[0] <- wrong[0] ^^^ 1uy

            let e =
                expectInvalidKey (fun () -> PrivateKey.FromPem(pem "PRIVATE KEY" (v2 wrong)) |> ignore)

            Expect.stringContains e.Message "does not belong" "says the public key does not match"

        testPropertyWithConfig config "random text is refused with InvalidKey by both loaders"
        <| fun (text: string | null) ->
            let t =
                match text with
                | null -> ""
                | t -> t

            let isInvalid f =
                try
                    f ()
                    false
                with HybridError e ->
                    e.Code = HybridErrorCode.InvalidKey

            isInvalid (fun () -> PrivateKey.FromPem t |> ignore)
            && isInvalid (fun () -> PublicKey.FromPem t |> ignore)

        testPropertyWithConfig config "random DER in a PEM block is refused with InvalidKey"
        <| fun (der: byte[]) ->
            let isInvalid f =
                try
                    f ()
                    false
                with HybridError e ->
                    e.Code = HybridErrorCode.InvalidKey

            isInvalid (fun () -> PrivateKey.FromPem(pem "PRIVATE KEY" der) |> ignore)
            && isInvalid (fun () -> PublicKey.FromPem(pem "PUBLIC KEY" der) |> ignore)

        testPropertyWithConfig config "any one-character change of a valid PEM gives a key or InvalidKey, nothing else"
        <| fun (position: NonNegativeInt) (replacement: char) ->
            let i = position.Get % alicePrivatePem.Length
            let chars = alicePrivatePem.ToCharArray()
            chars[i] <- replacement
            let mutated = String chars

            try
                (PrivateKey.FromPem mutated).Dispose()
                true
            with HybridError e ->
                e.Code = HybridErrorCode.InvalidKey && e.Message.Length > 40

        testCase "truncated base64 is refused"
        <| fun () ->
            let truncated =
                alicePrivatePem.Replace(
                    "MC4CAQAwBQYDK2VuBCIEIHcHbQpzGKV9PBbBclGyZkXfTC+H68CZKrF3+6UduSwq",
                    "MC4CAQAwBQYDK2VuBCIEIHcHbQpzGKV9PBbB"
                )

            expectInvalidKey (fun () -> PrivateKey.FromPem truncated |> ignore) |> ignore
            // Valid base64 of too few bytes (a cut at a 4-character boundary).
            let short = pem "PRIVATE KEY" ((hex "302e020100300506032b656e04220420")[..20])

            let e = expectInvalidKey (fun () -> PrivateKey.FromPem short |> ignore)
            Expect.stringContains e.Message "truncated" "suggests truncation"
            // The END line is missing.
            let noEnd = alicePrivatePem.Replace("-----END PRIVATE KEY-----\n", "")
            let e = expectInvalidKey (fun () -> PrivateKey.FromPem noEnd |> ignore)
            Expect.stringContains e.Message "damaged" "says the block is damaged"

        testCase "an Ed25519 private key is refused, naming Ed25519 and how to make an X25519 key"
        <| fun () ->
            let e = expectInvalidKey (fun () -> PrivateKey.FromPem ed25519PrivatePem |> ignore)
            Expect.stringContains e.Message "Ed25519" "names the algorithm found"
            Expect.stringContains e.Message "openssl genpkey -algorithm X25519" "says what to do"

        testCase "an Ed25519 public key is refused by PublicKey.FromPem"
        <| fun () ->
            let e = expectInvalidKey (fun () -> PublicKey.FromPem ed25519PublicPem |> ignore)
            Expect.stringContains e.Message "Ed25519" "names the algorithm found"

        testCase
            "RSA private keys are refused, naming them; X448 keys load once HybridProtocol.Hpke.Extended is registered"
        <| fun () ->
            HybridProtocol.HpkeExtended.Register()
            use x448 = PrivateKey.FromPem x448PrivatePem
            Expect.equal x448.Algorithm KeyAlgorithm.X448 "an HPKE X448 key (specs/HPKE.md)"
            Expect.equal (x448.ToPem()) x448PrivatePem "re-encoded byte for byte"
            let e = expectInvalidKey (fun () -> PrivateKey.FromPem rsaPrivatePem |> ignore)
            Expect.stringContains e.Message "RSA" "RSA"

        testCase "a public PEM given to the private loader, and a private PEM to the public loader, are refused"
        <| fun () ->
            let e = expectInvalidKey (fun () -> PrivateKey.FromPem alicePublicPem |> ignore)
            Expect.stringContains e.Message "holds a public key" "says it is a public key"
            let e = expectInvalidKey (fun () -> PublicKey.FromPem alicePrivatePem |> ignore)
            Expect.stringContains e.Message "holds a private key" "says it is a private key"
            Expect.stringContains e.Message "PublicKey" "says how to get the public key, with the API"

        testCase "an encrypted private key is refused with how to decrypt it"
        <| fun () ->
            let e =
                expectInvalidKey (fun () -> PrivateKey.FromPem encryptedPrivatePem |> ignore)

            Expect.stringContains e.Message "encrypted" "says it is encrypted"

        testCase "wrong key lengths inside well-formed DER are refused"
        <| fun () ->
            let shortPrivate =
                Array.concat [ hex "302d020100300506032b656e0421041f"; alicePrivate[..30] ]

            let e =
                expectInvalidKey (fun () -> PrivateKey.FromPem(pem "PRIVATE KEY" shortPrivate) |> ignore)

            Expect.stringContains e.Message "31 bytes" "names the length"
            let shortPublic = Array.concat [ hex "3029300506032b656e032000"; alicePublic[..30] ]

            let e =
                expectInvalidKey (fun () -> PublicKey.FromPem(pem "PUBLIC KEY" shortPublic) |> ignore)

            Expect.stringContains e.Message "31 bytes" "names the length"
            // RFC 8410 §3: parameters MUST be absent.
            let withParams = Array.concat [ hex "302c300706032b656e0500032100"; alicePublic ]

            expectInvalidKey (fun () -> PublicKey.FromPem(pem "PUBLIC KEY" withParams) |> ignore)
            |> ignore

        testCase "empty text and an OpenSSH public key line are refused with a specific message"
        <| fun () ->
            let e = expectInvalidKey (fun () -> PrivateKey.FromPem "" |> ignore)
            Expect.stringContains e.Message "empty" "says empty"

            let e =
                expectInvalidKey (fun () ->
                    PublicKey.FromPem "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAI user@host" |> ignore)

            Expect.stringContains e.Message "OpenSSH" "names OpenSSH"

        testCase "a binary DER file is refused with how to convert it"
        <| fun () ->
            use dir = new TempDir()
            let path = dir.File "alice.der"
            File.WriteAllBytes(path, Array.concat [ hex "302e020100300506032b656e04220420"; alicePrivate ])
            let e = expectInvalidKey (fun () -> PrivateKey.Load path |> ignore)
            Expect.stringContains e.Message "-inform DER" "says how to convert"

        testCase "raw keys of the wrong length are refused"
        <| fun () ->
            for n in [ 0; 31; 33; 64 ] do
                expectInvalidKey (fun () -> PrivateKey.FromRawBytes(Array.zeroCreate<byte> n) |> ignore)
                |> ignore

                expectInvalidKey (fun () -> PublicKey.FromRawBytes(Array.zeroCreate<byte> n) |> ignore)
                |> ignore
    ]

/// Pairs of keys, equal about half the time, different in one byte or entirely otherwise.
let private samePairs =
    gen {
        let! Raw32 a = raw32.Generator
        let! kind = Gen.choose (0, 2)
        let! i = Gen.choose (0, 31)

        match kind with
        | 0 -> return a, Array.copy a
        | 1 ->
            let b = Array.copy a
            b[i] <- b[i] ^^^ 1uy
            return a, b
        | _ ->
            let! Raw32 b = raw32.Generator
            return a, b
    }
    |> Arb.fromGen

let private generatedPublic () =
    use k = PrivateKey.Generate()
    k.PublicKey

let private fingerprintTests =
    testList "Keys fingerprint and equality" [
        testCase "a fixed key has a fixed fingerprint (RFC 7748 Alice, checked with openssl dgst)"
        <| fun () ->
            let key = PublicKey.FromRawBytes alicePublic
            Expect.equal key.Fingerprint aliceFingerprint "fingerprint"
            Expect.equal (key.ToString()) aliceFingerprint "ToString is the fingerprint"
            use priv = PrivateKey.FromRawBytes alicePrivate
            Expect.equal priv.Fingerprint aliceFingerprint "private key shows its public fingerprint"

        testPropertyWithConfig config "fingerprint format: SHA256: and 43 unpadded base64 characters, stable"
        <| Prop.forAll raw32 (fun (Raw32 raw) ->
            let key = PublicKey.FromRawBytes raw
            let f = key.Fingerprint
            let body = f.Substring 7

            f.StartsWith "SHA256:"
            && body.Length = 43
            && not (body.Contains '=')
            && Convert.FromBase64String(body + "=") = Security.Cryptography.SHA256.HashData raw
            && (PublicKey.FromRawBytes raw).Fingerprint = f)

        testPropertyWithConfig config "Equals (constant-time) agrees with byte equality"
        <| Prop.forAll samePairs (fun (a, b) ->
            let ka = PublicKey.FromRawBytes a
            let kb = PublicKey.FromRawBytes b
            let kb' = PublicKey.FromRawBytes(Array.copy<byte> b)

            ka.Equals kb = (a = b)
            && kb.Equals kb'
            && (kb = kb')
            && kb.GetHashCode() = kb'.GetHashCode()
            && ka.Equals(kb :> obj) = (a = b))

        testCase "keys that differ only in the last byte are different; null is not equal"
        <| fun () ->
            let a = PublicKey.FromRawBytes alicePublic
            let changed = Array.copy alicePublic
            changed[31] <- changed[31] ^^^ 0x80uy
            let b = PublicKey.FromRawBytes changed
            Expect.isFalse (a.Equals b) "last byte differs"
            Expect.isFalse (a.Equals(null: PublicKey | null)) "null"
            Expect.isTrue (PublicKey.op_Inequality (a, b)) "operator !="
            Expect.notEqual a.Fingerprint b.Fingerprint "fingerprints differ"
    ]

let private fileTests =
    testList "Keys files" [
        testCase "Save writes a 0600 file that Load reads back"
        <| fun () ->
            use dir = new TempDir()
            let path = dir.File "server.key"
            use key = PrivateKey.Generate()
            key.Save path

            if not (OperatingSystem.IsWindows()) then
                Expect.equal (File.GetUnixFileMode path) ownerOnly "owner-only permissions"

            use loaded = PrivateKey.Load path
            Expect.equal loaded.PublicKey key.PublicKey "same key"
            Expect.equal (File.ReadAllText path) (key.ToPem()) "file holds the PEM"

        testCase "Save refuses to overwrite, leaving the file as it was; overwrite: true replaces it, still 0600"
        <| fun () ->
            use dir = new TempDir()
            let path = dir.File "server.key"
            use first = PrivateKey.Generate()
            use second = PrivateKey.Generate()
            first.Save path
            let e = expectCode HybridErrorCode.InvalidArgument (fun () -> second.Save path)
            Expect.stringContains e.Message "already exists" "says why"
            Expect.stringContains e.Message "overwrite" "says how to overwrite"
            Expect.equal (File.ReadAllText path) (first.ToPem()) "unchanged"
            second.Save(path, overwrite = true)
            Expect.equal (File.ReadAllText path) (second.ToPem()) "replaced"

            if not (OperatingSystem.IsWindows()) then
                Expect.equal (File.GetUnixFileMode path) ownerOnly "still owner-only"

            Expect.sequenceEqual (Directory.GetFiles dir.Path) [| path |] "no temporary file left behind"

        testCase "a pre-existing world-readable file replaced with overwrite: true becomes 0600"
        <| fun () ->
            if OperatingSystem.IsWindows() then
                skiptest "Unix file modes"

            use dir = new TempDir()
            let path = dir.File "server.key"
            File.WriteAllText(path, "old")
            File.SetUnixFileMode(path, ownerOnly ||| UnixFileMode.GroupRead ||| UnixFileMode.OtherRead)
            use key = PrivateKey.Generate()
            key.Save(path, overwrite = true)
            Expect.equal (File.GetUnixFileMode path) ownerOnly "owner-only"

        testCase "PublicKey.Save and Load round trip; Save refuses to overwrite"
        <| fun () ->
            use dir = new TempDir()
            let path = dir.File "server.pub"
            let key = PublicKey.FromRawBytes alicePublic
            key.Save path
            Expect.equal (File.ReadAllText path) alicePublicPem "PEM text"
            Expect.equal (PublicKey.Load path) key "loaded"

            expectCode HybridErrorCode.InvalidArgument (fun () -> key.Save path) |> ignore

        testCase "loading a missing file or a directory gives InvalidArgument naming the path"
        <| fun () ->
            use dir = new TempDir()
            let missing = dir.File "nope.key"

            let e =
                expectCode HybridErrorCode.InvalidArgument (fun () -> PrivateKey.Load missing |> ignore)

            Expect.stringContains e.Message missing "names the path"

            expectCode HybridErrorCode.InvalidArgument (fun () -> PublicKey.Load dir.Path |> ignore)
            |> ignore

        testCase "a file larger than any key file is refused without reading it all"
        <| fun () ->
            use dir = new TempDir()
            let path = dir.File "big.pem"
            File.WriteAllBytes(path, Array.create (1024 * 1024) (byte 'A'))
            let e = expectInvalidKey (fun () -> PrivateKey.Load path |> ignore)
            Expect.stringContains e.Message "larger than" "says too large"

        testCase "a disposed key refuses use"
        <| fun () ->
            let key = PrivateKey.Generate()
            key.Dispose()
            key.Dispose()
            Expect.throwsT<ObjectDisposedException> (fun () -> key.ToPem() |> ignore) "ToPem after Dispose"
            Expect.throwsT<ObjectDisposedException> (fun () -> key.ToKeyPair() |> ignore) "ToKeyPair after Dispose"
    ]

let private coreTests =
    testList "Keys to the core" [
        testCase "ToKeyPair works with NSecSuite.X25519.DH (RFC 7748 §6.1 shared secret)"
        <| fun () ->
            use alice = PrivateKey.FromRawBytes alicePrivate
            use bob = PrivateKey.FromRawBytes bobPrivate
            let pair = alice.ToKeyPair()
            Expect.isTrue (pair.Public.EqualsKey(alice.PublicKey.ToCore())) "public half"
            let out = Array.zeroCreate 32

            let ok =
                NSecSuite.X25519.DH.Invoke(pair.Private, ReadOnlySpan(bob.PublicKey.RawBytes.ToArray()), Span out)

            Expect.isTrue ok "DH accepted"
            Expect.equal out sharedSecret "shared secret"

        testCase "disposing the core key pair does not erase the PrivateKey that lent it"
        <| fun () ->
            use alice = PrivateKey.FromRawBytes alicePrivate
            let pair = alice.ToKeyPair()
            pair.Private.Dispose()
            Expect.equal (alice.ToPem()) alicePrivatePem "still usable"
            let again = alice.ToKeyPair()
            let out = Array.zeroCreate 32

            Expect.isTrue
                (NSecSuite.X25519.DH.Invoke(again.Private, (publicOf bobPrivate).RawBytes.Span, Span out))
                "DH still works"

            Expect.equal out sharedSecret "shared secret"

        testCase "PublicKey.FromCore and ToCore round trip"
        <| fun () ->
            let key = PublicKey.FromRawBytes alicePublic
            Expect.equal (PublicKey.FromCore(key.ToCore())) key "round trip"
    ]

// ---------------------------------------------------------------- known hosts

let private keyA = PublicKey.FromRawBytes alicePublic
let private keyB = publicOf bobPrivate

let private knownHostsTests =
    testList "Known hosts" [
        testCase "first contact records the key in a new 0600 file (directory created); the same key is then trusted"
        <| fun () ->
            use dir = new TempDir()
            let path = Path.Combine(dir.Path, "hybrid", "known_hosts")
            let store = KnownHosts.Load path
            let first = store.Verify("Example.COM", 12345, keyA)
            Expect.equal first.Status KnownHostStatus.FirstContact "first contact"
            Expect.equal first.RecordedLine (Nullable 1) "recorded on line 1"
            Expect.isNull first.RecordedKey "nothing was recorded before"

            Expect.equal
                (File.ReadAllText path)
                ("example.com:12345 x25519 " + Convert.ToBase64String alicePublic + "\n")
                "the documented line format"

            if not (OperatingSystem.IsWindows()) then
                Expect.equal (File.GetUnixFileMode path) ownerOnly "owner-only"

                Expect.equal
                    (File.GetUnixFileMode(Path.GetDirectoryName path |> nonNull))
                    (ownerOnly ||| UnixFileMode.UserExecute)
                    "directory 0700"

            let again = KnownHosts.Load(path).Verify("example.com", 12345, keyA)
            Expect.equal again.Status KnownHostStatus.Trusted "trusted (host names are case-insensitive)"
            Expect.equal again.RecordedKey keyA "recorded key"
            again.ThrowIfChanged()

        testCase
            "a changed key is reported with both fingerprints, nothing is written, and ThrowIfChanged throws ServerKeyChanged"
        <| fun () ->
            use dir = new TempDir()
            let path = dir.File "known_hosts"
            let store = KnownHosts.Load path
            store.Verify("server.example", 443, keyA) |> ignore
            let before = File.ReadAllText path
            let result = store.Verify("server.example", 443, keyB)
            Expect.equal result.Status KnownHostStatus.Changed "changed"
            Expect.equal result.RecordedKey keyA "expected key"
            Expect.equal result.PresentedKey keyB "presented key"
            Expect.equal (File.ReadAllText path) before "file unchanged"

            let e =
                expectCode HybridErrorCode.ServerKeyChanged (fun () -> result.ThrowIfChanged())

            Expect.stringStarts
                e.Message
                "WARNING: the server key for server.example:443 has changed"
                "OpenSSH-style warning"

            Expect.stringContains e.Message ("Expected " + keyA.Fingerprint) "old fingerprint"
            Expect.stringContains e.Message ("got " + keyB.Fingerprint) "new fingerprint"
            Expect.stringContains e.Message "KnownHosts.Remove for server.example:443" "how to fix, with the API"
            Expect.stringContains e.Message (path + " line 1") "where the old key is"

        testCase "ports are separate hosts; remove HOST:PORT and remove HOST work"
        <| fun () ->
            use dir = new TempDir()
            let store = KnownHosts.Load(dir.File "known_hosts")
            store.Verify("h", 1, keyA) |> ignore
            Expect.equal (store.Verify("h", 2, keyB).Status) KnownHostStatus.FirstContact "other port"
            store.Verify("other", 1, keyA) |> ignore
            Expect.equal (store.Remove "h:2") 1 "removed h:2"
            Expect.equal (store.Verify("h", 2, keyA).Status) KnownHostStatus.FirstContact "forgotten, recorded anew"
            Expect.equal (store.Remove "H") 2 "removed every port of h"
            Expect.equal (store.Remove "h") 0 "nothing left"
            let left = store.List()
            Expect.equal [ for e in left -> e.Host, e.Port ] [ "other", 1 ] "the other host stays"

        testCase "IPv6 hosts are written in brackets and removed by [addr]:port"
        <| fun () ->
            use dir = new TempDir()
            let path = dir.File "known_hosts"
            let store = KnownHosts.Load path
            store.Verify("0:0::1", 22, keyA) |> ignore
            Expect.stringStarts (File.ReadAllText path) "[::1]:22 x25519 " "canonical, bracketed"
            Expect.equal (store.Verify("[::1]", 22, keyA).Status) KnownHostStatus.Trusted "same address"
            Expect.equal (store.Remove "[::1]:22") 1 "removed"

        testCase "Add records extra keys and reports duplicates; comments and blank lines survive rewrites"
        <| fun () ->
            use dir = new TempDir()
            let path = dir.File "known_hosts"

            File.WriteAllText(
                path,
                "# my hosts\n\nold.example:1 x25519 "
                + Convert.ToBase64String alicePublic
                + " rotated 2025\n"
            )

            let store = KnownHosts.Load path
            Expect.isTrue (store.Add("new.example", 2, keyA)) "added"
            Expect.isFalse (store.Add("NEW.example", 2, keyA)) "already there"
            Expect.isTrue (store.Add("new.example", 2, keyB, "second key")) "second key for the same host"
            Expect.equal (store.Verify("new.example", 2, keyB).Status) KnownHostStatus.Trusted "either key is trusted"
            Expect.equal (store.Remove "old.example:1") 1 "removed"
            let lines = File.ReadAllLines path
            Expect.equal lines[0] "# my hosts" "comment kept"
            Expect.equal lines[1] "" "blank line kept"
            Expect.stringEnds lines[3] " second key" "comment written"
            Expect.equal lines.Length 4 "two comments, two entries"

        testCase "malformed lines are refused with the file and line number"
        <| fun () ->
            use dir = new TempDir()
            let path = dir.File "known_hosts"
            let good = "h:1 x25519 " + Convert.ToBase64String alicePublic

            let cases = [
                "h:1 x25519", "three fields"
                "h x25519 " + Convert.ToBase64String alicePublic, "port is missing"
                "h:0 x25519 " + Convert.ToBase64String alicePublic, "port"
                "h:99999 x25519 " + Convert.ToBase64String alicePublic, "port"
                "h:1 ssh-ed25519 " + Convert.ToBase64String alicePublic, "key type"
                "h:1 x25519 not-base64!", "base64"
                "h:1 x25519 " + Convert.ToBase64String alicePublic[..30], "base64 of 32 bytes"
                "|1|abc|def x25519 " + Convert.ToBase64String alicePublic, "hashed"
                "a,b:1 x25519 " + Convert.ToBase64String alicePublic, "not allowed"
                "h:x:1 x25519 " + Convert.ToBase64String alicePublic, "[IPV6]:PORT"
            ]

            for bad, why in cases do
                File.WriteAllText(path, "# comment\n" + good + "\n" + bad + "\n" + good + "\n")

                let e = expectInvalidKey (fun () -> KnownHosts.Load path |> ignore)

                Expect.stringContains e.Message "line 3" $"names the line for {bad}"
                Expect.stringContains e.Message path "names the file"
                Expect.stringContains e.Message why $"says what is wrong with {bad}"

        testCase "host names lose a final dot; files over 8 MiB are refused"
        <| fun () ->
            use dir = new TempDir()
            let path = dir.File "known_hosts"
            let store = KnownHosts.Load path
            store.Verify("fqdn.example.", 1, keyA) |> ignore
            Expect.equal (store.Verify("fqdn.example", 1, keyA).Status) KnownHostStatus.Trusted "same host"
            File.AppendAllText(path, String('#', 8 * 1024 * 1024))
            let e = expectInvalidKey (fun () -> KnownHosts.Load path |> ignore)
            Expect.stringContains e.Message "larger than 8 MiB" "says too large"

        testCase "a file edited to be malformed after Load makes Verify fail, not trust"
        <| fun () ->
            use dir = new TempDir()
            let path = dir.File "known_hosts"
            let store = KnownHosts.Load path
            store.Verify("h", 1, keyA) |> ignore
            File.AppendAllText(path, "garbage\n")

            expectInvalidKey (fun () -> store.Verify("h", 1, keyA) |> ignore) |> ignore

        testCase "bad host or port arguments give InvalidArgument"
        <| fun () ->
            use dir = new TempDir()
            let store = KnownHosts.Load(dir.File "known_hosts")

            for host, port in [ "", 1; "a b", 1; "h", 0; "h", 65536; "x#y", 1 ] do
                expectCode HybridErrorCode.InvalidArgument (fun () -> store.Verify(host, port, keyA) |> ignore)
                |> ignore

            expectCode HybridErrorCode.InvalidArgument (fun () -> store.Remove "h:notaport" |> ignore)
            |> ignore

        testCase "known hosts take X25519 keys only: a P-256 key is InvalidKey and nothing is recorded"
        <| fun () ->
            use dir = new TempDir()
            let path = dir.File "known_hosts"
            let store = KnownHosts.Load path
            use p256 = PrivateKey.Generate KeyAlgorithm.P256
            let e = expectInvalidKey (fun () -> store.Verify("h", 1, p256.PublicKey) |> ignore)
            Expect.stringContains e.Message "X25519 keys only" "says which keys"

            expectInvalidKey (fun () -> store.Add("h", 1, p256.PublicKey) |> ignore)
            |> ignore

            Expect.isFalse (File.Exists path) "nothing written"

        testCase "concurrent first contacts from many instances in one process lose no record"
        <| fun () ->
            use dir = new TempDir()
            let path = dir.File "known_hosts"
            let n = 40

            Parallel.For(0, n, fun i -> KnownHosts.Load(path).Verify($"host{i}", 1000 + i, keyA) |> ignore)
            |> ignore

            Expect.equal (KnownHosts.Load(path).List().Count) n "every host recorded"

        testCase "concurrent first contacts for one host with different keys: exactly one wins, the rest see a change"
        <| fun () ->
            use dir = new TempDir()
            let path = dir.File "known_hosts"
            let keys = [| for _ in 1..16 -> generatedPublic () |]

            let results =
                keys
                |> Array.map (fun k -> Task.Run(fun () -> KnownHosts.Load(path).Verify("contested", 9, k)))
                |> Task.WhenAll
                |> fun t -> t.Result

            let firsts =
                results |> Array.filter (fun r -> r.Status = KnownHostStatus.FirstContact)

            Expect.equal firsts.Length 1 "one first contact"

            for r in results do
                if r.Status = KnownHostStatus.Changed then
                    Expect.equal r.RecordedKey firsts[0].PresentedKey "the change names the recorded key"

            Expect.equal
                (results |> Array.filter (fun r -> r.Status = KnownHostStatus.Changed)).Length
                (keys.Length - 1)
                "the others are refused"

        testPropertyWithConfig { config with maxTest = 30 } "entries added are listed back in order"
        <| Prop.forAll
            (Gen.listOf (Gen.zip (Gen.choose (1, 65535)) (raw32.Generator))
             |> Gen.map (List.truncate 20)
             |> Arb.fromGen)
            (fun entries ->
                use dir = new TempDir()
                let store = KnownHosts.Load(dir.File "known_hosts")

                for port, Raw32 raw in entries do
                    store.Add("host.example", port, PublicKey.FromRawBytes raw) |> ignore

                let distinct = entries |> List.distinct

                let listed = [
                    for e in KnownHosts.Load(store.Path).List() -> e.Port, Raw32(e.Key.RawBytes.ToArray())
                ]

                listed = distinct)

        testCase "the default path is in the user's config directory, or HYBRID_KNOWN_HOSTS"
        <| fun () ->
            let saved = Environment.GetEnvironmentVariable KnownHosts.PathEnvironmentVariable

            try
                Environment.SetEnvironmentVariable(KnownHosts.PathEnvironmentVariable, null)
                let config = Environment.GetFolderPath Environment.SpecialFolder.ApplicationData

                Expect.equal
                    (KnownHosts.GetDefaultPath())
                    (Path.Combine(config, "hybrid", "known_hosts"))
                    "config directory"

                Environment.SetEnvironmentVariable(KnownHosts.PathEnvironmentVariable, "/tmp/somewhere/kh")
                Expect.equal (KnownHosts.GetDefaultPath()) "/tmp/somewhere/kh" "overridden"
            finally
                Environment.SetEnvironmentVariable(KnownHosts.PathEnvironmentVariable, saved)
    ]

// ---------------------------------------------------------------- OpenSSL interop

/// Runs openssl (with absolute file arguments); returns its standard output.
let private runOpenssl (args: string list) = runOpensslIn (Path.GetTempPath()) args

let private opensslTests =
    testList "Keys OpenSSL interop" [
        testCase "a key made by openssl genpkey loads; its public key equals openssl pkey -pubout's"
        <| fun () ->
            use dir = new TempDir()
            let keyFile = dir.File "openssl.key"
            let pubFile = dir.File "openssl.pub"
            runOpenssl [ "genpkey"; "-algorithm"; "X25519"; "-out"; keyFile ] |> ignore
            runOpenssl [ "pkey"; "-in"; keyFile; "-pubout"; "-out"; pubFile ] |> ignore
            use key = PrivateKey.Load keyFile
            let pub = PublicKey.Load pubFile
            Expect.equal key.PublicKey pub "same public key"
            Expect.equal (key.ToPem()) (File.ReadAllText keyFile) "our PEM is byte for byte OpenSSL's"
            Expect.equal (pub.ToPem()) (File.ReadAllText pubFile) "public PEM too"

        testCase "a key saved by PrivateKey.Save is read by openssl pkey, giving the same public key"
        <| fun () ->
            use dir = new TempDir()
            let keyFile = dir.File "ours.key"
            use key = PrivateKey.Generate()
            key.Save keyFile
            let pubPem = runOpenssl [ "pkey"; "-in"; keyFile; "-pubout" ]
            Expect.equal (PublicKey.FromPem pubPem) key.PublicKey "openssl derives our public key"
            Expect.equal (runOpenssl [ "pkey"; "-in"; keyFile ]) (key.ToPem()) "openssl re-encodes it identically"

        testCase "a public key saved by PublicKey.Save is read by openssl pkey -pubin"
        <| fun () ->
            use dir = new TempDir()
            let pubFile = dir.File "ours.pub"
            use key = PrivateKey.Generate()
            key.PublicKey.Save pubFile
            let text = runOpenssl [ "pkey"; "-pubin"; "-in"; pubFile; "-pubout" ]
            Expect.equal text (key.PublicKey.ToPem()) "identical"
    ]

[<Tests>]
let tests =
    testList "Keys" [
        pemTests
        fingerprintTests
        fileTests
        coreTests
        knownHostsTests
        opensslTests
    ]
