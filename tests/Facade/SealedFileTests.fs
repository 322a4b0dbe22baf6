/// The sealed-file format (specs/HPKE.md): header codec properties, round trips for every size class,
/// and detection of truncation at every chunk boundary, chunk swap, duplication, drop, extension and
/// header tampering; constant memory for a large file.
module HybridProtocol.Tests.SealedFileTests

open System
open System.IO
open Expecto
open FsCheck
open FsCheck.FSharp
open HybridProtocol
open HybridProtocol.Core.Hpke
open HybridProtocol.Tests.HpkeProperties

type FacadeSealedFile = HybridProtocol.SealedFile

let private headerLength = 54
let private tag = 16

let private sealBytes (s: Setup) (chunkSize: int) (data: byte[]) =
    use input = new MemoryStream(data)
    use output = new MemoryStream()
    FacadeSealedFile.Seal(s.Recipient.PublicKey, input, output, s.Info, senderOptions s, chunkSize)
    output.ToArray()

let private openBytes (s: Setup) (file: byte[]) =
    use input = new MemoryStream(file)
    use output = new MemoryStream()
    FacadeSealedFile.Open(s.Recipient, input, output, s.Info, recipientOptions s)
    output.ToArray()

/// The file's chunks (ciphertext), split by the format's rule: all ChunkSize + Nt but the last.
let private chunks (chunkSize: int) (file: byte[]) =
    file[headerLength..] |> Array.chunkBySize (chunkSize + tag)

let private assemble (file: byte[]) (parts: byte[] seq) =
    Array.concat (Seq.append [ file[.. headerLength - 1] ] parts)

/// A stream that returns at most `most` bytes per read (a pipe or a socket), so the chunk decoder sees every split.
type private Trickle(data: byte[], most: int) =
    inherit MemoryStream(data)

    override _.Read(buffer: byte[], offset, count) =
        base.Read(buffer, offset, min count most)

    override _.Read(buffer: Span<byte>) =
        base.Read(buffer.Slice(0, min buffer.Length most))

/// Opens through a stream that returns at most `most` bytes per read.
let private openTrickled (s: Setup) (most: int) (file: byte[]) =
    use input = new Trickle(file, most)
    use output = new MemoryStream()
    FacadeSealedFile.Open(s.Recipient, input, output, s.Info, recipientOptions s)
    output.ToArray()

let private anySetup modeIndex suiteIndex =
    setupOf modeIndex suiteIndex [| 5uy |] [| 6uy |] "file"B [| 7uy |]

let private genHeader =
    gen {
        let! mode = Gen.elements [ Mode.Base; Mode.Psk; Mode.Auth; Mode.AuthPsk ]
        let! kdf = Gen.elements [ Ids.HkdfSha256; Ids.HkdfSha512 ]
        let! aead = Gen.elements [ Ids.Aes256Gcm; Ids.ChaCha20Poly1305 ]
        let! chunkSize = Gen.choose (1, SealedFileFormat.MaxChunkSize)
        let! enc = Gen.arrayOfLength 32 (Gen.elements [ 0uy .. 255uy ])

        return {
            Mode = mode
            KemId = Ids.DhkemX25519HkdfSha256
            KdfId = kdf
            AeadId = aead
            ChunkSize = chunkSize
            Enc = enc
        }
    }

let private fixedHeader = {
    Mode = Mode.Psk
    KemId = Ids.DhkemX25519HkdfSha256
    KdfId = Ids.HkdfSha256
    AeadId = Ids.ChaCha20Poly1305
    ChunkSize = 4096
    Enc = Array.init 32 byte
}

