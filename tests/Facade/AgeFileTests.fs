/// AgeFile through the facade: round trips (sync and async, binary and armored, X25519 and X-Wing, several recipients),
/// refusals (wrong key, tampering, truncation, mixed recipient kinds, other key algorithms), key conversion.
module HybridProtocol.Tests.AgeFileTests

open System
open System.IO
open Expecto
open FsCheck
open HybridProtocol

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 15
}

let private encrypt (recipients: PublicKey list) (armor: bool) (data: byte[]) =
    let output = new MemoryStream()
    AgeFile.Encrypt(recipients, new MemoryStream(data), output, armor)
    output.ToArray()

let private decrypt (identities: PrivateKey list) (file: byte[]) =
    let output = new MemoryStream()
    AgeFile.Decrypt(identities, new MemoryStream(file), output)
    output.ToArray()

let private code (f: unit -> 'a) =
    try
        f () |> ignore
        None
    with HybridError e ->
        Some e.Code

[<Tests>]
let tests =
    testList "age files" [
        testPropertyWithConfig
            config
            "round trip: any size, X25519 or X-Wing, one to three recipients, binary or armored"
        <| fun (size: uint16) (extraChunks: byte) (pq: bool) (count: byte) (armor: bool) ->
            let algorithm = if pq then KeyAlgorithm.XWing else KeyAlgorithm.X25519
            let keys = List.init (1 + int count % 3) (fun _ -> PrivateKey.Generate algorithm)
            let data = Array.init (int size + (int extraChunks % 2) * AgeFile.ChunkSize) byte
            let file = encrypt (keys |> List.map (fun k -> k.PublicKey)) armor data

            Expect.equal
                (AgeFile.Detect(ReadOnlySpan file))
                (if armor then AgeFormat.Armored else AgeFormat.Binary)
                "detected"

            for k in keys do
                Expect.equal (decrypt [ k ] file) data "each recipient opens it"

            use stranger = PrivateKey.Generate algorithm

            Expect.equal
                (code (fun () -> decrypt [ stranger ] file))
                (Some HybridErrorCode.DecryptionFailed)
                "a stranger cannot"

            keys |> List.iter (fun k -> k.Dispose())

        testCaseAsync "the async API round-trips"
        <| async {
            use key = PrivateKey.Generate()
            let data = Array.init 200_000 byte
            let sealedStream = new MemoryStream()

            do!
                AgeFile.EncryptAsync([ key.PublicKey ], new MemoryStream(data), sealedStream)
                |> Async.AwaitTask

            let output = new MemoryStream()

            do!
                AgeFile.DecryptAsync([ key ], new MemoryStream(sealedStream.ToArray()), output)
                |> Async.AwaitTask

            Expect.equal (output.ToArray()) data "same bytes"
        }

        testPropertyWithConfig config "a flipped bit anywhere, or a cut, is refused"
        <| fun (position: PositiveInt) (cut: PositiveInt) ->
            use key = PrivateKey.Generate()
            let file = encrypt [ key.PublicKey ] false (Array.init 70_000 byte)
            let flipped = Array.copy file
            let i = position.Get % file.Length
            flipped[i] <- flipped[i] ^^^ 0x04uy
            Expect.isSome (code (fun () -> decrypt [ key ] flipped)) $"flip at {i}"
            let n = cut.Get % file.Length
            Expect.isSome (code (fun () -> decrypt [ key ] file[.. n - 1])) $"cut at {n}"

        testCase "refusals: mixed kinds, no recipient, other algorithms, a not-age input"
        <| fun () ->
            use pq = PrivateKey.Generate KeyAlgorithm.XWing
            use classic = PrivateKey.Generate()
            use p256 = PrivateKey.Generate KeyAlgorithm.P256

            Expect.equal
                (code (fun () -> encrypt [ pq.PublicKey; classic.PublicKey ] false [| 1uy |]))
                (Some HybridErrorCode.InvalidArgument)
                "mixed"

            Expect.equal (code (fun () -> encrypt [] false [| 1uy |])) (Some HybridErrorCode.InvalidArgument) "none"

            Expect.equal
                (code (fun () -> encrypt [ p256.PublicKey ] false [| 1uy |]))
                (Some HybridErrorCode.InvalidKey)
                "P-256"

            Expect.equal (code (fun () -> p256.ToAgeIdentity())) (Some HybridErrorCode.InvalidKey) "P-256 identity"

            Expect.equal
                (code (fun () -> decrypt [ classic ] "HPSEAL"B))
                (Some HybridErrorCode.InvalidCiphertext)
                "not age"

        testCase "key strings: ToAgeIdentity/FromAgeIdentity and ToAgeRecipient/FromAgeRecipient round-trip"
        <| fun () ->
            for algorithm in [ KeyAlgorithm.X25519; KeyAlgorithm.XWing ] do
                use key = PrivateKey.Generate algorithm
                use back = PrivateKey.FromAgeIdentity(key.ToAgeIdentity())
                Expect.equal back.PublicKey key.PublicKey $"{algorithm} identity"

                Expect.equal
                    (PublicKey.FromAgeRecipient(key.PublicKey.ToAgeRecipient()))
                    key.PublicKey
                    $"{algorithm} recipient"

                let file =
                    $"# created: now\n# public key: {key.PublicKey.ToAgeRecipient()}\n{key.ToAgeIdentity()}\n"

                let keys = PrivateKey.FromAgeIdentityFile file
                Expect.equal keys.Count 1 "one identity"
                Expect.equal keys[0].PublicKey key.PublicKey "from the file"
                keys[0].Dispose()

            Expect.equal
                (code (fun () -> PrivateKey.FromAgeIdentityFile "# nothing\nAGE-SECRET-KEY-1XYZ\n"))
                (Some HybridErrorCode.InvalidKey)
                "a bad line"
    ]
