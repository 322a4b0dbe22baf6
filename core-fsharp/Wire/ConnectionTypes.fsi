/// The values the connection state machine takes and gives (specs/PROTOCOL.md §7): its inputs, its
/// outputs, what a completed handshake established, and the data each phase of `Connection` carries.
/// The phase records are opaque outside the core (their fields are internal): a driver only passes them
/// back to `Connection.Step`.
///
/// C# use: `Input.NewReceived(memory)`, `Input.NewSendMessage(memory)`, `Input.CloseRequested`,
/// `Input.UpdateKey`, `Input.NewPeerKeyVerdict(bool)`, `Input.EndOfInput`; outputs are switched on as
/// `case Output.Transmit t: t.Bytes` and so on.
namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core
open HybridProtocol.Core.Noise

/// What the application or the transport tells the connection.
[<RequireQualifiedAccess; NoComparison; NoEquality>]
type Input =

    /// Bytes read from the transport, in any chunking. They are copied; the buffer may be reused.
    | Received of Bytes: ReadOnlyMemory<byte>

    /// A whole message to send (empty allowed). Before the handshake completes it is queued and sent
    /// as soon as the transport phase starts.
    | SendMessage of Message: ReadOnlyMemory<byte>

    /// The application wants to end the connection cleanly (an authenticated Close is sent).
    | CloseRequested

    /// The application wants a new sending key now (a KeyUpdate record; Noise §11.3 Rekey). Updates also
    /// happen on their own after the configured number of records or bytes.
    | UpdateKey

    /// The answer to `VerifyPeerKey`: whether the peer's static key is acceptable.
    | PeerKeyVerdict of Accept: bool

    /// The transport reached end of input.
    | EndOfInput

/// What a completed handshake established (given once, with `HandshakeCompleted`).
[<NoComparison; NoEquality>]
type HandshakeInfo = {

    /// The Noise protocol name that ran.
    ProtocolName: string

    /// Noise §11.2: "a handshake hash which uniquely identifies the Noise session" (channel binding).
    HandshakeHash: byte array

    /// The peer's static key, if the pattern has one (checked by pinning or by `VerifyPeerKey`).
    RemoteStatic: DhPublicKey option

    /// What we announced.
    Local: HandshakePayload

    /// What the peer announced.
    Remote: HandshakePayload

    /// Client: the server's other keys whose proofs of possession checked for this connection (specs/PROTOCOL.md
    /// §6a), in the order announced, revoked ones left out; empty when none were announced or checked.
    AnnouncedKeys: DhPublicKey list

    /// Server: the 0-based index of the static key the handshake used (0 = `LocalStatic`, 1.. = `OtherStatics`).
    LocalStaticIndex: int
}

/// What the connection asks its driver to do, in order.
[<RequireQualifiedAccess; NoComparison; NoEquality>]
type Output =

    /// Write these bytes to the transport.
    | Transmit of Bytes: byte array

    /// A whole message arrived, every record of it authenticated.
    | Deliver of Message: byte array

    /// The peer proved this static key. Check it (known hosts, allow-list, callback) and answer with
    /// `PeerKeyVerdict`; nothing more is sent or delivered until then.
    | VerifyPeerKey of PeerKey: DhPublicKey

    /// The handshake is complete; messages can flow.
    | HandshakeCompleted of Info: HandshakeInfo

    /// The core no longer uses this key: dispose it.
    | KeyRetired of Key: IAeadKey

    /// The peer closed cleanly (authenticated Close) and our Close has been sent: the connection is over.
    | Closed

    /// The connection failed; the state is terminal and every further input reports the same error.
    | Failed of Error: WireError

    /// The input was refused (e.g. a message over the peer's limit, a send after Close); the connection
    /// is unchanged.
    | Rejected of Error: WireError

/// The key announcement role of one end (specs/PROTOCOL.md §6a).
[<NoComparison; NoEquality>]
type internal Announcing =

    /// Neither announces nor checks.
    | NotAnnouncing

    /// Server: announces these key pairs (every held key; the one the handshake used is left out when writing).
    | Announces of suite: CryptoSuite * keys: DhKeyPair list

    /// Client: checks an announcement with its handshake ephemeral key pair.
    | Checks of suite: CryptoSuite * ephemeral: DhKeyPair

