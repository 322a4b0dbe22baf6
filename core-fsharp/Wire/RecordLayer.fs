namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core
open HybridProtocol.Core.Noise

[<Struct>]
type RekeyPolicy = {
    AfterRecords: int64
    AfterBytes: int64
}

module RekeyPolicy =
    let Default = {
        AfterRecords = 1L <<< 20
        AfterBytes = 1L <<< 30
    }

[<Struct>]
type RecordLimits = {
    MaxRecordData: int
    LocalMaxMessageSize: int
    PeerMaxMessageSize: int
    Rekey: RekeyPolicy
}

[<Struct; NoComparison; NoEquality>]
type RecordLayer = private {
    send: CipherState
    receive: CipherState
    tagLength: int
    limits: RecordLimits
    sentRecords: int64
    sentBytes: int64
    outgoingMessage: int64
    incomingMessage: int64
    sendClosed: bool
    receiveClosed: bool
} with

    member this.Limits = this.limits
    member this.TagLength = this.tagLength
    member this.SendNonce = CipherState.nonce this.send |> ValueOption.defaultValue 0UL

    member this.ReceiveNonce =
        CipherState.nonce this.receive |> ValueOption.defaultValue 0UL

    member this.SendKey = CipherState.key this.send
    member this.ReceiveKey = CipherState.key this.receive
    member this.SendClosed = this.sendClosed
    member this.ReceiveClosed = this.receiveClosed
    member this.IncomingMessageLength = this.incomingMessage

[<Struct; NoComparison; NoEquality>]
type Sealed = {
    Layer: RecordLayer
    BytesWritten: int
    RetiredKey: IAeadKey voption
}

[<Struct; NoComparison; NoEquality>]
type Opened = {
    Layer: RecordLayer
    Type: RecordType
    DataLength: int
    CloseReason: CloseReason
    RetiredKey: IAeadKey voption
}

