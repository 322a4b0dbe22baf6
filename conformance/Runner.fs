/// The conformance runner: this project's side of a connection, driven step by step through the core's
/// `Connection.Step` and transport engine (`SendHalf`), against an implementation under test (IUT) over TCP on
/// 127.0.0.1. Each case sends good or deliberately bad bytes and judges the IUT's answer against the rules of
/// specs/PROTOCOL.md §12 (P1..), which it names in its findings.
module HybridProtocol.Conformance.Runner

open System
open System.Text

/// One judged rule of one case.
type Finding = Session.Finding

/// What the runner asks for and offers.
type Settings = Session.Settings

/// The application protocol `hybrid`, ChaChaPoly_BLAKE2b, hybrid names, an echoing IUT, 5 s, no keys, no PSK.
let defaults = Session.defaults

/// The cases against a server under test; each opens its own connection.
let againstServer = ServerCases.againstServer

/// How many connections a client under test must make (one per case).
let clientCases = ClientCases.clientCases

/// Listens on `listener` and serves `clientCases` connections of a client under test, one case each.
let againstClient = ClientCases.againstClient

/// The report: one line per finding, then the rules broken.
let report (findings: Finding list) =
    let text = StringBuilder()

    for f in findings do
        text.AppendLine($"""{(if f.Passed then "pass" else "FAIL")}  {f.Rule, -4} {f.Case}: {f.Detail}""")
        |> ignore

    let broken =
        findings
        |> List.filter (fun f -> not f.Passed)
        |> List.map (fun f -> f.Rule)
        |> List.distinct

    if broken.IsEmpty then
        text.AppendLine($"all {findings.Length} checks passed") |> ignore
    else
        text.AppendLine($"""broken rules: {String.Join(", ", broken)}""") |> ignore

    text.ToString(), broken
