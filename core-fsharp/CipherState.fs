namespace HybridProtocol.Core.Noise

// The 12..32-byte AEAD nonce lives on the stack (NativePtr.stackalloc) so that no record allocates.
#nowarn "9"

open System
open HybridProtocol.Core

/// Noise §5.1 The CipherState object: "A CipherState can encrypt and decrypt data based on its k and n
/// variables". A struct value: every operation returns the next state and mutates nothing, so the
/// transport hot path can use it without allocating.
/// See: https://noiseprotocol.org/noise.html#the-cipherstate-object
[<Struct; NoComparison; NoEquality>]
type CipherState =
    /// k is empty: EncryptWithAd and DecryptWithAd pass data through unchanged (handshake before the first MixKey).
    | Empty
    /// k holds a key; n is the next nonce to use.
    | Keyed of cipher: CipherFunctions * k: IAeadKey * n: uint64

module CipherState =
    /// Noise §5.1: "The maximum n value (2^64-1) is reserved for other use."
    [<Literal>]
    let MaxNonce = UInt64.MaxValue

    /// Noise §5.1 InitializeKey(key): "Sets k = key. Sets n = 0."
    /// `key` is an AEAD key already made by the provider's KEY function.
    let InitializeKey (cipher: CipherFunctions) (key: IAeadKey) = Keyed(cipher, key, 0UL)

    /// Noise §5.1 HasKey(): "Returns true if k is non-empty, false otherwise."
    let HasKey (state: CipherState) =
        match state with
        | Empty -> false
        | Keyed _ -> true

    /// Noise §5.1 SetNonce(nonce): "Sets n = nonce. This function is used for handling out-of-order transport messages."
    let SetNonce (nonce: uint64) (state: CipherState) =
        match state with
        | Empty -> Empty
        | Keyed(cipher, k, _) -> Keyed(cipher, k, nonce)

    /// The next nonce, or ValueNone when k is empty.
    let nonce (state: CipherState) =
        match state with
        | Empty -> ValueNone
        | Keyed(_, _, n) -> ValueSome n

    /// The number of bytes EncryptWithAd writes for a plaintext of the given length.
    let ciphertextLength (state: CipherState) (plaintextLength: int) =
        match state with
        | Empty -> plaintextLength
        | Keyed(cipher, _, _) -> plaintextLength + cipher.TAGLEN

    /// Noise §5.1 EncryptWithAd(ad, plaintext): "If k is non-empty returns ENCRYPT(k, n++, ad, plaintext).
    /// Otherwise returns plaintext." Writes into `ciphertext` (length `ciphertextLength`), which may
    /// be the same memory as `plaintext` (in-place encryption).
    let EncryptWithAd
        (state: CipherState, ad: ReadOnlySpan<byte>, plaintext: ReadOnlySpan<byte>, ciphertext: Span<byte>)
        =
        match state with
        | Empty ->
            plaintext.CopyTo ciphertext
            Ok Empty
        | Keyed(_, _, n) when n = MaxNonce -> Error(State NonceExhausted)
        | Keyed(cipher, k, n) ->
            let nonce =
                Span<byte>(NativeInterop.NativePtr.toVoidPtr (NativeInterop.NativePtr.stackalloc<byte> 32), 32)

            let nonce = nonce.Slice(0, cipher.NONCELEN)
            Nonce.encode (cipher.NonceEncoding, n, nonce)
            cipher.ENCRYPT.Invoke(k, nonce, ad, plaintext, ciphertext.Slice(0, plaintext.Length + cipher.TAGLEN))
            Ok(Keyed(cipher, k, n + 1UL))

    /// Noise §5.1 DecryptWithAd(ad, ciphertext): "If k is non-empty returns DECRYPT(k, n++, ad, ciphertext).
    /// Otherwise returns ciphertext. If an authentication failure occurs in DECRYPT() then n is not
    /// incremented and an error is signaled to the caller." On failure `plaintext` holds nothing usable.
    let DecryptWithAd
        (state: CipherState, ad: ReadOnlySpan<byte>, ciphertext: ReadOnlySpan<byte>, plaintext: Span<byte>)
        =
        match state with
        | Empty ->
            ciphertext.CopyTo plaintext
            Ok Empty
        | Keyed(_, _, n) when n = MaxNonce -> Error(State NonceExhausted)
        | Keyed(cipher, _, _) when ciphertext.Length < cipher.TAGLEN -> Error(Input(MessageTooShort ciphertext.Length))
        | Keyed(cipher, k, n) ->
            let nonce =
                Span<byte>(NativeInterop.NativePtr.toVoidPtr (NativeInterop.NativePtr.stackalloc<byte> 32), 32)

            let nonce = nonce.Slice(0, cipher.NONCELEN)
            Nonce.encode (cipher.NonceEncoding, n, nonce)
            let output = plaintext.Slice(0, ciphertext.Length - cipher.TAGLEN)

            if cipher.DECRYPT.Invoke(k, nonce, ad, ciphertext, output) then
                Ok(Keyed(cipher, k, n + 1UL))
            else
                output.Clear()
                Error Decrypt

    /// Noise §4.2 REKEY(k): "Returns a new 32-byte cipher key as a pseudorandom function of k. ...
    /// defaults to returning the first 32 bytes from ENCRYPT(k, maxnonce, zerolen, zeros),
    /// where maxnonce equals 2^64-1, zerolen is a zero-length byte sequence, and zeros is a sequence of 32 bytes filled with zeros."
    /// Noise §5.1 Rekey(): "Sets k = REKEY(k)." n is left as it is (§11.3).
    /// The new key is made by KEY; the old one is not disposed here, the owner of the state does that.
    let Rekey (state: CipherState) =
        match state with
        | Empty -> Empty
        | Keyed(cipher, k, n) ->
            let zeros = Array.zeroCreate<byte> 32
            let output = Hkdf.pinnedArray (32 + cipher.TAGLEN)
            let nonce = Array.zeroCreate<byte> cipher.NONCELEN
            Nonce.encode (cipher.NonceEncoding, MaxNonce, Span nonce)
            cipher.ENCRYPT.Invoke(k, ReadOnlySpan nonce, ReadOnlySpan.Empty, ReadOnlySpan zeros, Span output)
            let key = cipher.KEY.Invoke(ReadOnlySpan(output, 0, 32))
            Security.Cryptography.CryptographicOperations.ZeroMemory(Span output)
            Keyed(cipher, key, n)

    /// The key held, so its owner can dispose it when the state is dropped.
    let key (state: CipherState) =
        match state with
        | Empty -> ValueNone
        | Keyed(_, k, _) -> ValueSome k

    /// Encrypts into a new array (convenience for the handshake, where allocation does not matter).
    let encryptToArray (state: CipherState) (ad: byte[]) (plaintext: byte[]) =
        let ciphertext = Array.zeroCreate (ciphertextLength state plaintext.Length)

        EncryptWithAd(state, ReadOnlySpan ad, ReadOnlySpan plaintext, Span ciphertext)
        |> Result.map (fun next -> struct (next, ciphertext))

    /// Decrypts into a new array (convenience for the handshake).
    let decryptToArray (state: CipherState) (ad: byte[]) (ciphertext: byte[]) =
        let length =
            match state with
            | Empty -> ciphertext.Length
            | Keyed(cipher, _, _) -> max 0 (ciphertext.Length - cipher.TAGLEN)

        let plaintext = Array.zeroCreate length

        DecryptWithAd(state, ReadOnlySpan ad, ReadOnlySpan ciphertext, Span plaintext)
        |> Result.map (fun next -> struct (next, plaintext))
