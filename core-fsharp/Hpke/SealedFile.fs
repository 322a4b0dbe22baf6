namespace HybridProtocol.Core.Hpke

open System
open System.Buffers.Binary

/// Why a sealed file was refused (specs/HPKE.md "Sealed files"). Chunk authentication failure is
/// opaque, like HPKE's OpenError.
type SealedFileError =
    /// The input ends inside the header.
    | HeaderTruncated of length: int
    /// The first 8 bytes are not the sealed-file magic.
    | BadMagic
    /// A format version this implementation does not read.
    | UnsupportedVersion of version: byte
    /// The mode byte is not one of RFC 9180 Table 1's.
    | UnknownMode of mode: byte
    /// The KEM, KDF or AEAD identifier is not one this format allows (export-only has no chunks).
    | UnsupportedSuite of kem_id: uint16 * kdf_id: uint16 * aead_id: uint16
    /// The chunk size is 0 or above `SealedFileFormat.MaxChunkSize`.
    | InvalidChunkSize of chunkSize: uint32
    /// The enc length field differs from the KEM's Nenc.
    | InvalidEncLength of length: int
    /// A chunk (plaintext when sealing, ciphertext when opening) has a length the format forbids here.
    | WrongChunkLength of length: int
    /// The input ended before the final chunk: chunks were cut off at the end.
    | Truncated
    /// A final chunk that is empty but not the first chunk (the sealer never writes one).
    | EmptyFinalChunk
    /// A chunk failed to authenticate: tampered, reordered, duplicated, dropped, or the wrong key,
    /// info, PSK or sender key.
    | ChunkOpenError
    /// A chunk was offered after the final chunk.
    | AfterFinalChunk
    /// The HPKE setup or context failed (message limit, PSK inputs, KEM).
    | Hpke of HpkeError

/// The sealed-file header (specs/HPKE.md "Header"): everything the recipient needs to set up the
/// HPKE context, and the chunk size. Fields hold the format's identifiers as read.
type SealedFileHeader = {
    Mode: Mode
    KemId: uint16
    KdfId: uint16
    AeadId: uint16
    /// Plaintext bytes in every chunk but the last (1 .. MaxChunkSize).
    ChunkSize: int
    /// RFC 9180's encapsulated key.
    Enc: byte[]
}

/// The per-file constants the chunk functions need: chunk size, Nt and the two chunk AADs.
[<NoComparison; NoEquality>]
type ChunkLayout = private {
    chunkSize: int
    tagLength: int
    nonFinalAad: byte[]
    finalAad: byte[]
}

/// The sealer, one case per phase: expecting the next chunk, or finished after the final chunk.
[<Struct; NoComparison; NoEquality>]
type SealedFileWriter =
    private
    | WriterExpectChunk of wLayout: ChunkLayout * wContext: ContextS
    | WriterFinished

/// The opener, one case per phase: expecting the next chunk, or finished after the final chunk.
[<Struct; NoComparison; NoEquality>]
type SealedFileReader =
    private
    | ReaderExpectChunk of rLayout: ChunkLayout * rContext: ContextR
    | ReaderFinished

