namespace HybridProtocol.Core.Noise

open System
open HybridProtocol.Core

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
    HandshakeHash: byte[]
    /// The peer's static public key, if the pattern gave us one.
    RemoteStatic: DhPublicKey option
}

module TransportState =
    /// Noise §5.3: after the handshake, transport messages are "EncryptWithAd(zerolen, payload)" with the
    /// sending CipherState. Writes payload.Length + TAGLEN bytes into `message`; in place is allowed.
    let WriteMessage (state: CipherState voption, payload: ReadOnlySpan<byte>, message: Span<byte>) =
        match state with
        | ValueNone -> Error(State OneWayDirection)
        | ValueSome cs when CipherState.ciphertextLength cs payload.Length > Limits.MaxMessageLength ->
            Error(Input(MessageTooLong(CipherState.ciphertextLength cs payload.Length)))
        | ValueSome cs -> CipherState.EncryptWithAd(cs, ReadOnlySpan.Empty, payload, message)

    /// Noise §5.3: transport messages are read with "DecryptWithAd(zerolen, message)" on the receiving CipherState.
    let ReadMessage (state: CipherState voption, message: ReadOnlySpan<byte>, payload: Span<byte>) =
        match state with
        | ValueNone -> Error(State OneWayDirection)
        | ValueSome _ when message.Length > Limits.MaxMessageLength -> Error(Input(MessageTooLong message.Length))
        | ValueSome cs -> CipherState.DecryptWithAd(cs, ReadOnlySpan.Empty, message, payload)

    /// Encrypts one transport message into a new array and returns the transport state to use next.
    let writeMessage (payload: byte[]) (transport: TransportState) =
        match transport.Send with
        | ValueNone -> Error(State OneWayDirection)
        | ValueSome cs when CipherState.ciphertextLength cs payload.Length > Limits.MaxMessageLength ->
            Error(Input(MessageTooLong(CipherState.ciphertextLength cs payload.Length)))
        | ValueSome cs ->
            CipherState.encryptToArray cs [||] payload
            |> Result.map (fun struct (next, message) -> struct ({ transport with Send = ValueSome next }, message))

    /// Decrypts one transport message into a new array and returns the transport state to use next.
    let readMessage (message: byte[]) (transport: TransportState) =
        match transport.Receive with
        | ValueNone -> Error(State OneWayDirection)
        | ValueSome _ when message.Length > Limits.MaxMessageLength -> Error(Input(MessageTooLong message.Length))
        | ValueSome cs ->
            CipherState.decryptToArray cs [||] message
            |> Result.map (fun struct (next, payload) ->
                struct ({
                            transport with
                                Receive = ValueSome next
                        },
                        payload))