module RecordLayer =
    let maxRecordDataFor (tagLength: int) =
        Frame.MaxLength - Record.TypeLength - tagLength

    let Create (transport: TransportState, limits: RecordLimits) : Result<RecordLayer, WireError> =
        match transport.Send, transport.Receive with
        | ValueSome send, ValueSome receive ->
            let tagLength = CipherState.ciphertextLength send 0

            if limits.MaxRecordData < 1 || limits.MaxRecordData > maxRecordDataFor tagLength then
                Error(InvalidConfig(RecordDataOutOfRange(limits.MaxRecordData, maxRecordDataFor tagLength)))
            elif limits.LocalMaxMessageSize < 1 then
                Error(InvalidConfig(MessageSizeOutOfRange limits.LocalMaxMessageSize))
            elif limits.PeerMaxMessageSize < 1 then
                Error(InvalidConfig(MessageSizeOutOfRange limits.PeerMaxMessageSize))
            elif limits.Rekey.AfterRecords < 1L || limits.Rekey.AfterBytes < 1L then
                Error(InvalidConfig(RekeyIntervalOutOfRange(limits.Rekey.AfterRecords, limits.Rekey.AfterBytes)))
            else
                Ok {
                    send = send
                    receive = receive
                    tagLength = tagLength
                    limits = limits
                    sentRecords = 0L
                    sentBytes = 0L
                    outgoingMessage = 0L
                    incomingMessage = 0L
                    sendClosed = false
                    receiveClosed = false
                }
        | _ -> Error(Noise(State OneWayDirection))

    let RecordLength (layer: RecordLayer, dataLength: int) =
        Frame.HeaderLength + dataLength + Record.TypeLength + layer.tagLength

    let MaxSealLength (layer: RecordLayer, dataLength: int) =
        RecordLength(layer, dataLength) + RecordLength(layer, 0)

    let OpenLength (layer: RecordLayer, frameBodyLength: int) =
        max 0 (frameBodyLength - layer.tagLength)

    let Keys (layer: RecordLayer) : IAeadKey list =
        [ CipherState.key layer.send; CipherState.key layer.receive ]
        |> List.choose ValueOption.toOption

    /// Encrypts one framed record into `destination` without any checks beyond the AEAD's own
    /// (Noise §5.3: transport messages are "EncryptWithAd(zerolen, payload)").
    let private sealOne
        (send: CipherState, tagLength: int, recordType: RecordType, data: ReadOnlySpan<byte>, destination: Span<byte>)
        =
        let plaintextLength = data.Length + Record.TypeLength
        Frame.WriteHeader(plaintextLength + tagLength, destination)
        let body = destination.Slice(Frame.HeaderLength, plaintextLength + tagLength)
        data.CopyTo body
        body[data.Length] <- byte recordType

        CipherState.EncryptWithAd(
            send,
            ReadOnlySpan.Empty,
            Span<byte>.op_Implicit(body.Slice(0, plaintextLength)),
            body
        )

    /// Noise §11.3 Rekey() on the sending side: returns the new CipherState and the key it replaced.
    let private rekey (state: CipherState) =
        struct (CipherState.Rekey state, CipherState.key state)

    let Seal
        (layer: RecordLayer, recordType: RecordType, data: ReadOnlySpan<byte>, destination: Span<byte>)
        : Result<Sealed, WireError> =
        let isData = recordType = RecordType.Data || recordType = RecordType.EndOfMessage

        let messageLength =
            if isData then
                layer.outgoingMessage + int64 data.Length
            else
                0L

        let autoRekey =
            isData
            && (layer.sentRecords + 1L >= layer.limits.Rekey.AfterRecords
                || layer.sentBytes + int64 data.Length >= layer.limits.Rekey.AfterBytes)

        let needed =
            RecordLength(layer, data.Length)
            + (if autoRekey then RecordLength(layer, 0) else 0)

        match Record.Check(recordType, data.Length) with
        | Error e -> Error e
        | Ok() when layer.sendClosed -> Error ConnectionClosed
        | Ok() when data.Length > layer.limits.MaxRecordData ->
            Error(MessageTooLarge(int64 data.Length, int64 layer.limits.MaxRecordData))
        | Ok() when messageLength > int64 layer.limits.PeerMaxMessageSize ->
            Error(MessageTooLarge(messageLength, int64 layer.limits.PeerMaxMessageSize))
        | Ok() when destination.Length < needed -> Error(BufferTooSmall needed)
        | Ok() ->
            match sealOne (layer.send, layer.tagLength, recordType, data, destination) with
            | Error e -> Error(Noise e)
            | Ok send ->
                let written = RecordLength(layer, data.Length)

                let layer = {
                    layer with
                        send = send
                        sentRecords = layer.sentRecords + 1L
                        sentBytes = layer.sentBytes + int64 data.Length
                        outgoingMessage = if recordType = RecordType.Data then messageLength else 0L
                        sendClosed = recordType = RecordType.Close
                }

                if recordType = RecordType.KeyUpdate then
                    let struct (send, retired) = rekey layer.send

                    Ok {
                        Layer = {
                            layer with
                                send = send
                                sentRecords = 0L
                                sentBytes = 0L
                        }
                        BytesWritten = written
                        RetiredKey = retired
                    }
                elif autoRekey then
                    match
                        sealOne (
                            layer.send,
                            layer.tagLength,
                            RecordType.KeyUpdate,
                            ReadOnlySpan.Empty,
                            destination.Slice written
                        )
                    with
                    | Error e -> Error(Noise e)
                    | Ok send ->
                        let struct (send, retired) = rekey send

                        Ok {
                            Layer = {
                                layer with
                                    send = send
                                    sentRecords = 0L
                                    sentBytes = 0L
                            }
                            BytesWritten = written + RecordLength(layer, 0)
                            RetiredKey = retired
                        }
                else
                    Ok {
                        Layer = layer
                        BytesWritten = written
                        RetiredKey = ValueNone
                    }

    let Open (layer: RecordLayer, frameBody: ReadOnlySpan<byte>, destination: Span<byte>) : Result<Opened, WireError> =
        let plaintextLength = frameBody.Length - layer.tagLength

        if frameBody.Length > Frame.MaxLength then
            Error(Malformed(FrameTooLong(frameBody.Length, Frame.MaxLength)))
        elif plaintextLength < Record.TypeLength then
            Error(Malformed(RecordTooShort frameBody.Length))
        elif destination.Length < plaintextLength then
            Error(BufferTooSmall plaintextLength)
        else
            match CipherState.DecryptWithAd(layer.receive, ReadOnlySpan.Empty, frameBody, destination) with
            | Error e -> Error(Noise e)
            | Ok receive ->
                match Record.Parse(Span<byte>.op_Implicit(destination.Slice(0, plaintextLength))) with
                | Error e -> Error e
                | Ok(struct (recordType, _)) when layer.receiveClosed ->
                    // Noise §13 "Session termination": nothing follows the peer's Close in its direction.
                    destination.Slice(0, plaintextLength).Clear()
                    Error(UnexpectedRecord recordType)
                | Ok(struct (recordType, dataLength)) ->
                    let layer = { layer with receive = receive }

                    // No closures here: this is the per-record path and must not allocate.
                    let struct (next, reason, retired, error) =
                        match recordType with
                        | RecordType.Data
                        | RecordType.EndOfMessage ->
                            let total = layer.incomingMessage + int64 dataLength

                            if total > int64 layer.limits.LocalMaxMessageSize then
                                struct (layer,
                                        CloseReason.Normal,
                                        ValueNone,
                                        ValueSome(MessageTooLarge(total, int64 layer.limits.LocalMaxMessageSize)))
                            else
                                let incoming = if recordType = RecordType.Data then total else 0L

                                struct ({
                                            layer with
                                                incomingMessage = incoming
                                        },
                                        CloseReason.Normal,
                                        ValueNone,
                                        ValueNone)
                        | RecordType.KeyUpdate ->
                            let struct (receive, retired) = rekey layer.receive
                            struct ({ layer with receive = receive }, CloseReason.Normal, retired, ValueNone)
                        | _ ->
                            let reason =
                                Record.CloseReasonOf(Span<byte>.op_Implicit(destination.Slice(0, dataLength)))

                            struct ({ layer with receiveClosed = true }, reason, ValueNone, ValueNone)

                    match error with
                    | ValueSome e ->
                        destination.Slice(0, plaintextLength).Clear()
                        Error e
                    | ValueNone ->
                        Ok {
                            Layer = next
                            Type = recordType
                            DataLength = dataLength
                            CloseReason = reason
                            RetiredKey = retired
                        }
