namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core

[<NoComparison; NoEquality>]
type ReceiveEnd =
    | Receiving
    | PeerClosedCleanly
    | ReceiveFailed of WireError

[<Struct; NoComparison; NoEquality>]
type SendHalf = private {
    layer: RecordLayer
} with

    member this.Closed = this.layer.SendClosed
    member this.MaxRecordData = this.layer.Limits.MaxRecordData
    member this.PeerMaxMessageSize = this.layer.Limits.PeerMaxMessageSize
    member this.Nonce = this.layer.SendNonce
    member this.Key = this.layer.SendKey

[<Struct; NoComparison; NoEquality>]
type ReceiveHalf = private {
    layer: RecordLayer
    ended: ReceiveEnd
} with

    member this.End = this.ended
    member this.LocalMaxMessageSize = this.layer.Limits.LocalMaxMessageSize
    member this.Nonce = this.layer.ReceiveNonce
    member this.Key = this.layer.ReceiveKey

[<Struct; NoComparison; NoEquality>]
type SendOutcome =
    | Wrote of Half: SendHalf * Written: int * Consumed: int * Finished: bool * Retired: IAeadKey voption
    | NeedRoom of Needed: int
    | SendRefused of Refusal: WireError
    | SendFailed of Error: WireError * Reply: CloseReason voption

[<Struct; NoComparison; NoEquality>]
type ReceiveEvent =
    | NeedData
    | NeedSpace of Needed: int
    | MessageEnd
    | KeyRetired of Key: IAeadKey voption
    | PeerClosed of Answer: CloseReason
    | Fatal of Error: WireError * Reply: CloseReason voption

[<Struct; NoComparison; NoEquality>]
type Received = {
    Half: ReceiveHalf
    Consumed: int
    Written: int
    Event: ReceiveEvent
}

[<Struct; NoComparison; NoEquality>]
type IdleVerdict =
    | Active of Remaining: int64
    | IdleExpired of Reason: CloseReason * IdleError: WireError

[<Struct; NoComparison; NoEquality>]
type Traffic = { Send: SendHalf; Receive: ReceiveHalf }

module Traffic =
    let Create (layer: RecordLayer) : Traffic = {
        Send = { layer = layer }
        Receive = { layer = layer; ended = Receiving }
    }

    let CloseReasonFor (error: WireError) =
        match error with
        | MessageTooLarge _ -> CloseReason.MessageTooLarge
        | PeerKeyRejected
        | PeerKeyRevoked -> CloseReason.AuthenticationFailed
        | EndorsementRefused _ -> CloseReason.AuthenticationFailed
        | ApplicationProtocolMismatch _ -> CloseReason.ApplicationProtocolMismatch
        | IdleTimeout _ -> CloseReason.IdleTimeout
        | _ -> CloseReason.ProtocolViolation

    let Keys (send: SendHalf, receive: ReceiveHalf) : IAeadKey list =
        [ send.layer.SendKey; receive.layer.ReceiveKey ]
        |> List.choose ValueOption.toOption

    let Idle (lastActivity: int64, now: int64, timeout: int64) : IdleVerdict =
        let elapsed = now - lastActivity

        if timeout <= 0L then
            Active Int64.MaxValue
        elif elapsed >= timeout then
            IdleExpired(CloseReason.IdleTimeout, IdleTimeout timeout)
        else
            Active(timeout - elapsed)

module SendHalf =
    /// One byte per reason, so a Close's data is a slice and sealing it allocates nothing.
    let private reasonBytes = Array.init 256 byte

    let private closeData (reason: CloseReason) =
        if reason = CloseReason.Normal then
            ReadOnlySpan<byte>.Empty
        else
            ReadOnlySpan(reasonBytes, int reason, 1)

    let ControlLength (half: SendHalf) = RecordLayer.RecordLength(half.layer, 1)

    let MessageLength (half: SendHalf, messageLength: int) =
        let size = half.layer.Limits.MaxRecordData
        let records = max 1L ((int64 messageLength + int64 size - 1L) / int64 size)

        records * int64 (RecordLayer.MaxSealLength(half.layer, min size messageLength))

    let RecordRoom (half: SendHalf, messageLength: int) =
        RecordLayer.MaxSealLength(half.layer, min half.layer.Limits.MaxRecordData messageLength)

    let Message (half: SendHalf, message: ReadOnlySpan<byte>, offset: int, destination: Span<byte>) : SendOutcome =
        let limits = half.layer.Limits

        if half.layer.SendClosed then
            SendRefused ConnectionClosed
        elif offset = 0 && message.Length > limits.PeerMaxMessageSize then
            SendRefused(MessageTooLarge(int64 message.Length, int64 limits.PeerMaxMessageSize))
        elif offset < 0 || offset > message.Length then
            SendRefused(BufferTooSmall message.Length)
        else
            let mutable layer = half.layer
            let mutable written = 0
            let mutable offset = offset
            let mutable finished = false
            let mutable retired = ValueNone
            let mutable refusal = ValueNone
            let mutable needed = 0
            let mutable go = true

            while go do
                let length = min limits.MaxRecordData (message.Length - offset)
                let room = RecordLayer.MaxSealLength(layer, length)

                if written + room > destination.Length then
                    needed <- room
                    go <- false
                else
                    let recordType =
                        if offset + length = message.Length then
                            RecordType.EndOfMessage
                        else
                            RecordType.Data

                    match
                        RecordLayer.Seal(layer, recordType, message.Slice(offset, length), destination.Slice written)
                    with
                    | Error e ->
                        refusal <- ValueSome e
                        go <- false
                    | Ok s ->
                        layer <- s.Layer
                        written <- written + s.BytesWritten
                        offset <- offset + length
                        finished <- recordType = RecordType.EndOfMessage
                        retired <- s.RetiredKey
                        go <- not finished && s.RetiredKey.IsNone

            match refusal with
            | ValueSome e when written = 0 && offset = 0 -> SendRefused e
            | ValueSome e when written = 0 -> SendFailed(e, ValueSome(Traffic.CloseReasonFor e))
            | _ when written = 0 -> NeedRoom needed
            | _ -> Wrote({ layer = layer }, written, offset, finished, retired)

    let private sealEmpty (half: SendHalf, recordType: RecordType, data: ReadOnlySpan<byte>, destination: Span<byte>) =
        if half.layer.SendClosed then
            SendRefused ConnectionClosed
        else
            let needed = RecordLayer.RecordLength(half.layer, data.Length)

            if destination.Length < needed then
                NeedRoom needed
            else
                match RecordLayer.Seal(half.layer, recordType, data, destination) with
                | Error e -> SendRefused e
                | Ok s -> Wrote({ layer = s.Layer }, s.BytesWritten, 0, true, s.RetiredKey)

    let Close (half: SendHalf, reason: CloseReason, destination: Span<byte>) : SendOutcome =
        sealEmpty (half, RecordType.Close, closeData reason, destination)

    let UpdateKey (half: SendHalf, destination: Span<byte>) : SendOutcome =
        sealEmpty (half, RecordType.KeyUpdate, ReadOnlySpan.Empty, destination)

