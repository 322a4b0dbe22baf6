/// The messages of `hybrid-file/1`, the application protocol of `hybrid send` and `hybrid receive`
/// (specs/FILE-TRANSFER.md). Each is one message of a connection (specs/PROTOCOL.md §5):
///
///     sender   -> receiver : header   {"name": "report.pdf", "size": 1234}      UTF-8 JSON, exactly these two members
///     receiver -> sender   : "ready"  |  "refused: " CODE ": " TEXT
///     sender   -> receiver : data     non-empty messages, "size" bytes in all
///     sender   -> receiver : digest   the 32 bytes of SHA-256 over the data
///     receiver -> sender   : "ok"  |  "mismatch"  |  "failed: " CODE ": " TEXT
///
/// FILE-TRANSFER.md [F2]: "A receiver MUST refuse with `bad-header` every header that is not such an object: bytes
/// that are not UTF-8 or not JSON, another JSON value, a missing, repeated or additional member (whatever its value),
/// a `name` that is not a string, a `size` that is not such a number"; [F3]: "The receiver MUST refuse the name with
/// `bad-name` when the string holds an unpaired surrogate [...] or any character of the Unicode categories Cc
/// (controls), Cf [...], Zl or Zp; or when its last component (the text after the last `/` or `\`) is empty, `.`,
/// `..`, or longer than 255 bytes of UTF-8 (NAME_MAX). It MUST refuse with `hidden-name` a last component that starts
/// with `.`". Every decoder is total: bad bytes are a typed error.
namespace HybridProtocol.Core.Formats

open System

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
