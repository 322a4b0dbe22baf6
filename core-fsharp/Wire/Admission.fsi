/// How a server admits clients before and after the handshake (specs/PROTOCOL.md §12a, rules [S1]-[S8]): the bound
/// on a pattern's first message, when a waiting client's first flight is complete (or can be refused at once), which
/// addresses share a limit, which patterns need a liveness proof before the application sees the connection, and the
/// status a server sends when it drops a waiting client. The facade's listeners (SecureListener, the Kestrel
/// middleware, the CLI's servers through SecureListener) keep the sockets, timers and counters; every decision is here.
///
/// C# use: `Admission.firstFlight(span)`; `Admission.shareKey(address.GetAddressBytes())`;
/// `Admission.livenessProofNeeded(name)`; `Admission.dropStatus(DropReason.TooSlow)`.
namespace HybridProtocol.Core.Wire

open HybridProtocol.Core.Noise

/// What a listener does with the bytes a waiting client has sent so far.
[<NoComparison; RequireQualifiedAccess>]
type FirstFlightVerdict =

    /// The first flight is not complete: at least `needed` more bytes. The client stays in the waiting stage (a
    /// socket and a small buffer, no handshake slot).
    | Waiting of needed: int

    /// The first `length` bytes are the whole first flight (preamble and a first frame within the pattern's bound):
    /// the client may take a handshake slot.
    | Complete of length: int

    /// The bytes can be no first flight, or name no protocol this code knows (a wrong magic or version, a malformed
    /// name): the handshake answers them at once with its refusal (specs/PROTOCOL.md §3), which costs no key work.
    | Answer of error: WireError

    /// The first frame announces more bytes than the pattern's first message can have (`limit`): the client is
    /// dropped at once, without an answer; no conforming client sends it.
    | Oversized of length: int * limit: int

/// Why a listener drops a client before its handshake slot.
[<RequireQualifiedAccess>]
type DropReason =

    /// Every handshake slot is taken, and the client's address holds its share or more.
    | Busy

    /// The first flight did not arrive within the first-flight deadline, or the waiting client was pushed out by a
    /// newer one (the oldest waiting client goes first).
    | TooSlow

module Admission =

    /// The most payload bytes handshake message 1 may carry (specs/PROTOCOL.md [S2]): the client's parameters (§6,
    /// 266 bytes at most in version 1) with room for later fields.
    [<Literal>]
    val MaxFirstPayload: int = 512

    /// The largest handshake message 1 of this protocol (the body of its first frame, §4): its tokens (Noise §7:
    /// "e" is DHLEN bytes, "s" DHLEN plus 16 once a key is set; Noise HFS "e1" KEMPUBLICKEYLEN, plus 16 once a key
    /// is set) and its payload (at most `MaxFirstPayload` when the client's parameters travel in message 1, else
    /// empty), plus 16 for the payload's tag once a key is set. `Noise_XX_25519_…`: 32; `Noise_NK_25519_…`: 560.
    val firstMessageLimit: name: ProtocolName -> int

    /// How much of a client's first flight, "preamble || frame(handshake message 1)", has arrived, judged with the
    /// pattern's bound (`firstMessageLimit`) as soon as the frame's length is known.
    val firstFlight: input: System.ReadOnlySpan<byte> -> FirstFlightVerdict

    /// The part of an address that shares one per-address limit (specs/PROTOCOL.md [S5]): an IPv4 address (4 bytes)
    /// as it is, an IPv4-mapped IPv6 address as its IPv4 address, any other IPv6 address (16 bytes) as its /64
    /// prefix (8 bytes), since one client controls a whole /64. Other lengths are returned unchanged.
    val shareKey: address: byte array -> byte array

    /// Whether the responder writes the last handshake message of this protocol (NK, NX, IK and their hfs and psk
    /// variants): then the completed handshake does not show that the client holds its ephemeral key (message 1 can
    /// be a replay), and the server waits for the client's first authenticated record before it hands the
    /// connection to the application (specs/PROTOCOL.md [S6]); a client of such a protocol sends a record at once
    /// ([S7]).
    val livenessProofNeeded: name: ProtocolName -> bool

    /// The status a listener sends to a client it drops before the handshake (specs/PROTOCOL.md [S8]): the refusal
    /// ServerBusy (`Busy`) or TooSlow (`TooSlow`), listing no names.
    val dropStatus: reason: DropReason -> byte array
