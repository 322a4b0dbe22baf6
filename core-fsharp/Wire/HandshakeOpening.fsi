/// How a connection's handshake opens (specs/PROTOCOL.md §2 and §3): the client's preamble with its first message,
/// the server's reading of the preamble and its status, the client's reading of that status; then Handshake.fs runs
/// the Noise messages.
///
/// Internal to the core: `Connection` starts a client here and dispatches the first bytes of each side here.
namespace HybridProtocol.Core.Wire

open System

/// The opening steps `Connection` dispatches to.
module internal HandshakeOpening =
    /// Server: bytes towards the preamble (specs/PROTOCOL.md §2). A complete preamble is answered with 0x00
    /// and starts the handshake with the preamble as the Noise prologue (Noise §6), or with a refusal
    /// (§3: `Policy.protocolChoice` picks the code; `MalformedPreamble`, `UnsupportedVersion`). An incomplete
    /// preamble leaves the phase as it was (nothing consumed); the bytes after a complete one are the handshake's.
    val serverReceive:
        s: ServerStart -> input: ArraySegment<byte> -> out: Steps.Out -> struct (HandshakeOutcome * Steps.Out)

    /// Client: bytes towards the server's status (specs/PROTOCOL.md §3): 0x00 goes on with the handshake
    /// (bytes after it are handshake frames), a refusal fails with `Refused`, and bytes that cannot be a status
    /// fail at once with `Malformed NotAStatus`; an incomplete status leaves the phase as it was (nothing consumed).
    val clientReceive:
        c: ClientStart -> input: ArraySegment<byte> -> out: Steps.Out -> struct (HandshakeOutcome * Steps.Out)

    /// Client: checks the configuration (`Policy.checkClient`), initializes the HandshakeState with the
    /// preamble as prologue, and writes the preamble and the first handshake message as one Transmit (the
    /// client does not wait for the status byte).
    val start: config: ClientConfig -> Result<struct (ClientStart * Steps.Out), WireError>