[<Tests>]
let tests =
    testList "Sealed files" [
        testPropertyWithConfig config "header: decode (encode h) = Ok h"
        <| Prop.forAll (Arb.fromGen genHeader) (fun h ->
            let bytes = SealedFileFormat.encodeHeader h
            Expect.equal bytes.Length headerLength "header length"

            Expect.equal
                (SealedFileFormat.decodeHeader (ReadOnlySpan bytes))
                (Ok(struct (h, headerLength)))
                "round trip")

        testPropertyWithConfig
            config
            "header: every truncation and arbitrary bytes give a typed error or a valid header"
        <| fun (junk: byte[]) ->
            let h = SealedFileFormat.encodeHeader (fixedHeader)

            for n in 0 .. h.Length - 1 do
                match SealedFileFormat.decodeHeader (ReadOnlySpan h[.. n - 1]) with
                | Error _ -> ()
                | Ok _ -> failtestf "a %d-byte prefix decoded" n

            match SealedFileFormat.decodeHeader (ReadOnlySpan junk) with
            | Error _ -> ()
            | Ok(struct (_, used)) -> Expect.isLessThanOrEqual used junk.Length "decoded within the input"

        testCase "header: each field's refusal"
        <| fun () ->
            let h = SealedFileFormat.encodeHeader (fixedHeader)

            let withByte i (b: byte) =
                let copy = Array.copy h
                copy[i] <- b
                SealedFileFormat.decodeHeader (ReadOnlySpan copy) |> Result.map ignore

            Expect.equal (withByte 0 0x88uy) (Error BadMagic) "magic"
            Expect.equal (withByte 8 2uy) (Error(UnsupportedVersion 2uy)) "version"
            Expect.equal (withByte 9 4uy) (Error(UnknownMode 4uy)) "mode"
            Expect.isError (withByte 11 0x21uy) "KEM X448"
            let exportOnly = Array.copy h
            exportOnly[14] <- 0xFFuy
            exportOnly[15] <- 0xFFuy

            Expect.equal
                (SealedFileFormat.decodeHeader (ReadOnlySpan exportOnly) |> Result.map ignore)
                (Error(UnsupportedSuite(Ids.DhkemX25519HkdfSha256, Ids.HkdfSha256, Ids.ExportOnly)))
                "AEAD export-only"

            Expect.isError (withByte 16 0x01uy) "chunk size above 16 MiB"
            Expect.equal (withByte 21 31uy) (Error(InvalidEncLength 31)) "enc length"
            let zero = Array.copy h
            Array.Clear(zero, 16, 4)

            Expect.equal
                (SealedFileFormat.decodeHeader (ReadOnlySpan zero) |> Result.map ignore)
                (Error(InvalidChunkSize 0u))
                "chunk size 0"

        testPropertyWithConfig config "round trip: 0 bytes, one chunk, exact multiples, many chunks"
        <| fun modeIndex suiteIndex (chunkSizeSeed: byte) (chunkCount: byte) (extra: byte) ->
            let s = anySetup modeIndex suiteIndex
            let chunkSize = 1 + int chunkSizeSeed % 64

            for length in
                [
                    0
                    1
                    chunkSize
                    chunkSize * (1 + int chunkCount % 20)
                    chunkSize * (int chunkCount % 20) + int extra % chunkSize
                ] do
                let data = Array.init length byte
                let file = sealBytes s chunkSize data
                let chunkTotal = max 1 ((length + chunkSize - 1) / chunkSize)
                Expect.equal file.Length (headerLength + length + chunkTotal * tag) $"file size for {length} bytes"
                Expect.equal (openBytes s file) data $"round trip of {length} bytes"

        testCase "round trip through the async API with the default chunk size"
        <| fun () ->
            let s = anySetup 3uy 1uy
            let data = Array.init 200_000 byte

            use sealedStream = new MemoryStream()

            FacadeSealedFile
                .SealAsync(s.Recipient.PublicKey, new MemoryStream(data), sealedStream, s.Info, senderOptions s)
                .GetAwaiter()
                .GetResult()

            use opened = new MemoryStream()

            FacadeSealedFile
                .OpenAsync(s.Recipient, new MemoryStream(sealedStream.ToArray()), opened, s.Info, recipientOptions s)
                .GetAwaiter()
                .GetResult()

            Expect.equal (opened.ToArray()) data "async round trip"

        testPropertyWithConfig
            config
            "the chunk decoder (SealedFileFormat.nextChunk) finds every chunk and the final one over reads of any size, and a file cut anywhere fails"
        <| fun modeIndex suiteIndex (chunkSizeSeed: byte) (lengthSeed: byte) (most: byte) (cut: uint16) ->
            let s = anySetup modeIndex suiteIndex
            let chunkSize = 1 + int chunkSizeSeed % 32
            let most = 1 + int most % 9
            // Exact multiples of the chunk size included: the final chunk is then full, told apart by the end.
            let length =
                if lengthSeed % 2uy = 0uy then
                    chunkSize * (int lengthSeed % 7)
                else
                    int lengthSeed

            let data = Array.init length byte
            let file = sealBytes s chunkSize data
            Expect.equal (openTrickled s most file) data $"{length} bytes in chunks of {chunkSize}, reads of {most}"
            let cut = file[.. int cut % file.Length - 1]
            let code = codeOf (fun () -> openTrickled s most cut)

            Expect.contains
                [ HybridErrorCode.InvalidCiphertext; HybridErrorCode.DecryptionFailed ]
                code
                "a cut file fails"

        testPropertyWithConfig config "truncation at every chunk boundary is detected as InvalidCiphertext"
        <| fun modeIndex suiteIndex (chunkCount: byte) ->
            let s = anySetup modeIndex suiteIndex
            let chunkSize = 16
            let data = Array.init (chunkSize * (1 + int chunkCount % 8) + 5) byte
            let file = sealBytes s chunkSize data
            let parts = chunks chunkSize file

            for kept in 0 .. parts.Length - 1 do
                let cut = assemble file (Seq.take kept parts)
                let code = codeOf (fun () -> openBytes s cut)
                Expect.equal code HybridErrorCode.InvalidCiphertext $"cut after {kept} of {parts.Length} chunks"

        testPropertyWithConfig config "truncation at any byte is detected"
        <| fun modeIndex suiteIndex (position: uint16) ->
            let s = anySetup modeIndex suiteIndex
            let file = sealBytes s 16 (Array.init 100 byte)
            let cut = file[.. int position % file.Length - 1]
            let code = codeOf (fun () -> openBytes s cut)
            Expect.contains [ HybridErrorCode.InvalidCiphertext; HybridErrorCode.DecryptionFailed ] code "typed failure"

        testPropertyWithConfig config "chunk swap, duplication, drop and appended data are detected"
        <| fun modeIndex suiteIndex (i: byte) (j: byte) ->
            let s = anySetup modeIndex suiteIndex
            let chunkSize = 8
            let file = sealBytes s chunkSize (Array.init 60 byte) // 7 full chunks + a final of 4
            let parts = chunks chunkSize file
            let i = int i % parts.Length
            let j = (i + 1 + int j % (parts.Length - 1)) % parts.Length
            let swapped = Array.copy parts
            swapped[i] <- parts[j]
            swapped[j] <- parts[i]
            let duplicated = Array.insertAt i parts[i] parts
            let dropped = Array.removeAt (min i (parts.Length - 2)) parts

            for name, variant in
                [
                    "swap", assemble file swapped
                    "duplicate", assemble file duplicated
                    "drop", assemble file dropped
                    "append", Array.append file [| 0uy |]
                    "append a chunk", assemble file (Array.append parts [| parts[0] |])
                ] do
                let code = codeOf (fun () -> openBytes s variant)
                Expect.contains [ HybridErrorCode.DecryptionFailed; HybridErrorCode.InvalidCiphertext ] code name

        testPropertyWithConfig config "any bit flip in the header or a chunk is detected"
        <| fun modeIndex suiteIndex (position: uint16) (bit: byte) ->
            let s = anySetup modeIndex suiteIndex
            let file = sealBytes s 16 (Array.init 50 byte)
            let i = int position % file.Length
            file[i] <- file[i] ^^^ (1uy <<< int (bit % 8uy))
            let code = codeOf (fun () -> openBytes s file)

            Expect.contains
                [
                    HybridErrorCode.DecryptionFailed
                    HybridErrorCode.InvalidCiphertext
                    HybridErrorCode.Unsupported
                    HybridErrorCode.InvalidArgument
                    HybridErrorCode.InvalidPeerKey
                ]
                code
                $"flip at byte {i}"

        testCase "changing the header's chunk size or mode is detected even when the rest parses"
        <| fun () ->
            let s = anySetup 0uy 1uy
            let file = sealBytes s 16 (Array.init 40 byte)
            let bigger = Array.copy file
            bigger[19] <- 17uy

            Expect.contains
                [ HybridErrorCode.DecryptionFailed; HybridErrorCode.InvalidCiphertext ]
                (codeOf (fun () -> openBytes s bigger))
                "chunk size 17"

            let otherKdf = Array.copy file
            otherKdf[13] <- byte Ids.HkdfSha512
            Expect.equal (codeOf (fun () -> openBytes s otherKdf)) HybridErrorCode.DecryptionFailed "KDF changed"

        testCase "wrong info, wrong key and mode mismatch"
        <| fun () ->
            let s = anySetup 1uy 0uy
            let file = sealBytes s 16 (Array.init 40 byte)

            Expect.equal
                (codeOf (fun () -> openBytes { s with Info = "other"B } file))
                HybridErrorCode.DecryptionFailed
                "info"

            Expect.equal
                (codeOf (fun () -> openBytes { s with Recipient = keyOf [| 9uy |] } file))
                HybridErrorCode.DecryptionFailed
                "key"

            Expect.equal
                (codeOf (fun () -> openBytes { s with Mode = HpkeMode.Base } file))
                HybridErrorCode.InvalidArgument
                "mode"

        testCase "constant memory: sealing and opening 32 MiB allocates under 1 MiB"
        <| fun () ->
            let s = anySetup 0uy 1uy
            let size = 32 * 1024 * 1024
            let data = Array.zeroCreate<byte> size
            use sealedStream = new MemoryStream(size + size / 1000 + 4096)
            let before = GC.GetAllocatedBytesForCurrentThread()

            FacadeSealedFile.Seal(
                s.Recipient.PublicKey,
                new MemoryStream(data, false),
                sealedStream,
                s.Info,
                senderOptions s
            )

            let sealAllocated = GC.GetAllocatedBytesForCurrentThread() - before
            let file = sealedStream.ToArray()
            let before = GC.GetAllocatedBytesForCurrentThread()
            FacadeSealedFile.Open(s.Recipient, new MemoryStream(file, false), Stream.Null, s.Info, recipientOptions s)
            let openAllocated = GC.GetAllocatedBytesForCurrentThread() - before
            printfn $"sealed file, 32 MiB: Seal allocated {sealAllocated} bytes, Open allocated {openAllocated} bytes"
            Expect.isLessThan sealAllocated (1L <<< 20) "Seal allocation"
            Expect.isLessThan openAllocated (1L <<< 20) "Open allocation"
    ]
