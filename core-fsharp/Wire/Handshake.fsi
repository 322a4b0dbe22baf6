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

/// The handshake steps `Connection.Step` dispatches to.
module internal Handshake =
    /// `first || second` in one new array (the reference driver's copy of what it was given).
    val join: first: ArraySegment<byte> -> second: ReadOnlySpan<byte> -> ArraySegment<byte>

    /// The handshake failed: the error as an output, the keys it held retired.
    val fail: error: WireError -> keys: IAeadKey seq -> out: Steps.Out -> struct (HandshakeOutcome * Steps.Out)

    /// Runs the handshake as far as the bytes received allow: writes our messages when it is our turn
    /// (Noise §5.3 WriteMessage, our HandshakePayload in our last message), reads the peer's frames from
    /// `context.pending` in place (Noise §5.3 ReadMessage; a payload where specs/PROTOCOL.md §6 allows none is
    /// `UnexpectedHandshakePayload`), and stops when it needs more bytes, needs a verdict, completes or fails;
    /// `context.pending` is then what it did not consume (after a completion: the bytes behind the last frame). A pinned key is compared with a
    /// transmitted one here; a wrong one is refused without asking.
    val advance: h: HandshakePhase -> out: Steps.Out -> struct (HandshakeOutcome * Steps.Out)

    /// Writes our next message as one frame after `prefix` (the client's preamble with its first message), in one
    /// array, and goes on as `advance`.
    val writeHandshake:
        prefix: byte array -> h: HandshakePhase -> out: Steps.Out -> struct (HandshakeOutcome * Steps.Out)

    /// The application's answer to `VerifyPeerKey`: accepted, the handshake goes on; refused, it fails with
    /// `PeerKeyRejected` (after a complete handshake the peer is told so with an authenticated Close,
    /// AuthenticationFailed; mid-handshake nothing more is sent).
    val verdict: v: VerdictPhase -> accept: bool -> out: Steps.Out -> struct (HandshakeOutcome * Steps.Out)
