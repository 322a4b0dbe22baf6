namespace HybridProtocol.Core.Formats

open System
open System.Security.Cryptography

[<RequireQualifiedAccess>]
type HostKey = X25519 of publicKey: byte array

type HostKeyEntry = {
    Host: string
    Port: int
    Key: HostKey
    Comment: string option
}

[<RequireQualifiedAccess>]
type RevokedScope =
    | AnyHost
    | HostPort of host: string * port: int

type RevokedEntry = {
    Scope: RevokedScope
    Key: HostKey
    Comment: string option
}

type AuthorityEntry = {
    Hosts: HostPattern list
    Key: byte array
    Comment: string option
}

type KnownHostsLine =
    | Kept of text: string
    | Entry of HostKeyEntry
    | Revoked of RevokedEntry
    | Authority of AuthorityEntry

type KnownHostsLineError =
    | MissingFields of found: int
    | HashedHost
    | UnknownMarker of marker: string
    | BadHostPort of text: string * error: HostPortError
    | UnknownKeyType of keyType: string
    | BadKey of text: string
    | CommentLineBreak
    | BadPatterns of text: string * error: HostPatternError

type KnownHostsFileError = {
    Line: int
    Error: KnownHostsLineError
}

type KnownHostMatch =
    | Trusted of line: int
    | Changed of line: int * recorded: HostKey
    | Unrecorded
    | RevokedKey of line: int

[<RequireQualifiedAccess>]
module KnownHostsLine =

    [<Literal>]
    let X25519Type = "x25519"

    [<Literal>]
    let RevokedMarker = "@revoked"

    [<Literal>]
    let AuthorityMarker = "@authority"

    [<Literal>]
    let Ed25519Type = "ed25519"

    let private keyLength = 32

    let private isBlank (c: char) = c = ' ' || c = '\t'

    /// Up to three fields separated by spaces or tabs, then the trimmed rest.
    let private fields (line: string) =
        let rec skip i =
            if i < line.Length && isBlank line[i] then
                skip (i + 1)
            else
                i

        let rec tokenEnd i =
            if i < line.Length && not (isBlank line[i]) then
                tokenEnd (i + 1)
            else
                i

        let rec next start taken =
            let i = skip start

            if i >= line.Length then
                List.rev taken, ""
            elif List.length taken = 3 then
                List.rev taken, line.Substring(i).Trim()
            else
                let j = tokenEnd i
                next j (line.Substring(i, j - i) :: taken)

        next 0 []

    let private decodeKey (keyType: string) (text: string) =
        if not (String.Equals(keyType, X25519Type, StringComparison.OrdinalIgnoreCase)) then
            Error(UnknownKeyType keyType)
        else
            let bytes = Array.zeroCreate<byte> keyLength

            match Convert.TryFromBase64String(text, Span bytes) with
            | true, written when written = keyLength && text.Length = 44 -> Ok(HostKey.X25519 bytes)
            | _ -> Error(BadKey text)

    let private commentOf (rest: string) =
        if rest.Length = 0 then None else Some rest

    /// `@revoked HOST:PORT|* x25519 KEY [comment]`: the marker then the three fields of an entry.
    let private decodeRevoked (afterMarker: string) =
        match fields afterMarker with
        | [ scope; keyType; key ], rest ->
            let scope =
                if scope = "*" then
                    Ok RevokedScope.AnyHost
                elif scope.StartsWith '|' then
                    Error HashedHost
                else
                    match HostPort.parse PortRequired scope with
                    | Error e -> Error(BadHostPort(scope, e))
                    | Ok parsed -> Ok(RevokedScope.HostPort(parsed.Host, Option.defaultValue 0 parsed.Port))

            scope
            |> Result.bind (fun scope ->
                decodeKey keyType key
                |> Result.map (fun key ->
                    Revoked {
                        Scope = scope
                        Key = key
                        Comment = commentOf rest
                    }))
        | found, _ -> Error(MissingFields(found.Length + 1))

    let private decodeAuthority (line: string) =
        match fields line with
        | [ patterns; keyType; key ], rest ->
            match HostPattern.parseList patterns with
            | Error e -> Error(BadPatterns(patterns, e))
            | Ok hosts ->
                if not (String.Equals(keyType, Ed25519Type, StringComparison.OrdinalIgnoreCase)) then
                    Error(UnknownKeyType keyType)
                else
                    let bytes = Array.zeroCreate<byte> keyLength

                    match Convert.TryFromBase64String(key, Span bytes) with
                    | true, written when written = keyLength && key.Length = 44 ->
                        Ok(
                            Authority {
                                Hosts = hosts
                                Key = bytes
                                Comment = commentOf rest
                            }
                        )
                    | _ -> Error(BadKey key)
        | found, _ -> Error(MissingFields(found.Length + 1))

    let private decodeEntry (line: string) =
        match fields line with
        | first :: _, _ when first = RevokedMarker -> decodeRevoked (line.Substring(RevokedMarker.Length))
        | first :: _, _ when first = AuthorityMarker -> decodeAuthority (line.Substring(AuthorityMarker.Length))
        | first :: _, _ when first.StartsWith '@' -> Error(UnknownMarker first)
        | [ hostPort; keyType; key ], rest ->
            if hostPort.StartsWith '|' then
                Error HashedHost
            else
                match HostPort.parse PortRequired hostPort with
                | Error e -> Error(BadHostPort(hostPort, e))
                | Ok parsed ->
                    decodeKey keyType key
                    |> Result.map (fun key ->
                        Entry {
                            Host = parsed.Host
                            Port = Option.defaultValue 0 parsed.Port
                            Key = key
                            Comment = commentOf rest
                        })
        | found, _ -> Error(MissingFields found.Length)

    let decode (line: string) =
        let trimmed = line.Trim()

        if trimmed.Length = 0 || trimmed.StartsWith '#' then
            Ok(Kept line)
        else
            decodeEntry trimmed

    let private keyText key =
        match key with
        | HostKey.X25519 bytes -> X25519Type + " " + Convert.ToBase64String bytes

    let private commentText comment =
        match comment with
        | Some c -> " " + c
        | None -> ""

    let encode line =
        match line with
        | Kept text -> text
        | Entry e -> HostPort.format e.Host e.Port + " " + keyText e.Key + commentText e.Comment
        | Revoked r ->
            let scope =
                match r.Scope with
                | RevokedScope.AnyHost -> "*"
                | RevokedScope.HostPort(host, port) -> HostPort.format host port

            RevokedMarker + " " + scope + " " + keyText r.Key + commentText r.Comment
        | Authority a ->
            AuthorityMarker
            + " "
            + HostPattern.printList a.Hosts
            + " "
            + Ed25519Type
            + " "
            + Convert.ToBase64String a.Key
            + commentText a.Comment

    let comment (text: string) =
        if text.Contains '\n' || text.Contains '\r' then
            Error CommentLineBreak
        else
            match text.Trim() with
            | "" -> Ok None
            | trimmed -> Ok(Some trimmed)

    let sameKey a b =
        match a, b with
        | HostKey.X25519 x, HostKey.X25519 y -> CryptographicOperations.FixedTimeEquals(ReadOnlySpan x, ReadOnlySpan y)

