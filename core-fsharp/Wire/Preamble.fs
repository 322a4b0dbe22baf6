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

open System
open System.Text

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
    let Magic = "HYBR"B

    /// The version this code speaks.
    [<Literal>]
    let Version = 1uy

    /// The fixed context label that starts the Noise prologue.
    let ContextLabel = "HybridProtocol/1"B

    /// The longest preamble: magic, version, length, 255 bytes of name.
    [<Literal>]
    let MaxLength = 261

    /// Printable ASCII without space (0x21..0x7E), the bytes a Noise protocol name (§8) is made of.
    let internal isNameByte (b: byte) = b >= 0x21uy && b <= 0x7Euy

    let internal checkName (name: string) =
        if String.IsNullOrEmpty name then
            Error(Malformed EmptyProtocolName)
        elif
            name.Length > 255
            || not (name |> Seq.forall (fun c -> c < '\u0080' && isNameByte (byte c)))
        then
            Error(Malformed NonAsciiName)
        else
            Ok name

    /// Encodes a version-1 preamble. Refuses an empty name, one longer than 255 bytes, or a non-ASCII one.
    let encode (preamble: Preamble) : Result<byte[], WireError> =
        checkName preamble.ProtocolName
        |> Result.map (fun name ->
            Array.concat [ Magic; [| Version; byte name.Length |]; Encoding.ASCII.GetBytes name ])

    /// Decodes a preamble from the start of `input`, judging each byte as soon as it arrives (so a wrong
    /// magic or version is refused without waiting for more). A version other than 1 gives
    /// `Malformed(UnknownVersion v)`: this code cannot read the rest, and the server answers UnsupportedVersion.
    let decode (input: ReadOnlySpan<byte>) : Result<Decoded<Preamble>, WireError> =
        let magicSeen = min input.Length Magic.Length

        if not (input.Slice(0, magicSeen).SequenceEqual(ReadOnlySpan(Magic, 0, magicSeen))) then
            Error(Malformed BadMagic)
        elif input.Length < 5 then
            Ok(Incomplete(5 - input.Length))
        elif input[4] <> Version then
            Error(Malformed(UnknownVersion input[4]))
        elif input.Length < 6 then
            Ok(Incomplete 1)
        else
            let length = int input[5]

            if length = 0 then
                Error(Malformed EmptyProtocolName)
            elif input.Length < 6 + length then
                Ok(Incomplete(6 + length - input.Length))
            else
                let name = input.Slice(6, length)

                if name.IndexOfAnyExceptInRange(0x21uy, 0x7Euy) >= 0 then
                    Error(Malformed NonAsciiName)
                else
                    Ok(
                        Decoded(
                            {
                                ProtocolName = Encoding.ASCII.GetString name
                            },
                            6 + length
                        )
                    )

    /// How much of a client's first flight has arrived: "preamble || frame(handshake message 1)" (specs/PROTOCOL.md
    /// §1 and §2). A listener waits for the whole first flight, which costs it a socket and a small buffer, before it
    /// spends a handshake slot on the client. `Incomplete n`: at least n more bytes; `Decoded((), length)`: the first
    /// `length` bytes are the first flight; an error when the bytes can be no first flight (the handshake then
    /// gives the typed refusal).
    let firstFlight (input: ReadOnlySpan<byte>) : Result<Decoded<unit>, WireError> =
        match decode input with
        | Error e -> Error e
        | Ok(Incomplete needed) -> Ok(Incomplete needed)
        | Ok(Decoded(_, consumed)) ->
            match Frame.TryReadHeader(input.Slice consumed, Frame.MaxLength) with
            | Error e -> Error e
            | Ok ValueNone -> Ok(Incomplete(consumed + Frame.HeaderLength - input.Length))
            | Ok(ValueSome length) ->
                let total = consumed + Frame.HeaderLength + length

                if input.Length >= total then
                    Ok(Decoded((), total))
                else
                    Ok(Incomplete(total - input.Length))

    /// The Noise prologue (Noise §6): the context label followed by the exact preamble bytes sent.
    let prologue (preambleBytes: byte[]) = Array.append ContextLabel preambleBytes

