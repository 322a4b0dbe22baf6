namespace HybridProtocol.Core.Wire

open HybridProtocol.Core.Noise

type RefusalCode =
    | UnsupportedVersion = 0x01uy
    | MalformedPreamble = 0x02uy
    | UnsupportedPattern = 0x03uy
    | UnsupportedSuite = 0x04uy
    | PskRequired = 0x05uy
    | PskNotConfigured = 0x06uy
    | ClientAuthenticationRequired = 0x07uy
    | ServerBusy = 0x08uy
    | PostQuantumRequired = 0x09uy
    | TooSlow = 0x0Auy

type RecordType =
    | Data = 0x01uy
    | EndOfMessage = 0x02uy
    | KeyUpdate = 0x03uy
    | Close = 0x04uy

type CloseReason =
    | Normal = 0x00uy
    | ApplicationProtocolMismatch = 0x01uy
    | AuthenticationFailed = 0x02uy
    | ProtocolViolation = 0x03uy
    | MessageTooLarge = 0x04uy
    | IdleTimeout = 0x05uy

type MalformedReason =
    | EmptyFrame
    | FrameTooLong of length: int * limit: int
    | BadMagic
    | UnknownVersion of version: byte
    | EmptyProtocolName
    | NonAsciiName
    | BadProtocolName of ProtocolNameError
    | BadRefusal
    | NotAStatus of received: byte[]
    | UnknownRecordType of recordType: byte
    | RecordTooShort of length: int
    | EmptyDataRecord
    | KeyUpdateNotEmpty
    | BadCloseRecord of length: int
    | UnexpectedHandshakePayload of messageIndex: int
    | UnsupportedPayloadVersion of version: byte
    | TruncatedPayload
    | FieldOutOfOrder of field: byte
    | MissingField of field: byte
    | BadField of field: byte
    | TrailingBytes

type InvalidConfigReason =
    | MessageSizeOutOfRange of size: int
    | RecordDataOutOfRange of size: int * maximum: int
    | RekeyIntervalOutOfRange of records: int64 * bytes: int64
    | BadApplicationProtocol of length: int
    | OneWayPattern of protocol: ProtocolName
    | NoAcceptedProtocol
    | ClientStaticKeyInAdvance of protocol: ProtocolName
    | PskMissing of protocol: ProtocolName
    | ServerStaticKeyMissing of protocol: ProtocolName
    | FirstMessageCompletesHandshake
    | RefusalCodeOutOfRange of code: byte
    | RefusalVersionZero
    | TooManyServerKeys of count: int
    | PinnedKeyRevoked
    | BadEndorsementLength of length: int

type KeyAnnouncementError =
    | AnnouncementLength of length: int
    | HandshakeKeyAnnounced of index: int
    | DuplicateKey of index: int
    | UnusableKey of index: int
    | BadProof of index: int

[<RequireQualifiedAccess>]
type HandshakeTruncation =
    | PinnedKeyNotAccepted
    | PeerBrokeOff

type WireError =
    | Noise of NoiseError
    | Malformed of MalformedReason
    | Refused of code: RefusalCode * serverVersion: byte * supported: string list
    | RefusedPeer of code: RefusalCode * requested: string
    | MessageTooLarge of size: int64 * limit: int64
    | Truncated
    | ClosedBeforeAnswer
    | PeerKeyRejected
    | PeerKeyRevoked
    | BadKeyAnnouncement of KeyAnnouncementError
    | ApplicationProtocolMismatch of local: string * remote: string
    | ClosedByPeer of reason: CloseReason
    | UnexpectedRecord of recordType: RecordType
    | ClosedDuringHandshake
    | ConnectionClosed
    | NoVerdictPending
    | BufferTooSmall of needed: int
    | InvalidConfig of reason: InvalidConfigReason
    | IdleTimeout of milliseconds: int64
    | HandshakeTruncated of reading: HandshakeTruncation
    | EndorsementRefused of reason: HybridProtocol.Core.Formats.EndorsementError
