/// Output helpers the handshake (Handshake.fs) and the transport driver of `Connection` share: retiring keys
/// and sealing the Close that tells the peer why this end fails. Internal to the core.
namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core
open HybridProtocol.Core.Noise

/// Output helpers the handshake and the transport driver of `Connection` share.
module internal Steps =
    /// Outputs, newest first (reversed once, by `Connection.Step`).
    type Out = Output list

    /// `KeyRetired` for each key, so that the driver disposes it.
    val retire: keys: IAeadKey seq -> out: Out -> Out

    val voptionToList: v: 'a voption -> 'a list

    /// The bytes of a segment (none for the default one).
    val view: segment: ArraySegment<byte> -> ReadOnlySpan<byte>

    /// The keys a finished handshake's CipherStates hold.
    val transportKeys: transport: TransportState -> IAeadKey list

    /// The keys a handshake step holds (its current handshake key, or its transport keys).
    val stepKeys: step: HandshakeStep -> IAeadKey list

    /// Seals one Close record with the engine's send half; ValueNone when it cannot be sealed.
    val sealClose: send: SendHalf -> reason: CloseReason -> struct (SendHalf * byte array) voption

    /// Tells the peer why we fail with an authenticated Close (the reason is the engine's:
    /// `Traffic.CloseReasonFor`), unless this end already sent its Close.
    val closeFor: send: SendHalf -> error: WireError -> out: Out -> Out
