/// The wire protocol's code tables (refusal, record type, close reason) and its error type, layered over
/// NoiseError. Byte values are stable: specs/PROTOCOL.md lists them, and new values are only appended.
///
/// C# use: the code tables are plain enums (switch on them); `WireError` is a DU (switch on `Tag` or
/// `is WireError.Malformed m`); case fields keep their F# names (`r.code`, `t.size`), as in NoiseError. specs/PROTOCOL.md §"Errors" maps every case to one `HybridErrorCode`.
namespace HybridProtocol.Core.Wire

open HybridProtocol.Core
open HybridProtocol.Core.Noise

/// Why a server refused a connection request (the non-zero status byte, specs/PROTOCOL.md §3).
/// An enum rather than a DU so that a code this version does not know still decodes and prints as its number.
/// Codes are 0x01..0x1F: a first byte of 0x20 or more cannot be a status (`Malformed NotAStatus`).
type RefusalCode =
    /// The preamble's version byte is not one the server speaks.
    | UnsupportedVersion = 0x01uy
    /// The preamble is not a HybridProtocol preamble (bad magic, empty or non-ASCII name, bad Noise name).
    | MalformedPreamble = 0x02uy
    /// The server does not accept the handshake pattern (with its psk modifiers) named in the preamble.
    | UnsupportedPattern = 0x03uy
    /// The server accepts the pattern but not with this DH, cipher or hash.
    | UnsupportedSuite = 0x04uy
    /// The server accepts this pattern and suite only with a psk modifier (it requires a pre-shared key).
    | PskRequired = 0x05uy
    /// The client asked for a psk pattern but the server has no pre-shared key configured.
    | PskNotConfigured = 0x06uy
    /// The server accepts only patterns in which the client proves a static key (XX, IK, ...).
    | ClientAuthenticationRequired = 0x07uy
    /// The server is not taking connections now (e.g. too many handshakes in progress); try later.
    | ServerBusy = 0x08uy
    /// The server requires post-quantum hybrid key agreement (an hfs name, Noise HFS with ML-KEM-768) and the
    /// client asked for a classical one.
    | PostQuantumRequired = 0x09uy
    /// The client's first flight did not arrive within the server's deadline, or the server pushed the waiting
    /// socket out for a newer one (specs/PROTOCOL.md §12a); try again.
    | TooSlow = 0x0Auy

/// The type of a transport record: the last byte of its plaintext (specs/PROTOCOL.md §5).
type RecordType =
    /// A fragment of a message; more of the same message follows. Never empty.
    | Data = 0x01uy
    /// The last fragment of a message (may be empty: an empty message is one empty EndOfMessage).
    | EndOfMessage = 0x02uy
    /// Empty. The sender has called Rekey() on its sending CipherState after this record (Noise §11.3);
    /// the receiver calls Rekey() on its receiving CipherState after reading it.
    | KeyUpdate = 0x03uy
    /// Authenticated end of stream, with an optional one-byte reason. Nothing follows it in this direction.
    | Close = 0x04uy

/// Why a party closed (the optional byte of a Close record; absent means Normal).
type CloseReason =
    /// The application asked to close; every message sent before it has arrived.
    | Normal = 0x00uy
    /// The two ends' application protocols differ (the "ALPN" check after the handshake).
    | ApplicationProtocolMismatch = 0x01uy
    /// The sender refused the receiver's static key (pinning, known hosts, allow-list or callback said no).
    | AuthenticationFailed = 0x02uy
    /// The sender received something the protocol does not allow (bad record, bad tag, bad frame).
    | ProtocolViolation = 0x03uy
    /// The sender received a message larger than the limit it announced.
    | MessageTooLarge = 0x04uy
    /// Nothing crossed the connection for the sender's idle timeout, so it ended the connection.
    | IdleTimeout = 0x05uy

