/// The handshake phase of a connection (specs/PROTOCOL.md §2, §3, §6 and §7): the server reads the client's
/// preamble and answers with a status (0x00, or a refusal listing what it accepts); the client reads that
/// status; then both run the Noise HandshakeState (Noise §5.3 WriteMessage/ReadMessage), one frame per
/// handshake message, each party's HandshakePayload in its last message. The peer's static key is checked
/// against a pinned key or handed to the application (`VerifyPeerKey`); when Split() has run the transport
/// engine (Traffic.fs) is started and what was negotiated is checked.
///
/// Internal to the core: `Connection.Step` dispatches here for every phase before `Open`, and turns a
/// `HandshakeOutcome` into its phase.
namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core
open HybridProtocol.Core.Noise

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

/// Output helpers the handshake and the transport driver of `Connection` share.
module internal Steps =
    /// Outputs, newest first (reversed once, by `Connection.Step`).
    type Out = Output list

    /// `KeyRetired` for each key, so that the driver disposes it.
    val retire: keys: IAeadKey seq -> out: Out -> Out

    val voptionToList: v: 'a voption -> 'a list

    /// The keys a finished handshake's CipherStates hold.
    val transportKeys: transport: TransportState -> IAeadKey list

    /// The keys a handshake step holds (its current handshake key, or its transport keys).
    val stepKeys: step: HandshakeStep -> IAeadKey list

    /// Seals one Close record with the engine's send half; ValueNone when it cannot be sealed.
    val sealClose: send: SendHalf -> reason: CloseReason -> struct (SendHalf * byte array) voption

    /// Tells the peer why we fail with an authenticated Close (the reason is the engine's:
    /// `Traffic.CloseReasonFor`), unless this end already sent its Close.
    val closeFor: send: SendHalf -> error: WireError -> out: Out -> Out

/// The handshake steps `Connection.Step` dispatches to.
module internal Handshake =
    /// Appends received bytes to what waits to be processed (the simple driver copies them).
    val feed: context: Context -> bytes: ReadOnlySpan<byte> -> Context

    /// Runs the handshake as far as the bytes received allow: writes our messages when it is our turn
    /// (Noise §5.3 WriteMessage, our HandshakePayload in our last message), reads the peer's frames (Noise §5.3
    /// ReadMessage; a payload where specs/PROTOCOL.md §6 allows none is `UnexpectedHandshakePayload`), and
    /// stops when it needs more bytes, needs a verdict, completes or fails. A pinned key is compared with a
    /// transmitted one here; a wrong one is refused without asking.
    val advance: h: HandshakePhase -> out: Steps.Out -> struct (HandshakeOutcome * Steps.Out)

    /// The application's answer to `VerifyPeerKey`: accepted, the handshake goes on; refused, it fails with
    /// `PeerKeyRejected` (after a complete handshake the peer is told so with an authenticated Close,
    /// AuthenticationFailed; mid-handshake nothing more is sent).
    val verdict: v: VerdictPhase -> accept: bool -> out: Steps.Out -> struct (HandshakeOutcome * Steps.Out)

    /// Server: bytes towards the preamble (specs/PROTOCOL.md §2). A complete preamble is answered with 0x00
    /// and starts the handshake with the preamble as the Noise prologue (Noise §6), or with a refusal
    /// (§3: `Policy.protocolChoice` picks the code; `MalformedPreamble`, `UnsupportedVersion`).
    val serverReceive:
        s: ServerStart -> bytes: ReadOnlySpan<byte> -> out: Steps.Out -> struct (HandshakeOutcome * Steps.Out)

    /// Client: bytes towards the server's status (specs/PROTOCOL.md §3): 0x00 goes on with the handshake
    /// (bytes after it are handshake frames), a refusal fails with `Refused`, and bytes that cannot be a status
    /// fail at once with `Malformed NotAStatus`.
    val clientReceive:
        c: ClientStart -> bytes: ReadOnlySpan<byte> -> out: Steps.Out -> struct (HandshakeOutcome * Steps.Out)

    /// Client: checks the configuration (`Policy.checkClient`), initializes the HandshakeState with the
    /// preamble as prologue, and writes the preamble and the first handshake message as one Transmit (the
    /// client does not wait for the status byte).
    val start: config: ClientConfig -> Result<struct (ClientStart * Steps.Out), WireError>
