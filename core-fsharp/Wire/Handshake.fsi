namespace HybridProtocol.Core.Wire

[<NoComparison; NoEquality>]
type internal HandshakeOutcome =
    | StillAwaitingStatus of ClientStart
    | StillAwaitingPreamble of ServerStart
    | Exchanging of HandshakePhase
    | AwaitingPeerKey of VerdictPhase
    | Established of TransportPhase
    | HandshakeFailed of WireError

module internal Steps =

    type Out = Output list

    val retire: keys: HybridProtocol.Core.IAeadKey seq -> out: Out -> Output list

    val voptionToList: v: 'a voption -> 'a list

    val transportKeys: transport: HybridProtocol.Core.Noise.TransportState -> HybridProtocol.Core.IAeadKey list

    val stepKeys: step: HybridProtocol.Core.Noise.HandshakeStep -> HybridProtocol.Core.IAeadKey list

    val sealClose: send: SendHalf -> reason: CloseReason -> struct (SendHalf * byte array) voption

    val closeFor: send: SendHalf -> error: WireError -> out: Out -> Out

module internal Handshake =





    val feed: context: Context -> bytes: System.ReadOnlySpan<byte> -> Context




    val advance: h: HandshakePhase -> out: Steps.Out -> struct (HandshakeOutcome * Steps.Out)






    val verdict: v: VerdictPhase -> accept: bool -> out: Steps.Out -> struct (HandshakeOutcome * Steps.Out)




    val serverReceive:
        s: ServerStart -> bytes: System.ReadOnlySpan<byte> -> out: Steps.Out -> struct (HandshakeOutcome * Steps.Out)

    val clientReceive:
        c: ClientStart -> bytes: System.ReadOnlySpan<byte> -> out: Steps.Out -> struct (HandshakeOutcome * Output list)

    val start: config: ClientConfig -> Result<struct (ClientStart * Steps.Out), WireError>
