namespace HybridProtocol.Core.Formats

type ReceiverEvent =
    | FromSender of byte array
    | SenderClosed
    | StorageOpened
    | StorageFailed of TransferReason
    | Written
    | WritingFailed of TransferReason
    | DigestComputed of byte array
    | Committed
    | CommitFailed of TransferReason

type ReceiverEnding =
    | Delivered of FileHeader
    | HeaderRefused of HeaderError
    | StorageRefused of FileHeader * TransferReason
    | NotStored of FileHeader * TransferReason
    | DigestMismatch of FileHeader
    | SenderViolation of FileHeader * DataError
    | ClosedBeforeHeader
    | SenderCut of FileHeader * received: int64
    | ReceiverOutOfTurn of phase: ReceiverState * event: ReceiverEvent

and ReceiverState =
    | AwaitingHeader
    | Opening of FileHeader
    | Receiving of FileHeader * received: int64
    | Storing of FileHeader * received: int64
    | Discarding of FileHeader * received: int64 * reason: TransferReason
    | AwaitingDigest of FileHeader
    | Verifying of FileHeader * expected: byte array
    | Committing of FileHeader
    | ReceiverEnded of ReceiverEnding

type ReceiverCommand =
    | OpenStorage of FileHeader
    | Answer of TransferAnswer
    | Write of byte array
    | ComputeDigest
    | Commit
    | CloseExchange

type SenderEvent =
    | FromReceiver of byte array
    | ReceiverClosed
    | DataSent of int

type SenderEnding =
    | ReceiverStored
    | ReceiverRefused of TransferReason * text: string
    | ReceiverFailed of TransferReason * text: string
    | ReceiverMismatch
    | UnexpectedAnswer of phase: SenderState * answer: Result<TransferAnswer * string, AnswerError>
    | ClosedWithoutAnswer of phase: SenderState
    | SenderOutOfTurn of phase: SenderState * event: SenderEvent

and SenderState =
    | AwaitingReady of FileHeader
    | SendingData of FileHeader * sent: int64
    | AwaitingVerdict of FileHeader
    | SenderEnded of SenderEnding

type SenderCommand =
    | SendData of remaining: int64
    | SendDigest
    | CloseSending

[<RequireQualifiedAccess>]
module FileReceiver =

    let start = AwaitingHeader

    /// The end of the exchange: the answer (if any), then the Close.
    let private finish ending answer =
        ReceiverEnded ending, (answer |> Option.map Answer |> Option.toList) @ [ CloseExchange ]

    /// After the bytes of a data message are accounted for: more data, or the digest.
    let private dataOrDigest (header: FileHeader) (received: int64) =
        if received = header.Size then
            AwaitingDigest header, []
        else
            Receiving(header, received), []

    let step (state: ReceiverState) (event: ReceiverEvent) : ReceiverState * ReceiverCommand list =
        match state, event with
        | ReceiverEnded _, _ -> state, []

        | AwaitingHeader, FromSender message ->
            match FileTransfer.decodeHeader (System.ReadOnlySpan message) with
            | Ok header -> Opening header, [ OpenStorage header ]
            | Error e -> finish (HeaderRefused e) (Some(Refused(FileTransfer.headerReason e)))
        | AwaitingHeader, SenderClosed -> finish ClosedBeforeHeader None

        | Opening header, StorageOpened ->
            let next, commands = dataOrDigest header 0L
            next, Answer Ready :: commands
        | Opening header, StorageFailed reason -> finish (StorageRefused(header, reason)) (Some(Refused reason))
        | Opening header, SenderClosed -> finish (SenderCut(header, 0L)) None

        | Receiving(header, received), FromSender data ->
            match FileTransfer.checkData (header.Size - received) data.Length with
            | Ok() -> Storing(header, received + int64 data.Length), [ Write data ]
            | Error e -> finish (SenderViolation(header, e)) None
        | Receiving(header, received), SenderClosed -> finish (SenderCut(header, received)) None

        | Storing(header, received), Written -> dataOrDigest header received
        | Storing(header, received), WritingFailed reason ->
            // FILE-TRANSFER.md [F6]: the receiver answers `failed:` at once and discards the rest of the data.
            if received = header.Size then
                finish (NotStored(header, reason)) (Some(Failed reason))
            else
                Discarding(header, received, reason), [ Answer(Failed reason) ]

        | Discarding(header, received, reason), FromSender data ->
            match FileTransfer.checkData (header.Size - received) data.Length with
            | Ok() when received + int64 data.Length = header.Size -> finish (NotStored(header, reason)) None
            | Ok() -> Discarding(header, received + int64 data.Length, reason), []
            | Error e -> finish (SenderViolation(header, e)) None
        | Discarding(header, _, reason), SenderClosed -> finish (NotStored(header, reason)) None

        | AwaitingDigest header, FromSender digest when digest.Length = FileTransfer.DigestLength ->
            Verifying(header, digest), [ ComputeDigest ]
        // [F5]: a digest message of any other length cannot match.
        | AwaitingDigest header, FromSender _ -> finish (DigestMismatch header) (Some Mismatch)
        | AwaitingDigest header, SenderClosed -> finish (SenderCut(header, header.Size)) None

        | Verifying(header, expected), DigestComputed actual ->
            if FileTransfer.digestsEqual expected actual then
                Committing header, [ Commit ]
            else
                finish (DigestMismatch header) (Some Mismatch)

        | Committing header, Committed -> finish (Delivered header) (Some Stored)
        | Committing header, CommitFailed reason -> finish (NotStored(header, reason)) (Some(Failed reason))

        | _ -> finish (ReceiverOutOfTurn(state, event)) None

[<RequireQualifiedAccess>]
module FileSender =

    let private finish ending = SenderEnded ending, [ CloseSending ]

    /// All data sent (or none to send): the digest follows.
    let private dataOrDigest (header: FileHeader) (sent: int64) =
        if sent = header.Size then
            AwaitingVerdict header, [ SendDigest ]
        else
            SendingData(header, sent), [ SendData(header.Size - sent) ]

    let start (header: FileHeader) =
        FileTransfer.encodeHeader header, AwaitingReady header

    let step (state: SenderState) (event: SenderEvent) : SenderState * SenderCommand list =
        let answer (message: byte array) =
            FileTransfer.decodeAnswer (System.ReadOnlySpan message)

        match state, event with
        | SenderEnded _, _ -> state, []

        | AwaitingReady header, FromReceiver message ->
            match answer message with
            | Ok(Ready, _) -> dataOrDigest header 0L
            | Ok(Refused reason, text) -> finish (ReceiverRefused(reason, text))
            | other -> finish (UnexpectedAnswer(state, other))

        | SendingData(header, sent), DataSent n when n >= 1 && int64 n <= header.Size - sent ->
            dataOrDigest header (sent + int64 n)

        // [F6]: `failed:` may come while the data is sent; the sender stops sending.
        | SendingData _, FromReceiver message
        | AwaitingVerdict _, FromReceiver message ->
            match answer message, state with
            | Ok(Failed reason, text), _ -> finish (ReceiverFailed(reason, text))
            | Ok(Stored, _), AwaitingVerdict _ -> finish ReceiverStored
            | Ok(Mismatch, _), AwaitingVerdict _ -> finish ReceiverMismatch
            | other, _ -> finish (UnexpectedAnswer(state, other))

        | (AwaitingReady _ | SendingData _ | AwaitingVerdict _), ReceiverClosed -> finish (ClosedWithoutAnswer state)

        | _, FromReceiver _
        | _, ReceiverClosed
        | _, DataSent _ -> finish (SenderOutOfTurn(state, event))
