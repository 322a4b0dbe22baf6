namespace HybridProtocol.Core.Formats

open System
open System.Globalization
open System.Text

type FileHeader = { Name: string; Size: int64 }

type TransferReason =
    | BadHeader
    | BadName
    | HiddenName
    | NameTaken
    | NotWritable
    | Busy
    | DiskFull
    | WriteFailed
    | OtherReason of code: string

type HeaderProblem =
    | NotUtf8
    | NotJsonObject of offset: int
    | UnknownMember of name: string
    | DuplicateMember of name: string
    | MissingMember of name: string
    | NameNotString
    | SizeNotWholeNumber

type NameProblem =
    | NotText
    | UnsafeCharacter of codePoint: int
    | Empty
    | DotName
    | TooLong of bytes: int
    | Hidden

type HeaderError =
    | MalformedHeader of HeaderProblem
    | BadFileName of NameProblem

type TransferAnswer =
    | Ready
    | Refused of TransferReason
    | Stored
    | Mismatch
    | Failed of TransferReason

type AnswerError =
    | AnswerNotUtf8
    | UnknownAnswer
    | MalformedReason

type DataError =
    | EmptyData
    | MoreThanAnnounced of remaining: int64 * length: int

/// The one JSON value a header member can hold, as far as the header cares.
