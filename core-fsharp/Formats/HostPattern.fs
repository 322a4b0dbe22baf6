namespace HybridProtocol.Core.Formats

open System
open HybridProtocol.Core

type HostPattern = {
    Wildcard: bool
    Host: string
    Port: int option
}

[<RequireQualifiedAccess>]
type HostPatternError =
    | NotHostPort of text: string * error: HostPortError
    | WildcardAddress of text: string

[<RequireQualifiedAccess>]
module HostPattern =

    let private isAddress (host: string) =
        host.Contains ':'
        || host |> Seq.forall (fun c -> Char.IsAsciiDigit c || c = '.')

    let parse (text: string) =
        let trimmed = text.Trim()
        let wildcard = trimmed.StartsWith "*."
        let rest = if wildcard then trimmed.Substring 2 else trimmed

        match HostPort.parse PortOptional rest with
        | Error e -> Error(HostPatternError.NotHostPort(trimmed, e))
        | Ok parsed when wildcard && isAddress parsed.Host -> Error(HostPatternError.WildcardAddress trimmed)
        | Ok parsed ->
            Ok {
                Wildcard = wildcard
                Host = parsed.Host
                Port = parsed.Port
            }

    let print (pattern: HostPattern) =
        (if pattern.Wildcard then "*." else "")
        + HostPort.print {
            Host = pattern.Host
            Port = pattern.Port
        }

    let matches (host: string) (port: int) (pattern: HostPattern) =
        let hostMatches =
            if pattern.Wildcard then
                let suffix = "." + pattern.Host

                host.Length > suffix.Length
                && host.EndsWith(suffix, StringComparison.Ordinal)
                && not (host.Substring(0, host.Length - suffix.Length).Contains '.')
            else
                host = pattern.Host

        hostMatches
        && (match pattern.Port with
            | Some p -> p = port
            | None -> true)

    let parseList (text: string) =
        let items = text.Split ','

        let rec go i acc =
            if i >= items.Length then
                Ok(List.rev acc)
            else
                match parse items[i] with
                | Ok p -> go (i + 1) (p :: acc)
                | Error e -> Error e

        go 0 []

    let printList (patterns: HostPattern list) =
        patterns |> List.map print |> String.concat ","
