namespace HybridProtocol.Core.Noise

// The 12..32-byte AEAD nonce lives on the stack (NativePtr.stackalloc) so that no record allocates.
#nowarn "9"

open System
open HybridProtocol.Core

[<Struct; NoComparison; NoEquality>]
type CipherState =
    | Empty
    | Keyed of cipher: CipherFunctions * k: IAeadKey * n: uint64

module CipherState =
    [<Literal>]
    let MaxNonce = UInt64.MaxValue

    let InitializeKey (cipher: CipherFunctions) (key: IAeadKey) = Keyed(cipher, key, 0UL)

    let HasKey (state: CipherState) =
        match state with
        | Empty -> false
        | Keyed _ -> true

    let SetNonce (nonce: uint64) (state: CipherState) =
        match state with
        | Empty -> Empty
        | Keyed(cipher, k, _) -> Keyed(cipher, k, nonce)

    let nonce (state: CipherState) =
        match state with
        | Empty -> ValueNone
        | Keyed(_, _, n) -> ValueSome n

    let ciphertextLength (state: CipherState) (plaintextLength: int) =
        match state with
        | Empty -> plaintextLength
        | Keyed(cipher, _, _) -> plaintextLength + cipher.TAGLEN

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

    let key (state: CipherState) =
        match state with
        | Empty -> ValueNone
        | Keyed(_, k, _) -> ValueSome k

    let encryptToArray (state: CipherState) (ad: byte[]) (plaintext: byte[]) =
        let ciphertext = Array.zeroCreate (ciphertextLength state plaintext.Length)

        EncryptWithAd(state, ReadOnlySpan ad, ReadOnlySpan plaintext, Span ciphertext)
        |> Result.map (fun next -> struct (next, ciphertext))

    let decryptToArray (state: CipherState) (ad: byte[]) (ciphertext: byte[]) =
        let length =
            match state with
            | Empty -> ciphertext.Length
            | Keyed(cipher, _, _) -> max 0 (ciphertext.Length - cipher.TAGLEN)

        let plaintext = Array.zeroCreate length

        DecryptWithAd(state, ReadOnlySpan ad, ReadOnlySpan ciphertext, Span plaintext)
        |> Result.map (fun next -> struct (next, plaintext))
