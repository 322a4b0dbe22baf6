/// The key document codecs (core-fsharp/Formats/Pem and KeyDocument): PKCS #8 and SubjectPublicKeyInfo round trip
/// for every key type, X25519's bytes are KEYS.md's, PEM blocks round trip, each refusal is typed, and random,
/// truncated and bit-flipped documents and texts never throw (a strict prefix of a document is always refused).
module HybridProtocol.Tests.KeyDocumentTests

open System
open Expecto
open HybridProtocol.Core.Formats
open HybridProtocol.Tests.TestSupport

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 200
}

let private types = [ X25519; X448; P256; P384; P521; MlKem512; MlKem768; MlKem1024; XWing ]

let private isEc t = List.contains t [ P256; P384; P521 ]

let private bytesFrom (seed: byte array) n offset =
    let seed = nonNullBytes seed

    Array.init n (fun i ->
        if seed.Length = 0 then
            byte (i + offset)
        else
            seed[(i + offset) % seed.Length] ^^^ byte i)

let private typeFrom (kind: byte) = types[int kind % types.Length]

let private keysFrom kind seed =
    let t = typeFrom kind
    t, bytesFrom seed (KeyDocument.privateKeyLength t) 0, bytesFrom seed (KeyDocument.publicKeyLength t) 7

let private neverThrows (der: byte array) =
    KeyDocument.decodePrivate der |> ignore
    KeyDocument.decodePublic der |> ignore
    KeyDocument.peekPrivate der |> ignore

let private hex (s: string) =
    Convert.FromHexString(s.Replace(" ", ""))

let private roundTrips =
    testList "round trip" [
        testPropertyWithConfig config "PKCS #8 and SPKI of every key type decode to what was encoded"
        <| fun (kind: byte) (seed: byte array) ->
            let t, sk, pk = keysFrom kind seed
            let privateDer = KeyDocument.encodePrivate (t, ReadOnlySpan sk, ReadOnlySpan pk)

            KeyDocument.decodePrivate privateDer =
                Ok {
                    Type = t
                    PrivateKey = sk
                    EmbeddedPublicKeys = if isEc t then [ pk ] else []
                }
            && KeyDocument.peekPrivate privateDer = Ok t
            && KeyDocument.decodePublic (KeyDocument.encodePublic (t, ReadOnlySpan pk)) = Ok(t, pk)

        testPropertyWithConfig config "a PEM block decodes to its label and data, with text around it and CRLF"
        <| fun (data: byte array) (label: bool) (before: string) ->
            let data = nonNullBytes data
            let label = if label then Pem.PrivateKeyLabel else Pem.PublicKeyLabel
            let pem = String(Pem.encode (label, ReadOnlySpan data))
            let expected = Ok { Label = label; Data = data }
            let before = (nonNullText before).Replace("-", "")

            Pem.decode (pem.AsSpan()) = expected
            && Pem.decode ((before + "\r\n" + pem.Replace("\n", "\r\n") + "trailer").AsSpan()) = expected
            && pem.EndsWith "\n"
            && pem.Split('\n') |> Array.forall (fun line -> line.Length <= 64)

        test "X25519 documents are KEYS.md's bytes (RFC 8410), and the RFC 5958 v2 public key is returned" {
            let key = Array.init 32 byte

            Expect.equal
                (KeyDocument.encodePrivate (X25519, ReadOnlySpan key, ReadOnlySpan.Empty))
                (Array.append (hex "30 2e 02 01 00 30 05 06 03 2b 65 6e 04 22 04 20") key)
                "PKCS #8, 48 bytes"

            Expect.equal
                (KeyDocument.encodePublic (X25519, ReadOnlySpan key))
                (Array.append (hex "30 2a 30 05 06 03 2b 65 6e 03 21 00") key)
                "SPKI, 44 bytes"

            let v2 =
                Array.concat [
                    hex "30 51 02 01 01 30 05 06 03 2b 65 6e 04 22 04 20"
                    key
                    hex "81 21 00"
                    Array.rev key
                ]

            Expect.equal
                (KeyDocument.decodePrivate v2)
                (Ok {
                    Type = X25519
                    PrivateKey = key
                    EmbeddedPublicKeys = [ Array.rev key ]
                })
                "v2 with [1] publicKey"

            let v1WithPublic = Array.copy v2
            v1WithPublic[4] <- 0uy
            Expect.equal (KeyDocument.decodePrivate v1WithPublic) (Error NotDer) "[1] only in v2"
        }
    ]

