namespace HybridProtocol.Core.Hpke

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
    Enc: byte array
}

/// The per-file constants the chunk functions need: chunk size, Nt and the two chunk AADs.
[<NoComparison; NoEquality>]
type ChunkLayout = private {
    chunkSize: int
    tagLength: int
    nonFinalAad: byte array
    finalAad: byte array
}

/// The sealer, one case per phase: expecting the next chunk, or finished after the final chunk.
[<NoComparison; NoEquality; Struct>]
type SealedFileWriter =
    private
    | WriterExpectChunk of wLayout: ChunkLayout * wContext: ContextS
    | WriterFinished

/// The opener, one case per phase: expecting the next chunk, or finished after the final chunk.
[<NoComparison; NoEquality; Struct>]
type SealedFileReader =
    private
    | ReaderExpectChunk of rLayout: ChunkLayout * rContext: ContextR
    | ReaderFinished

/// Where the next chunk ends in the input a reader has buffered: the STREAM final flag needs to know whether input
/// follows a full-size chunk, so a full chunk is told apart only once one more byte (or the end of input) is there.
[<NoComparison; NoEquality; Struct>]
type ChunkBoundary =

    /// Read more input (or reach its end) before the next chunk can be told apart.
    | NeedInput

    /// The next chunk is the first `Length` bytes of the buffered input; `IsFinal` when the input ends right after
    /// it (bytes after it are the start of the next chunk).
    | ChunkReady of Length: int * IsFinal: bool

/// The sealed-file format: a header, then chunks sealed under one HPKE context with the STREAM
/// construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015, as used by age and Tink): chunk i is
/// sealed at HPKE sequence number i (ComputeNonce binds the index), and its AAD is the header
/// followed by a flag byte that is 0x01 on the final chunk and 0x00 otherwise. So reordering,
/// dropping or duplicating chunks changes a nonce, cutting the file at a chunk boundary leaves a
/// last chunk without the final flag, and any header change alters every chunk's AAD.
module SealedFileFormat =

    /// The format version, the byte after the magic.
    [<Literal>]
    val Version: byte = 1uy

    /// magic(8) version(1) mode(1) kem_id(2) kdf_id(2) aead_id(2) chunk_size(4) enc_length(2).
    [<Literal>]
    val FixedHeaderLength: int = 22

    /// The largest chunk size a reader accepts: bounds the reader's memory at 16 MiB + Nt.
    [<Literal>]
    val MaxChunkSize: int = 16777216

    /// The chunk size the facade uses unless told otherwise.
    [<Literal>]
    val DefaultChunkSize: int = 65536

    /// Writes the header as specs/HPKE.md lays it out (all integers big-endian).
    val encodeHeader: header: SealedFileHeader -> byte array

    /// Checks the fixed part (the first FixedHeaderLength bytes) and returns the whole header's
    /// length, so a reader knows how many more bytes to read before `decodeHeader`.
    val headerLength: prefix: System.ReadOnlySpan<byte> -> Result<int, SealedFileError>

    /// Total decode of a header at the start of `input`: the header and the bytes it took, or the
    /// first thing wrong with it. Bytes after the header are not looked at.
    val decodeHeader: input: System.ReadOnlySpan<byte> -> Result<struct (SealedFileHeader * int), SealedFileError>

    /// The sealer for a file whose header is `header` (already holding the `enc` of `ctx`'s setup).
    /// Returns the header bytes to write first.
    val startWriter: ctx: ContextS -> header: SealedFileHeader -> struct (byte array * SealedFileWriter)

    /// The opener for a file whose header was decoded from `headerBytes`.
    val startReader: ctx: ContextR -> headerBytes: byte array -> header: SealedFileHeader -> SealedFileReader

    /// The ciphertext length of a chunk of `plaintextLength` bytes.
    val ciphertextLength: writer: SealedFileWriter -> plaintextLength: int -> int

    /// Seals the next chunk: exactly ChunkSize bytes if not final; 0..ChunkSize bytes if final
    /// (0 only when it is the only chunk). Writes plaintext.Length + Nt bytes to `ciphertext`.
    val SealChunk:
        writer: SealedFileWriter * isFinal: bool * plaintext: System.ReadOnlySpan<byte> * ciphertext: System.Span<byte> ->
            Result<SealedFileWriter, SealedFileError>

    /// Opens the next chunk. `isFinal` says whether the input ends right after this chunk (the
    /// reader looks one byte ahead). A non-final chunk must be exactly ChunkSize + Nt bytes; a final
    /// one Nt .. ChunkSize + Nt. Writes ciphertext.Length - Nt bytes to `plaintext`, which holds
    /// nothing usable on failure. A full-size last chunk that opens only without the final flag means
    /// the file was cut at a chunk boundary: `Truncated`.
    val OpenChunk:
        reader: SealedFileReader * isFinal: bool * ciphertext: System.ReadOnlySpan<byte> * plaintext: System.Span<byte> ->
            Result<SealedFileReader, SealedFileError>

    /// The chunk decoder: with `available` bytes buffered from the start of the next chunk and `ended` when the
    /// input has no more, where that chunk ends and whether it is the last. A chunk is ChunkSize + Nt bytes
    /// except the last, which is shorter or followed directly by the end of input; a reader holds at most
    /// ChunkSize + Nt + 1 bytes. After the final chunk every call is `AfterFinalChunk`.
    val nextChunk: reader: SealedFileReader * available: int * ended: bool -> Result<ChunkBoundary, SealedFileError>

    /// The input ended: fine after the final chunk, `Truncated` before it.
    val EndOfInput: reader: SealedFileReader -> Result<unit, SealedFileError>
