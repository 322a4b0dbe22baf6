namespace HybridProtocol.Core.Noise

/// What a finished handshake hands to the transport phase: the two CipherStates from Split(),
/// assigned to directions by role, plus what the handshake established.
/// Noise §5.3: after the last handshake message "the initiator uses the first CipherState c1 for encryption and
/// the second c2 for decryption; the responder the reverse". One-way patterns (§7.4) leave the recipient
/// with no sending CipherState and the sender with no receiving one.
/// Like snow's `TransportState`, it can only be made by completing a HandshakeState.
[<NoComparison; NoEquality>]
type TransportState = {
    Role: Role

    /// Encrypts what we send (ValueNone for the recipient of a one-way pattern).
    Send: CipherState voption

    /// Decrypts what we receive (ValueNone for the sender of a one-way pattern).
    Receive: CipherState voption

    /// Noise §5.2 GetHandshakeHash() at the end of the handshake (channel binding, §11.2).
    HandshakeHash: byte array

    /// The peer's static public key, if the pattern gave us one.
    RemoteStatic: HybridProtocol.Core.DhPublicKey option
}

module TransportState =

    /// Noise §5.3: after the handshake, transport messages are "EncryptWithAd(zerolen, payload)" with the
    /// sending CipherState. Writes payload.Length + TAGLEN bytes into `message`; in place is allowed.
    val WriteMessage:
        state: CipherState voption * payload: System.ReadOnlySpan<byte> * message: System.Span<byte> ->
            Result<CipherState, NoiseError>

    /// Noise §5.3: transport messages are read with "DecryptWithAd(zerolen, message)" on the receiving CipherState.
    val ReadMessage:
        state: CipherState voption * message: System.ReadOnlySpan<byte> * payload: System.Span<byte> ->
            Result<CipherState, NoiseError>

    /// Encrypts one transport message into a new array and returns the transport state to use next.
    val writeMessage:
        payload: byte array -> transport: TransportState -> Result<struct (TransportState * byte array), NoiseError>

    /// Decrypts one transport message into a new array and returns the transport state to use next.
    val readMessage:
        message: byte array -> transport: TransportState -> Result<struct (TransportState * byte array), NoiseError>
