/// Checks on the repository itself that keep a fresh clone building.
module HybridProtocol.Tests.RepositoryTests

open System
open System.IO
open System.Text.RegularExpressions
open Expecto
open HybridProtocol.Tests.TestSupport

let private lines file =
    File.ReadAllLines(Path.Combine(repoRoot, file)) |> Array.map _.Trim()

let private ruleId = Regex(@"\[([A-Z][0-9]+)\]")

/// The blocks of a Markdown file (paragraphs, list items, table rows), each as one string; text in double quotes
/// (quotations of other specifications, e.g. RFC 8410's "MUST be absent") is dropped.
let private blocks (text: string) =
    let result = ResizeArray<string>()
    let current = Text.StringBuilder()

    let flush () =
        if current.Length > 0 then
            result.Add(Regex.Replace(current.ToString(), "\"[^\"]*\"", ""))
            current.Clear() |> ignore

    for line in text.Split '\n' do
        let trimmed = line.Trim()

        if
            trimmed = ""
            || trimmed.StartsWith "- "
            || trimmed.StartsWith "|"
            || trimmed.StartsWith "#"
        then
            flush ()

        current.Append(trimmed).Append(' ') |> ignore

    flush ()
    List.ofSeq result

/// Every test's full name, its lists and its own name joined by '/'.
let private testNames () =
    match Impl.testFromAssembly (Reflection.Assembly.GetExecutingAssembly()) with
    | Some tests -> Test.toTestCodeList tests |> List.map (fun t -> String.concat "/" t.name)
    | None -> []

[<Tests>]
let tests =
    testList "Repository" [
        test "paket.lock names no feed but the %NUGET_SOURCE% placeholder" {
            let remotes = lines "paket.lock" |> Array.filter _.StartsWith("remote:")
            Expect.isNonEmpty remotes "paket.lock has remote lines"

            for remote in remotes do
                Expect.equal remote "remote: %NUGET_SOURCE%" "the feed comes from the machine's NuGet configuration"
        }

        test "paket.dependencies takes its source from the environment" {
            let sources = lines "paket.dependencies" |> Array.filter _.StartsWith("source")
            Expect.isNonEmpty sources "a source line"

            for source in sources do
                Expect.equal source "source %NUGET_SOURCE%" "every group's one source is the placeholder"
        }

        test "every MUST in specs/ has an identifier, and every identifier a test that exists" {
            let specs = Path.Combine(repoRoot, "specs")

            let used = [
                for file in Directory.GetFiles(specs, "*.md") do
                    if Path.GetFileName file <> "README.md" then
                        for block in blocks (File.ReadAllText file) do
                            if Regex.IsMatch(block, @"\bMUST\b") then
                                let ids = [ for m in ruleId.Matches block -> m.Groups[1].Value ]
                                Expect.isNonEmpty ids $"{Path.GetFileName file}: a MUST without an identifier: {block}"
                                yield! ids
            ]

            // Every identifier stated anywhere in specs/ (MAY rules have identifiers too).
            let stated = [
                for file in Directory.GetFiles(specs, "*.md") do
                    if Path.GetFileName file <> "README.md" then
                        for m in ruleId.Matches(File.ReadAllText file) -> m.Groups[1].Value
            ]

            let readme = File.ReadAllText(Path.Combine(specs, "README.md"))
            let start = readme.IndexOf "<!-- requirements:begin -->"
            let finish = readme.IndexOf "<!-- requirements:end -->"
            Expect.isGreaterThan start 0 "specs/README.md has the requirements table"
            let table = readme.Substring(start, finish - start)
            let names = testNames ()
            Expect.isGreaterThan names.Length 500 "the test names were found"

            let rows =
                table.Split '\n'
                |> Array.choose (fun line ->
                    let m = ruleId.Match line

                    if line.StartsWith "| [" && m.Success then
                        let cells = line.Split '|'

                        let tests = [
                            for t in Regex.Matches(cells[cells.Length - 2], "`([^`]+)`") -> t.Groups[1].Value
                        ]

                        Some(m.Groups[1].Value, tests)
                    else
                        None)
                |> dict

            for id in List.distinct used do
                Expect.isTrue (rows.ContainsKey id) $"[{id}] has a row in specs/README.md's requirements table"

            for KeyValue(id, tests) in rows do
                Expect.contains stated id $"[{id}] is stated in specs/"
                Expect.isNonEmpty tests $"[{id}] names a test"

                for test in tests do
                    Expect.isTrue (names |> List.exists (fun n -> n.Contains test)) $"[{id}]: no test is named '{test}'"
        }

        test "the benchmark's quick handshake run connects every transport (it figures nothing; it must not break)" {
            // The bench is built with the solution, beside this test program (same configuration).
            let dll = builtDll "bench/HybridProtocol.Bench" "HybridProtocol.Bench"

            if not (File.Exists dll) then
                failtest $"the benchmark is not built at {dll}"

            let info = processIn repoRoot "dotnet" [ dll; "--quick"; "--only"; "handshake" ]
            quietDotnet info
            let result = runProcess (TimeSpan.FromMinutes 5.) info
            Expect.equal result.Status 0 $"the bench ran (stderr: {result.Err})"
            Expect.stringContains result.Out "HybridProtocol AESGCM XX" "the client-key rows ran"
            Expect.stringContains result.Out "3 keys (oldest pinned)" "the key-set rows ran"
        }
    ]