/// What every phase after the preamble needs.
[<NoComparison; NoEquality>]
type Context = internal {
    role: Role
    protocol: ProtocolName

    /// What we announce in our last handshake message.
    local: HandshakePayload

    /// The pinned peer keys to compare with a transmitted one (client only): a key set, empty when none.
    pinned: DhPublicKey list

    /// Peer keys refused with `PeerKeyRevoked` (client only).
    revoked: DhPublicKey list

    /// Who announces or checks the other server keys (specs/PROTOCOL.md §6a).
    announcing: Announcing

    /// Client: the announced keys proven so far.
    proven: DhPublicKey list

    /// Server: which of its static keys the handshake uses.
    staticIndex: int

    /// Client in authority mode: the policy the server's endorsement is checked against.
    authority: HybridProtocol.Core.Formats.AuthorityPolicy option
    maxRecordData: int
    rekey: RekeyPolicy

    /// Received and not processed yet: during `Connection.ReceiveHandshake`, a view of the caller's bytes (cleared before
    /// it returns: the core keeps no reference to a caller's buffer); under `Step`, its own copy (the start of a frame,
    /// frames queued behind a verdict, or after the handshake the bytes behind its last frame).
    pending: ArraySegment<byte>

    /// Whether the transport reached end of input (after `pending`).
    ended: bool

    /// Messages the application sent before the transport phase (newest first).
    outgoing: byte array list
}

/// Client: preamble and first handshake message sent; waiting for the server's status byte.
[<NoComparison; NoEquality>]
type ClientStart = internal {
    context: Context
    handshake: HandshakeState

    /// `Step` only: the start of the status, held until the rest arrives.
    received: ArraySegment<byte>
}

/// Server: waiting for the client's preamble.
[<NoComparison; NoEquality>]
type ServerStart = internal {
    config: ServerConfig

    /// `Step` only: the start of the preamble, held until the rest arrives.
    received: ArraySegment<byte>
    outgoing: byte array list
}

/// Exchanging handshake messages; `peer` is the peer's payload once its last message has been read.
[<NoComparison; NoEquality>]
type HandshakePhase = internal {
    context: Context
    handshake: HandshakeState
    peer: HandshakePayload option

    /// Server, before the client's first message of a pre-message pattern: the same state initialized with each
    /// other static key (index into the held keys), tried when the first one cannot read the message.
    alternatives: (int * HandshakeState) list
}

/// The peer's static key has been read and awaits the application's verdict; `step` is where to resume.
[<NoComparison; NoEquality>]
type VerdictPhase = internal {
    context: Context
    step: HandshakeStep
    peer: HandshakePayload option
    peerKey: DhPublicKey
}

/// Transport phase: records flow through the one engine (Traffic.fs); `message` holds the data of the
/// message being received so far.
[<NoComparison; NoEquality>]
type TransportPhase = internal {
    context: Context
    send: SendHalf
    receive: ReceiveHalf
    info: HandshakeInfo
    message: byte array
}

/// The engine as the handshake left it, for a driver that runs `SendHalf`/`ReceiveHalf` on its own
/// buffers (the facade): the two halves and what the handshake established. Nothing else is handed over:
/// `Connection.ReceiveHandshake` stops at the handshake's last frame, so the bytes behind it are still the
/// driver's, in its own buffer, for `ReceiveHalf.Receive`.
[<NoComparison; NoEquality>]
type TrafficStart = {
    Send: SendHalf
    Receive: ReceiveHalf
    Info: HandshakeInfo
}

/// Where a handshake step left the connection: one case per phase it can reach.
[<NoComparison; NoEquality>]
type internal HandshakeOutcome =
    /// Client: the status byte has not fully arrived.
    | StillAwaitingStatus of ClientStart
    /// Server: the preamble has not fully arrived.
    | StillAwaitingPreamble of ServerStart
    /// Between handshake messages: waiting for the peer's next frame.
    | Exchanging of HandshakePhase
    /// The peer's static key awaits the application's verdict (`Output.VerifyPeerKey` was given).
    | AwaitingPeerKey of VerdictPhase
    /// Noise §5.3 Split() has run and the payloads agree: the transport phase starts. The phase's
    /// `context.outgoing` still holds the messages the application queued (newest first) and its
    /// `context.pending` the bytes that arrived behind the last handshake message.
    | Established of TransportPhase
    /// The handshake failed (Noise §5.3: "the HandshakeState is deleted"); `Output.Failed` was given.
    | HandshakeFailed of WireError
