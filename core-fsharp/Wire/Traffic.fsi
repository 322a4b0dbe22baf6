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
///               Event = NeedData | NeedSpace | MessageEnd | KeyRetired | PeerClosed answer | Fatal (error, reply)
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
[<NoComparison; NoEquality; Struct>]
type SendHalf = private {
    layer: RecordLayer
} with

    /// Whether this end's Close has been sealed (nothing more can be sent).
    member Closed: bool

    /// The current sending key.
    member Key: IAeadKey voption

    /// The most data one record carries.
    member MaxRecordData: int

    /// The next sending nonce (for tests).
    member Nonce: uint64

    /// The largest message the peer accepts.
    member PeerMaxMessageSize: int

/// The receiving half: the receiving CipherState, the size of the message being reassembled, and how the
/// direction stands.
[<NoComparison; NoEquality; Struct>]
type ReceiveHalf = private {
    layer: RecordLayer
    ended: ReceiveEnd
} with

    /// How the receive direction stands.
    member End: ReceiveEnd

    /// The current receiving key.
    member Key: IAeadKey voption

    /// The largest message this end accepts.
    member LocalMaxMessageSize: int

    /// The next receiving nonce (for tests).
    member Nonce: uint64

/// What a send call produced.
[<NoComparison; NoEquality; Struct>]
type SendOutcome =

    /// `Written` bytes at the start of the destination are framed records to transmit as they are; the
    /// message is sealed up to offset `Consumed` (pass it as the next `offset`); `Finished` when its last
    /// record is among them. `Retired` is a sending key replaced by a key update: dispose it.
    | Wrote of Half: SendHalf * Written: int * Consumed: int * Finished: bool * Retired: IAeadKey voption

    /// The destination cannot hold the next record: give at least `Needed` bytes.
    | NeedRoom of Needed: int

    /// Nothing was sealed and the half is unchanged (a message over the peer's limit, a send after Close).
    | SendRefused of Refusal: WireError

    /// The message broke part-way: some of its records were sealed (and written) by earlier calls, and the next
    /// one cannot be (e.g. the sending nonce is exhausted). The connection fails with `Error`; when `Reply` has a
    /// value, tell the peer why with `SendHalf.Close(reply)` (if it can still be sealed), as after a receive failure.
    | SendFailed of Error: WireError * Reply: CloseReason voption

/// What the receive half asks its driver to do next.
[<NoComparison; NoEquality; Struct>]
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

    /// The peer's authenticated Close (Normal). Noise §13 "Session termination": answer with
    /// `SendHalf.Close(Answer)` (always `CloseReason.Normal`) unless this end has closed already, then stop
    /// receiving; anything after the Close is ignored.
    | PeerClosed of Answer: CloseReason

    /// The receive direction failed (terminal). When `Reply` has a value, tell the peer why with
    /// `SendHalf.Close(reply)` (if this end has not closed yet).
    | Fatal of Error: WireError * Reply: CloseReason voption

/// What `ReceiveHalf.Receive` did: the next half, the input bytes it consumed (whole records), how many
/// bytes of the message are in the destination now, and what to do next.
[<NoComparison; NoEquality; Struct>]
type Received = {
    Half: ReceiveHalf
    Consumed: int
    Written: int
    Event: ReceiveEvent
}

/// An idle connection's verdict (time is the caller's: any monotonic clock, in milliseconds).
[<NoComparison; NoEquality; Struct>]
type IdleVerdict =

    /// Still within the idle timeout: check again after `Remaining` milliseconds at the latest.
    | Active of Remaining: int64

    /// No record crossed for the whole idle timeout: close with `Reason` and fail with `IdleError`.
    | IdleExpired of Reason: CloseReason * IdleError: WireError

/// Both halves of a transport that has just started.
[<NoComparison; NoEquality; Struct>]
type Traffic = { Send: SendHalf; Receive: ReceiveHalf }

/// Starting the engine, and what both halves share.
module Traffic =

    /// Both halves over a record layer fresh from a handshake.
    val Create: layer: RecordLayer -> Traffic

    /// The Close reason that tells the peer why this end fails (specs/PROTOCOL.md §5 "Close").
    val CloseReasonFor: error: WireError -> CloseReason

    /// Every key the two halves hold, for their owner to dispose when the connection ends.
    val Keys: send: SendHalf * receive: ReceiveHalf -> IAeadKey list

    /// The idle rule: a connection over which nothing was sent or received for `timeout` milliseconds
    /// (`timeout` <= 0: never) is closed with reason IdleTimeout. `lastActivity` and `now` come from the
    /// caller's monotonic clock.
    val Idle: lastActivity: int64 * now: int64 * timeout: int64 -> IdleVerdict

/// The send half's functions (`SendHalfModule` in C#): fragmenting a message into records, KeyUpdate, Close.
module SendHalf =

    /// Bytes a Close or KeyUpdate record takes on the wire (at most; a Close may carry a reason byte).
    val ControlLength: half: SendHalf -> int

    /// A destination size that holds every record of a message of `messageLength` bytes (and the key
    /// updates that may follow them) in one call.
    val MessageLength: half: SendHalf * messageLength: int -> int64

    /// The destination size one call needs to make progress on a message of `messageLength` bytes.
    val RecordRoom: half: SendHalf * messageLength: int -> int

    /// Seals the message from `offset` on into `destination`, as many records as fit (Data records of
    /// `MaxRecordData` bytes, the last one EndOfMessage; an empty message is one empty EndOfMessage). A
    /// message over the peer's limit is refused before anything is sealed (at offset 0). The call stops
    /// after a record that updated the key (its old key is returned to be disposed).
    /// A record that cannot be sealed at offset 0 refuses the message (`SendRefused`); past offset 0 the message
    /// is broken and the connection fails (`SendFailed`, with the Close to send).
    val Message: half: SendHalf * message: ReadOnlySpan<byte> * offset: int * destination: Span<byte> -> SendOutcome

    /// Seals this end's Close (Noise §13 "Session termination"); after it nothing more can be sealed.
    /// Refused (ConnectionClosed) when a Close was sealed already.
    val Close: half: SendHalf * reason: CloseReason * destination: Span<byte> -> SendOutcome

    /// Seals a KeyUpdate and re-keys the sending CipherState (Noise §11.3 Rekey()).
    val UpdateKey: half: SendHalf * destination: Span<byte> -> SendOutcome

/// The receive half's functions (`ReceiveHalfModule` in C#): parsing frames, opening records, reassembling messages.
module ReceiveHalf =

    /// Opens the complete records at the start of `input` and reassembles their data into `destination`,
    /// after the `filled` bytes of the message already there. Each record is decrypted straight into the
    /// destination when its plaintext fits there, else in place in `input` (its plaintext is cleared once
    /// copied out). Stops at the end of a message, a key update, the peer's Close, a failure, or when the
    /// input holds no complete record. A frame's length is checked (1..65535) before its body is awaited;
    /// nothing unauthenticated is ever written to the destination.
    val Receive: half: ReceiveHalf * input: Span<byte> * destination: Span<byte> * filled: int -> Received

    /// The transport reached end of input. Without the peer's Close that is `Truncated` (Noise §13: an
    /// attacker can cut a stream; only an authenticated Close ends it cleanly), and no Close is sent.
    val EndOfInput: half: ReceiveHalf -> Received
