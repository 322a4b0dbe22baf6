/// The values of `hybrid-file/1` (specs/FILE-TRANSFER.md): the header, the reason codes, the answers, and what can
/// be wrong with each message. The codec is `FileTransfer` (FileTransfer.fsi).
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
