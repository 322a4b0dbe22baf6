namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core
open HybridProtocol.Core.Noise

[<RequireQualifiedAccess; NoComparison; NoEquality>]
type Input =
    | Received of Bytes: ReadOnlyMemory<byte>
    | SendMessage of Message: ReadOnlyMemory<byte>
    | CloseRequested
    | UpdateKey
    | PeerKeyVerdict of Accept: bool
    | EndOfInput

[<NoComparison; NoEquality>]
type HandshakeInfo = {
    ProtocolName: string
    HandshakeHash: byte[]
    RemoteStatic: DhPublicKey option
    Local: HandshakePayload
    Remote: HandshakePayload
    AnnouncedKeys: DhPublicKey list
    LocalStaticIndex: int
}

[<RequireQualifiedAccess; NoComparison; NoEquality>]
type Output =
    | Transmit of Bytes: byte[]
    | Deliver of Message: byte[]
    | VerifyPeerKey of PeerKey: DhPublicKey
    | HandshakeCompleted of Info: HandshakeInfo
    | KeyRetired of Key: IAeadKey
    | Closed
    | Failed of Error: WireError
    | Rejected of Error: WireError

[<NoComparison; NoEquality>]
type internal Announcing =
    | NotAnnouncing
    | Announces of suite: CryptoSuite * keys: DhKeyPair list
    | Checks of suite: CryptoSuite * ephemeral: DhKeyPair

[<NoComparison; NoEquality>]
type Context = internal {
    role: Role
    protocol: ProtocolName
    local: HandshakePayload
    pinned: DhPublicKey list
    revoked: DhPublicKey list
    announcing: Announcing
    proven: DhPublicKey list
    staticIndex: int
    authority: HybridProtocol.Core.Formats.AuthorityPolicy option
    maxRecordData: int
    rekey: RekeyPolicy
    pending: ArraySegment<byte>
    ended: bool
    outgoing: byte[] list
}

[<NoComparison; NoEquality>]
type ClientStart = internal {
    context: Context
    handshake: HandshakeState
    received: ArraySegment<byte>
}

[<NoComparison; NoEquality>]
type ServerStart = internal {
    config: ServerConfig
    received: ArraySegment<byte>
    outgoing: byte[] list
}

[<NoComparison; NoEquality>]
type HandshakePhase = internal {
    context: Context
    handshake: HandshakeState
    peer: HandshakePayload option
    alternatives: (int * HandshakeState) list
}

[<NoComparison; NoEquality>]
type VerdictPhase = internal {
    context: Context
    step: HandshakeStep
    peer: HandshakePayload option
    peerKey: DhPublicKey
}

[<NoComparison; NoEquality>]
type TransportPhase = internal {
    context: Context
    send: SendHalf
    receive: ReceiveHalf
    info: HandshakeInfo
    message: byte[]
}

[<NoComparison; NoEquality>]
type TrafficStart = {
    Send: SendHalf
    Receive: ReceiveHalf
    Info: HandshakeInfo
}

[<NoComparison; NoEquality>]
type internal HandshakeOutcome =
    | StillAwaitingStatus of ClientStart
    | StillAwaitingPreamble of ServerStart
    | Exchanging of HandshakePhase
    | AwaitingPeerKey of VerdictPhase
    | Established of TransportPhase
    | HandshakeFailed of WireError
