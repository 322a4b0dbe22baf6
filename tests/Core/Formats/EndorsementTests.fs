/// Endorsements (core-fsharp/Formats/Endorsement): host patterns round trip and match as KEYS.md says, the endorsement
/// codec round trips and is canonical, random, truncated and mutated bytes give typed errors, and every check of
/// `EndorsementCheck` refuses with its own case (real Ed25519 signatures through NSec).
module HybridProtocol.Tests.EndorsementTests

open System
open Expecto
open NSec.Cryptography
open HybridProtocol.Core.Formats
open HybridProtocol.Tests.TestSupport

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 300
}

let private newAuthority () = new Key(SignatureAlgorithm.Ed25519)

let private publicOf (key: Key) =
    key.PublicKey.Export(KeyBlobFormat.RawPublicKey)

let private signer (key: Key) =
    SignFn(fun message signature -> SignatureAlgorithm.Ed25519.Sign(key, message, signature))

let private verify =
    VerifyFn(fun publicKey message signature ->
        let mutable imported = Unchecked.defaultof<PublicKey>

        PublicKey.TryImport(SignatureAlgorithm.Ed25519, publicKey, KeyBlobFormat.RawPublicKey, &imported)
        && SignatureAlgorithm.Ed25519.Verify(imported, message, signature))

let private pattern text =
    match HostPattern.parse text with
    | Ok p -> p
    | Error e -> failtestf "%s: %A" text e

let private bodyFor authorityKey serverKey hosts notBefore notAfter = {
    Algorithm = SignatureAlgorithm.PureEd25519
    AuthorityKey = authorityKey
    ServerKey = serverKey
    Hosts = hosts |> List.map pattern
    NotBefore = notBefore
    NotAfter = notAfter
}

let private encoded (e: Endorsement) =
    Endorsement.encode e |> Result.defaultWith (fun err -> failtestf "%A" err)

/// A body from arbitrary values: keys of the right length, 1..16 distinct patterns, an ordered window.
let private bodyFrom (seed: byte array) (hostCount: byte) (a: int64) (b: int64) =
    let seed = nonNullBytes seed

    let fill n k =
        Array.init n (fun i ->
            if seed.Length = 0 then
                byte (i + k)
            else
                seed[i % seed.Length] ^^^ byte (i + k))

    let count = 1 + int hostCount % Endorsement.MaxHosts

    let hosts = [
        for i in 0 .. count - 1 ->
            match i % 4 with
            | 0 -> $"host{i}.example.com"
            | 1 -> $"*.fleet{i}.example.org:{1 + i}"
            | 2 -> $"10.0.{i}.1:443"
            | _ -> $"[2001:db8::{i + 1}]:8443"
    ]

    let a, b = a &&& Int64.MaxValue, b &&& Int64.MaxValue
    let lo, hi = min a b, max a b
    bodyFor (fill 32 1) (fill 32 2) hosts lo hi

let private patternTests =
    testList "host patterns" [
        test "patterns parse to their stored form and match as KEYS.md says" {
            let cases = [
                "EXAMPLE.com.", "example.com", [ "example.com", 1, true; "www.example.com", 1, false ]
                "*.Fleet.Example",
                "*.fleet.example",
                [
                    "a.fleet.example", 9, true
                    "fleet.example", 9, false
                    "a.b.fleet.example", 9, false
                ]
                "*.fleet.example:443",
                "*.fleet.example:443",
                [ "a.fleet.example", 443, true; "a.fleet.example", 444, false ]
                "[0:0::1]:7", "[::1]:7", [ "::1", 7, true; "::1", 8, false ]
                "127.0.0.1", "127.0.0.1", [ "127.0.0.1", 5, true; "127.0.0.2", 5, false ]
            ]

            for text, stored, matches in cases do
                let p = pattern text
                Expect.equal (HostPattern.print p) stored $"{text}: stored form"
                Expect.equal (HostPattern.parse stored) (Ok p) $"{text}: parse (print p) = p"

                for host, port, expected in matches do
                    Expect.equal (HostPattern.matches host port p) expected $"{text} covers {host}:{port}"
        }

        test "a wildcard before an address, and text that is not HOST[:PORT], are refused" {
            Expect.equal (HostPattern.parse "*.10.0.0.1") (Error(HostPatternError.WildcardAddress "*.10.0.0.1")) "IPv4"
            Expect.isError (HostPattern.parse "*") "a bare star"
            Expect.isError (HostPattern.parse "a b") "a space"
            Expect.isError (HostPattern.parseList "a,,b") "an empty item"
        }
    ]