module ServerStatus =
    /// The status byte that accepts a preamble.
    [<Literal>]
    let AcceptedByte = 0x00uy

    /// The largest refusal code. A first byte above it cannot be a status: the text protocols a client may
    /// reach by mistake (SSH, HTTP, SMTP, ...) start with printable ASCII (0x20..0x7E), so a client fails on
    /// their first byte instead of waiting for a refusal list that never ends.
    [<Literal>]
    let MaxRefusalCode = 0x1Fuy

    let private notAStatus (input: ReadOnlySpan<byte>) =
        Error(Malformed(NotAStatus(input.Slice(0, min input.Length 32).ToArray())))

    /// Encodes the server's answer. A refusal lists at most 255 names (extra ones are dropped; names that
    /// cannot be encoded are refused).
    let encode (status: ServerStatus) : Result<byte[], WireError> =
        match status with
        | Accepted -> Ok [| AcceptedByte |]
        | Declined refusal when byte refusal.Code = AcceptedByte ->
            Error(InvalidConfig(RefusalCodeOutOfRange AcceptedByte))
        | Declined refusal when byte refusal.Code > MaxRefusalCode ->
            Error(InvalidConfig(RefusalCodeOutOfRange(byte refusal.Code)))
        | Declined refusal when refusal.ServerVersion = 0uy -> Error(InvalidConfig RefusalVersionZero)
        | Declined refusal ->
            let names = refusal.Supported |> List.truncate 255

            match
                names
                |> List.tryPick (fun n ->
                    match Preamble.checkName n with
                    | Ok _ -> None
                    | Error e -> Some e)
            with
            | Some e -> Error e
            | None ->
                Ok(
                    Array.concat [
                        [| byte refusal.Code; refusal.ServerVersion; byte names.Length |]
                        for name in names do
                            [| byte name.Length |]
                            Encoding.ASCII.GetBytes name
                    ]
                )

    /// Decodes the server's answer from the start of `input`, judging each byte as it arrives: a first byte
    /// above `MaxRefusalCode` or a version of 0 is `NotAStatus` at once.
    let decode (input: ReadOnlySpan<byte>) : Result<Decoded<ServerStatus>, WireError> =
        if input.IsEmpty then
            Ok(Incomplete 1)
        elif input[0] = AcceptedByte then
            Ok(Decoded(Accepted, 1))
        elif input[0] > MaxRefusalCode || (input.Length >= 2 && input[1] = 0uy) then
            notAStatus input
        elif input.Length < 3 then
            Ok(Incomplete(3 - input.Length))
        else
            let count = int input[2]
            let mutable offset = 3
            let mutable found = 0
            let mutable names = []
            let mutable outcome = ValueNone

            while outcome.IsNone && found < count do
                if input.Length <= offset then
                    outcome <- ValueSome(Ok(Incomplete 1))
                else
                    let length = int input[offset]

                    if length = 0 then
                        outcome <- ValueSome(Error(Malformed BadRefusal))
                    elif input.Length < offset + 1 + length then
                        outcome <- ValueSome(Ok(Incomplete(offset + 1 + length - input.Length)))
                    else
                        let name = input.Slice(offset + 1, length)

                        if name.IndexOfAnyExceptInRange(0x21uy, 0x7Euy) >= 0 then
                            outcome <- ValueSome(Error(Malformed BadRefusal))
                        else
                            names <- Encoding.ASCII.GetString name :: names
                            found <- found + 1
                            offset <- offset + 1 + length

            match outcome with
            | ValueSome result -> result
            | ValueNone ->
                Ok(
                    Decoded(
                        Declined {
                            Code = LanguagePrimitives.EnumOfValue input[0]
                            ServerVersion = input[1]
                            Supported = List.rev names
                        },
                        offset
                    )
                )
