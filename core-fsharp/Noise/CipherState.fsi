namespace HybridProtocol.Core.Noise

/// Noise §5.1 The CipherState object: "A CipherState can encrypt and decrypt data based on its k and n
/// variables". A struct value: every operation returns the next state and mutates nothing, so the
/// transport hot path can use it without allocating.
/// See: https://noiseprotocol.org/noise.html#the-cipherstate-object
[<NoComparison; NoEquality; Struct>]
type CipherState =

    /// k is empty: EncryptWithAd and DecryptWithAd pass data through unchanged (handshake before the first MixKey).
    | Empty

    /// k holds a key; n is the next nonce to use.
    | Keyed of cipher: HybridProtocol.Core.CipherFunctions * k: HybridProtocol.Core.IAeadKey * n: uint64

module CipherState =

    /// Noise §5.1: "The maximum n value (2^64-1) is reserved for other use."
    [<Literal>]
    val MaxNonce: uint64 = 18446744073709551615UL

    /// Noise §5.1 InitializeKey(key): "Sets k = key. Sets n = 0."
    /// `key` is an AEAD key already made by the provider's KEY function.
    val InitializeKey: cipher: HybridProtocol.Core.CipherFunctions -> key: HybridProtocol.Core.IAeadKey -> CipherState

    /// Noise §5.1 HasKey(): "Returns true if k is non-empty, false otherwise."
    val HasKey: state: CipherState -> bool

    /// Noise §5.1 SetNonce(nonce): "Sets n = nonce. This function is used for handling out-of-order transport messages."
    val SetNonce: nonce: uint64 -> state: CipherState -> CipherState

    /// The next nonce, or ValueNone when k is empty.
    val nonce: state: CipherState -> uint64 voption

    /// The number of bytes EncryptWithAd writes for a plaintext of the given length.
    val ciphertextLength: state: CipherState -> plaintextLength: int -> int

    /// Noise §5.1 EncryptWithAd(ad, plaintext): "If k is non-empty returns ENCRYPT(k, n++, ad, plaintext).
    /// Otherwise returns plaintext." Writes into `ciphertext` (length `ciphertextLength`), which may
    /// be the same memory as `plaintext` (in-place encryption).
    val EncryptWithAd:
        state: CipherState *
        ad: System.ReadOnlySpan<byte> *
        plaintext: System.ReadOnlySpan<byte> *
        ciphertext: System.Span<byte> ->
            Result<CipherState, NoiseError>

    /// Noise §5.1 DecryptWithAd(ad, ciphertext): "If k is non-empty returns DECRYPT(k, n++, ad, ciphertext).
    /// Otherwise returns ciphertext. If an authentication failure occurs in DECRYPT() then n is not
    /// incremented and an error is signaled to the caller." On failure `plaintext` holds nothing usable.
    val DecryptWithAd:
        state: CipherState *
        ad: System.ReadOnlySpan<byte> *
        ciphertext: System.ReadOnlySpan<byte> *
        plaintext: System.Span<byte> ->
            Result<CipherState, NoiseError>

    /// Noise §4.2 REKEY(k): "Returns a new 32-byte cipher key as a pseudorandom function of k. ...
    /// defaults to returning the first 32 bytes from ENCRYPT(k, maxnonce, zerolen, zeros),
    /// where maxnonce equals 2^64-1, zerolen is a zero-length byte sequence, and zeros is a sequence of 32 bytes filled with zeros."
    /// Noise §5.1 Rekey(): "Sets k = REKEY(k)." n is left as it is (§11.3).
    /// The new key is made by KEY; the old one is not disposed here, the owner of the state does that.
    val Rekey: state: CipherState -> CipherState

    /// The key held, so its owner can dispose it when the state is dropped.
    val key: state: CipherState -> HybridProtocol.Core.IAeadKey voption

    /// Encrypts into a new array (convenience for the handshake, where allocation does not matter).
    val encryptToArray:
        state: CipherState ->
        ad: byte array ->
        plaintext: byte array ->
            Result<struct (CipherState * byte array), NoiseError>

    /// Decrypts into a new array (convenience for the handshake).
    val decryptToArray:
        state: CipherState ->
        ad: byte array ->
        ciphertext: byte array ->
            Result<struct (CipherState * byte array), NoiseError>