let private codecTests =
    testList "codec" [
        testPropertyWithConfig config "decode (encode e) = e, and encode is canonical"
        <| fun (seed: byte array) (hostCount: byte) (a: int64) (b: int64) (signature: byte array) ->
            let body = bodyFrom seed hostCount a b

            let sigBytes =
                Array.init 64 (fun i ->
                    let s = nonNullBytes signature in if s.Length = 0 then byte i else s[i % s.Length])

            let e = { Body = body; Signature = sigBytes }
            let bytes = encoded e
            Endorsement.decode (ReadOnlySpan bytes) = Ok e

        testPropertyWithConfig config "random bytes decode to a value that re-encodes to them, or to a typed error"
        <| fun (raw: byte array) ->
            let raw = nonNullBytes raw

            match Endorsement.decode (ReadOnlySpan raw) with
            | Ok e -> Endorsement.encode e = Ok raw
            | Error _ -> true

        testPropertyWithConfig config "every strict prefix is refused; a mutated byte re-encodes exactly or is refused"
        <| fun (seed: byte array) (hostCount: byte) (cut: int) (flip: byte) ->
            let bytes =
                encoded {
                    Body = bodyFrom seed hostCount 5L 10L
                    Signature = Array.create 64 7uy
                }

            let cut = abs (cut % bytes.Length)
            let prefix = Endorsement.decode (ReadOnlySpan(bytes, 0, cut))
            let mutated = Array.copy bytes
            mutated[cut] <- mutated[cut] ^^^ (if flip = 0uy then 1uy else flip)

            Result.isError prefix
            && (match Endorsement.decode (ReadOnlySpan mutated) with
                | Ok e -> Endorsement.encode e = Ok mutated
                | Error _ -> true)

        test "the layout is the one KEYS.md gives, and the signature input is the label, 00 and the body" {
            let body =
                bodyFor (Array.create 32 0xAAuy) (Array.create 32 0xBBuy) [ "a.example" ] 1L 2L

            let bytes =
                encoded {
                    Body = body
                    Signature = Array.create 64 0xCCuy
                }

            let expectedBody =
                Array.concat [
                    [| 1uy; 1uy; 0uy; 32uy |]
                    Array.create 32 0xAAuy
                    [| 1uy; 0uy; 32uy |]
                    Array.create 32 0xBBuy
                    [| 0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 1uy |]
                    [| 0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 2uy |]
                    [| 1uy; 9uy |]
                    Text.Encoding.ASCII.GetBytes "a.example"
                ]

            Expect.equal bytes (Array.concat [ expectedBody; [| 0uy; 64uy |]; Array.create 64 0xCCuy ]) "the bytes"

            Expect.equal
                (Endorsement.signatureInput body)
                (Ok(
                    Array.concat [
                        Text.Encoding.ASCII.GetBytes "HybridProtocol endorsement"
                        [| 0uy |]
                        expectedBody
                    ]
                ))
                "the signature input"
        }

        test "each malformed field has its typed error" {
            let good =
                encoded {
                    Body = bodyFor (Array.create 32 1uy) (Array.create 32 2uy) [ "a.example" ] 1L 2L
                    Signature = Array.create 64 3uy
                }

            let at (i: int) (v: byte) =
                let b = Array.copy good in
                b[i] <- v
                b

            let decode (b: byte array) = Endorsement.decode (ReadOnlySpan b)
            Expect.equal (decode [||]) (Error EndorsementFormatError.TruncatedEndorsement) "empty"
            Expect.equal (decode (at 0 2uy)) (Error(EndorsementFormatError.UnknownEndorsementVersion 2uy)) "version"
            Expect.equal (decode (at 1 9uy)) (Error(EndorsementFormatError.UnknownAlgorithm 9uy)) "algorithm"

            Expect.equal
                (decode (at 3 31uy))
                (Error(EndorsementFormatError.AuthorityKeyLength 31))
                "authority key length"

            Expect.equal (decode (at 36 2uy)) (Error(EndorsementFormatError.UnknownServerKeyType 2uy)) "key type"
            Expect.equal (decode (at 38 33uy)) (Error(EndorsementFormatError.ServerKeyLength 33)) "server key length"
            Expect.equal (decode (at 71 0xFFuy)) (Error EndorsementFormatError.BadWindow) "not-before above 2^63-1"
            Expect.equal (decode (at 87 0uy)) (Error(EndorsementFormatError.HostCount 0)) "no host"

            Expect.equal
                (decode (at 89 (byte 'A')))
                (Error(EndorsementFormatError.NonCanonicalHost(0, "A.example")))
                "upper case"

            Expect.equal
                (decode (Array.append good [| 0uy |]))
                (Error(EndorsementFormatError.TrailingBytes 1))
                "trailing"

            let window = {
                Body = bodyFor (Array.create 32 1uy) (Array.create 32 2uy) [ "a.example" ] 3L 2L
                Signature = Array.create 64 3uy
            }

            Expect.equal
                (Endorsement.encode window)
                (Error EndorsementFormatError.BadWindow)
                "not-before after not-after"

            let twice = {
                window with
                    Body = bodyFor (Array.create 32 1uy) (Array.create 32 2uy) [ "a.example"; "a.example" ] 1L 2L
            }

            Expect.equal
                (Endorsement.encode twice)
                (Error(EndorsementFormatError.DuplicateHost(1, "a.example")))
                "repeat"
        }
    ]