/// Malformed input, judged by a codec before (or instead of) any cryptography.
type MalformedReason =

    /// A frame with length 0: no frame of this protocol is empty (specs/PROTOCOL.md §4).
    | EmptyFrame

    /// A frame longer than the configured limit (at most 65535, Noise §3).
    | FrameTooLong of length: int * limit: int

    /// The first four bytes are not "HYBR".
    | BadMagic

    /// The preamble's version byte is not 1 (this code cannot read the rest).
    | UnknownVersion of version: byte

    /// The protocol name in the preamble is empty.
    | EmptyProtocolName

    /// The protocol name contains a byte outside printable ASCII (0x21..0x7E).
    | NonAsciiName

    /// The preamble names something that is not a Noise protocol name (§8) this implementation can parse.
    | BadProtocolName of ProtocolNameError

    /// A server status byte followed by a refusal list that does not parse.
    | BadRefusal

    /// The server's first bytes cannot be a status (a first byte of 0x20 or more, or a refusal with version 0):
    /// the server does not speak HybridProtocol (an SSH banner, an HTTP response). The bytes seen, at most 32.
    | NotAStatus of received: byte array

    /// The record's type byte is not one of RecordType.
    | UnknownRecordType of recordType: byte

    /// A frame too short to hold a record (type byte plus authentication tag).
    | RecordTooShort of length: int

    /// A Data record with no data (only EndOfMessage may be empty).
    | EmptyDataRecord

    /// A KeyUpdate record with data.
    | KeyUpdateNotEmpty

    /// A Close record with more than one byte of reason.
    | BadCloseRecord of length: int

    /// A handshake message that should have an empty payload (specs/PROTOCOL.md §6) carried one.
    | UnexpectedHandshakePayload of messageIndex: int

    /// The negotiation payload's version byte is not 1.
    | UnsupportedPayloadVersion of version: byte

    /// The negotiation payload ends inside a field.
    | TruncatedPayload

    /// A negotiation field repeats or is out of ascending order.
    | FieldOutOfOrder of field: byte

    /// A required negotiation field is absent.
    | MissingField of field: byte

    /// A known negotiation field has an impossible value.
    | BadField of field: byte

    /// Bytes arrived after the last handshake message that are not a complete transport record, or
    /// bytes followed a refusal.
    | TrailingBytes

/// Why a configuration (or a value the core was asked to encode) cannot work: one case per check, so that a
/// caller can act on the reason and the facade can word the message (specs/PROTOCOL.md §9 limits).
type InvalidConfigReason =

    /// A largest-message size below 1 byte: ours (`MaxMessageSize`) or the one the peer announced.
    | MessageSizeOutOfRange of size: int

    /// A record data size outside 1..maximum: 65502 for a configuration (`ConfigDefaults.MaxRecordData`, every
    /// cipher), or 65535 - 1 - the cipher's tag length for a record layer.
    | RecordDataOutOfRange of size: int * maximum: int

    /// A rekey interval below 1 record or 1 byte (`RekeyPolicy`).
    | RekeyIntervalOutOfRange of records: int64 * bytes: int64

    /// An application protocol that is not 0..255 characters of printable ASCII (specs/PROTOCOL.md §6). Its
    /// length in characters.
    | BadApplicationProtocol of length: int

    /// A one-way pattern (N, K, X; Noise §7.4): its recipient cannot send, so it cannot carry a two-way
    /// connection (Close and key updates need both directions).
    | OneWayPattern of protocol: ProtocolName

    /// A server configuration with an empty list of accepted protocol names.
    | NoAcceptedProtocol

    /// A name whose pattern has the client's static key as a pre-message (KN, KK, KX, ...): a server cannot
    /// know the key of a client it has not met.
    | ClientStaticKeyInAdvance of protocol: ProtocolName

    /// A psk name (Noise §9) accepted by a server that has no pre-shared key.
    | PskMissing of protocol: ProtocolName

    /// A name whose pattern needs the server's static key (as a pre-message or transmitted: NK, NX, XX, IK, ...)
    /// accepted by a server that has none.
    | ServerStaticKeyMissing of protocol: ProtocolName

    /// Client: the pattern's first message completes the handshake, so the client cannot wait for the status.
    | FirstMessageCompletesHandshake

    /// A refusal to encode with code 0 (that byte means Accepted) or above 0x1F (it could not be read as a status).
    | RefusalCodeOutOfRange of code: byte

    /// A refusal to encode with server version 0 (a status reader takes version 0 as "not a status").
    | RefusalVersionZero

    /// More server static keys than `ConfigDefaults.MaxServerKeys`.
    | TooManyServerKeys of count: int

    /// The key pinned for a pre-message pattern is also revoked.
    | PinnedKeyRevoked

    /// A server endorsement to send that is empty or longer than 65535 bytes (specs/PROTOCOL.md §6, field 0x10).
    | BadEndorsementLength of length: int

/// What an end of input in the middle of the handshake tells this end (the core reads it: it knows the phase, the
/// role and whether the client pinned the server's key). Noise §13: nothing authenticated says more than this.
[<RequireQualifiedAccess>]
type HandshakeTruncation =

    /// Client with a pinned server key (NK, IK and their variants), after the server accepted the request: the
    /// server closed instead of answering, so it could not decrypt our first message (it does not hold the pinned
    /// key's private key, or the pre-shared keys differ) or it refused our client key.
    | PinnedKeyNotAccepted

    /// Otherwise: the peer broke the handshake off (it refused our handshake, or failed); its log says why.
    | PeerBrokeOff

