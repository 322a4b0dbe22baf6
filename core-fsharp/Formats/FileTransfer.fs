namespace HybridProtocol.Core.Formats

open System
open System.Globalization
open System.Text

[<RequireQualifiedAccess>]
module FileTransfer =

    [<Literal>]
    let Protocol = "hybrid-file/1"

    [<Literal>]
    let MaxNameBytes = 255

    [<Literal>]
    let DigestLength = 32

    let reasonCode (reason: TransferReason) =
        match reason with
        | BadHeader -> "bad-header"
        | BadName -> "bad-name"
        | HiddenName -> "hidden-name"
        | NameTaken -> "name-taken"
        | NotWritable -> "not-writable"
        | Busy -> "busy"
        | DiskFull -> "disk-full"
        | WriteFailed -> "write-failed"
        | OtherReason code -> code

    let private reasonOf (code: string) =
        [
            BadHeader
            BadName
            HiddenName
            NameTaken
            NotWritable
            Busy
            DiskFull
            WriteFailed
        ]
        |> List.tryFind (fun r -> reasonCode r = code)
        |> Option.defaultValue (OtherReason code)

    let headerReason (error: HeaderError) =
        match error with
        | MalformedHeader _ -> BadHeader
        | BadFileName Hidden -> HiddenName
        | BadFileName _ -> BadName

    let private utf8 = UTF8Encoding(false, false)

    /// FILE-TRANSFER.md [F3]: control (Cc), format (Cf), line (Zl) and paragraph (Zp) separators, by code point, so
    /// a format character outside the BMP (U+E0001) counts too.
    let private unsafeCodePoint (s: string) =
        s.EnumerateRunes()
        |> Seq.tryFind (fun r ->
            match Rune.GetUnicodeCategory r with
            | UnicodeCategory.Control
            | UnicodeCategory.Format
            | UnicodeCategory.LineSeparator
            | UnicodeCategory.ParagraphSeparator -> true
            | _ -> false)
        |> Option.map _.Value

    let fileName (name: string) : Result<string, NameProblem> =
        if HeaderJson.hasLoneSurrogate name then
            Error NotText
        else
            match unsafeCodePoint name with
            | Some c -> Error(UnsafeCharacter c)
            | None ->
                let normalized = name.Replace('\\', '/')
                let last = normalized.Substring(normalized.LastIndexOf '/' + 1)
                let bytes = utf8.GetByteCount last

                if last.Length = 0 then Error Empty
                elif last = "." || last = ".." then Error DotName
                elif bytes > MaxNameBytes then Error(TooLong bytes)
                elif last.StartsWith '.' then Error Hidden
                else Ok last

    let decodeHeader (message: ReadOnlySpan<byte>) : Result<FileHeader, HeaderError> =
        if not (Unicode.Utf8.IsValid message) then
            Error(MalformedHeader NotUtf8)
        else
            match HeaderJson.read (utf8.GetString message) with
            | Error e -> Error e
            | Ok(name, size) ->
                match fileName name with
                | Ok stored -> Ok { Name = stored; Size = size }
                | Error p -> Error(BadFileName p)

    let encodeHeader (header: FileHeader) =
        utf8.GetBytes(HeaderJson.write header.Name header.Size)

    let private oneLine (text: string) =
        String(text.ToCharArray() |> Array.map (fun c -> if Char.IsControl c then ' ' else c))

    let encodeAnswer (answer: TransferAnswer) (text: string) =
        let words =
            match answer with
            | Ready -> "ready"
            | Stored -> "ok"
            | Mismatch -> "mismatch"
            | Refused reason -> "refused: " + reasonCode reason + ": " + oneLine text
            | Failed reason -> "failed: " + reasonCode reason + ": " + oneLine text

        utf8.GetBytes words

    let private isCode (code: string) =
        code.Length > 0
        && code
           |> Seq.forall (fun c -> (c >= 'a' && c <= 'z') || Char.IsAsciiDigit c || c = '-')

    let private withReason (rest: string) (make: TransferReason -> TransferAnswer) =
        match rest.IndexOf(": ", StringComparison.Ordinal) with
        | cut when cut > 0 && isCode (rest.Substring(0, cut)) ->
            Ok(make (reasonOf (rest.Substring(0, cut))), rest.Substring(cut + 2))
        | _ -> Error MalformedReason

    let decodeAnswer (message: ReadOnlySpan<byte>) : Result<TransferAnswer * string, AnswerError> =
        if not (Unicode.Utf8.IsValid message) then
            Error AnswerNotUtf8
        else
            match utf8.GetString message with
            | "ready" -> Ok(Ready, "")
            | "ok" -> Ok(Stored, "")
            | "mismatch" -> Ok(Mismatch, "")
            | s when s.StartsWith("refused: ", StringComparison.Ordinal) -> withReason (s.Substring 9) Refused
            | s when s.StartsWith("failed: ", StringComparison.Ordinal) -> withReason (s.Substring 8) Failed
            | _ -> Error UnknownAnswer

    let checkData (remaining: int64) (length: int) : Result<unit, DataError> =
        if length <= 0 then
            Error EmptyData
        elif int64 length > remaining then
            Error(MoreThanAnnounced(remaining, length))
        else
            Ok()

    let digestsEqual (expected: byte array) (actual: byte array) =
        if expected.Length <> actual.Length then
            false
        else
            let mutable difference = 0

            for i in 0 .. expected.Length - 1 do
                difference <- difference ||| (int expected[i] ^^^ int actual[i])

            difference = 0
