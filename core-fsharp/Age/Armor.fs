module HybridProtocol.Core.Age.Armor

open System
open System.Text

let BeginLine = "-----BEGIN AGE ENCRYPTED FILE-----"

let EndLine = "-----END AGE ENCRYPTED FILE-----"

[<Literal>]
let BytesPerLine = 48

[<Literal>]
let MaxLineLength = 1024

[<Literal>]
let private Columns = 64

let encodeLine (data: ReadOnlySpan<byte>) : string = Convert.ToBase64String(data)

let encode (data: ReadOnlySpan<byte>) : string =
    let text = StringBuilder()
    text.Append(BeginLine).Append('\n') |> ignore
    let mutable offset = 0

    while offset < data.Length do
        let n = min BytesPerLine (data.Length - offset)
        text.Append(encodeLine (data.Slice(offset, n))).Append('\n') |> ignore
        offset <- offset + n

    text.Append(EndLine).Append('\n') |> ignore
    text.ToString()

[<NoComparison; Struct>]
type ArmorReader =
    private
    | ExpectBegin of beginLine: int
    | InBody of bodyLine: int * lastSeen: bool
    | AfterEnd of endLine: int

let start = ExpectBegin 1

let private isWhitespace (line: ReadOnlySpan<byte>) =
    let mutable ok = true

    for b in line do
        if b <> 0x20uy && b <> 0x09uy && b <> 0x0Duy then
            ok <- false

    ok

let private equalsAscii (line: ReadOnlySpan<byte>) (text: string) =
    line.Length = text.Length
    && (let mutable same = true

        for i in 0 .. text.Length - 1 do
            if line[i] <> byte text[i] then
                same <- false

        same)

let feedLine (reader: ArmorReader, line: ReadOnlySpan<byte>) : Result<struct (ArmorReader * byte array), ArmorError> =
    // A CR right before the LF is the CRLF line end ("MAY choose to accept both LF and CRLF line endings").
    let content =
        if line.Length > 0 && line[line.Length - 1] = 0x0Duy then
            line.Slice(0, line.Length - 1)
        else
            line

    match reader with
    | _ when line.Length > MaxLineLength ->
        let n =
            match reader with
            | ExpectBegin n
            | InBody(n, _)
            | AfterEnd n -> n

        Error(LineTooLong n)
    | ExpectBegin n ->
        if isWhitespace line then
            Ok(struct (ExpectBegin(n + 1), Array.Empty()))
        elif equalsAscii content BeginLine then
            Ok(struct (InBody(n + 1, false), Array.Empty()))
        else
            Error(MissingBeginLine n)
    | InBody(n, lastSeen) ->
        if equalsAscii content EndLine then
            Ok(struct (AfterEnd(n + 1), Array.Empty()))
        elif lastSeen then
            // Only the end line may follow a short (or padded) last line.
            Error(ShortLine(n - 1))
        elif content.Length > Columns then
            Error(LineTooLong n)
        elif content.Length = 0 then
            Error(ShortLine n)
        else
            match RawBase64.asciiChars content with
            | ValueNone -> Error(InvalidBase64 n)
            | ValueSome chars ->
                match RawBase64.decodePadded (ReadOnlySpan chars) with
                | ValueNone -> Error(InvalidBase64 n)
                | ValueSome bytes ->
                    let last = content.Length < Columns || chars[chars.Length - 1] = '='
                    Ok(struct (InBody(n + 1, last), bytes))
    | AfterEnd n ->
        if isWhitespace line then
            Ok(struct (AfterEnd(n + 1), Array.Empty()))
        else
            Error(DataAfterEnd n)

let finish (reader: ArmorReader) : Result<unit, ArmorError> =
    match reader with
    | AfterEnd _ -> Ok()
    | ExpectBegin n -> Error(MissingBeginLine n)
    | InBody _ -> Error MissingEndLine

let decode (input: ReadOnlySpan<byte>) : Result<byte array, ArmorError> =
    let output = ResizeArray<byte>()
    let mutable reader = start
    let mutable rest = input
    let mutable failure = ValueNone
    let mutable finished = false

    while failure.IsNone && not finished do
        let lf = rest.IndexOf 0x0Auy
        let line = if lf < 0 then rest else rest.Slice(0, lf)

        // The last line may lack its LF; after a final LF there is no further line.
        if lf >= 0 || line.Length > 0 then
            match feedLine (reader, line) with
            | Error e -> failure <- ValueSome e
            | Ok(struct (next, bytes)) ->
                reader <- next
                output.AddRange bytes

        if lf < 0 then
            finished <- true
        else
            rest <- rest.Slice(lf + 1)

    match failure with
    | ValueSome e -> Error e
    | ValueNone -> finish reader |> Result.map (fun () -> output.ToArray())