let private checkTests =
    testList "checks" [
        test "each check refuses with its own case, in the order PROTOCOL.md §6b gives" {
            use authority = newAuthority ()
            use other = newAuthority ()
            let serverKey = Array.init 32 byte
            let otherKey = Array.init 32 (fun i -> byte (i + 100))

            let endorse (key: Key) hosts notBefore notAfter =
                let body = bodyFor (publicOf key) serverKey hosts notBefore notAfter

                Endorsement.sign (signer key) body
                |> Result.defaultWith (fun e -> failtestf "%A" e)
                |> encoded

            let policy = {
                Authorities = [ { Key = publicOf authority; Hosts = [] } ]
                RevokedAuthorities = []
                RevokedServerKeys = []
                Required = true
                Host = "a.fleet.example"
                Port = 443
                Now = 100L
                VERIFY = verify
            }

            let good = endorse authority [ "*.fleet.example" ] 50L 150L

            let check p key (bytes: byte array) =
                EndorsementCheck.check p key (ReadOnlySpan bytes) |> Result.map ignore

            Expect.equal (check policy serverKey good) (Ok()) "valid"

            let tampered = Array.copy good
            tampered[tampered.Length - 1] <- tampered[tampered.Length - 1] ^^^ 1uy
            Expect.equal (check policy serverKey tampered) (Error EndorsementError.BadSignature) "tampered signature"

            Expect.equal
                (check policy serverKey good[.. good.Length - 2])
                (Error(EndorsementError.BadEncoding EndorsementFormatError.TruncatedEndorsement))
                "truncated"

            Expect.equal
                (check policy serverKey (endorse other [ "*.fleet.example" ] 50L 150L))
                (Error EndorsementError.UnknownAuthority)
                "another authority"

            let scoped = {
                policy with
                    Authorities = [
                        {
                            Key = publicOf authority
                            Hosts = [ pattern "*.other.example" ]
                        }
                    ]
            }

            Expect.equal
                (check scoped serverKey good)
                (Error EndorsementError.UnknownAuthority)
                "trusted for other hosts only"

            Expect.equal
                (check
                    {
                        policy with
                            RevokedAuthorities = [ publicOf authority ]
                    }
                    serverKey
                    good)
                (Error EndorsementError.RevokedAuthority)
                "revoked authority"

            Expect.equal (check policy otherKey good) (Error EndorsementError.DifferentKey) "another server key"

            Expect.equal
                (check
                    {
                        policy with
                            RevokedServerKeys = [ serverKey ]
                    }
                    serverKey
                    good)
                (Error EndorsementError.RevokedServerKey)
                "revoked server key"

            Expect.equal
                (check { policy with Now = 49L } serverKey good)
                (Error(EndorsementError.NotYetValid(50L, 49L)))
                "not yet valid"

            Expect.equal (check { policy with Now = 50L } serverKey good) (Ok()) "valid from not-before"
            Expect.equal (check { policy with Now = 150L } serverKey good) (Ok()) "valid to not-after"

            Expect.equal
                (check { policy with Now = 151L } serverKey good)
                (Error(EndorsementError.Expired(150L, 151L)))
                "expired"

            Expect.equal
                (check
                    {
                        policy with
                            Host = "b.c.fleet.example"
                    }
                    serverKey
                    good)
                (Error(EndorsementError.WrongHost("b.c.fleet.example", 443, [ pattern "*.fleet.example" ])))
                "wrong host"

            let decide p e = EndorsementCheck.decide p serverKey e

            Expect.equal
                (decide policy None)
                (EndorsementVerdict.Refuse EndorsementError.Missing)
                "required and missing"

            Expect.equal
                (decide { policy with Required = false } None)
                EndorsementVerdict.NotEndorsed
                "optional and missing"

            Expect.equal
                (decide { policy with Required = false } (Some(endorse other [ "*.fleet.example" ] 50L 150L)))
                EndorsementVerdict.NotEndorsed
                "optional, an authority not trusted here: the other checks decide"

            Expect.equal
                (decide
                    {
                        policy with
                            Required = false
                            Now = 151L
                    }
                    (Some good))
                (EndorsementVerdict.Refuse(EndorsementError.Expired(150L, 151L)))
                "optional, a trusted authority's expired endorsement is refused"
        }
    ]

