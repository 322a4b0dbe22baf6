namespace HybridProtocol.Core.Noise

/// Noise §5.2 The SymmetricState object: "contains a CipherState plus ck and h variables".
/// An immutable value; every operation returns a new one.
/// See: https://noiseprotocol.org/noise.html#the-symmetricstate-object
[<NoComparison; NoEquality>]
type internal SymmetricState

module internal SymmetricState =

    /// Noise §5.2 InitializeSymmetric(protocol_name): "If protocol_name is less than or equal to HASHLEN bytes
    /// in length, sets h equal to protocol_name with zero bytes appended to make HASHLEN bytes. Otherwise sets
    /// h = HASH(protocol_name). Sets ck = h. Calls InitializeKey(empty)."
    val InitializeSymmetric: suite: HybridProtocol.Core.CryptoSuite -> protocolName: string -> SymmetricState

    /// Noise §5.2 MixKey(input_key_material): "Sets ck, temp_k = HKDF(ck, input_key_material, 2).
    /// If HASHLEN is 64, then truncates temp_k to 32 bytes. Calls InitializeKey(temp_k)."
    val MixKey: inputKeyMaterial: byte array -> state: SymmetricState -> SymmetricState

    /// Noise §5.2 MixHash(data): "Sets h = HASH(h || data)."
    val MixHash: data: byte array -> state: SymmetricState -> SymmetricState

    /// Noise §5.2 MixKeyAndHash(input_key_material): "Sets ck, temp_h, temp_k = HKDF(ck, input_key_material, 3).
    /// Calls MixHash(temp_h). If HASHLEN is 64, then truncates temp_k to 32 bytes. Calls InitializeKey(temp_k)."
    val MixKeyAndHash: inputKeyMaterial: byte array -> state: SymmetricState -> SymmetricState

    /// Noise §5.2 GetHandshakeHash(): "Returns h." A copy, so the caller cannot alter the state.
    val GetHandshakeHash: state: SymmetricState -> byte array

    /// Whether the inner CipherState has a key (Noise §5.3 reads "s" as DHLEN + 16 bytes only then).
    val HasKey: state: SymmetricState -> bool

    /// Bytes of tag that EncryptAndHash adds at this point (0 before the first MixKey).
    val tagLength: state: SymmetricState -> int

    /// Noise §5.2 EncryptAndHash(plaintext): "Sets ciphertext = EncryptWithAd(h, plaintext), calls MixHash(ciphertext),
    /// and returns ciphertext. Note that if k is empty, the EncryptWithAd() call will set ciphertext equal to plaintext."
    val EncryptAndHash:
        plaintext: byte array -> state: SymmetricState -> Result<struct (SymmetricState * byte array), NoiseError>

    /// EncryptAndHash written into `message` from `offset` (the handshake writes its message's fields in place);
    /// returns the new state and the offset after the ciphertext. `message` must have room for the ciphertext.
    val internal EncryptAndHashInto:
        plaintext: byte array ->
        message: byte array ->
        offset: int ->
        state: SymmetricState ->
            Result<struct (SymmetricState * int), NoiseError>

    /// Noise §5.2 DecryptAndHash(ciphertext): "Sets plaintext = DecryptWithAd(h, ciphertext), calls MixHash(ciphertext),
    /// and returns plaintext."
    val DecryptAndHash:
        ciphertext: byte array -> state: SymmetricState -> Result<struct (SymmetricState * byte array), NoiseError>

    /// DecryptAndHash over `length` bytes of `message` from `offset`, without copying them first (the handshake
    /// reads its message's fields in place).
    val internal DecryptSliceAndHash:
        message: byte array ->
        offset: int ->
        length: int ->
        state: SymmetricState ->
            Result<struct (SymmetricState * byte array), NoiseError>

    /// Noise §5.2 Split(): "Sets temp_k1, temp_k2 = HKDF(ck, zerolen, 2). If HASHLEN is 64, then truncates temp_k1
    /// and temp_k2 to 32 bytes. Creates two new CipherState objects c1 and c2. Calls c1.InitializeKey(temp_k1) and
    /// c2.InitializeKey(temp_k2). Returns the pair (c1, c2)."
    val Split: state: SymmetricState -> struct (CipherState * CipherState)

    /// The key held by the inner CipherState, for its owner to dispose.
    val currentKey: state: SymmetricState -> HybridProtocol.Core.IAeadKey voption
