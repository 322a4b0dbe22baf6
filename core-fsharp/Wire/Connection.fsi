/// The connection state machine (specs/PROTOCOL.md §7): every rule about what may happen when lives in
/// this file (h11's "Rule 1"). A pure step function: a state and one input go in; the next state and a
/// list of outputs, as inspectable values, come out (h11 `next_event`, rustls unbuffered `ConnectionState`).
/// The phases before `Open` are Handshake.fs's (the Noise HandshakeState); this file dispatches to it, then
/// drives the transport engine (Traffic.fs: `SendHalf`/`ReceiveHalf`, the same functions the facade drives;
/// there is no second transport implementation).
///
///     client:  AwaitingStatus --0x00--> Handshaking <--> AwaitingVerdict --> Open --> Closing --> Closed
///     server:  AwaitingPreamble --ok--> Handshaking <--> AwaitingVerdict --> Open --> Closing --> Closed
///     any phase --peer's bad bytes / EOF without Close / refusal / rejected key--> Failed (terminal)
///
/// C# use:
///     var (state, outputs) = Connection.Client(config)   // FSharpResult<ValueTuple<Connection, FSharpList<Output>>, WireError>
///     (state, outputs) = Connection.Step(state, Input.NewReceived(bytes));
///     foreach (var o in outputs) switch (o) { case Output.Transmit t: ...; case Output.Deliver d: ...;
///         case Output.VerifyPeerKey v: ... answer with Input.NewPeerKeyVerdict(ok); case Output.KeyRetired k:
///         k.Key.Dispose(); case Output.Failed f: throw ... }
/// Outputs must be acted on in order. `Transmit` bytes are to be written as they are. Answer
/// `VerifyPeerKey` before feeding more input: bytes received meanwhile are queued (not processed) and the
/// queue is not bounded by the core. A driver with its own receive buffer feeds the handshake with
/// `ReceiveHandshake` (read in place, consumed bytes reported) instead of `Step(Received)`. For the transport
/// phase a driver may either keep calling `Step` (simple; allocates per message) or take the engine with
/// `Connection.Traffic` and call its `SendHalf`/`ReceiveHalf` on its own buffers (allocation-free per record;
/// the facade does both).
namespace HybridProtocol.Core.Wire

open System

/// A connection: one case per phase, each carrying only what is valid there.
[<NoComparison; NoEquality>]
type Connection =
    /// Client: the preamble and the first handshake message are sent; waiting for the server's status byte
    /// (specs/PROTOCOL.md §3).
    | AwaitingStatus of ClientStart
    /// Server: waiting for the client's preamble (specs/PROTOCOL.md §2).
    | AwaitingPreamble of ServerStart
    /// Exchanging handshake messages (Noise §5.3), one frame each.
    | Handshaking of HandshakePhase
    /// The peer's static key was given with `Output.VerifyPeerKey`; waiting for `Input.PeerKeyVerdict`.
    | AwaitingVerdict of VerdictPhase
    /// The transport phase: messages flow both ways through the engine (Traffic.fs).
    | Open of TransportPhase

    /// We sent Close; records from the peer are still delivered until its Close arrives.
    | Closing of TransportPhase

    /// Both Close records crossed: a clean end.
    | Closed
    /// Terminal: every further input reports this error again.
    | Failed of WireError

    /// A client connection: checks the configuration, then writes the preamble and the first handshake
    /// message (sent together: the client does not wait for the status byte).
    static member Client: config: ClientConfig -> Result<struct (Connection * Output list), WireError>

    /// What the handshake established, once it has completed (and until the connection ends).
    static member HandshakeInfo: state: Connection -> HandshakeInfo option

    /// A server connection: checks the configuration and waits for the client's preamble.
    static member Server: config: ServerConfig -> Result<struct (Connection * Output list), WireError>

    /// One input in, the next state and the outputs (in the order to act on them) out. `Input.Received` bytes are
    /// copied: the connection holds what it has not consumed, and after the handshake runs the engine on the rest.
    static member Step: state: Connection * input: Input -> struct (Connection * Output list)

    /// The handshake's input from the caller's buffer (rustls's unbuffered `process_tls_records`, quinn-proto's
    /// `handle`): reads whole units from `received` in place (the server's preamble or the client's status, then
    /// handshake frames), as many as it can act on, and reports how many bytes it consumed. It stops after the frame
    /// that completes the handshake (the bytes behind it are the transport's: give them to `ReceiveHalf.Receive`
    /// after `Traffic`), after the frame that asks for `VerifyPeerKey` (answer with `Step(PeerKeyVerdict)`, then call
    /// again with the bytes not consumed), or at a failure; consumed 0 means a unit is incomplete (read more, keep the
    /// bytes, call again with them all). The core keeps no reference to `received`. In any other phase it consumes
    /// nothing (a Failed connection reports its error again). End of input is `Step(EndOfInput)`. `Step(Received)`
    /// runs this same reader over its own copy, so both drivers take the same decisions.
    static member ReceiveHandshake:
        state: Connection * received: ArraySegment<byte> -> struct (Connection * int * Output list)

    /// The engine as the handshake left it, for a driver that runs `SendHalf` and `ReceiveHalf` on its own buffers;
    /// the Connection value must not be used afterwards. Open phase with no received bytes held (a connection driven
    /// by `ReceiveHandshake`, or one `Step` has fed no transport bytes yet); otherwise `Error ConnectionClosed`.
    static member Traffic: state: Connection -> Result<TrafficStart, WireError>
