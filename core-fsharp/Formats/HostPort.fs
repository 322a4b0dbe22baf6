namespace HybridProtocol.Core.Formats

open System
open System.Globalization
open System.Net
open System.Net.Sockets

type HostPortError =
    | HostMissing
    | HostTooLong of length: int
    | HostCharacter of character: char
    | NotIPv6 of host: string
    | UnclosedBracket
    | ExpectedColonAfterBracket
    | IPv6WithoutBrackets
    | PortMissing
    | PortNotNumber of text: string
    | PortOutOfRange of port: int

type HostPortRule =
    | PortRequired
    | PortOptional
    | Listen

type HostPort = { Host: string; Port: int option }

[<RequireQualifiedAccess>]
module HostPort =

    [<Literal>]
    let MaxHostLength = 253

    let private forbidden = "#,[]/@*?!|\\\"'"

    let private ipv6 (text: string) =
        match IPAddress.TryParse text with
        | true, NonNull address when address.AddressFamily = AddressFamily.InterNetworkV6 -> Ok(address.ToString())
        | _ -> Error(NotIPv6 text)

    let private unbracketed (host: string) =
        if host.Length = 0 then
            Error HostMissing
        elif host.Length > MaxHostLength then
            Error(HostTooLong host.Length)
        elif host.Contains ':' then
            ipv6 host
        else
            match host |> Seq.tryFind (fun c -> c <= ' ' || c >= '\u007f' || forbidden.Contains c) with
            | Some c -> Error(HostCharacter c)
            | None ->
                let lower = host.ToLowerInvariant()

                Ok(
                    if lower.Length > 1 && lower.EndsWith '.' then
                        lower.Substring(0, lower.Length - 1)
                    else
                        lower
                )

    let normalizeHost (host: string) =
        let text = host.Trim()

        if text.Length >= 2 && text.StartsWith '[' && text.EndsWith ']' then
            let inner = text.Substring(1, text.Length - 2)
            if inner.Length = 0 then Error HostMissing else ipv6 inner
        else
            unbracketed text

    let private portRange rule port =
        let low = if rule = Listen then 0 else 1

        if port < low || port > 65535 then
            Error(PortOutOfRange port)
        else
            Ok port

    let checkPort port = portRange PortRequired port

    let private parsePort rule (text: string) =
        if text.Length = 0 || text.Length > 5 || not (Seq.forall Char.IsAsciiDigit text) then
            Error(PortNotNumber text)
        else
            portRange rule (Int32.Parse(text, NumberStyles.None, CultureInfo.InvariantCulture))

    let private assemble rule hostResult (portText: string option) =
        match hostResult, portText with
        | Error e, _ -> Error e
        | Ok host, Some p -> parsePort rule p |> Result.map (fun port -> { Host = host; Port = Some port })
        | Ok _, None when rule <> PortOptional -> Error PortMissing
        | Ok host, None -> Ok { Host = host; Port = None }

    let private hostOf rule (text: string) =
        if rule = Listen && text = "*" then
            Ok "*"
        else
            unbracketed text

    let parse rule (text: string) =
        let text = text.Trim()

        if text.StartsWith '[' then
            match text.IndexOf ']' with
            | -1 -> Error UnclosedBracket
            | close ->
                let inner = text.Substring(1, close - 1)
                let rest = text.Substring(close + 1)
                let host = if inner.Length = 0 then Error HostMissing else ipv6 inner

                if rest.Length = 0 then assemble rule host None
                elif rest[0] <> ':' then Error ExpectedColonAfterBracket
                else assemble rule host (Some(rest.Substring 1))
        else
            match text.IndexOf ':', text.LastIndexOf ':' with
            | -1, _ -> assemble rule (hostOf rule text) None
            | first, last when first = last ->
                assemble rule (hostOf rule (text.Substring(0, first))) (Some(text.Substring(first + 1)))
            | _ when rule = PortOptional -> assemble rule (unbracketed text) None
            | _ -> Error IPv6WithoutBrackets

    let formatHost (host: string) =
        if host.Contains ':' then "[" + host + "]" else host

    let format host (port: int) =
        formatHost host + ":" + port.ToString CultureInfo.InvariantCulture

    let print hostPort =
        match hostPort.Port with
        | Some port -> format hostPort.Host port
        | None -> hostPort.Host