/// The sealed-file format: a header, then chunks sealed under one HPKE context with the STREAM
/// construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015, as used by age and Tink): chunk i is
/// sealed at HPKE sequence number i (ComputeNonce binds the index), and its AAD is the header
/// followed by a flag byte that is 0x01 on the final chunk and 0x00 otherwise. So reordering,
/// dropping or duplicating chunks changes a nonce, cutting the file at a chunk boundary leaves a
/// last chunk without the final flag, and any header change alters every chunk's AAD.
module SealedFileFormat =
    /// 0x89 "HPSEAL" 0x0A: a non-ASCII first byte, then a name, then LF (PNG's trick to catch
    /// text-mode mangling).
    let Magic = [| 0x89uy; 0x48uy; 0x50uy; 0x53uy; 0x45uy; 0x41uy; 0x4Cuy; 0x0Auy |]

    [<Literal>]
    let Version = 1uy

    /// magic(8) version(1) mode(1) kem_id(2) kdf_id(2) aead_id(2) chunk_size(4) enc_length(2).
    [<Literal>]
    let FixedHeaderLength = 22

    /// The largest chunk size a reader accepts: bounds the reader's memory at 16 MiB + Nt.
    [<Literal>]
    let MaxChunkSize = 16777216

    /// The chunk size the facade uses unless told otherwise.
    [<Literal>]
    let DefaultChunkSize = 65536

    let private flagNonFinal = 0x00uy
    let private flagFinal = 0x01uy

    /// Writes the header as specs/HPKE.md lays it out (all integers big-endian).
    let encodeHeader (header: SealedFileHeader) : byte[] =
        let bytes = Array.zeroCreate (FixedHeaderLength + header.Enc.Length)
        let span = Span bytes
        Magic.CopyTo(span)
        bytes[8] <- Version
        bytes[9] <- Mode.value header.Mode
        BinaryPrimitives.WriteUInt16BigEndian(span.Slice(10, 2), header.KemId)
        BinaryPrimitives.WriteUInt16BigEndian(span.Slice(12, 2), header.KdfId)
        BinaryPrimitives.WriteUInt16BigEndian(span.Slice(14, 2), header.AeadId)
        BinaryPrimitives.WriteUInt32BigEndian(span.Slice(16, 4), uint32 header.ChunkSize)
        BinaryPrimitives.WriteUInt16BigEndian(span.Slice(20, 2), uint16 header.Enc.Length)
        header.Enc.CopyTo(span.Slice FixedHeaderLength)
        bytes

    /// Checks the fixed part (the first FixedHeaderLength bytes) and returns the whole header's
    /// length, so a reader knows how many more bytes to read before `decodeHeader`.
    let headerLength (prefix: ReadOnlySpan<byte>) : Result<int, SealedFileError> =
        if prefix.Length < FixedHeaderLength then
            Error(HeaderTruncated prefix.Length)
        elif not (prefix.Slice(0, 8).SequenceEqual(ReadOnlySpan Magic)) then
            Error BadMagic
        elif prefix[8] <> Version then
            Error(UnsupportedVersion prefix[8])
        else
            let encLength = int (BinaryPrimitives.ReadUInt16BigEndian(prefix.Slice(20, 2)))
            let kemId = BinaryPrimitives.ReadUInt16BigEndian(prefix.Slice(10, 2))

            // §7.1: enc is Nenc bytes of the header's KEM; an unknown KEM is refused by decodeHeader.
            match Ids.kemSizes kemId with
            | ValueSome(struct (_, nenc, _, _)) when encLength <> nenc -> Error(InvalidEncLength encLength)
            | ValueNone when encLength > 2048 -> Error(InvalidEncLength encLength)
            | _ -> Ok(FixedHeaderLength + encLength)

    /// Total decode of a header at the start of `input`: the header and the bytes it took, or the
    /// first thing wrong with it. Bytes after the header are not looked at.
    let decodeHeader (input: ReadOnlySpan<byte>) : Result<struct (SealedFileHeader * int), SealedFileError> =
        match headerLength input with
        | Error e -> Error e
        | Ok length when input.Length < length -> Error(HeaderTruncated input.Length)
        | Ok length ->
            let kemId = BinaryPrimitives.ReadUInt16BigEndian(input.Slice(10, 2))
            let kdfId = BinaryPrimitives.ReadUInt16BigEndian(input.Slice(12, 2))
            let aeadId = BinaryPrimitives.ReadUInt16BigEndian(input.Slice(14, 2))
            let chunkSize = BinaryPrimitives.ReadUInt32BigEndian(input.Slice(16, 4))

            let suiteOk =
                (Ids.kemSizes kemId).IsSome
                && (kdfId = Ids.HkdfSha256
                    || kdfId = Ids.HkdfSha384
                    || kdfId = Ids.HkdfSha512
                    || kdfId = Ids.Shake128
                    || kdfId = Ids.Shake256)
                && (aeadId = Ids.Aes128Gcm
                    || aeadId = Ids.Aes256Gcm
                    || aeadId = Ids.ChaCha20Poly1305)

            match Mode.tryOfValue input[9] with
            | ValueNone -> Error(UnknownMode input[9])
            | ValueSome _ when not suiteOk -> Error(UnsupportedSuite(kemId, kdfId, aeadId))
            | ValueSome _ when chunkSize = 0u || chunkSize > uint32 MaxChunkSize -> Error(InvalidChunkSize chunkSize)
            | ValueSome mode ->
                Ok(
                    struct ({
                                Mode = mode
                                KemId = kemId
                                KdfId = kdfId
                                AeadId = aeadId
                                ChunkSize = int chunkSize
                                Enc = input.Slice(FixedHeaderLength, length - FixedHeaderLength).ToArray()
                            },
                            length)
                )

    /// The chunk AAD: the encoded header, then the final flag.
    let chunkAad (headerBytes: byte[]) (isFinal: bool) =
        Array.append headerBytes [| (if isFinal then flagFinal else flagNonFinal) |]

    let private layout (headerBytes: byte[]) (chunkSize: int) (suite: Suite) = {
        chunkSize = chunkSize
        tagLength = suite.Nt
        nonFinalAad = chunkAad headerBytes false
        finalAad = chunkAad headerBytes true
    }

    /// The sealer for a file whose header is `header` (already holding the `enc` of `ctx`'s setup).
    /// Returns the header bytes to write first.
    let startWriter (ctx: ContextS) (header: SealedFileHeader) : struct (byte[] * SealedFileWriter) =
        let headerBytes = encodeHeader header
        struct (headerBytes, WriterExpectChunk(layout headerBytes header.ChunkSize (Context.suiteS ctx), ctx))

    /// The opener for a file whose header was decoded from `headerBytes`.
    let startReader (ctx: ContextR) (headerBytes: byte[]) (header: SealedFileHeader) : SealedFileReader =
        ReaderExpectChunk(layout headerBytes header.ChunkSize (Context.suiteR ctx), ctx)

    /// The ciphertext length of a chunk of `plaintextLength` bytes.
    let ciphertextLength (writer: SealedFileWriter) (plaintextLength: int) =
        match writer with
        | WriterExpectChunk(l, _) -> plaintextLength + l.tagLength
        | WriterFinished -> plaintextLength

    /// Seals the next chunk: exactly ChunkSize bytes if not final; 0..ChunkSize bytes if final
    /// (0 only when it is the only chunk). Writes plaintext.Length + Nt bytes to `ciphertext`.
    let SealChunk
        (writer: SealedFileWriter, isFinal: bool, plaintext: ReadOnlySpan<byte>, ciphertext: Span<byte>)
        : Result<SealedFileWriter, SealedFileError> =
        match writer with
        | WriterFinished -> Error AfterFinalChunk
        | WriterExpectChunk(l, ctx) ->
            let lengthOk =
                if isFinal then
                    plaintext.Length <= l.chunkSize
                    && (plaintext.Length > 0 || Context.sequenceS ctx = 0UL)
                else
                    plaintext.Length = l.chunkSize

            if not lengthOk then
                Error(WrongChunkLength plaintext.Length)
            else
                let aad = if isFinal then l.finalAad else l.nonFinalAad

                match Context.Seal(ctx, ReadOnlySpan aad, plaintext, ciphertext) with
                | Error e -> Error(Hpke e)
                | Ok _ when isFinal -> Ok WriterFinished
                | Ok next -> Ok(WriterExpectChunk(l, next))

    /// Opens the next chunk. `isFinal` says whether the input ends right after this chunk (the
    /// reader looks one byte ahead). A non-final chunk must be exactly ChunkSize + Nt bytes; a final
    /// one Nt .. ChunkSize + Nt. Writes ciphertext.Length - Nt bytes to `plaintext`, which holds
    /// nothing usable on failure. A full-size last chunk that opens only without the final flag means
    /// the file was cut at a chunk boundary: `Truncated`.
    let OpenChunk
        (reader: SealedFileReader, isFinal: bool, ciphertext: ReadOnlySpan<byte>, plaintext: Span<byte>)
        : Result<SealedFileReader, SealedFileError> =
        match reader with
        | ReaderFinished -> Error AfterFinalChunk
        | ReaderExpectChunk(l, ctx) ->
            let full = l.chunkSize + l.tagLength

            if ciphertext.Length < l.tagLength || ciphertext.Length > full then
                Error(
                    if isFinal then
                        Truncated
                    else
                        WrongChunkLength ciphertext.Length
                )
            elif not isFinal && ciphertext.Length <> full then
                Error(WrongChunkLength ciphertext.Length)
            else
                let aad = if isFinal then l.finalAad else l.nonFinalAad

                match Context.Open(ctx, ReadOnlySpan aad, ciphertext, plaintext) with
                | Ok _ when isFinal && ciphertext.Length = l.tagLength && Context.sequenceR ctx > 0UL ->
                    Error EmptyFinalChunk
                | Ok _ when isFinal -> Ok ReaderFinished
                | Ok next -> Ok(ReaderExpectChunk(l, next))
                | Error OpenError when isFinal && ciphertext.Length = full ->
                    // Was it a middle chunk that lost its successors?
                    match Context.Open(ctx, ReadOnlySpan l.nonFinalAad, ciphertext, plaintext) with
                    | Ok _ ->
                        plaintext.Clear()
                        Error Truncated
                    | Error _ -> Error ChunkOpenError
                | Error OpenError -> Error ChunkOpenError
                | Error e -> Error(Hpke e)

    /// The input ended: fine after the final chunk, `Truncated` before it.
    let EndOfInput (reader: SealedFileReader) : Result<unit, SealedFileError> =
        match reader with
        | ReaderFinished -> Ok()
        | ReaderExpectChunk _ -> Error Truncated
