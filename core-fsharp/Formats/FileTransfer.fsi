/// The messages of `hybrid-file/1`, the application protocol of `hybrid send` and `hybrid receive`
/// (specs/FILE-TRANSFER.md). Each is one message of a connection (specs/PROTOCOL.md §5):
///
///     sender   -> receiver : header   {"name": "report.pdf", "size": 1234}      UTF-8 JSON, exactly these two members
///     receiver -> sender   : "ready"  |  "refused: " CODE ": " TEXT
///     sender   -> receiver : data     non-empty messages, "size" bytes in all
///     sender   -> receiver : digest   the 32 bytes of SHA-256 over the data
///     receiver -> sender   : "ok"  |  "mismatch"  |  "failed: " CODE ": " TEXT
///
/// FILE-TRANSFER.md [F2]: "A receiver MUST refuse with `bad-header` every header that is not a JSON object whose
/// members are exactly one string `name` and one whole number `size` of zero or more"; [F3]: "the name MUST be
/// refused with `bad-name` when it is not text (a lone surrogate), holds a control, format or line/paragraph
/// separator character, or its last component is empty, `.`, `..` or longer than 255 bytes of UTF-8; with
/// `hidden-name` when that component starts with a dot". Every decoder is total: bad bytes are a typed error.
namespace HybridProtocol.Core.Formats

open System

/// A file the sender announces: its name (as stored: the last component) and its size in bytes.
type FileHeader = { Name: string; Size: int64 }

/// The reason code of a `refused:` or `failed:` answer (FILE-TRANSFER.md "Reason codes").
type TransferReason =
    /// `bad-header`: the header is not the JSON object the protocol defines.
    | BadHeader
    /// `bad-name`: the name is not text, has an unsafe character, or its last component is empty, a dot name or too long.
    | BadName
    /// `hidden-name`: the last component starts with a dot.
    | HiddenName
    /// `name-taken`: a file of that name exists at the receiver (before or while the data arrived).
    | NameTaken
    /// `not-writable`: the receiver cannot create the file.
    | NotWritable
    /// `busy`: the receiver is receiving another file.
    | Busy
    /// `disk-full`: the receiver's disk filled up.
    | DiskFull
    /// `write-failed`: any other failure to store the file.
    | WriteFailed
    /// A code this version does not know (lower-case letters, digits and `-`): later versions may add codes.
    | OtherReason of code: string

/// What is wrong with the JSON of a header (all of these are `bad-header`).
type HeaderProblem =
    /// The bytes are not UTF-8.
    | NotUtf8
    /// Not JSON (RFC 8259) at this character offset, or JSON other than one object.
    | NotJsonObject of offset: int
    /// A member other than `name` and `size` (member names are matched exactly, after unescaping).
    | UnknownMember of name: string
    /// `name` or `size` given twice.
    | DuplicateMember of name: string
    /// `name` or `size` missing.
    | MissingMember of name: string
    /// `name` is not a JSON string.
    | NameNotString
    /// `size` is not a whole number from 0 to 2^63 - 1 written in digits (no sign, fraction or exponent).
    | SizeNotWholeNumber

/// What is wrong with a file name (`bad-name`, except `Hidden`, which is `hidden-name`).
type NameProblem =
    /// The JSON string holds an unpaired surrogate (`\ud800`): no file name can hold it.
    | NotText
    /// A control, format (U+202E...) or line/paragraph separator character, as a code point.
    | UnsafeCharacter of codePoint: int
    /// The last component is empty (`""`, `dir/`).
    | Empty
    /// The last component is `.` or `..`.
    | DotName
    /// The last component has more than `MaxNameBytes` bytes of UTF-8.
    | TooLong of bytes: int
    /// The last component starts with a dot (a hidden file).
    | Hidden

/// Why a header is refused.
type HeaderError =
    | MalformedHeader of HeaderProblem
    | BadFileName of NameProblem

/// The receiver's answers: to the header, then to the data and digest.
type TransferAnswer =
    /// `ready`: storage is open; send the data.
    | Ready
    /// `refused: CODE: TEXT`: the file is refused before any data.
    | Refused of TransferReason
    /// `ok`: the digest matched and the file is stored (written, flushed, renamed into place).
    | Stored
    /// `mismatch`: the digest did not match (or was not 32 bytes); nothing kept.
    | Mismatch
    /// `failed: CODE: TEXT`: the file could not be stored; may come before all data was sent.
    | Failed of TransferReason

/// What is wrong with an answer.
type AnswerError =
    /// The bytes are not UTF-8.
    | AnswerNotUtf8
    /// Not one of the five answer forms.
    | UnknownAnswer
    /// `refused:` or `failed:` without a code of lower-case letters, digits and `-` followed by `: `.
    | MalformedReason

/// What is wrong with a data message.
type DataError =
    /// An empty message among the data (each data message has at least one byte).
    | EmptyData
    /// More bytes than the header announced.
    | MoreThanAnnounced of remaining: int64 * length: int

[<RequireQualifiedAccess>]
module FileTransfer =

    /// The application protocol name both ends set (a `hybrid connect` to `hybrid receive` is refused by it).
    [<Literal>]
    val Protocol: string = "hybrid-file/1"

    /// The longest last component of a name, in bytes of UTF-8 (NAME_MAX of common file systems).
    [<Literal>]
    val MaxNameBytes: int = 255

    /// The digest message's length: SHA-256.
    [<Literal>]
    val DigestLength: int = 32

    /// The code of a reason as it is sent (`bad-header`, `disk-full`, ...).
    val reasonCode: reason: TransferReason -> string

    /// The reason a header error is answered with: `hidden-name` for `Hidden`, `bad-name` for the other name
    /// problems, `bad-header` for the rest.
    val headerReason: error: HeaderError -> TransferReason

    /// The stored name for a name as sent: the checks of [F3] in order (text, unsafe characters over the whole
    /// name; then the last component after `/` or `\`: empty, dot name, length, hidden).
    val fileName: name: string -> Result<string, NameProblem>

    /// A header as JSON: `{"name":"...","size":N}`, the name escaped as RFC 8259 requires (`"`, `\`, control
    /// characters; an unpaired surrogate as `\uXXXX`, which the receiver refuses as bad-name).
    val encodeHeader: header: FileHeader -> byte array

    /// The header in a message, its name already reduced to the stored name (`fileName`).
    val decodeHeader: message: ReadOnlySpan<byte> -> Result<FileHeader, HeaderError>

    /// An answer as sent: `text` follows the code of `Refused` and `Failed` (control characters become spaces, so the
    /// text stays one line); the other answers are their words alone.
    val encodeAnswer: answer: TransferAnswer -> text: string -> byte array

    /// An answer and its text (empty for `ready`, `ok` and `mismatch`).
    val decodeAnswer: message: ReadOnlySpan<byte> -> Result<TransferAnswer * string, AnswerError>

    /// Whether a data message of `length` bytes may come when `remaining` bytes of the announced size are left.
    val checkData: remaining: int64 -> length: int -> Result<unit, DataError>

    /// Compares two digests in time that depends only on their lengths (a length mismatch is false).
    val digestsEqual: expected: byte array -> actual: byte array -> bool
