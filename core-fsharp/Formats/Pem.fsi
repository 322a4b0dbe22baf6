/// PEM text (RFC 7468 §2-§5): the key files of specs/KEYS.md and specs/HPKE.md "Key formats" are one PEM block,
///
///     -----BEGIN label-----
///     base64 of the DER, lines of 64 characters (RFC 7468 §2: "MUST wrap the base64-encoded lines so that each line
///     consists of exactly 64 characters except for the final line")
///     -----END label-----
///
/// written with LF line ends and a final LF (byte for byte what OpenSSL writes); read with any text around the block and
/// CRLF line ends (RFC 7468 §2: "parsers SHOULD ignore whitespace and other non-base64 characters" outside the block).
/// When there is no block, `decode` says what the text looks like instead, so the facade can tell the user.
namespace HybridProtocol.Core.Formats

/// Why text holds no PEM block.
type PemError =

    /// Nothing but white space.
    | EmptyText

    /// An OpenSSH public key line (`ssh-...`, `ecdsa-...`), not PEM.
    | OpenSshLine

    /// Binary (a NUL or an undecodable byte): perhaps DER.
    | BinaryText

    /// A `-----BEGIN` line without a complete block after it: truncated, bad base64, or BEGIN/END labels that differ.
    | DamagedBlock

    /// Text without any `-----BEGIN` line.
    | NoBlock

/// The first PEM block of a text: its label and the bytes its base64 decodes to (erase them if they are secret).
type PemBlock = { Label: string; Data: byte array }

[<RequireQualifiedAccess>]
module Pem =

    /// The label of a PKCS #8 private key (RFC 7468 §10).
    [<Literal>]
    val PrivateKeyLabel: string = "PRIVATE KEY"

    /// The label of a SubjectPublicKeyInfo (RFC 7468 §13).
    [<Literal>]
    val PublicKeyLabel: string = "PUBLIC KEY"

    /// The first block of the text (RFC 7468 §2-§3, lax on text around it). Total.
    val decode: text: System.ReadOnlySpan<char> -> Result<PemBlock, PemError>

    /// The number of characters `write` needs for `length` bytes under `label`, final LF included.
    val size: label: string * length: int -> int

    /// Writes the block into `destination` (at least `size` characters): LF line ends, 64-column lines, final LF.
    /// Returns the characters written, or 0 when the destination is too small.
    val write: label: string * data: System.ReadOnlySpan<byte> * destination: System.Span<char> -> int

    /// The block as new characters (erase them if the data is secret).
    val encode: label: string * data: System.ReadOnlySpan<byte> -> char array
