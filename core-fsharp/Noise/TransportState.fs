namespace HybridProtocol.Core.Noise

open System
open HybridProtocol.Core

[<NoComparison; NoEquality>]
type TransportState = {
    Role: Role
    Send: CipherState voption
    Receive: CipherState voption
    HandshakeHash: byte[]
    RemoteStatic: DhPublicKey option
}

module TransportState =
    let WriteMessage (state: CipherState voption, payload: ReadOnlySpan<byte>, message: Span<byte>) =
        match state with
        | ValueNone -> Error(State OneWayDirection)
        | ValueSome cs when CipherState.ciphertextLength cs payload.Length > Limits.MaxMessageLength ->
            Error(Input(MessageTooLong(CipherState.ciphertextLength cs payload.Length)))
        | ValueSome cs -> CipherState.EncryptWithAd(cs, ReadOnlySpan.Empty, payload, message)

    let ReadMessage (state: CipherState voption, message: ReadOnlySpan<byte>, payload: Span<byte>) =
        match state with
        | ValueNone -> Error(State OneWayDirection)
        | ValueSome _ when message.Length > Limits.MaxMessageLength -> Error(Input(MessageTooLong message.Length))
        | ValueSome cs -> CipherState.DecryptWithAd(cs, ReadOnlySpan.Empty, message, payload)

    let writeMessage (payload: byte[]) (transport: TransportState) =
        match transport.Send with
        | ValueNone -> Error(State OneWayDirection)
        | ValueSome cs when CipherState.ciphertextLength cs payload.Length > Limits.MaxMessageLength ->
            Error(Input(MessageTooLong(CipherState.ciphertextLength cs payload.Length)))
        | ValueSome cs ->
            CipherState.encryptToArray cs [||] payload
            |> Result.map (fun struct (next, message) -> struct ({ transport with Send = ValueSome next }, message))

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
