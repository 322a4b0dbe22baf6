/// The transport engine (specs/PROTOCOL.md §5 and §8 "Driving the engine"): every rule of the transport
/// phase, once, for every driver (the `Connection` state machine and the C# `SecureConnection`). It
/// fragments messages into Data/EndOfMessage records, reassembles them into a buffer the caller owns and
/// enforces the message limit, updates keys (on request and automatically), runs the Close exchange in
/// both directions, turns an end of input without Close into `Truncated`, picks the Close reason after a
/// failure, and parses frames within their bounds.
///
/// Two halves, so one thread can send while another receives: `SendHalf` only seals, `ReceiveHalf` only
/// opens. Both are struct values (the next value is returned, as rustls's unbuffered API and quinn-proto's
/// `poll_transmit` return what to do next); no function here allocates per record.
///
///     send:     SendHalf.Message(half, message, offset, destination) -> Wrote | NeedRoom | SendRefused
///     receive:  ReceiveHalf.Receive(half, input, destination, filled) -> { Half; Consumed; Written; Event }
///               Event = NeedData | NeedSpace | MessageEnd | KeyRetired | PeerClosed | Fatal (error, reply)
namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core

/// How the receive direction stands.
[<NoComparison; NoEquality>]
type ReceiveEnd =
    /// Records may arrive.
    | Receiving
    /// The peer's authenticated Close (Normal) arrived: nothing more comes.
    | PeerClosedCleanly
    /// The direction failed with this error (terminal).
    | ReceiveFailed of WireError

/// The sending half of the transport: the sending CipherState of a record layer and its counters.
[<Struct; NoComparison; NoEquality>]
type SendHalf = private {
    layer: RecordLayer
} with

    /// Whether this end's Close has been sealed (nothing more can be sent).
    member this.Closed = this.layer.SendClosed
    /// The most data one record carries.
    member this.MaxRecordData = this.layer.Limits.MaxRecordData
    /// The largest message the peer accepts.
    member this.PeerMaxMessageSize = this.layer.Limits.PeerMaxMessageSize
    /// The next sending nonce (for tests).
    member this.Nonce = this.layer.SendNonce
    /// The current sending key.
    member this.Key = this.layer.SendKey

/// The receiving half: the receiving CipherState, the size of the message being reassembled, and how the
/// direction stands.
[<Struct; NoComparison; NoEquality>]
type ReceiveHalf = private {
    layer: RecordLayer
    ended: ReceiveEnd
} with

    /// How the receive direction stands.
    member this.End = this.ended
    /// The largest message this end accepts.
    member this.LocalMaxMessageSize = this.layer.Limits.LocalMaxMessageSize
    /// The next receiving nonce (for tests).
    member this.Nonce = this.layer.ReceiveNonce
    /// The current receiving key.
    member this.Key = this.layer.ReceiveKey

/// What a send call produced.
[<Struct; NoComparison; NoEquality>]
type SendOutcome =
    /// `Written` bytes at the start of the destination are framed records to transmit as they are; the
    /// message is sealed up to offset `Consumed` (pass it as the next `offset`); `Finished` when its last
    /// record is among them. `Retired` is a sending key replaced by a key update: dispose it.
    | Wrote of Half: SendHalf * Written: int * Consumed: int * Finished: bool * Retired: IAeadKey voption
    /// The destination cannot hold the next record: give at least `Needed` bytes.
    | NeedRoom of Needed: int
    /// Nothing was sealed and the half is unchanged (a message over the peer's limit, a send after Close).
    | SendRefused of Refusal: WireError

/// What the receive half asks its driver to do next.
[<Struct; NoComparison; NoEquality>]
type ReceiveEvent =
    /// Every complete record was consumed: read more bytes and call again with what was not consumed.
    | NeedData
    /// The next record's data may need `Needed` bytes of destination (counted from its start); nothing of
    /// that record was consumed. Call again with a larger destination.
    | NeedSpace of Needed: int
    /// The destination's first `Written` bytes are a whole message, every record of it authenticated.
    | MessageEnd
    /// A KeyUpdate record replaced the receiving key: dispose `Key`, then call again.
    | KeyRetired of Key: IAeadKey voption
    /// The peer's authenticated Close (Normal): answer with `SendHalf.Close` unless already closed.
    | PeerClosed
    /// The receive direction failed (terminal). When `Reply` has a value, tell the peer why with
    /// `SendHalf.Close(reply)` (if this end has not closed yet).
    | Fatal of Error: WireError * Reply: CloseReason voption

/// What `ReceiveHalf.Receive` did: the next half, the input bytes it consumed (whole records), how many
/// bytes of the message are in the destination now, and what to do next.
[<Struct; NoComparison; NoEquality>]
type Received = {
    Half: ReceiveHalf
    Consumed: int
    Written: int
    Event: ReceiveEvent
}

