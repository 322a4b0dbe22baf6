module HybridProtocol.Core.Age.Header

open System
open System.Text

type Stanza = {
    Arguments: string list
    Body: byte array
}

type AgeHeader = {
    Stanzas: Stanza list
    Mac: byte array
}

[<NoComparison>]
type Decoded =
    | Complete of header: AgeHeader * length: int
    | NeedMore

let VersionPrefix = "age-encryption.org/"

[<Literal>]
let MaxLength = 1048576

[<Literal>]
let private Columns = 64

[<Literal>]
let private MacLength = 32

let private versionLine = VersionPrefix + "v1\n"

let macInput (stanzas: Stanza list) : byte array =
    let text = StringBuilder(versionLine)

    for stanza in stanzas do
        text.Append("-> ").Append(String.Join(" ", stanza.Arguments)).Append('\n')
        |> ignore

        let body = RawBase64.encode (ReadOnlySpan stanza.Body)
        // Full lines of 64 columns, then a final line shorter than 64 (empty when the body fills its last line).
        let mutable offset = 0

        while body.Length - offset >= Columns do
            text.Append(body, offset, Columns).Append('\n') |> ignore
            offset <- offset + Columns

        text.Append(body, offset, body.Length - offset).Append('\n') |> ignore

    text.Append("---") |> ignore
    Encoding.ASCII.GetBytes(text.ToString())

let encode (header: AgeHeader) : byte array =
    Array.concat [
        macInput header.Stanzas
        Encoding.ASCII.GetBytes(" " + RawBase64.encode (ReadOnlySpan header.Mac) + "\n")
    ]

// VCHAR = %x21-7E (RFC 5234 B.1).
let private isVchar (b: byte) = b >= 0x21uy && b <= 0x7Euy

let private ascii (span: ReadOnlySpan<byte>) = Encoding.ASCII.GetString span

let private startsWith (span: ReadOnlySpan<byte>) (text: string) =
    span.Length >= text.Length
    && (let mutable same = true

        for i in 0 .. text.Length - 1 do
            if span[i] <> byte text[i] then
                same <- false

        same)

/// The parser's position: which line, where it starts, and what it expects there.
type private Expect =
    | VersionLine
    | StanzaOrMac
    | BodyLine of arguments: string list * body: StringBuilder

/// One step of the line parser: the next expectation, a finished header, or an error.
type private Step =
    | Next of Expect * stanzas: Stanza list
    | Done of AgeHeader
    | Failed of HeaderError

let private parseArguments (line: ReadOnlySpan<byte>) (lineNumber: int) =
    // arg-line = "-> " argument *(SP argument) LF; argument = 1*VCHAR
    let rest = line.Slice 3
    let mutable ok = rest.Length > 0
    let mutable previousSpace = true

    for b in rest do
        if b = 0x20uy then
            if previousSpace then
                ok <- false

            previousSpace <- true
        elif isVchar b then
            previousSpace <- false
        else
            ok <- false

    if ok && not previousSpace then
        Ok(ascii(rest).Split(' ') |> List.ofArray)
    else
        Error(MalformedArgumentLine lineNumber)

let private isBase64Char (b: byte) =
    (b >= byte 'A' && b <= byte 'Z')
    || (b >= byte 'a' && b <= byte 'z')
    || (b >= byte '0' && b <= byte '9')
    || b = byte '+'
    || b = byte '/'

let private step (expect: Expect) (stanzas: Stanza list) (line: ReadOnlySpan<byte>) (lineNumber: int) : Step =
    match expect with
    | VersionLine when not (startsWith line VersionPrefix) -> Failed NotAnAgeFile
    | VersionLine ->
        // version-line = %s"age-encryption.org/" version LF; version = 1*VCHAR
        let version = line.Slice VersionPrefix.Length
        let mutable ok = version.Length > 0

        for b in version do
            if not (isVchar b) then
                ok <- false

        if not ok then
            Failed MalformedVersionLine
        elif ascii version <> "v1" then
            Failed(UnsupportedVersion(ascii version))
        else
            Next(StanzaOrMac, stanzas)
    | StanzaOrMac when startsWith line "-> " ->
        match parseArguments line lineNumber with
        | Ok arguments -> Next(BodyLine(arguments, StringBuilder()), stanzas)
        | Error e -> Failed e
    | StanzaOrMac when startsWith line "---" ->
        // end = "--- " 43base64char LF
        if List.isEmpty stanzas then
            Failed NoStanza
        elif line.Length <> 4 + 43 || line[3] <> 0x20uy then
            Failed MalformedMacLine
        else
            match RawBase64.asciiChars (line.Slice 4) with
            | ValueSome chars ->
                match RawBase64.decode (ReadOnlySpan chars) with
                | ValueSome mac when mac.Length = MacLength ->
                    Done {
                        Stanzas = List.rev stanzas
                        Mac = mac
                    }
                | _ -> Failed MalformedMacLine
            | ValueNone -> Failed MalformedMacLine
    | StanzaOrMac -> Failed(UnexpectedLine lineNumber)
    | BodyLine(arguments, body) ->
        let mutable ok = line.Length <= Columns

        for b in line do
            if not (isBase64Char b) then
                ok <- false

        if not ok then
            Failed(MalformedBodyLine lineNumber)
        else
            body.Append(ascii line) |> ignore

            if line.Length = Columns then
                Next(expect, stanzas)
            else
                // The final line (shorter than 64 columns) ends the stanza; the body must be canonical base64.
                match RawBase64.decode (body.ToString().AsSpan()) with
                | ValueSome bytes ->
                    let stanza = { Arguments = arguments; Body = bytes }

                    Next(StanzaOrMac, stanza :: stanzas)
                | ValueNone -> Failed(MalformedBodyLine lineNumber)

let decode (input: ReadOnlySpan<byte>, atEnd: bool) : Result<Decoded, HeaderError> =
    let prefixLength = min input.Length VersionPrefix.Length

    if not (startsWith (input.Slice(0, prefixLength)) (VersionPrefix.Substring(0, prefixLength))) then
        Error NotAnAgeFile
    elif input.Length = 0 && atEnd then
        Error NotAnAgeFile
    else
        let mutable expect = VersionLine
        let mutable stanzas = []
        let mutable offset = 0
        let mutable lineNumber = 1
        let mutable result = ValueNone

        while result.IsNone do
            let rest = input.Slice offset
            let lf = rest.IndexOf 0x0Auy

            if lf < 0 then
                result <-
                    ValueSome(
                        if input.Length > MaxLength then
                            Error(HeaderTooLong MaxLength)
                        elif atEnd then
                            Error HeaderTruncated
                        else
                            Ok NeedMore
                    )
            elif offset + lf + 1 > MaxLength then
                result <- ValueSome(Error(HeaderTooLong MaxLength))
            else
                match step expect stanzas (rest.Slice(0, lf)) lineNumber with
                | Failed e -> result <- ValueSome(Error e)
                | Done header -> result <- ValueSome(Ok(Complete(header, offset + lf + 1)))
                | Next(e, s) ->
                    expect <- e
                    stanzas <- s
                    offset <- offset + lf + 1
                    lineNumber <- lineNumber + 1

        result.Value