/// Why a server's key announcement (specs/PROTOCOL.md §6a) is refused by a client that checks it.
type KeyAnnouncementError =

    /// The field's length is not a whole number (1..`KeyAnnouncement.MaxKeys`) of entries of DHLEN + HASHLEN bytes.
    | AnnouncementLength of length: int

    /// The entry at this 0-based index announces the key the handshake authenticated.
    | HandshakeKeyAnnounced of index: int

    /// The entry at this 0-based index announces a key an earlier entry announced.
    | DuplicateKey of index: int

    /// DH with the key at this 0-based index was refused (a low-order point).
    | UnusableKey of index: int

    /// The proof at this 0-based index is not the MAC the key's holder computes for this connection: the server
    /// cannot prove the key, or the entry was copied from another connection.
    | BadProof of index: int

/// Every way the wire protocol can fail. Errors about the peer's bytes end the connection (`Failed`);
/// errors about a local call (`MessageTooLarge` on send, `ConnectionClosed`, `NoVerdictPending`,
/// `BufferTooSmall`) are returned without changing the connection (`Rejected`).
type WireError =

    /// The Noise layer failed (decryption, DH, nonce exhaustion, bad init parameters).
    | Noise of NoiseError

    /// The peer's bytes do not parse.
    | Malformed of MalformedReason

    /// Client side: the server refused the request. `Code` says what; the server's version and the protocol
    /// names it accepts (unauthenticated hints, for the error message) follow.
    | Refused of code: RefusalCode * serverVersion: byte * supported: string list

    /// Server side: we refused the client's request (the status byte we sent) for the name it asked for.
    | RefusedPeer of code: RefusalCode * requested: string

    /// A message larger than the limit: received (our announced limit) or sent (the peer's announced limit).
    | MessageTooLarge of size: int64 * limit: int64

    /// The input ended without the peer's authenticated Close: data may have been cut off (Noise §13
    /// "Session termination"). Never a clean end.
    | Truncated

    /// Client side: the input ended before the server's status arrived (no complete status byte or refusal): the
    /// server dropped the connection without answering (busy, too slow, or not accepting). It says nothing about
    /// keys: a server that could not decrypt our first message has already sent its status (0x00) before closing,
    /// which is `Truncated` during the handshake.
    | ClosedBeforeAnswer

    /// The application answered `PeerKeyVerdict false` to `VerifyPeerKey`.
    | PeerKeyRejected

    /// The peer proved a key this end's configuration revokes (specs/PROTOCOL.md §6a "Key sets"), even if the key is
    /// also trusted.
    | PeerKeyRevoked

    /// The server's key announcement failed a check (specs/PROTOCOL.md §6a).
    | BadKeyAnnouncement of KeyAnnouncementError

    /// The handshake completed but the two ends name different application protocols.
    | ApplicationProtocolMismatch of local: string * remote: string

    /// The peer ended the connection with an authenticated Close whose reason is not Normal.
    | ClosedByPeer of reason: CloseReason

    /// An authenticated record that is not allowed where it arrived: anything after the peer's Close.
    | UnexpectedRecord of recordType: RecordType

    /// The application closed before the handshake completed (no authenticated Close can be sent yet).
    | ClosedDuringHandshake

    /// A send or close after this end sent Close, or after the connection closed.
    | ConnectionClosed

    /// `PeerKeyVerdict` arrived when no `VerifyPeerKey` was outstanding.
    | NoVerdictPending

    /// A destination span is smaller than the record needs (a caller bug in the facade).
    | BufferTooSmall of needed: int

    /// The configuration cannot work; the reason says which value and why.
    | InvalidConfig of reason: InvalidConfigReason

    /// Nothing was sent or received for the idle timeout (milliseconds); this end closed the connection.
    | IdleTimeout of milliseconds: int64

    /// The input ended during the handshake (after the client's preamble, or after the server's status): what that
    /// means here. After the handshake an end of input without Close is `Truncated`.
    | HandshakeTruncated of reading: HandshakeTruncation

    /// Client side: the server's endorsement does not vouch for the key it proved (specs/PROTOCOL.md §6b); the
    /// reason says which check refused it.
    | EndorsementRefused of reason: HybridProtocol.Core.Formats.EndorsementError