[<RequireQualifiedAccess>]
module KnownHostsFile =

    let decode (text: string) =
        let raw = text.Split '\n'

        let count =
            if raw.Length > 0 && raw[raw.Length - 1].Length = 0 then
                raw.Length - 1
            else
                raw.Length

        let rec go i acc =
            if i >= count then
                Ok(List.rev acc)
            else
                let line =
                    if raw[i].EndsWith '\r' then
                        raw[i].Substring(0, raw[i].Length - 1)
                    else
                        raw[i]

                match KnownHostsLine.decode line with
                | Ok decoded -> go (i + 1) (decoded :: acc)
                | Error e -> Error { Line = i + 1; Error = e }

        go 0 []

    let encode lines =
        lines |> List.map (fun l -> KnownHostsLine.encode l + "\n") |> String.concat ""

    let isFor host port (entry: HostKeyEntry) =
        entry.Host = host
        && (match port with
            | Some p -> entry.Port = p
            | None -> true)

    let private entriesFor host port lines =
        lines
        |> List.mapi (fun i line -> i + 1, line)
        |> List.choose (fun (n, line) ->
            match line with
            | Entry e when isFor host (Some port) e -> Some(n, e)
            | _ -> None)

    let revokedAt host port key lines =
        lines
        |> List.mapi (fun i line -> i + 1, line)
        |> List.tryPick (fun (n, line) ->
            match line with
            | Revoked r when KnownHostsLine.sameKey r.Key key ->
                match r.Scope with
                | RevokedScope.AnyHost -> Some n
                | RevokedScope.HostPort(h, p) when h = host && p = port -> Some n
                | RevokedScope.HostPort _ -> None
            | _ -> None)

    let verify host port key lines =
        match revokedAt host port key lines with
        | Some n -> RevokedKey n
        | None ->
            let entries = entriesFor host port lines

            match entries |> List.tryFind (fun (_, e) -> KnownHostsLine.sameKey e.Key key) with
            | Some(n, _) -> Trusted n
            | None ->
                match entries with
                | (n, e) :: _ -> Changed(n, e.Key)
                | [] -> Unrecorded

    let holds host port key lines =
        entriesFor host port lines
        |> List.exists (fun (_, e) -> KnownHostsLine.sameKey e.Key key)

    let authorities lines =
        lines
        |> List.choose (fun line ->
            match line with
            | Authority a -> Some { Key = a.Key; Hosts = a.Hosts }
            | _ -> None)

    let remove host port lines =
        let kept =
            lines
            |> List.filter (fun line ->
                match line with
                | Entry e -> not (isFor host port e)
                | Kept _
                | Revoked _
                | Authority _ -> true)

        kept, List.length lines - List.length kept
