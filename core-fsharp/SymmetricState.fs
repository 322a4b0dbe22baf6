namespace HybridProtocol.Core.Noise

open System
open System.Text
open HybridProtocol.Core

/// Noise §5.2 The SymmetricState object: "contains a CipherState plus ck and h variables".
/// An immutable value; every operation returns a new one.
/// See: https://noiseprotocol.org/noise.html#the-symmetricstate-object
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

    /// Noise §5.2 InitializeSymmetric(protocol_name): "If protocol_name is less than or equal to HASHLEN bytes
    /// in length, sets h equal to protocol_name with zero bytes appended to make HASHLEN bytes. Otherwise sets
    /// h = HASH(protocol_name). Sets ck = h. Calls InitializeKey(empty)."
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

    /// Noise §5.2 MixKey(input_key_material): "Sets ck, temp_k = HKDF(ck, input_key_material, 2).
    /// If HASHLEN is 64, then truncates temp_k to 32 bytes. Calls InitializeKey(temp_k)."
    let MixKey (inputKeyMaterial: byte[]) (state: SymmetricState) =
        let struct (ck, tempK) = Hkdf.hkdf2 state.suite.Hash state.ck inputKeyMaterial

        {
            state with
                ck = ck
                cs = keyed state.suite tempK
        }

    /// Noise §5.2 MixHash(data): "Sets h = HASH(h || data)."
    let MixHash (data: byte[]) (state: SymmetricState) = {
        state with
            h = Hkdf.hashConcat state.suite.Hash [ state.h; data ]
    }

    /// Noise §5.2 MixKeyAndHash(input_key_material): "Sets ck, temp_h, temp_k = HKDF(ck, input_key_material, 3).
    /// Calls MixHash(temp_h). If HASHLEN is 64, then truncates temp_k to 32 bytes. Calls InitializeKey(temp_k)."
    let MixKeyAndHash (inputKeyMaterial: byte[]) (state: SymmetricState) =
        let struct (ck, tempH, tempK) =
            Hkdf.hkdf3 state.suite.Hash state.ck inputKeyMaterial

        let mixed = MixHash tempH { state with ck = ck }

        {
            mixed with
                cs = keyed state.suite tempK
        }

    /// Noise §5.2 GetHandshakeHash(): "Returns h." A copy, so the caller cannot alter the state.
    let GetHandshakeHash (state: SymmetricState) = Array.copy state.h

    /// Whether the inner CipherState has a key (Noise §5.3 reads "s" as DHLEN + 16 bytes only then).
    let HasKey (state: SymmetricState) = CipherState.HasKey state.cs

    /// Bytes of tag that EncryptAndHash adds at this point (0 before the first MixKey).
    let tagLength (state: SymmetricState) = CipherState.ciphertextLength state.cs 0

    /// Noise §5.2 EncryptAndHash(plaintext): "Sets ciphertext = EncryptWithAd(h, plaintext), calls MixHash(ciphertext),
    /// and returns ciphertext. Note that if k is empty, the EncryptWithAd() call will set ciphertext equal to plaintext."
    let EncryptAndHash (plaintext: byte[]) (state: SymmetricState) =
        CipherState.encryptToArray state.cs state.h plaintext
        |> Result.map (fun struct (cs, ciphertext) -> struct (MixHash ciphertext { state with cs = cs }, ciphertext))

    /// Noise §5.2 DecryptAndHash(ciphertext): "Sets plaintext = DecryptWithAd(h, ciphertext), calls MixHash(ciphertext),
    /// and returns plaintext."
    let DecryptAndHash (ciphertext: byte[]) (state: SymmetricState) =
        CipherState.decryptToArray state.cs state.h ciphertext
        |> Result.map (fun struct (cs, plaintext) -> struct (MixHash ciphertext { state with cs = cs }, plaintext))

    /// Noise §5.2 Split(): "Sets temp_k1, temp_k2 = HKDF(ck, zerolen, 2). If HASHLEN is 64, then truncates temp_k1
    /// and temp_k2 to 32 bytes. Creates two new CipherState objects c1 and c2. Calls c1.InitializeKey(temp_k1) and
    /// c2.InitializeKey(temp_k2). Returns the pair (c1, c2)."
    let Split (state: SymmetricState) =
        let struct (tempK1, tempK2) = Hkdf.hkdf2 state.suite.Hash state.ck [||]
        struct (keyed state.suite tempK1, keyed state.suite tempK2)

    /// The key held by the inner CipherState, for its owner to dispose.
    let currentKey (state: SymmetricState) = CipherState.key state.cs
