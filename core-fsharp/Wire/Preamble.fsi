/// The cleartext negotiation before the handshake (Noise §13 "Negotiation data"): the client's preamble and
/// the server's one-message answer. Both are unauthenticated when they cross the wire; the preamble is then
/// authenticated by entering the Noise prologue (Noise §6), so a man in the middle who edits it makes the
/// handshake fail (downgrade protection). Layouts are in specs/PROTOCOL.md §2 and §3.
///
///     preamble:  "HYBR" | version=0x01 | n (1..255) | n bytes of Noise protocol name (printable ASCII)
///     status:    0x00                                           accepted; handshake frames follow
///                code (0x01..0x1F) | version (1..255) | count | count x (n | n bytes of name)    refused; then EOF
///
/// C# use: `Preamble.encode(new Preamble(name))` / `Preamble.decode(span)`; `ServerStatus.encode` / `ServerStatus.decode`;
/// `Preamble.prologue(preambleBytes)` is the Noise prologue both ends use.
namespace HybridProtocol.Core.Wire

/// The client's request: the protocol name it will run, e.g. "Noise_XX_25519_ChaChaPoly_BLAKE2b".
/// The version is not a field: this code writes and reads version 1; other versions are refused by code.
type Preamble = { ProtocolName: string }

/// What a decoder found at the start of its input.
[<NoComparison>]
type Decoded<'T> =

    /// Not enough bytes yet: at least `needed` more.
    | Incomplete of needed: int

    /// A value and the number of input bytes it used.
    | Decoded of value: 'T * consumed: int

/// A server's refusal: what it refused, the version it speaks, and the names it accepts (hints for the
/// client's error message; unauthenticated).
type Refusal = {
    Code: RefusalCode
    ServerVersion: byte
    Supported: string list
}

/// The server's answer to a preamble (one byte when accepted).
type ServerStatus =
    | Accepted
    | Declined of Refusal

module Preamble =

    /// The four magic bytes that start every HybridProtocol connection: ASCII "HYBR".
    val Magic: byte array

    /// The version this code speaks.
    [<Literal>]
    val Version: byte = 1uy

    /// The fixed context label that starts the Noise prologue.
    val ContextLabel: byte array

    /// The longest preamble: magic, version, length, 255 bytes of name.
    [<Literal>]
    val MaxLength: int = 261

    /// Printable ASCII without space (0x21..0x7E), the bytes a Noise protocol name (§8) is made of.
    val internal isNameByte: b: byte -> bool

    val internal checkName: name: string -> Result<string, WireError>

    /// Encodes a version-1 preamble. Refuses an empty name, one longer than 255 bytes, or a non-ASCII one.
    val encode: preamble: Preamble -> Result<byte array, WireError>

    /// Decodes a preamble from the start of `input`, judging each byte as soon as it arrives (so a wrong
    /// magic or version is refused without waiting for more). A version other than 1 gives
    /// `Malformed(UnknownVersion v)`: this code cannot read the rest, and the server answers UnsupportedVersion.
    val decode: input: System.ReadOnlySpan<byte> -> Result<Decoded<Preamble>, WireError>

    /// How much of a client's first flight has arrived: "preamble || frame(handshake message 1)" (specs/PROTOCOL.md
    /// §1 and §2). A listener waits for the whole first flight, which costs it a socket and a small buffer, before it
    /// spends a handshake slot on the client. `Incomplete n`: at least n more bytes; `Decoded((), length)`: the first
    /// `length` bytes are the first flight; an error when the bytes can be no first flight (the handshake then
    /// gives the typed refusal).
    val firstFlight: input: System.ReadOnlySpan<byte> -> Result<Decoded<unit>, WireError>

    /// The Noise prologue (Noise §6): the context label followed by the exact preamble bytes sent.
    val prologue: preambleBytes: byte array -> byte array

module ServerStatus =

    /// The status byte that accepts a preamble.
    [<Literal>]
    val AcceptedByte: byte = 0uy

    /// The largest refusal code. A first byte above it cannot be a status: the text protocols a client may
    /// reach by mistake (SSH, HTTP, SMTP, ...) start with printable ASCII (0x20..0x7E), so a client fails on
    /// their first byte instead of waiting for a refusal list that never ends.
    [<Literal>]
    val MaxRefusalCode: byte = 31uy

    /// Encodes the server's answer. A refusal lists at most 255 names (extra ones are dropped; names that
    /// cannot be encoded are refused).
    val encode: status: ServerStatus -> Result<byte array, WireError>

    /// Decodes the server's answer from the start of `input`, judging each byte as it arrives: a first byte
    /// above `MaxRefusalCode` or a version of 0 is `NotAStatus` at once.
    val decode: input: System.ReadOnlySpan<byte> -> Result<Decoded<ServerStatus>, WireError>
