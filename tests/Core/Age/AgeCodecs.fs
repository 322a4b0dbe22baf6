/// The age codecs of core-fsharp/Age: for each, decode (encode x) = Ok x, and arbitrary or damaged input gives a typed
/// error (never an exception, never a wrong value): Bech32, the raw base64, recipient and identity strings, the armor, the
/// header, the STREAM payload.
module HybridProtocol.Tests.AgeCodecs

open System
open System.Text
open Expecto
open FsCheck
open FsCheck.FSharp
open HybridProtocol.Core
open HybridProtocol.Core.Age
open HybridProtocol.Core.Age.Header

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 200
}

let private ascii (s: string) = Encoding.ASCII.GetBytes s

/// 1*VCHAR arguments.
let private genArgument =
    Gen.choose (0x21, 0x7E)
    |> Gen.map char
    |> Gen.nonEmptyListOf
    |> Gen.map (fun cs -> String(List.toArray cs))

let private genStanza =
    gen {
        let! arguments = Gen.nonEmptyListOf genArgument

        let! length =
            Gen.oneof [ Gen.choose (0, 100); Gen.elements [ 0; 32; 47; 48; 96; 1120 ] ]

        let! body = Gen.arrayOfLength length (Gen.choose (0, 255) |> Gen.map byte)
        return { Arguments = arguments; Body = body }
    }

let private genHeader =
    gen {
        let! stanzas = Gen.nonEmptyListOf genStanza
        let! mac = Gen.arrayOfLength 32 (Gen.choose (0, 255) |> Gen.map byte)
        return { Stanzas = stanzas; Mac = mac }
    }

let private decodeAll (bytes: byte[]) =
    Header.decode (ReadOnlySpan bytes, true)

let private payloadKeyBytes = Array.init 32 byte

