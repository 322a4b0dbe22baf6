namespace HybridProtocol.Core.Formats

open System
open System.Globalization
open System.Text

module internal HeaderJson =

    type private JsonValue =
        | JsonString of string
        | JsonNumber of string
        | JsonOther

    let hasLoneSurrogate (s: string) =
        let mutable i = 0
        let mutable lone = false

        while not lone && i < s.Length do
            if Char.IsHighSurrogate s[i] && i + 1 < s.Length && Char.IsLowSurrogate s[i + 1] then
                i <- i + 2
            elif Char.IsSurrogate s[i] then
                lone <- true
            else
                i <- i + 1

        lone


    let private isWhite (c: char) =
        c = ' ' || c = '\t' || c = '\n' || c = '\r'

    let private skipWhite (s: string) (i: int) =
        let mutable j = i

        while j < s.Length && isWhite s[j] do
            j <- j + 1

        j

    let private hexValue (c: char) =
        if c >= '0' && c <= '9' then int c - int '0'
        elif c >= 'a' && c <= 'f' then int c - int 'a' + 10
        elif c >= 'A' && c <= 'F' then int c - int 'A' + 10
        else -1

    /// A JSON string starting at the `"` at `i`: its value (escapes resolved; surrogates as they come) and the
    /// offset after the closing quote.
    let private readString (s: string) (i: int) : Result<string * int, HeaderProblem> =
        let text = StringBuilder()
        let mutable j = i + 1
        let mutable result = None

        while result.IsNone do
            if j >= s.Length then
                result <- Some(Error(NotJsonObject j))
            else
                match s[j] with
                | '"' -> result <- Some(Ok(text.ToString(), j + 1))
                | c when c < ' ' -> result <- Some(Error(NotJsonObject j))
                | '\\' when j + 1 < s.Length ->
                    match s[j + 1] with
                    | '"'
                    | '\\'
                    | '/' as c ->
                        text.Append c |> ignore
                        j <- j + 2
                    | 'b' ->
                        text.Append '\b' |> ignore
                        j <- j + 2
                    | 'f' ->
                        text.Append '\f' |> ignore
                        j <- j + 2
                    | 'n' ->
                        text.Append '\n' |> ignore
                        j <- j + 2
                    | 'r' ->
                        text.Append '\r' |> ignore
                        j <- j + 2
                    | 't' ->
                        text.Append '\t' |> ignore
                        j <- j + 2
                    | 'u' when j + 5 < s.Length ->
                        let digits = [ for k in 2..5 -> hexValue s[j + k] ]

                        if List.exists (fun d -> d < 0) digits then
                            result <- Some(Error(NotJsonObject j))
                        else
                            text.Append(char (List.fold (fun acc d -> acc * 16 + d) 0 digits)) |> ignore
                            j <- j + 6
                    | _ -> result <- Some(Error(NotJsonObject j))
                | '\\' -> result <- Some(Error(NotJsonObject j))
                | c ->
                    text.Append c |> ignore
                    j <- j + 1

        result |> Option.defaultValue (Error(NotJsonObject j))

    /// A JSON number at `i` (RFC 8259 §6 grammar): its text and the offset after it.
    let private readNumber (s: string) (i: int) : Result<string * int, HeaderProblem> =
        let digitsFrom j =
            let mutable k = j

            while k < s.Length && Char.IsAsciiDigit s[k] do
                k <- k + 1

            k

        let afterSign = if s[i] = '-' then i + 1 else i
        let afterInt = digitsFrom afterSign

        if afterInt = afterSign || (s[afterSign] = '0' && afterInt - afterSign > 1) then
            Error(NotJsonObject i)
        else
            let afterFraction =
                if afterInt < s.Length && s[afterInt] = '.' then
                    let k = digitsFrom (afterInt + 1)
                    if k = afterInt + 1 then -1 else k
                else
                    afterInt

            if afterFraction < 0 then
                Error(NotJsonObject afterInt)
            elif afterFraction < s.Length && (s[afterFraction] = 'e' || s[afterFraction] = 'E') then
                let start =
                    if
                        afterFraction + 1 < s.Length
                        && (s[afterFraction + 1] = '+' || s[afterFraction + 1] = '-')
                    then
                        afterFraction + 2
                    else
                        afterFraction + 1

                let k = digitsFrom start

                if k = start then
                    Error(NotJsonObject afterFraction)
                else
                    Ok(s.Substring(i, k - i), k)
            else
                Ok(s.Substring(i, afterFraction - i), afterFraction)

    /// A member's value at `i`: strings and numbers are read; anything else ends the header (no member but
    /// `name` and `size` may be there, and neither holds another type), so it need not be read.
    let private readValue (s: string) (i: int) : Result<JsonValue * int, HeaderProblem> =
        if i >= s.Length then
            Error(NotJsonObject i)
        elif s[i] = '"' then
            readString s i |> Result.map (fun (v, j) -> JsonString v, j)
        elif s[i] = '-' || Char.IsAsciiDigit s[i] then
            readNumber s i |> Result.map (fun (v, j) -> JsonNumber v, j)
        else
            Ok(JsonOther, i)

    /// `size`: digits only, 0 to Int64.MaxValue ("1.0", "1e3", "-0" and "01" are not).
    let private wholeNumber (text: string) =
        match Int64.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture) with
        | true, n when text = string n -> Some n
        | _ -> None

    let read (s: string) : Result<string * int64, HeaderError> =
        let malformed p = Error(MalformedHeader p)
        let start = skipWhite s 0

        if start >= s.Length || s[start] <> '{' then
            malformed (NotJsonObject start)
        else
            let rec members (i: int) (name: string option) (size: int64 option) (first: bool) =
                let i = skipWhite s i

                if i < s.Length && s[i] = '}' && first then
                    finish (i + 1) name size
                elif i >= s.Length || s[i] <> '"' then
                    malformed (NotJsonObject i)
                else
                    match readString s i with
                    | Error p -> malformed p
                    | Ok(key, afterKey) ->
                        let colon = skipWhite s afterKey

                        if colon >= s.Length || s[colon] <> ':' then
                            malformed (NotJsonObject colon)
                        else
                            match readValue s (skipWhite s (colon + 1)) with
                            | Error p -> malformed p
                            | Ok(value, afterValue) ->
                                match key, value with
                                | "name", _ when name.IsSome -> malformed (DuplicateMember key)
                                | "size", _ when size.IsSome -> malformed (DuplicateMember key)
                                | "name", JsonString v -> next afterValue (Some v) size
                                | "name", _ -> malformed NameNotString
                                | "size", JsonNumber text ->
                                    match wholeNumber text with
                                    | Some n -> next afterValue name (Some n)
                                    | None -> malformed SizeNotWholeNumber
                                | "size", _ -> malformed SizeNotWholeNumber
                                | other, _ when hasLoneSurrogate other -> malformed (NotJsonObject i)
                                | other, _ -> malformed (UnknownMember other)

            and next (i: int) name size =
                let i = skipWhite s i

                if i < s.Length && s[i] = ',' then
                    members (i + 1) name size false
                elif i < s.Length && s[i] = '}' then
                    finish (i + 1) name size
                else
                    malformed (NotJsonObject i)

            and finish (i: int) name size =
                let i = skipWhite s i

                match name, size with
                | _ when i < s.Length -> malformed (NotJsonObject i)
                | None, _ -> malformed (MissingMember "name")
                | _, None -> malformed (MissingMember "size")
                | Some n, Some z -> Ok(n, z)

            members (start + 1) None None true

    let private appendEscaped (text: StringBuilder) (s: string) =
        let mutable i = 0

        while i < s.Length do
            let c = s[i]

            if Char.IsHighSurrogate c && i + 1 < s.Length && Char.IsLowSurrogate s[i + 1] then
                text.Append(c).Append(s[i + 1]) |> ignore
                i <- i + 2
            else
                match c with
                | '"' -> text.Append "\\\"" |> ignore
                | '\\' -> text.Append "\\\\" |> ignore
                | c when c < ' ' || Char.IsSurrogate c ->
                    text.Append("\\u").Append((int c).ToString("x4", CultureInfo.InvariantCulture))
                    |> ignore
                | c -> text.Append c |> ignore

                i <- i + 1

    let write (name: string) (size: int64) =
        let text = StringBuilder("{\"name\":\"")
        appendEscaped text name

        text.Append("\",\"size\":").Append(size.ToString(CultureInfo.InvariantCulture)).Append('}')
        |> ignore

        text.ToString()
