/// The transport record layer (specs/PROTOCOL.md §5): seals and opens framed, typed records with the two
/// CipherStates a finished handshake produced, enforces message limits while reassembling, and updates keys
/// (Noise §11.3 Rekey, one direction at a time). A struct value: `Seal` and `Open` return the next layer
/// and do not allocate (except when a key is updated, once per 2^20 records by default).
///
///     sealed record on the wire:  len (u16 BE) | ENCRYPT(k, n, zerolen, data || type)   len = |data| + 1 + TAGLEN
///
/// C# use (the facade's hot path; the Connection state machine calls the same two functions):
///     var s = RecordLayer.Seal(layer, RecordType.EndOfMessage, payload, buffer);   // FSharpResult<Sealed, WireError>
///     layer = s.ResultValue.Layer; write buffer[..s.ResultValue.BytesWritten]; dispose s.ResultValue.RetiredKey if any
///     var o = RecordLayer.Open(layer, frameBody, buffer);                           // FSharpResult<Opened, WireError>
///     data is buffer[..o.ResultValue.DataLength]; o.ResultValue.Type says what it is.
/// The core never disposes a key: every key it stops using is handed back as `RetiredKey`.
namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core
open HybridProtocol.Core.Noise

/// When a sender updates its key on its own: after this many records or bytes of data under one key,
/// whichever comes first. Noise §11.3: "Applications might rekey a cipherstate automatically after it has
/// been used to send or receive some number of messages."
[<Struct>]
type RekeyPolicy = {
    AfterRecords: int64
    AfterBytes: int64
}

/// The automatic rekey policy's default.
module RekeyPolicy =

    /// 2^20 records or 1 GiB: far below the 2^64-1 nonce limit (Noise §5.1) and the AES-GCM volume
    /// guidance of Noise §14 ("a single key should not be used to encrypt more than 2^56 bytes").
    val Default: RekeyPolicy

/// The limits a record layer enforces, fixed when the handshake completes.
[<Struct>]
type RecordLimits = {

    /// The most data this end puts in one record (at most 65535 - 1 - TAGLEN).
    MaxRecordData: int

    /// The largest message this end accepts (it announced this in its handshake payload).
    LocalMaxMessageSize: int

    /// The largest message the peer accepts (from the peer's handshake payload).
    PeerMaxMessageSize: int
    Rekey: RekeyPolicy
}

/// The transport phase's cryptographic state: one sending and one receiving CipherState (Noise §5.3 Split),
/// the counters for automatic key updates, the sizes of the messages in progress in each direction, and
/// whether each direction has been closed.
[<NoComparison; NoEquality; Struct>]
type RecordLayer = private {
    send: CipherState
    receive: CipherState
    tagLength: int
    limits: RecordLimits

    /// Records and data bytes sent since the last key update.
    sentRecords: int64
    sentBytes: int64

    /// Data bytes of the message being sent / received so far (reset by EndOfMessage).
    outgoingMessage: int64
    incomingMessage: int64
    sendClosed: bool
    receiveClosed: bool
} with

    /// Data bytes of an incoming message received so far (not yet ended by EndOfMessage).
    member IncomingMessageLength: int64

    /// The limits the layer was created with.
    member internal Limits: RecordLimits

    /// The next receiving nonce n.
    member internal ReceiveNonce: uint64

    /// The current receiving key.
    member internal ReceiveKey: IAeadKey voption

    /// Whether this end has sent Close.
    member SendClosed: bool

    /// The current sending key (changes after each key update).
    member internal SendKey: IAeadKey voption

    /// The next sending nonce n.
    member SendNonce: uint64

    /// TAGLEN of the cipher (16 for ChaChaPoly and AESGCM).
    member TagLength: int

/// What `Seal` produced: the next layer, the bytes written to the destination (one framed record, plus a
/// framed KeyUpdate when an automatic key update was due), and the sending key retired by a key update.
[<NoComparison; NoEquality; Struct>]
type Sealed = {
    Layer: RecordLayer
    BytesWritten: int
    RetiredKey: IAeadKey voption
}

/// What `Open` found: the next layer, the record's type, the length of its data (at the start of the
/// destination), the reason when it is a Close, and the receiving key retired by a KeyUpdate.
[<NoComparison; NoEquality; Struct>]
type Opened = {
    Layer: RecordLayer
    Type: RecordType
    DataLength: int
    CloseReason: CloseReason
    RetiredKey: IAeadKey voption
}

/// Creating a record layer from a finished handshake, and its limits.
module RecordLayer =

    /// The most data one record can carry with a cipher of this tag length: the frame body is at most 65535.
    val maxRecordDataFor: tagLength: int -> int

    /// Starts the transport phase from a finished handshake. One-way patterns (Noise §7.4) are refused:
    /// both directions are needed for Close and key updates.
    val Create: transport: TransportState * limits: RecordLimits -> Result<RecordLayer, WireError>

    /// Bytes on the wire for one record carrying `dataLength` bytes: length field, data, type, tag.
    val internal RecordLength: layer: RecordLayer * dataLength: int -> int

    /// The most bytes `Seal` can write for `dataLength` bytes of data (room for an automatic KeyUpdate).
    val MaxSealLength: layer: RecordLayer * dataLength: int -> int

    /// The destination size `Open` needs for a frame body of this length (data plus the type byte).
    val OpenLength: layer: RecordLayer * frameBodyLength: int -> int

    /// Every key the layer holds, for its owner to dispose when the connection ends.
    val Keys: layer: RecordLayer -> IAeadKey list

    /// Seals one record: writes its length field and ciphertext to `destination` (which may hold the data
    /// already, at offset 2; overlapping is allowed). Data and EndOfMessage count towards the peer's
    /// message limit; a KeyUpdate re-keys the sending CipherState after it is sealed; after Close nothing
    /// more may be sealed. When the rekey policy is reached, a KeyUpdate record follows in `destination`.
    val Seal:
        layer: RecordLayer * recordType: RecordType * data: ReadOnlySpan<byte> * destination: Span<byte> ->
            Result<Sealed, WireError>

    /// Opens one record from a frame body (the bytes after the length field): authenticates and decrypts it
    /// into `destination` (at least `OpenLength` bytes; the same memory as `frameBody` is allowed), then checks
    /// the type rules and our message limit. The data is at `destination[0 .. DataLength)`. Nothing is
    /// written that is not authenticated: on a bad tag the destination is cleared and an error returned.
    val Open: layer: RecordLayer * frameBody: ReadOnlySpan<byte> * destination: Span<byte> -> Result<Opened, WireError>
