/// The age payload (age.md "Payload"): a 16-byte nonce, then the plaintext in chunks of 64 KiB, each sealed with
/// ChaCha20-Poly1305 under "payload key = HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload")" and a 12-byte
/// nonce: "the first 11 bytes are a big endian chunk counter starting at zero ...; the last byte is 0x01 for the final
/// chunk and 0x00 for all preceding ones. The final chunk MAY be shorter than 64 KiB but MUST NOT be empty unless the
/// whole payload is empty." This is the STREAM construction (Hoang, Reyhanitabar, Rogaway, Vizár 2015).
module HybridProtocol.Core.Age.Payload

open HybridProtocol.Core

/// Plaintext bytes in every chunk but the last: 64 KiB.
[<Literal>]
val ChunkSize: int = 65536

/// The Poly1305 tag on every chunk.
[<Literal>]
val TagLength: int = 16

/// The payload nonce at the start of the payload.
[<Literal>]
val NonceLength: int = 16

/// "payload key = HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload")": 32 bytes in a pinned array the caller
/// erases.
val payloadKey: sha256: HashFunctions -> fileKey: byte array -> nonce: byte array -> byte array

/// The chunk nonce: 11-byte big-endian counter, then 0x01 for the final chunk, 0x00 otherwise.
val chunkNonce: counter: uint64 * isFinal: bool * nonce: System.Span<byte> -> unit

/// The sealer, one case per phase. The payload key is the caller's (it disposes it after the last chunk).
[<NoComparison; NoEquality; Struct>]
type PayloadWriter =
    private
    | WriterExpectChunk of wCipher: CipherFunctions * wKey: IAeadKey * wCounter: uint64
    | WriterFinished

/// The opener, one case per phase.
[<NoComparison; NoEquality; Struct>]
type PayloadReader =
    private
    | ReaderExpectChunk of rCipher: CipherFunctions * rKey: IAeadKey * rCounter: uint64
    | ReaderFinished

/// A sealer for the payload key `key` (made by `cipher.KEY` from `payloadKey`).
val startWriter: cipher: CipherFunctions * key: IAeadKey -> PayloadWriter

/// An opener for the payload key `key`.
val startReader: cipher: CipherFunctions * key: IAeadKey -> PayloadReader

/// Seals the next chunk: exactly ChunkSize bytes if not final; 1..ChunkSize bytes if final (0 only when it is the only
/// chunk). Writes plaintext.Length + 16 bytes to `ciphertext`.
val SealChunk:
    writer: PayloadWriter * isFinal: bool * plaintext: System.ReadOnlySpan<byte> * ciphertext: System.Span<byte> ->
        Result<PayloadWriter, PayloadError>

/// Opens the next chunk. `isFinal` says whether the input ends right after it (the reader looks one byte ahead). A
/// non-final chunk must be exactly ChunkSize + 16 bytes. Writes ciphertext.Length - 16 bytes to `plaintext`, which holds
/// nothing usable on failure. A full last chunk that opens only without the final flag is returned (it is
/// authentic) and `EndOfInput` then reports `Truncated`. A full chunk
/// followed by more input that opens only with the final flag ends the payload (its plaintext is authentic and returned,
/// as age does); the next call then fails with `AfterFinalChunk`.
val OpenChunk:
    reader: PayloadReader * isFinal: bool * ciphertext: System.ReadOnlySpan<byte> * plaintext: System.Span<byte> ->
        Result<PayloadReader, PayloadError>

/// The input ended: fine after the final chunk, `Truncated` before it.
val EndOfInput: reader: PayloadReader -> Result<unit, PayloadError>
