/// age's ASCII armor (age.md "ASCII armor"): "the strict PEM encoding specified in [RFC 7468], Section 3 (Figure 3),
/// with case-sensitive label "AGE ENCRYPTED FILE"", base64 with '=' padding in lines of 64 columns. Read strictly, as
/// age.md recommends ("SHOULD reject non-canonical ASCII armor encodings except for whitespace before and after the PEM
/// block, and MAY choose to accept both LF and CRLF line endings"): we accept whitespace lines (space, tab, CR) before
/// the begin line and after the end line, LF or CRLF line ends, and nothing else. A reader is a line state machine, so
/// the facade can stream armored files of any size in bounded memory.
/// See: https://www.rfc-editor.org/rfc/rfc7468#section-3
module HybridProtocol.Core.Age.Armor

/// "-----BEGIN AGE ENCRYPTED FILE-----".
val BeginLine: string

/// "-----END AGE ENCRYPTED FILE-----".
val EndLine: string

/// Plaintext bytes per full armor line (64 base64 columns).
[<Literal>]
val BytesPerLine: int = 48

/// The longest line a reader takes (whitespace lines around the block included); longer lines are refused.
[<Literal>]
val MaxLineLength: int = 1024

/// One body line (without its LF) for up to 48 bytes: padded base64, 64 columns for 48 bytes.
val encodeLine: data: System.ReadOnlySpan<byte> -> string

/// A whole armored file: begin line, body lines of 64 columns (the last shorter, or absent for no data), end line, each
/// ending in LF.
val encode: data: System.ReadOnlySpan<byte> -> string

/// The reader, one case per phase: before the begin line, in the body (after a short last line only the end line may
/// follow), after the end line.
[<NoComparison; Struct>]
type ArmorReader =
    private
    | ExpectBegin of beginLine: int
    | InBody of bodyLine: int * lastSeen: bool
    | AfterEnd of endLine: int

/// The reader before the first line.
val start: ArmorReader

/// Takes one line, without its LF (a CR before the LF is the CRLF line end and is ignored). Returns the next reader
/// and the bytes the line decodes to (empty for non-body lines).
val feedLine:
    reader: ArmorReader * line: System.ReadOnlySpan<byte> -> Result<struct (ArmorReader * byte array), ArmorError>

/// The input ended: fine after the end line, an error anywhere else.
val finish: reader: ArmorReader -> Result<unit, ArmorError>

/// Total decode of a whole armored input (lines split at LF; the last line may lack its LF).
val decode: input: System.ReadOnlySpan<byte> -> Result<byte array, ArmorError>