let private knownHostsTests =
    testList "@authority lines" [
        test "an @authority line round trips and gives a trusted authority" {
            let key = Array.init 32 byte

            let line =
                $"@authority *.fleet.example,10.0.0.1:443 ed25519 {Convert.ToBase64String key} fleet CA"

            match KnownHostsLine.decode line with
            | Ok(Authority a as decoded) ->
                Expect.equal a.Hosts [ pattern "*.fleet.example"; pattern "10.0.0.1:443" ] "patterns"
                Expect.equal a.Key key "key"
                Expect.equal a.Comment (Some "fleet CA") "comment"
                Expect.equal (KnownHostsLine.encode decoded) line "encode (decode line) = line"
                Expect.equal (KnownHostsFile.authorities [ decoded ]) [ { Key = key; Hosts = a.Hosts } ] "authorities"
            | other -> failtestf "%A" other
        }

        test "a malformed @authority line has a typed error" {
            let b64 = Convert.ToBase64String(Array.zeroCreate<byte> 32)
            Expect.equal (KnownHostsLine.decode "@authority a.example ed25519") (Error(MissingFields 3)) "missing key"

            Expect.isTrue
                (match KnownHostsLine.decode ("@authority *.1.2.3.4 ed25519 " + b64) with
                 | Error(BadPatterns _) -> true
                 | _ -> false)
                "bad pattern"

            Expect.equal
                (KnownHostsLine.decode ("@authority a.example x25519 " + b64))
                (Error(UnknownKeyType "x25519"))
                "key type"

            Expect.equal (KnownHostsLine.decode "@authority a.example ed25519 AAAA") (Error(BadKey "AAAA")) "short key"
        }
    ]

[<Tests>]
let tests =
    testList "Core endorsements" [ patternTests; codecTests; checkTests; knownHostsTests ]
