namespace HybridProtocol.Core.Wire

/// A connection: one case per phase, each carrying only what is valid there.
[<NoComparison; NoEquality>]
type Connection =
    | AwaitingStatus of ClientStart
    | AwaitingPreamble of ServerStart
    | Handshaking of HandshakePhase
    | AwaitingVerdict of VerdictPhase
    | Open of TransportPhase

    /// We sent Close; records from the peer are still delivered until its Close arrives.
    | Closing of TransportPhase

    /// Both Close records crossed: a clean end.
    | Closed
    | Failed of WireError

    /// A client connection: checks the configuration, then writes the preamble and the first handshake
    /// message (sent together: the client does not wait for the status byte).
    static member Client: config: ClientConfig -> Result<struct (Connection * Output list), WireError>

    /// What the handshake established, once it has completed (and until the connection ends).
    static member HandshakeInfo: state: Connection -> HandshakeInfo option

    /// A server connection: checks the configuration and waits for the client's preamble.
    static member Server: config: ServerConfig -> Result<struct (Connection * Output list), WireError>

    /// One input in, the next state and the outputs (in the order to act on them) out.
    static member Step: state: Connection * input: Input -> struct (Connection * Output list)

    /// The engine as the handshake left it (Open phase only), for a driver that runs `SendHalf` and
    /// `ReceiveHalf` on its own buffers; the Connection value must not be used afterwards.
    static member Traffic: state: Connection -> Result<TrafficStart, WireError>
