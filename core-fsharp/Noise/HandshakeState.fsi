namespace HybridProtocol.Core.Noise

/// What the caller supplies to Noise §5.3 Initialize(handshake_pattern, initiator, prologue, s, e, rs, re),
/// plus the PSKs (§9). Ephemeral keys come in here: the core never generates a key.
[<NoComparison; NoEquality>]
type HandshakeParameters = {
    Protocol: ProtocolName
    Role: Role
    Prologue: byte array

    /// s: our static key pair, if the pattern uses one.
    LocalStatic: HybridProtocol.Core.DhKeyPair option

    /// e: our ephemeral key pair, made fresh by the caller for this handshake only.
    LocalEphemeral: HybridProtocol.Core.DhKeyPair option

    /// rs: the peer's static public key, if known in advance (pre-message).
    RemoteStatic: HybridProtocol.Core.DhPublicKey option

    /// re: the peer's ephemeral public key, if known in advance (pre-message; fallback patterns only).
    RemoteEphemeral: HybridProtocol.Core.DhPublicKey option

    /// 32-byte PSKs in the order the pattern's "psk" tokens consume them.
    Psks: byte array list
}

/// What the caller supplies for the Noise HFS tokens (HFS §4), beside HandshakeParameters. Like ephemeral DH
/// keys, the KEM's randomness comes in as arguments: the core stays deterministic and vectors are the normal path.
[<NoComparison; NoEquality>]
type KemParameters = {

    /// e1: our KEM key pair, GENERATE_KEM_KEYPAIR(seed) with a fresh SEEDLEN-byte seed the caller chose for this
    /// handshake only. Needed when the pattern has us send "e1"; the caller owns it and disposes it afterwards.
    LocalKemKeyPair: HybridProtocol.Core.KemKeyPair option

    /// The ENCAPSRANDOMNESSLEN fresh random bytes GENERATE_KEM_CIPHERTEXT uses when the pattern has us send
    /// "ekem1". The core never alters the array; the caller erases it when the handshake is over.
    EncapsulationRandomness: byte array option
}

module KemParameters =

    /// No KEM inputs: a classical handshake.
    val none: KemParameters

/// Noise §5.3 The HandshakeState object: "contains a SymmetricState plus DH variables (s, e, rs, re) and a
/// variable representing the handshake pattern". An immutable value. Its phase (whose turn it is) is derived
/// from the messages left; a finished handshake is no longer a HandshakeState but a TransportState.
/// See: https://noiseprotocol.org/noise.html#the-handshakestate-object
[<NoComparison; NoEquality>]
type HandshakeState

/// What the caller must do next with a HandshakeState.
type HandshakeTurn =
    | ShouldWrite
    | ShouldRead

/// The result of processing one handshake message.
[<NoComparison; NoEquality>]
type HandshakeStep =

    /// More handshake messages follow.
    | Continue of HandshakeState

    /// That was the last handshake message; Split() has run.
    | Complete of TransportState

module HandshakeState =

    /// Noise §5.3 Initialize(handshake_pattern, initiator, prologue, s, e, rs, re):
    /// "Derives a protocol_name byte sequence ... Calls InitializeSymmetric(protocol_name). Calls MixHash(prologue).
    /// Sets the initiator, s, e, rs, and re variables to the corresponding arguments. Calls MixHash() once for each
    /// public key listed in the pre-messages from handshake_pattern ... the initiator's public keys are hashed first."
    /// For an hfs pattern the KEM inputs come in `kem` (Noise HFS §4: "e1" needs our KEM key pair, "ekem1" the
    /// encapsulation randomness); `Initialize` is this with `KemParameters.none`.
    val InitializeWithKem:
        suite: HybridProtocol.Core.CryptoSuite ->
        parameters: HandshakeParameters ->
        kem: KemParameters ->
            Result<HandshakeState, NoiseError>

    /// Noise §5.3 Initialize for a classical pattern (an hfs pattern is refused: it needs `InitializeWithKem`).
    val Initialize:
        suite: HybridProtocol.Core.CryptoSuite -> parameters: HandshakeParameters -> Result<HandshakeState, NoiseError>

    /// Whose turn it is.
    val Turn: state: HandshakeState -> HandshakeTurn

    /// Noise §5.2 GetHandshakeHash() of the inner SymmetricState.
    val GetHandshakeHash: state: HandshakeState -> byte array

    /// rs: the peer's static public key once known (in advance, or after reading its "s" token).
    /// Check it before sending anything that should go only to an authenticated peer.
    val RemoteStatic: state: HandshakeState -> HybridProtocol.Core.DhPublicKey option

    /// re: the peer's ephemeral public key once read.
    val RemoteEphemeral: state: HandshakeState -> HybridProtocol.Core.DhPublicKey option

    val Role: state: HandshakeState -> Role

    val Protocol: state: HandshakeState -> ProtocolName

    /// Index of the next handshake message (0 is the initiator's first).
    val MessageIndex: state: HandshakeState -> int

    /// The key held by the inner CipherState, for its owner to dispose once the state is dropped.
    val currentKey: state: HandshakeState -> HybridProtocol.Core.IAeadKey voption

    /// Noise §5.3 WriteMessage(payload, message_buffer): "Fetches and deletes the next message pattern from
    /// message_patterns, then sequentially processes each token from the message pattern", then
    /// "Appends EncryptAndHash(payload) to the buffer. If there are no more message patterns returns two new
    /// CipherState objects by calling Split()."
    val WriteMessage:
        payload: byte array -> state: HandshakeState -> Result<struct (byte array * HandshakeStep), NoiseError>

    /// WriteMessage into a new array that starts with `room` zero bytes (the caller's framing goes there, so the
    /// message is not copied again).
    val internal WriteMessageAfter:
        room: int ->
        payload: byte array ->
        state: HandshakeState ->
            Result<struct (byte array * HandshakeStep), NoiseError>

    /// Noise §5.3 ReadMessage(message, payload_buffer): "Fetches and deletes the next message pattern from
    /// message_patterns, then sequentially processes each token from the message pattern", then
    /// "Calls DecryptAndHash() on the remaining bytes of the message and stores the output into payload_buffer.
    /// If there are no more message patterns returns two new CipherState objects by calling Split()."
    /// Any failure means the handshake has failed: §5.3 "the HandshakeState is deleted"; the caller must drop it.
    val ReadMessage:
        message: byte array -> state: HandshakeState -> Result<struct (byte array * HandshakeStep), NoiseError>

    /// ReadMessage over the `messageLength` bytes of `message` from `start` (a frame read in place, not copied out).
    val internal ReadMessageIn:
        message: byte array ->
        start: int ->
        messageLength: int ->
        state: HandshakeState ->
            Result<struct (byte array * HandshakeStep), NoiseError>