/// An idle connection's verdict (time is the caller's: any monotonic clock, in milliseconds).
[<Struct; NoComparison; NoEquality>]
type IdleVerdict =
    /// Still within the idle timeout: check again after `Remaining` milliseconds at the latest.
    | Active of Remaining: int64
    /// No record crossed for the whole idle timeout: close with `Reason` and fail with `IdleError`.
    | IdleExpired of Reason: CloseReason * IdleError: WireError

/// Both halves of a transport that has just started.
[<Struct; NoComparison; NoEquality>]
type Traffic = { Send: SendHalf; Receive: ReceiveHalf }

module Traffic =
    /// Both halves over a record layer fresh from a handshake.
    let Create (layer: RecordLayer) : Traffic = {
        Send = { layer = layer }
        Receive = { layer = layer; ended = Receiving }
    }

    /// The Close reason that tells the peer why this end fails (specs/PROTOCOL.md §5 "Close").
    let CloseReasonFor (error: WireError) =
        match error with
        | MessageTooLarge _ -> CloseReason.MessageTooLarge
        | PeerKeyRejected -> CloseReason.AuthenticationFailed
        | ApplicationProtocolMismatch _ -> CloseReason.ApplicationProtocolMismatch
        | IdleTimeout _ -> CloseReason.IdleTimeout
        | _ -> CloseReason.ProtocolViolation

    /// Every key the two halves hold, for their owner to dispose when the connection ends.
    let Keys (send: SendHalf, receive: ReceiveHalf) : IAeadKey list =
        [ send.layer.SendKey; receive.layer.ReceiveKey ]
        |> List.choose ValueOption.toOption

    /// The idle rule: a connection over which nothing was sent or received for `timeout` milliseconds
    /// (`timeout` <= 0: never) is closed with reason IdleTimeout. `lastActivity` and `now` come from the
    /// caller's monotonic clock.
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

    /// Bytes a Close or KeyUpdate record takes on the wire (at most; a Close may carry a reason byte).
    let ControlLength (half: SendHalf) = RecordLayer.RecordLength(half.layer, 1)

    /// A destination size that holds every record of a message of `messageLength` bytes (and the key
    /// updates that may follow them) in one call.
    let MessageLength (half: SendHalf, messageLength: int) =
        let size = half.layer.Limits.MaxRecordData
        let records = max 1L ((int64 messageLength + int64 size - 1L) / int64 size)

        records * int64 (RecordLayer.MaxSealLength(half.layer, min size messageLength))

    /// The destination size one call needs to make progress on a message of `messageLength` bytes.
    let RecordRoom (half: SendHalf, messageLength: int) =
        RecordLayer.MaxSealLength(half.layer, min half.layer.Limits.MaxRecordData messageLength)

    /// Seals the message from `offset` on into `destination`, as many records as fit (Data records of
    /// `MaxRecordData` bytes, the last one EndOfMessage; an empty message is one empty EndOfMessage). A
    /// message over the peer's limit is refused before anything is sealed (at offset 0). The call stops
    /// after a record that updated the key (its old key is returned to be disposed).
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
            | ValueSome e when written = 0 -> SendRefused e
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

    /// Seals this end's Close (Noise §13 "Session termination"); after it nothing more can be sealed.
    /// Refused (ConnectionClosed) when a Close was sealed already.
    let Close (half: SendHalf, reason: CloseReason, destination: Span<byte>) : SendOutcome =
        sealEmpty (half, RecordType.Close, closeData reason, destination)

    /// Seals a KeyUpdate and re-keys the sending CipherState (Noise §11.3 Rekey()).
    let UpdateKey (half: SendHalf, destination: Span<byte>) : SendOutcome =
        sealEmpty (half, RecordType.KeyUpdate, ReadOnlySpan.Empty, destination)

module ReceiveHalf =
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

    /// Opens the complete records at the start of `input` and reassembles their data into `destination`,
    /// after the `filled` bytes of the message already there. Each record is decrypted straight into the
    /// destination when its plaintext fits there, else in place in `input` (its plaintext is cleared once
    /// copied out). Stops at the end of a message, a key update, the peer's Close, a failure, or when the
    /// input holds no complete record. A frame's length is checked (1..65535) before its body is awaited;
    /// nothing unauthenticated is ever written to the destination.
    let Receive (half: ReceiveHalf, input: Span<byte>, destination: Span<byte>, filled: int) : Received =
        match half.ended with
        | PeerClosedCleanly -> result half 0 filled PeerClosed
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
                                                PeerClosed
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

    /// The transport reached end of input. Without the peer's Close that is `Truncated` (Noise §13: an
    /// attacker can cut a stream; only an authenticated Close ends it cleanly), and no Close is sent.
    let EndOfInput (half: ReceiveHalf) : Received =
        match half.ended with
        | PeerClosedCleanly -> result half 0 0 PeerClosed
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

    /// Fails the receive direction with an error found outside it (e.g. the idle timeout), so every later
    /// call reports the same error.
    let Fail (half: ReceiveHalf, error: WireError) : Received =
        match half.ended with
        | Receiving -> failed half 0 0 error
        | PeerClosedCleanly -> result half 0 0 PeerClosed
        | ReceiveFailed e -> result half 0 0 (Fatal(e, ValueNone))