let private withPayloadKey (f: IAeadKey -> 'T) =
    let cipher = HybridProtocol.Crypto.NSecSuite.ChaChaPoly
    use key = cipher.KEY.Invoke(ReadOnlySpan payloadKeyBytes)
    f key

/// Seals `data` as an age payload's chunks (without the nonce) with the fixed test key.
let private sealPayload (data: byte[]) =
    withPayloadKey (fun key ->
        let cipher = HybridProtocol.Crypto.NSecSuite.ChaChaPoly
        let output = ResizeArray<byte>()
        let mutable writer = Payload.startWriter (cipher, key)
        let mutable offset = 0
        let mutable fin = false

        while not fin do
            let n = min Payload.ChunkSize (data.Length - offset)
            let isFinal = offset + n = data.Length
            let ct = Array.zeroCreate (n + 16)

            match Payload.SealChunk(writer, isFinal, ReadOnlySpan(data, offset, n), Span ct) with
            | Ok next -> writer <- next
            | Error e -> failtestf "seal: %A" e

            output.AddRange ct
            offset <- offset + n
            fin <- isFinal

        output.ToArray())

/// Opens chunks the way the facade reads them (full chunks with one byte of look-ahead).
let private openPayload (sealedBytes: byte[]) =
    withPayloadKey (fun key ->
        let cipher = HybridProtocol.Crypto.NSecSuite.ChaChaPoly
        let output = ResizeArray<byte>()
        let mutable reader = Payload.startReader (cipher, key)
        let mutable offset = 0
        let mutable result = None
        let full = Payload.ChunkSize + 16

        while result.IsNone do
            let n = min full (sealedBytes.Length - offset)
            let isFinal = offset + n = sealedBytes.Length
            let pt = Array.zeroCreate (max 0 (n - 16))

            match Payload.OpenChunk(reader, isFinal, ReadOnlySpan(sealedBytes, offset, n), Span pt) with
            | Error e -> result <- Some(Error e)
            | Ok next ->
                reader <- next
                output.AddRange pt
                offset <- offset + n

                if isFinal then
                    result <- Some(Payload.EndOfInput reader |> Result.map (fun () -> output.ToArray()))

        result.Value)

[<Tests>]
let tests =
    testList "age codecs" [
        testPropertyWithConfig config "Bech32: decode (encode hrp data) = Ok (hrp, data), any length, either case"
        <| fun (data: byte[]) (upper: bool) ->
            let text = Bech32.encode "age-secret-key-" (ReadOnlySpan data)
            let text = if upper then text.ToUpperInvariant() else text

            Expect.equal (Bech32.decode text) (Ok(struct ("age-secret-key-", data))) "round trip"

        testPropertyWithConfig config "Bech32: a changed character, mixed case or junk is a typed error"
        <| fun (data: NonEmptyArray<byte>) (position: PositiveInt) (junk: string | null) ->
            let text = Bech32.encode "age" (ReadOnlySpan data.Get)
            let i = 4 + position.Get % (text.Length - 4)
            let swapped = if text[i] = 'q' then 'p' else 'q'
            let changed = text.Substring(0, i) + string swapped + text.Substring(i + 1)
            Expect.isError (Bech32.decode changed) "one substituted character is caught by the checksum"

            Expect.equal
                (Bech32.decode (text.Substring(0, 3) + text.Substring(3).ToUpperInvariant()))
                (Error MixedCase)
                "mixed case"

            let junk =
                match junk with
                | null -> ""
                | s -> s

            match Bech32.decode junk with
            | Ok(struct (hrp, bytes)) ->
                Expect.equal
                    (Bech32.encode hrp (ReadOnlySpan bytes))
                    (junk.ToLowerInvariant())
                    "only valid strings decode"
            | Error _ -> ()

        testCase "Bech32: age.md's example recipient and identity decode"
        <| fun () ->
            // age.md "The X25519 recipient type": the example identity and recipient.
            let identity =
                "AGE-SECRET-KEY-1GFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPYYSJZGFPQ4EGAEX"

            let recipient = "age1zvkyg2lqzraa2lnjvqej32nkuu0ues2s82hzrye869xeexvn73equnujwj"

            match AgeKeys.decodeIdentity identity, AgeKeys.decodeRecipient recipient with
            | Ok(struct (AgeKeys.X25519, sk)), Ok(struct (AgeKeys.X25519, pk)) ->
                Expect.equal sk (Array.replicate 32 0x42uy) "the identity is 32 bytes of 0x42"
                Expect.equal (AgeKeys.encodeIdentity (AgeKeys.X25519, ReadOnlySpan sk)) (Ok identity) "re-encodes"
                Expect.equal (AgeKeys.encodeRecipient (AgeKeys.X25519, ReadOnlySpan pk)) (Ok recipient) "re-encodes"
            | other -> failtestf "decoded as %A" other

        testPropertyWithConfig
            config
            "keys: recipient and identity strings round-trip; a wrong type or length is refused"
        <| fun (seed: byte[]) (pq: bool) ->
            let keyType = if pq then AgeKeys.MlKem768X25519 else AgeKeys.X25519

            let pk =
                Array.init (AgeKeys.publicKeyLength keyType) (fun i -> byte (i + seed.Length))

            let sk = Array.init 32 (fun i -> byte (i * 7 + seed.Length))

            let r =
                match AgeKeys.encodeRecipient (keyType, ReadOnlySpan pk) with
                | Ok r -> r
                | Error e -> failtestf "%A" e

            let i =
                match AgeKeys.encodeIdentity (keyType, ReadOnlySpan sk) with
                | Ok i -> i
                | Error e -> failtestf "%A" e

            Expect.stringStarts r (if pq then "age1pq1" else "age1") "recipient prefix"
            Expect.stringStarts i (if pq then "AGE-SECRET-KEY-PQ-1" else "AGE-SECRET-KEY-1") "identity prefix"
            Expect.equal (AgeKeys.decodeRecipient r) (Ok(struct (keyType, pk))) "recipient round trip"
            Expect.equal (AgeKeys.decodeIdentity i) (Ok(struct (keyType, sk))) "identity round trip"
            Expect.isError (AgeKeys.decodeRecipient i) "an identity is not a recipient"
            Expect.isError (AgeKeys.decodeIdentity r) "a recipient is not an identity"

            Expect.equal
                (AgeKeys.decodeRecipient (Bech32.encode "age" (ReadOnlySpan(Array.zeroCreate 31))))
                (Error(WrongKeyLength(32, 31)))
                "31-byte X25519 key"

            Expect.equal
                (AgeKeys.decodeRecipient (Bech32.encode "age1tag" (ReadOnlySpan pk)))
                (Error(UnknownKeyType "age1tag"))
                "another type"

        testPropertyWithConfig
            config
            "base64: canonical unpadded round trip; padding, whitespace and non-canonical bits refused"
        <| fun (data: byte[]) ->
            let text = RawBase64.encode (ReadOnlySpan data)
            Expect.equal (RawBase64.decode (text.AsSpan())) (ValueSome data) "round trip"

            Expect.equal
                (RawBase64.decode ((Convert.ToBase64String data).AsSpan()))
                (if data.Length % 3 = 0 then ValueSome data else ValueNone)
                "padding refused"

            Expect.equal (RawBase64.decode ((text + " ").AsSpan())) ValueNone "whitespace refused"

            if data.Length % 3 <> 0 then
                // Setting the lowest bit of the last character sets an unused bit: not canonical.
                let last = text[text.Length - 1]
                let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                let flipped = alphabet[alphabet.IndexOf last ^^^ 1]

                Expect.equal
                    (RawBase64.decode ((text.Substring(0, text.Length - 1) + string flipped).AsSpan()))
                    ValueNone
                    "non-canonical"

        testPropertyWithConfig config "armor: decode (encode data) = Ok data, with LF or CRLF and whitespace around"
        <| fun (data: byte[]) (crlf: bool) (before: byte) (after: byte) ->
            let text = Armor.encode (ReadOnlySpan data)
            Expect.equal (Armor.decode (ReadOnlySpan(ascii text))) (Ok data) "round trip"
            let crlfText = if crlf then text.Replace("\n", "\r\n") else text
            let pad (b: byte) = String.replicate (int b % 3) " \t\r\n"

            Expect.equal
                (Armor.decode (ReadOnlySpan(ascii (pad before + crlfText + pad after))))
                (Ok data)
                "CRLF and outer whitespace"

        testPropertyWithConfig
            config
            "armor: any single-byte change or truncation is a typed error or decodes to other bytes"
        <| fun (data: NonEmptyArray<byte>) (position: PositiveInt) (b: byte) ->
            let bytes = ascii (Armor.encode (ReadOnlySpan data.Get))
            let i = position.Get % bytes.Length
            let changed = Array.copy bytes
            changed[i] <- b

            match Armor.decode (ReadOnlySpan changed) with
            | Ok decoded when b <> bytes[i] ->
                Expect.notEqual decoded data.Get "a change never decodes to the same bytes"
            | _ -> ()

            Expect.isError (Armor.decode (ReadOnlySpan bytes[.. bytes.Length - 3])) "cut inside the end line"

        testPropertyWithConfig config "header: decode (encode h) = Ok h, and the bytes after it are left alone"
        <| Prop.forAll (Arb.fromGen genHeader) (fun h ->
            let bytes = Header.encode h
            Expect.equal (decodeAll bytes) (Ok(Complete(h, bytes.Length))) "round trip"

            Expect.equal
                (decodeAll (Array.append bytes [| 1uy; 2uy |]))
                (Ok(Complete(h, bytes.Length)))
                "payload after"

            Expect.equal
                (Array.sub bytes 0 (bytes.Length - 45))
                (Header.macInput h.Stanzas)
                "the MAC input is the header up to and including ---")

        testPropertyWithConfig
            { config with maxTest = 25 }
            "header: every prefix needs more, or at the end is an error; arbitrary bytes give a typed error"
        <| Prop.forAll (Arb.fromGen genHeader) (fun h ->
            let bytes = Header.encode h

            for n in 0 .. bytes.Length - 1 do
                Expect.equal (Header.decode (ReadOnlySpan bytes[.. n - 1], false)) (Ok NeedMore) $"prefix {n}"
                Expect.isError (Header.decode (ReadOnlySpan bytes[.. n - 1], true)) $"prefix {n} at the end")

        testPropertyWithConfig config "header: a changed byte is refused or decodes to another header"
        <| Prop.forAll (Arb.fromGen genHeader) (fun h ->
            let bytes = Header.encode h
            let i = bytes.Length / 2
            let changed = Array.copy bytes
            changed[i] <- changed[i] ^^^ 0x01uy

            match decodeAll changed with
            | Ok(Complete(other, _)) -> Expect.notEqual other h "another header"
            | _ -> ())

        testPropertyWithConfig
            config
            "header: arbitrary bytes after the version line are a typed error, never an exception"
        <| fun (junk: byte[]) ->
            match decodeAll (Array.append (ascii "age-encryption.org/v1\n") junk) with
            | Ok(Complete(h, used)) ->
                Expect.equal
                    (Array.sub (Header.encode h) 0 used)
                    (Array.sub (Array.append (ascii "age-encryption.org/v1\n") junk) 0 used)
                    "only canonical headers decode"
            | Ok NeedMore -> failtest "at the end there is no more"
            | Error _ -> ()

        testCase "header: the refusals the ABNF implies"
        <| fun () ->
            let mac = " " + RawBase64.encode (ReadOnlySpan(Array.zeroCreate 32)) + "\n"

            let check (text: string) expected =
                Expect.equal (decodeAll (ascii text) |> Result.map ignore) (Error expected) text

            check "" NotAnAgeFile
            check "age-encryption.org/v2\n-> a\n\n---" (UnsupportedVersion "v2")
            check ("age-encryption.org/v1\n---" + mac) NoStanza
            check "age-encryption.org/v1\n->  a\n\n---" (MalformedArgumentLine 2)
            check "age-encryption.org/v1\n-> a \n\n---" (MalformedArgumentLine 2)
            check "age-encryption.org/v1\n->\n\n---" (UnexpectedLine 2)
            check "age-encryption.org/v1\n-> a\nAA==\n---" (MalformedBodyLine 3)
            check "age-encryption.org/v1\n-> a\nAB\n---" (MalformedBodyLine 3)
            check ("age-encryption.org/v1\n-> a\n" + String('A', 65) + "\n---") (MalformedBodyLine 3)
            check ("age-encryption.org/v1\n-> a\n" + String('A', 64) + "\n---" + mac) (MalformedBodyLine 4)
            check "age-encryption.org/v1\n-> a\n\n--- AAAA\n" MalformedMacLine
            check ("age-encryption.org/v1\n-> a\n\n---" + mac.TrimEnd('\n') + " \n") MalformedMacLine
            check "age-encryption.org/v1\r\n-> a\n\n---" MalformedVersionLine
            check ("age-encryption.org/v1\n" + String.replicate 20000 "-> a\n\n") HeaderTruncated

            Expect.equal
                (Header.decode (
                    ReadOnlySpan(ascii ("age-encryption.org/v1\n" + String.replicate 200000 "-> ab\n\n")),
                    false
                 )
                 |> Result.map ignore)
                (Error(HeaderTooLong Header.MaxLength))
                "the length bound"

        testPropertyWithConfig
            { config with maxTest = 20 }
            "payload: open (seal data) = data for 0 bytes, exact multiples and partial chunks"
        <| fun (extra: byte) (chunks: byte) ->
            let length =
                (int chunks % 3) * Payload.ChunkSize
                + (if extra % 2uy = 0uy then 0 else int extra)

            let data = Array.init length byte
            let sealedBytes = sealPayload data

            Expect.equal
                sealedBytes.Length
                (length + 16 * max 1 ((length + Payload.ChunkSize - 1) / Payload.ChunkSize))
                "size"

            Expect.equal (openPayload sealedBytes) (Ok data) "round trip"

        testPropertyWithConfig
            { config with maxTest = 20 }
            "payload: truncation, a flipped bit and appended bytes are typed errors"
        <| fun (cut: PositiveInt) (flip: PositiveInt) ->
            let data = Array.init (Payload.ChunkSize + 1000) byte
            let sealedBytes = sealPayload data
            let n = cut.Get % sealedBytes.Length
            Expect.isError (openPayload sealedBytes[.. n - 1]) $"cut at {n}"
            let flipped = Array.copy sealedBytes
            let i = flip.Get % flipped.Length
            flipped[i] <- flipped[i] ^^^ 0x10uy
            Expect.isError (openPayload flipped) $"flip at {i}"
            Expect.isError (openPayload (Array.append sealedBytes [| 0uy |])) "appended byte"

            Expect.equal
                (openPayload sealedBytes[.. Payload.ChunkSize + 15])
                (Error PayloadError.Truncated)
                "cut at the chunk boundary"

        testCase "X25519 small-order points are the seven libsodium refuses, top bit ignored"
        <| fun () ->
            let zero = Array.zeroCreate<byte> 32
            Expect.isTrue (Recipients.isLowOrderX25519 (ReadOnlySpan zero)) "0"
            let high = Array.zeroCreate<byte> 32
            high[31] <- 0x80uy
            Expect.isTrue (Recipients.isLowOrderX25519 (ReadOnlySpan high)) "0 with the top bit"
            let nine = Array.zeroCreate<byte> 32
            nine[0] <- 9uy
            Expect.isFalse (Recipients.isLowOrderX25519 (ReadOnlySpan nine)) "the base point"
    ]
