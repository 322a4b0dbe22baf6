namespace HybridProtocol.Core

open System

// The crypto functions the protocols are built on, passed in as values (Noise §4, RFC 9180 §4).
// The core never calls a global or generates a key: the facade fills these records from NSec,
// and tests may fill them with anything deterministic.

type IDhPrivateKey =
    inherit IDisposable

[<Sealed>]
type DhPublicKey private (bytes: byte[]) =
    member _.Bytes = bytes
    member _.Length = bytes.Length

    static member TryCreate(dhlen: int, value: ReadOnlySpan<byte>) : DhPublicKey voption =
        if value.Length = dhlen then
            ValueSome(DhPublicKey(value.ToArray()))
        else
            ValueNone

    member this.EqualsKey(other: DhPublicKey) =
        Security.Cryptography.CryptographicOperations.FixedTimeEquals(ReadOnlySpan bytes, ReadOnlySpan other.Bytes)

    override _.ToString() =
        "DhPublicKey(" + Convert.ToHexStringLower bytes + ")"

[<NoComparison; NoEquality>]
type DhKeyPair = {
    Private: IDhPrivateKey
    Public: DhPublicKey
}

type DhFn = delegate of keyPair: IDhPrivateKey * publicKey: ReadOnlySpan<byte> * output: Span<byte> -> bool

type ImportPrivateFn = delegate of privateKey: ReadOnlySpan<byte> -> DhKeyPair voption

[<NoComparison; NoEquality>]
type DhFunctions = {
    Name: string
    DHLEN: int
    DH: DhFn
    IMPORT_PRIVATE: ImportPrivateFn
}

type IAeadKey =
    inherit IDisposable

type AeadKeyFn = delegate of key: ReadOnlySpan<byte> -> IAeadKey

type EncryptFn =
    delegate of
        k: IAeadKey *
        nonce: ReadOnlySpan<byte> *
        ad: ReadOnlySpan<byte> *
        plaintext: ReadOnlySpan<byte> *
        ciphertext: Span<byte> ->
            unit

type DecryptFn =
    delegate of
        k: IAeadKey *
        nonce: ReadOnlySpan<byte> *
        ad: ReadOnlySpan<byte> *
        ciphertext: ReadOnlySpan<byte> *
        plaintext: Span<byte> ->
            bool

type NonceEncoding =
    | ZerosThenLittleEndian
    | ZerosThenBigEndian

[<NoComparison; NoEquality>]
type CipherFunctions = {
    Name: string
    NONCELEN: int
    TAGLEN: int
    NonceEncoding: NonceEncoding
    KEY: AeadKeyFn
    ENCRYPT: EncryptFn
    DECRYPT: DecryptFn
}

type HashFn = delegate of data: ReadOnlySpan<byte> * output: Span<byte> -> unit

[<NoComparison; NoEquality>]
type HashFunctions = {
    Name: string
    HASHLEN: int
    BLOCKLEN: int
    HASH: HashFn
}

type IKemPrivateKey =
    inherit IDisposable

[<NoComparison; NoEquality>]
type KemKeyPair = {
    Private: IKemPrivateKey
    Public: byte[]
}

type KemGenerateKeypairFn = delegate of seed: ReadOnlySpan<byte> -> KemKeyPair

type KemEncapsulateFn =
    delegate of
        publicKey: ReadOnlySpan<byte> * randomness: ReadOnlySpan<byte> * ciphertext: Span<byte> * output: Span<byte> ->
            bool

type KemDecapsulateFn =
    delegate of keyPair: IKemPrivateKey * ciphertext: ReadOnlySpan<byte> * output: Span<byte> -> bool

[<NoComparison; NoEquality>]
type KemFunctions = {
    Name: string
    KEMPUBLICKEYLEN: int
    KEMCIPHERTEXTLEN: int
    KEMOUTPUTLEN: int
    SEEDLEN: int
    ENCAPSRANDOMNESSLEN: int
    GENERATE_KEM_KEYPAIR: KemGenerateKeypairFn
    GENERATE_KEM_CIPHERTEXT: KemEncapsulateFn
    KEM: KemDecapsulateFn
}

[<NoComparison; NoEquality>]
type CryptoSuite = {
    Dh: DhFunctions
    Cipher: CipherFunctions
    Hash: HashFunctions
    Kem: KemFunctions option
}

module Nonce =
    let encode (encoding: NonceEncoding, n: uint64, nonce: Span<byte>) =
        nonce.Clear()
        let tail = nonce.Slice(4, 8)

        match encoding with
        | ZerosThenLittleEndian -> Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(tail, n)
        | ZerosThenBigEndian -> Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(tail, n)
