/// The age v1 header (age.md "Header"): a version line, one or more recipient stanzas, and the MAC line.
///
/// ```
/// header = v1-line 1*stanza end
/// v1-line = %s"age-encryption.org/v1" LF
/// end = "--- " 43base64char LF
/// stanza = arg-line *full-line final-line
/// arg-line = "-> " argument *(SP argument) LF
/// argument = 1*VCHAR
/// full-line = 64base64char LF
/// final-line = *63base64char LF
/// ```
module HybridProtocol.Core.Age.Header

/// A recipient stanza: its arguments (the first is the stanza type, e.g. "X25519") and its body. Arguments must be
/// 1*VCHAR (printable ASCII, no space) for the stanza to encode to a header that decodes.
type Stanza = {
    Arguments: string list
    Body: byte array
}

/// A decoded header: its stanzas and the 32-byte MAC.
type AgeHeader = {
    Stanzas: Stanza list
    Mac: byte array
}

/// What `decode` found: a whole header and the bytes it took, or a valid prefix that needs more input.
[<NoComparison>]
type Decoded =
    | Complete of header: AgeHeader * length: int
    | NeedMore

/// "age-encryption.org/", the start of every version line.
val VersionPrefix: string

/// The longest header a reader takes (1 MiB: about 600 mlkem768x25519 stanzas), a bound on its memory.
[<Literal>]
val MaxLength: int = 1048576

/// The MAC input: "the whole header up to and including the `---` mark (excluding the space following it)".
val macInput: stanzas: Stanza list -> byte array

/// The whole header: macInput, then " " || base64(mac) || LF.
val encode: header: AgeHeader -> byte array

/// Total decode of a header at the start of `input`. Bytes after the header (the payload) are not looked at. When the
/// input ends inside a header that is valid so far, `NeedMore` (`atEnd` = false) or `HeaderTruncated` (`atEnd` = true).
val decode: input: System.ReadOnlySpan<byte> * atEnd: bool -> Result<Decoded, HeaderError>
