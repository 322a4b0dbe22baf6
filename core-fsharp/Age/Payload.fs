module HybridProtocol.Core.Age.Payload

// The 12-byte chunk nonce lives on the stack (NativePtr.stackalloc) so that a chunk allocates nothing.
#nowarn "9"

open System
open System.Buffers.Binary
open System.Text
open HybridProtocol.Core

[<Literal>]
let ChunkSize = 65536

[<Literal>]
let TagLength = 16

[<Literal>]
let NonceLength = 16

let private payloadInfo = Encoding.ASCII.GetBytes "payload"

let payloadKey (sha256: HashFunctions) (fileKey: byte array) (nonce: byte array) : byte array =
    // HKDF-Extract with the salt, then HKDF-Expand with the info (age.md "Conventions"), 32 bytes.
    let prk = Hkdf.extract sha256 nonce fileKey

    try
        (Hkdf.expand sha256 prk payloadInfo 32).Value
    finally
        Array.Clear prk

let chunkNonce (counter: uint64, isFinal: bool, nonce: Span<byte>) =
    nonce.Clear()
    BinaryPrimitives.WriteUInt64BigEndian(nonce.Slice(3, 8), counter)
    nonce[11] <- if isFinal then 1uy else 0uy

[<NoComparison; NoEquality; Struct>]
type PayloadWriter =
    private
    | WriterExpectChunk of wCipher: CipherFunctions * wKey: IAeadKey * wCounter: uint64
    | WriterFinished

[<NoComparison; NoEquality; Struct>]
type PayloadReader =
    private
    | ReaderExpectChunk of rCipher: CipherFunctions * rKey: IAeadKey * rCounter: uint64
    | ReaderFinished

let startWriter (cipher: CipherFunctions, key: IAeadKey) = WriterExpectChunk(cipher, key, 0UL)

let startReader (cipher: CipherFunctions, key: IAeadKey) = ReaderExpectChunk(cipher, key, 0UL)

let SealChunk
    (writer: PayloadWriter, isFinal: bool, plaintext: ReadOnlySpan<byte>, ciphertext: Span<byte>)
    : Result<PayloadWriter, PayloadError> =
    match writer with
    | WriterFinished -> Error AfterFinalChunk
    | WriterExpectChunk(cipher, key, counter) ->
        let sizeOk =
            if isFinal then
                plaintext.Length <= ChunkSize && (plaintext.Length > 0 || counter = 0UL)
            else
                plaintext.Length = ChunkSize

        if not sizeOk then
            Error(WrongChunkLength plaintext.Length)
        elif ciphertext.Length <> plaintext.Length + TagLength then
            Error(WrongChunkLength ciphertext.Length)
        elif counter = UInt64.MaxValue then
            Error ChunkCounterExhausted
        else
            let nonce =
                Span<byte>(NativeInterop.NativePtr.toVoidPtr (NativeInterop.NativePtr.stackalloc<byte> 12), 12)

            chunkNonce (counter, isFinal, nonce)
            cipher.ENCRYPT.Invoke(key, nonce, ReadOnlySpan.Empty, plaintext, ciphertext)

            if isFinal then
                Ok WriterFinished
            else
                Ok(WriterExpectChunk(cipher, key, counter + 1UL))

let private tryOpen
    (cipher: CipherFunctions)
    key
    counter
    isFinal
    (ciphertext: ReadOnlySpan<byte>)
    (plaintext: Span<byte>)
    =
    let nonce =
        Span<byte>(NativeInterop.NativePtr.toVoidPtr (NativeInterop.NativePtr.stackalloc<byte> 12), 12)

    chunkNonce (counter, isFinal, nonce)
    cipher.DECRYPT.Invoke(key, nonce, ReadOnlySpan.Empty, ciphertext, plaintext)

let OpenChunk
    (reader: PayloadReader, isFinal: bool, ciphertext: ReadOnlySpan<byte>, plaintext: Span<byte>)
    : Result<PayloadReader, PayloadError> =
    match reader with
    | ReaderFinished -> Error AfterFinalChunk
    | ReaderExpectChunk(cipher, key, counter) ->
        let full = ChunkSize + TagLength

        if ciphertext.Length < TagLength || ciphertext.Length > full then
            Error(WrongChunkLength ciphertext.Length)
        elif not isFinal && ciphertext.Length <> full then
            Error(WrongChunkLength ciphertext.Length)
        elif plaintext.Length <> ciphertext.Length - TagLength then
            Error(WrongChunkLength plaintext.Length)
        elif isFinal && ciphertext.Length = TagLength && counter > 0UL then
            Error EmptyFinalChunk
        elif counter = UInt64.MaxValue then
            Error ChunkCounterExhausted
        elif tryOpen cipher key counter isFinal ciphertext plaintext then
            if isFinal then
                Ok ReaderFinished
            else
                Ok(ReaderExpectChunk(cipher, key, counter + 1UL))
        else
            plaintext.Clear()
            // A full last chunk sealed as non-final: the file was cut at a chunk boundary. Its plaintext is authentic
            // and returned (as age releases it); EndOfInput then reports the truncation.
            if
                isFinal
                && ciphertext.Length = full
                && tryOpen cipher key counter false ciphertext plaintext
            then
                Ok(ReaderExpectChunk(cipher, key, counter + 1UL))
            // A full chunk sealed as final with more input after it ends the payload: its plaintext is authentic and
            // returned (as age releases it), and whatever follows is refused as AfterFinalChunk.
            elif not isFinal && tryOpen cipher key counter true ciphertext plaintext then
                Ok ReaderFinished
            else
                plaintext.Clear()
                Error ChunkOpenError

let EndOfInput (reader: PayloadReader) : Result<unit, PayloadError> =
    match reader with
    | ReaderFinished -> Ok()
    | ReaderExpectChunk _ -> Error Truncated
