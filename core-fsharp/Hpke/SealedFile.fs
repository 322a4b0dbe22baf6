namespace HybridProtocol.Core.Hpke

open System
open System.Buffers.Binary

type SealedFileError =
    | HeaderTruncated of length: int
    | BadMagic
    | UnsupportedVersion of version: byte
    | UnknownMode of mode: byte
    | UnsupportedSuite of kem_id: uint16 * kdf_id: uint16 * aead_id: uint16
    | InvalidChunkSize of chunkSize: uint32
    | InvalidEncLength of length: int
    | WrongChunkLength of length: int
    | Truncated
    | EmptyFinalChunk
    | ChunkOpenError
    | AfterFinalChunk
    | Hpke of HpkeError

type SealedFileHeader = {
    Mode: Mode
    KemId: uint16
    KdfId: uint16
    AeadId: uint16
    ChunkSize: int
    Enc: byte[]
}

[<NoComparison; NoEquality>]
type ChunkLayout = private {
    chunkSize: int
    tagLength: int
    nonFinalAad: byte[]
    finalAad: byte[]
}

[<Struct; NoComparison; NoEquality>]
type SealedFileWriter =
    private
    | WriterExpectChunk of wLayout: ChunkLayout * wContext: ContextS
    | WriterFinished

[<Struct; NoComparison; NoEquality>]
type SealedFileReader =
    private
    | ReaderExpectChunk of rLayout: ChunkLayout * rContext: ContextR
    | ReaderFinished

[<NoComparison; NoEquality; Struct>]
type ChunkBoundary =
    | NeedInput
    | ChunkReady of Length: int * IsFinal: bool

module SealedFileFormat =
    /// 0x89 "HPSEAL" 0x0A: a non-ASCII first byte, then a name, then LF (PNG's trick to catch
    /// text-mode mangling).
    let Magic = [| 0x89uy; 0x48uy; 0x50uy; 0x53uy; 0x45uy; 0x41uy; 0x4Cuy; 0x0Auy |]

    [<Literal>]
    let Version = 1uy

    [<Literal>]
    let FixedHeaderLength = 22

    [<Literal>]
    let MaxChunkSize = 16777216

    [<Literal>]
    let DefaultChunkSize = 65536

    let private flagNonFinal = 0x00uy
    let private flagFinal = 0x01uy

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

    let startWriter (ctx: ContextS) (header: SealedFileHeader) : struct (byte[] * SealedFileWriter) =
        let headerBytes = encodeHeader header
        struct (headerBytes, WriterExpectChunk(layout headerBytes header.ChunkSize (Context.suiteS ctx), ctx))

    let startReader (ctx: ContextR) (headerBytes: byte[]) (header: SealedFileHeader) : SealedFileReader =
        ReaderExpectChunk(layout headerBytes header.ChunkSize (Context.suiteR ctx), ctx)

    let ciphertextLength (writer: SealedFileWriter) (plaintextLength: int) =
        match writer with
        | WriterExpectChunk(l, _) -> plaintextLength + l.tagLength
        | WriterFinished -> plaintextLength

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

    let EndOfInput (reader: SealedFileReader) : Result<unit, SealedFileError> =
        match reader with
        | ReaderFinished -> Ok()
        | ReaderExpectChunk _ -> Error Truncated

    let nextChunk (reader: SealedFileReader, available: int, ended: bool) : Result<ChunkBoundary, SealedFileError> =
        match reader with
        | ReaderFinished -> Error AfterFinalChunk
        | ReaderExpectChunk(layout, _) ->
            let whole = layout.chunkSize + layout.tagLength

            if available > whole then Ok(ChunkReady(whole, false))
            elif ended then Ok(ChunkReady(max 0 available, true))
            else Ok NeedInput