let private malformed =
    testList "malformed" [
        testPropertyWithConfig config "random bytes give a key or a typed error, never an exception"
        <| fun (der: byte array) -> neverThrows (nonNullBytes der)

        testPropertyWithConfig config "every strict prefix of a document is refused; every byte change is total"
        <| fun (kind: byte) (seed: byte array) (at: int) (flip: byte) ->
            let t, sk, pk = keysFrom kind seed
            let privateDer = KeyDocument.encodePrivate (t, ReadOnlySpan sk, ReadOnlySpan pk)
            let publicDer = KeyDocument.encodePublic (t, ReadOnlySpan pk)

            let prefixesRefused =
                [ 0 .. privateDer.Length - 1 ]
                |> List.forall (fun n -> Result.isError (KeyDocument.decodePrivate privateDer[.. n - 1]))
                && [ 0 .. publicDer.Length - 1 ]
                   |> List.forall (fun n -> Result.isError (KeyDocument.decodePublic publicDer[.. n - 1]))

            for der in [ privateDer; publicDer ] do
                let changed = Array.copy der
                let i = abs (at % der.Length)
                changed[i] <- changed[i] ^^^ (if flip = 0uy then 1uy else flip)
                neverThrows changed

            prefixesRefused

        testPropertyWithConfig config "random, truncated and changed PEM text is total"
        <| fun (raw: string) (at: int) (c: char) ->
            let pem = String(Pem.encode (Pem.PrivateKeyLabel, ReadOnlySpan(Array.init 48 byte)))
            Pem.decode ((nonNullText raw).AsSpan()) |> ignore

            for n in 0 .. pem.Length do
                Pem.decode (pem.AsSpan(0, n)) |> ignore

            let i = abs (at % pem.Length)

            Pem.decode ((pem.Substring(0, i) + string c + pem.Substring(i + 1)).AsSpan())
            |> ignore

        test "each refusal is its own error" {
            let key = Array.init 32 byte
            let der (s: string) = Array.append (hex s) key

            let priv der =
                KeyDocument.decodePrivate der |> Result.map (fun d -> d.Type)

            let pub der =
                KeyDocument.decodePublic der |> Result.map fst

            let cases = [
                "the X25519 parameters must be absent",
                priv (der "30 30 02 01 00 30 07 06 03 2b 65 6e 05 00 04 22 04 20"),
                Error(ParametersPresent X25519)
                "an Ed25519 key",
                priv (der "30 2e 02 01 00 30 05 06 03 2b 65 70 04 22 04 20"),
                Error(ForeignKey Ed25519)
                "an unknown algorithm",
                pub (der "30 2a 30 05 06 03 2b 65 7f 03 21 00"),
                Error(ForeignKey(OtherAlgorithm "1.3.101.127"))
                "version 2", priv (der "30 2e 02 01 02 30 05 06 03 2b 65 6e 04 22 04 20"), Error UnsupportedKeyVersion
                "a 31-byte private key",
                priv ((der "30 2e 02 01 00 30 05 06 03 2b 65 6e 04 22 04 1f")[..46]),
                Error NotDer
                "a 31-byte public key",
                pub (Array.append (hex "30 29 30 05 06 03 2b 65 6e 03 20 00") key[..30]),
                Error(PublicKeyLength(X25519, 31))
                "a 31-byte CurvePrivateKey",
                priv (Array.append (hex "30 2d 02 01 00 30 05 06 03 2b 65 6e 04 21 04 1f") key[..30]),
                Error(PrivateKeyLength(X25519, 31))
                "ML-KEM with only the expanded key",
                priv (
                    Array.append
                        (hex "30 38 02 01 00 30 0b 06 09 60 86 48 01 65 03 04 04 02 04 26 04 24")
                        (Array.zeroCreate 36)
                ),
                Error(ExpandedKeyOnly MlKem768)
                "an EC key on another curve",
                pub (
                    Array.append
                        (hex "30 59 30 13 06 07 2a 86 48 ce 3d 02 01 06 08 2a 86 48 ce 3d 03 01 06 03 42 00")
                        (Array.zeroCreate 65)
                ),
                Error(ForeignKey EllipticCurve)
                "bytes after the document",
                pub (Array.append (KeyDocument.encodePublic (X25519, ReadOnlySpan key)) [| 0uy |]),
                Error NotDer
            ]

            for name, actual, expected in cases do
                Expect.equal actual expected name

            let pem (s: string) = Pem.decode (s.AsSpan())
            Expect.equal (pem "  \n") (Error EmptyText) "empty"
            Expect.equal (pem "ssh-ed25519 AAAA user@host") (Error OpenSshLine) "OpenSSH"
            Expect.equal (pem "\u0000\u0001") (Error BinaryText) "binary"
            Expect.equal (pem "-----BEGIN PRIVATE KEY-----\nMC4C\n") (Error DamagedBlock) "truncated"
            Expect.equal (pem "hello") (Error NoBlock) "not PEM"
        }
    ]

[<Tests>]
let tests = testList "Core.Formats.KeyDocument" [ roundTrips; malformed ]
