/// The two ends of `hybrid-file/1` (specs/FILE-TRANSFER.md) as state machines: one case per phase, and a total
/// `step : state -> event -> state * commands` for each end. The caller does the I/O (receives and sends messages,
/// reads and writes the file, hashes, fsyncs and renames) and reports it back as events; the machine decides what
/// is sent, when, and how the exchange ends. An event that does not fit the phase ends the exchange with
/// `OutOfTurn` rather than throwing.
///
/// FILE-TRANSFER.md [F5]: "A receiver MUST NOT answer `ok` before the SHA-256 of the data it stored equals the
/// digest message and the file is stored: written, flushed to disk and renamed into place": it sends `ok` only from
/// `Committing`, on the caller's `Committed`, which it can reach only after `Verifying` compared the digests.
namespace HybridProtocol.Core.Formats

/// What the receiver's caller reports.
type ReceiverEvent =
    /// A message from the sender.
    | FromSender of byte array
    /// The sender's Close (Normal) or the end of its input.
    | SenderClosed
    /// Storage for the header is open (a temporary file).
    | StorageOpened
    /// Storage could not be opened: name-taken, not-writable, busy.
    | StorageFailed of TransferReason
    /// The data message of the last `Write` is written (not yet flushed).
    | Written
    /// Writing failed: disk-full, write-failed.
    | WritingFailed of TransferReason
    /// The SHA-256 of the data as written.
    | DigestComputed of byte array
    /// The file is flushed to disk and renamed into place.
    | Committed
    /// Flushing or renaming failed: disk-full, name-taken (created meanwhile), write-failed.
    | CommitFailed of TransferReason

/// What ends the receiver's side of an exchange.
type ReceiverEnding =
    /// The file is stored and the sender was told `ok`.
    | Delivered of FileHeader
    /// The header was refused (`refused:` sent).
    | HeaderRefused of HeaderError
    /// Storage was refused for a valid header (`refused:` sent): name-taken, not-writable, busy.
    | StorageRefused of FileHeader * TransferReason
    /// The data could not be stored (`failed:` sent); nothing kept.
    | NotStored of FileHeader * TransferReason
    /// The digest did not match (`mismatch` sent); nothing kept.
    | DigestMismatch of FileHeader
    /// The sender broke the protocol (an empty data message or more data than announced); nothing sent.
    | SenderViolation of FileHeader * DataError
    /// The sender closed before the header.
    | ClosedBeforeHeader
    /// The sender closed after `received` of the header's bytes (or before the digest); nothing kept.
    | SenderCut of FileHeader * received: int64
    /// The caller reported an event the phase does not expect (a bug of the caller, typed).
    | ReceiverOutOfTurn of phase: ReceiverState * event: ReceiverEvent

/// The receiver's phases, each named after what it waits for.
and ReceiverState =
    /// The first message: the header.
    | AwaitingHeader
    /// The caller's storage decision for a valid header (`StorageOpened` or `StorageFailed`).
    | Opening of FileHeader
    /// The next data message; `received` bytes are stored so far.
    | Receiving of FileHeader * received: int64
    /// The caller's report on writing the data message just handed over (`Written` or `WritingFailed`).
    | Storing of FileHeader * received: int64
    /// After an early `failed:`: the rest of the data, read and discarded.
    | Discarding of FileHeader * received: int64 * reason: TransferReason
    /// The 32-byte digest message.
    | AwaitingDigest of FileHeader
    /// The caller's SHA-256 of the stored data, to compare with `expected`.
    | Verifying of FileHeader * expected: byte array
    /// The caller's report on flushing and renaming the file into place.
    | Committing of FileHeader
    /// The exchange is over.
    | ReceiverEnded of ReceiverEnding

/// What the receiver's caller does next, in order.
type ReceiverCommand =
    /// Open storage for the file (`StorageOpened` / `StorageFailed` next).
    | OpenStorage of FileHeader
    /// Send this answer to the sender, with the caller's text for its reason.
    | Answer of TransferAnswer
    /// Write (and hash) this data message (`Written` / `WritingFailed` next).
    | Write of byte array
    /// Compute the SHA-256 of the data (`DigestComputed` next).
    | ComputeDigest
    /// Flush and rename the file into place (`Committed` / `CommitFailed` next).
    | Commit
    /// Close the connection (Close, Normal) and drop any storage not committed.
    | CloseExchange

/// What the sender's caller reports.
type SenderEvent =
    /// A message from the receiver.
    | FromReceiver of byte array
    /// The receiver's Close or the end of its input.
    | ReceiverClosed
    /// The caller sent a data message of this many bytes (at least 1, at most what is left).
    | DataSent of int

/// What ends the sender's side of an exchange.
type SenderEnding =
    /// `ok`: the receiver verified and stored the file.
    | ReceiverStored
    /// `refused:` with its text.
    | ReceiverRefused of TransferReason * text: string
    /// `failed:` with its text (before or after all data was sent).
    | ReceiverFailed of TransferReason * text: string
    /// `mismatch`.
    | ReceiverMismatch
    /// The receiver answered something that is not an answer, or not one for this phase.
    | UnexpectedAnswer of phase: SenderState * answer: Result<TransferAnswer * string, AnswerError>
    /// The receiver closed without the answer the phase waits for.
    | ClosedWithoutAnswer of phase: SenderState
    /// The caller reported an event the phase does not expect.
    | SenderOutOfTurn of phase: SenderState * event: SenderEvent

/// The sender's phases.
and SenderState =
    /// The header is sent: the answer to it (`ready` or `refused:`).
    | AwaitingReady of FileHeader
    /// Sending the data; `sent` bytes so far. A `failed:` may arrive meanwhile.
    | SendingData of FileHeader * sent: int64
    /// Everything and the digest is sent: the verdict.
    | AwaitingVerdict of FileHeader
    /// The exchange is over.
    | SenderEnded of SenderEnding

/// What the sender's caller does next.
type SenderCommand =
    /// Send the next data message (at most `remaining` bytes, at least 1) and report `DataSent`.
    | SendData of remaining: int64
    /// Send the digest message (the SHA-256 of the data sent).
    | SendDigest
    /// Close the connection (Close, Normal).
    | CloseSending

[<RequireQualifiedAccess>]
module FileReceiver =

    /// The first phase.
    val start: ReceiverState

    /// One event in one phase: the next phase and the caller's commands, in order.
    val step: state: ReceiverState -> event: ReceiverEvent -> ReceiverState * ReceiverCommand list

[<RequireQualifiedAccess>]
module FileSender =

    /// The header message to send first, and the phase after it.
    val start: header: FileHeader -> byte array * SenderState

    /// One event in one phase: the next phase and the caller's commands, in order.
    val step: state: SenderState -> event: SenderEvent -> SenderState * SenderCommand list
