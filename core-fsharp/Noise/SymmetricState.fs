namespace HybridProtocol.Core.Noise

open System
open System.Text
open HybridProtocol.Core

[<NoComparison; NoEquality>]
type SymmetricState = private {
    suite: CryptoSuite
    cs: CipherState
    /// Chaining key (HASHLEN bytes).
    ck: byte[]
    /// Handshake hash (HASHLEN bytes).
    h: byte[]
}

module SymmetricState =
    /// Noise §5.2: "If HASHLEN is 64, then truncates temp_k to 32 bytes." (A view, not a copy: the one
    /// array, pinned by Hkdf, is zeroed as soon as KEY has taken the key.)
    let private keyed (suite: CryptoSuite) (tempK: byte[]) =
        let key = suite.Cipher.KEY.Invoke(ReadOnlySpan(tempK, 0, min tempK.Length 32))
        Security.Cryptography.CryptographicOperations.ZeroMemory(Span tempK)
        CipherState.InitializeKey suite.Cipher key

    let InitializeSymmetric (suite: CryptoSuite) (protocolName: string) =
        let name = Encoding.ASCII.GetBytes protocolName
        let hashLen = suite.Hash.HASHLEN

        let h =
            if name.Length <= hashLen then
                Array.init hashLen (fun i -> if i < name.Length then name[i] else 0uy)
            else
                Hkdf.hashConcat suite.Hash [ name ]

        {
            suite = suite
            cs = Empty
            ck = h
            h = h
        }

    let MixKey (inputKeyMaterial: byte[]) (state: SymmetricState) =
        let struct (ck, tempK) = Hkdf.hkdf2 state.suite.Hash state.ck inputKeyMaterial

        {
            state with
                ck = ck
                cs = keyed state.suite tempK
        }

    let MixHash (data: byte[]) (state: SymmetricState) = {
        state with
            h = Hkdf.hashPair state.suite.Hash (ReadOnlySpan state.h) (ReadOnlySpan data)
    }

    let MixKeyAndHash (inputKeyMaterial: byte[]) (state: SymmetricState) =
        let struct (ck, tempH, tempK) =
            Hkdf.hkdf3 state.suite.Hash state.ck inputKeyMaterial

        let mixed = MixHash tempH { state with ck = ck }

        {
            mixed with
                cs = keyed state.suite tempK
        }

    let GetHandshakeHash (state: SymmetricState) = Array.copy state.h

    let HasKey (state: SymmetricState) = CipherState.HasKey state.cs

    let tagLength (state: SymmetricState) = CipherState.ciphertextLength state.cs 0

    let EncryptAndHash (plaintext: byte[]) (state: SymmetricState) =
        CipherState.encryptToArray state.cs state.h plaintext
        |> Result.map (fun struct (cs, ciphertext) -> struct (MixHash ciphertext { state with cs = cs }, ciphertext))

    let EncryptAndHashInto (plaintext: byte[]) (message: byte[]) (offset: int) (state: SymmetricState) =
        let length = CipherState.ciphertextLength state.cs plaintext.Length

        match
            CipherState.EncryptWithAd(
                state.cs,
                ReadOnlySpan state.h,
                ReadOnlySpan plaintext,
                Span(message, offset, length)
            )
        with
        | Ok cs ->
            Ok(
                struct ({
                            state with
                                cs = cs
                                h =
                                    Hkdf.hashPair
                                        state.suite.Hash
                                        (ReadOnlySpan state.h)
                                        (ReadOnlySpan(message, offset, length))
                        },
                        offset + length)
            )
        | Error e -> Error e

    let DecryptAndHash (ciphertext: byte[]) (state: SymmetricState) =
        CipherState.decryptToArray state.cs state.h ciphertext
        |> Result.map (fun struct (cs, plaintext) -> struct (MixHash ciphertext { state with cs = cs }, plaintext))

    let DecryptSliceAndHash (message: byte[]) (offset: int) (length: int) (state: SymmetricState) =
        let plaintext = Array.zeroCreate (max 0 (length - tagLength state))

        match
            CipherState.DecryptWithAd(
                state.cs,
                ReadOnlySpan state.h,
                ReadOnlySpan(message, offset, length),
                Span plaintext
            )
        with
        | Ok cs ->
            Ok(
                struct ({
                            state with
                                cs = cs
                                h =
                                    Hkdf.hashPair
                                        state.suite.Hash
                                        (ReadOnlySpan state.h)
                                        (ReadOnlySpan(message, offset, length))
                        },
                        plaintext)
            )
        | Error e -> Error e

    let Split (state: SymmetricState) =
        let struct (tempK1, tempK2) = Hkdf.hkdf2 state.suite.Hash state.ck [||]
        struct (keyed state.suite tempK1, keyed state.suite tempK2)

    let currentKey (state: SymmetricState) = CipherState.key state.cs