module ReceiveHalf =
    // Noise §13 "Session termination": the peer's authenticated end of stream is answered with ours, a Close
    // of reason Normal (specs/PROTOCOL.md §5 "Close").
    let private peerClosed = PeerClosed CloseReason.Normal

    let private result half consumed written event = {
        Half = half
        Consumed = consumed
        Written = written
        Event = event
    }

    let private failed (half: ReceiveHalf) consumed written (error: WireError) =
        result
            {
                half with
                    ended = ReceiveFailed error
            }
            consumed
            written
            (Fatal(error, ValueSome(Traffic.CloseReasonFor error)))

    let Receive (half: ReceiveHalf, input: Span<byte>, destination: Span<byte>, filled: int) : Received =
        match half.ended with
        | PeerClosedCleanly -> result half 0 filled peerClosed
        | ReceiveFailed e -> result half 0 filled (Fatal(e, ValueNone))
        | Receiving ->
            let tagLength = half.layer.TagLength
            let mutable layer = half.layer
            let mutable consumed = 0
            let mutable filled = filled
            let mutable outcome = ValueNone

            while outcome.IsNone do
                let available = input.Slice consumed
                let current = { half with layer = layer }

                match Frame.TryReadHeader(Span<byte>.op_Implicit available, Frame.MaxLength) with
                | Error e -> outcome <- ValueSome(failed current consumed filled e)
                | Ok ValueNone -> outcome <- ValueSome(result current consumed filled NeedData)
                | Ok(ValueSome length) when available.Length < Frame.HeaderLength + length ->
                    outcome <- ValueSome(result current consumed filled NeedData)
                | Ok(ValueSome length) ->
                    let body = available.Slice(Frame.HeaderLength, length)
                    let plaintextLength = max 0 (length - tagLength)
                    let room = destination.Length - filled
                    let direct = room >= plaintextLength

                    if not direct && room < plaintextLength - Record.TypeLength then
                        outcome <- ValueSome(result current consumed filled (NeedSpace(filled + plaintextLength - 1)))
                    else
                        let into =
                            if direct then
                                destination.Slice(filled, plaintextLength)
                            else
                                body.Slice(0, plaintextLength)

                        match RecordLayer.Open(layer, Span<byte>.op_Implicit body, into) with
                        | Error e ->
                            into.Clear()
                            outcome <- ValueSome(failed current consumed filled e)
                        | Ok opened ->
                            layer <- opened.Layer
                            consumed <- consumed + Frame.HeaderLength + length
                            let data = into.Slice(0, opened.DataLength)

                            match opened.Type with
                            | RecordType.Data
                            | RecordType.EndOfMessage ->
                                if direct then
                                    into.Slice(opened.DataLength).Clear()
                                else
                                    data.CopyTo(destination.Slice filled)
                                    into.Clear()

                                filled <- filled + opened.DataLength

                                if opened.Type = RecordType.EndOfMessage then
                                    outcome <- ValueSome(result { half with layer = layer } consumed filled MessageEnd)
                            | RecordType.KeyUpdate ->
                                into.Clear()

                                outcome <-
                                    ValueSome(
                                        result
                                            { half with layer = layer }
                                            consumed
                                            filled
                                            (KeyRetired opened.RetiredKey)
                                    )
                            | _ ->
                                let reason = opened.CloseReason
                                into.Clear()

                                outcome <-
                                    if reason = CloseReason.Normal then
                                        ValueSome(
                                            result
                                                {
                                                    layer = layer
                                                    ended = PeerClosedCleanly
                                                }
                                                consumed
                                                filled
                                                peerClosed
                                        )
                                    else
                                        let error = ClosedByPeer reason

                                        ValueSome(
                                            result
                                                {
                                                    layer = layer
                                                    ended = ReceiveFailed error
                                                }
                                                consumed
                                                filled
                                                (Fatal(error, ValueNone))
                                        )

            outcome.Value

    let EndOfInput (half: ReceiveHalf) : Received =
        match half.ended with
        | PeerClosedCleanly -> result half 0 0 peerClosed
        | ReceiveFailed e -> result half 0 0 (Fatal(e, ValueNone))
        | Receiving ->
            result
                {
                    half with
                        ended = ReceiveFailed Truncated
                }
                0
                0
                (Fatal(Truncated, ValueNone))
