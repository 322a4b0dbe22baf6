/// The README's C# snippets compile as shown, what the examples write is ignored by git, and the Windows twin of the
/// Paket wrapper is what Directory.Build.props chooses there.
module HybridProtocol.Tests.Readme

open System
open System.IO
open System.Diagnostics
open System.Text.RegularExpressions
open Expecto
open HybridProtocol.Tests.TestSupport
open HybridProtocol.Tests.Packaging

/// The ```csharp blocks of a Markdown file, in order.
let csharpSnippets (file: string) =
    Regex.Matches(File.ReadAllText(Path.Combine(repoRoot, file)), "```csharp\n(.*?)```", RegexOptions.Singleline)
    |> Seq.map _.Groups[1].Value
    |> List.ofSeq

/// The library assemblies beside this test program (the ones an application references).
let private libraryAssemblies () =
    Directory.GetFiles(AppContext.BaseDirectory, "*.dll")
    |> Array.filter (fun f ->
        let name = Path.GetFileNameWithoutExtension f |> string

        (name.StartsWith "HybridProtocol"
         && not (
             name.EndsWith ".Tests"
             || name.EndsWith ".Fuzz"
             || name.EndsWith ".Cli"
             || name.Contains ".Example"
         ))
        || name = "NSec.Cryptography"
        || name = "FSharp.Core")

/// A console project with the template's defaults (implicit usings, nullable) referencing the library's assemblies;
/// a snippet that builds a WebApplication is a `dotnet new web` project (the Web SDK and its implicit usings).
let private snippetProject (snippet: string) (references: string array) =
    let sdk =
        if snippet.Contains "WebApplication." then
            "Microsoft.NET.Sdk.Web"
        else
            "Microsoft.NET.Sdk"

    let items =
        references
        |> Array.map (fun r ->
            $"    <Reference Include=\"{Path.GetFileNameWithoutExtension r}\" HintPath=\"{Security.SecurityElement.Escape r}\" />")
        |> String.concat "\n"

    $"""<Project Sdk="{sdk}">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
  </PropertyGroup>
  <ItemGroup>
{items}
  </ItemGroup>
</Project>
"""

let private git (args: string list) =
    let r = processIn repoRoot "git" args |> runProcess (TimeSpan.FromSeconds 30.)
    r.Status, r.Out + r.Err

/// The ```sh block of a README.md section (by its heading), as written.
let shellBlockOf (heading: string) =
    let text = File.ReadAllText(Path.Combine(repoRoot, "README.md"))
    let start = text.IndexOf("\n" + heading + "\n", StringComparison.Ordinal)
    Expect.isGreaterThanOrEqual start 0 $"README.md has a section {heading}"

    let m =
        Regex.Match(text.Substring start, "```sh\n(.*?)```", RegexOptions.Singleline)

    Expect.isTrue m.Success $"{heading} has a shell block"
    m.Groups[1].Value

/// Runs a script with bash -euo pipefail in DIR with extra environment variables; returns its output, failing the
/// test on a non-zero exit or after TIMEOUT.
let runBash (dir: string) (timeout: TimeSpan) (environment: (string * string) list) (script: string) =
    let info = processIn dir "bash" [ "-euo"; "pipefail"; "-c"; script ]
    info.RedirectStandardInput <- true
    quietDotnet info

    for key, value in environment do
        info.Environment[key] <- value

    let r = runProcess timeout info
    let output = r.Out + r.Err
    Expect.equal r.Status 0 $"the script exited with {r.Status}:\n{script}\n{output}"
    output

[<Tests>]
let tests =
    testSequenced
    <| testList "README and repository" [
        testCase "the README's install steps run as written: pack all three packages, a new app adds HybridProtocol"
        <| fun () ->
            let script = shellBlockOf "## Installing the library"

            for project in [ "core-fsharp"; "facade-csharp"; "facade-aspnetcore" ] do
                Expect.stringContains script $"dotnet pack {project} " $"the steps pack {project}"

            Expect.stringContains script $"--version {version} " "the version the steps name is the packages' version"
            use scratch = new Scratch("hybrid-install-")
            let app = Path.Combine(scratch.Path, "MyApp")
            // A fresh NuGet cache for the app (a nuget.config above it), so that the package comes from the folder
            // the steps packed into and not from an earlier extraction of the same version; the repository's own
            // restore keeps the machine's cache.
            let cache = scratch.Sub "packages"

            File.WriteAllText(
                Path.Combine(scratch.Path, "nuget.config"),
                $"<configuration><config><add key=\"globalPackagesFolder\" value=\"{cache}\" /></config></configuration>"
            )

            runBash repoRoot (TimeSpan.FromMinutes 8.) [ "APP_DIR", app ] script |> ignore

            let project = File.ReadAllText(Path.Combine(app, "MyApp.csproj"))
            Expect.stringContains project $"Include=\"HybridProtocol\" Version=\"{version}\"" "the app references it"
            Expect.isTrue (File.Exists(Path.Combine(app, "bin", "Debug", "net10.0", "MyApp.dll"))) "the app built"

            for id in [ "HybridProtocol.Core"; "HybridProtocol"; "HybridProtocol.AspNetCore" ] do
                Expect.isTrue
                    (File.Exists(Path.Combine(repoRoot, "nupkg", $"{id}.{version}.nupkg")))
                    $"{id} was packed into nupkg/"

        testCase
            "the README's Quick start runs as printed (its test line is this run): the demo refuses the man in the middle and leaves no file behind"
        <| fun () ->
            let lines =
                (shellBlockOf "## Quick start").Split('\n', StringSplitOptions.RemoveEmptyEntries)

            Expect.equal lines.Length 2 "the demo line and the test line"
            Expect.stringContains lines[1] "--project tests" "the second line runs the tests"
            use scratch = new Scratch("hybrid-demo-tmp-")

            let output =
                runBash repoRoot (TimeSpan.FromMinutes 4.) [ "TMPDIR", scratch.Path ] lines[0]

            Expect.stringContains output "The client refused: ServerKeyChanged" "the man in the middle is refused"
            Expect.stringContains output "what crossed the wire" "the wire is shown"

            let left =
                Directory.GetFileSystemEntries(scratch.Path, "hybrid-demo-*")
                |> Array.map Path.GetFileName

            Expect.isEmpty left "no known-hosts or lock file is left in the temporary folder"

        testCase "every C# snippet in README.md compiles as shown (each its own console program)"
        <| fun () ->
            let snippets = csharpSnippets "README.md"
            Expect.isGreaterThanOrEqual snippets.Length 5 "server, client, Noise, HPKE and Kestrel snippets"
            use scratch = new Scratch("hybrid-readme-")
            let references = libraryAssemblies ()
            Expect.isGreaterThanOrEqual references.Length 4 "HybridProtocol, Core, NSec, FSharp.Core"

            let projects = [
                for i, snippet in List.indexed snippets do
                    let dir = scratch.Sub $"snippet{i + 1}"
                    File.WriteAllText(Path.Combine(dir, $"snippet{i + 1}.csproj"), snippetProject snippet references)
                    File.WriteAllText(Path.Combine(dir, "Program.cs"), snippet)
                    Path.Combine(dir, $"snippet{i + 1}.csproj")
            ]

            let minutes (m: float) = TimeSpan.FromMinutes m

            dotnet scratch.Path (minutes 1.) [ "new"; "sln"; "--format"; "sln"; "-n"; "snippets" ]
            |> ignore

            dotnet scratch.Path (minutes 1.) ([ "sln"; "snippets.sln"; "add" ] @ projects)
            |> ignore

            // One build for all of them; a failure names the snippet's folder and the line.
            dotnet scratch.Path (minutes 5.) [ "build"; "snippets.sln"; "--disable-build-servers"; "-v"; "q" ]
            |> ignore

            for p in projects do
                let dir = Path.GetDirectoryName p |> string
                let name = Path.GetFileNameWithoutExtension p |> string

                Expect.isTrue
                    (File.Exists(Path.Combine(dir, "bin", "Debug", "net10.0", name + ".dll")))
                    $"{name} was built"

        testCase "what the examples and the README write in the repository root is ignored by git"
        <| fun () ->
            // examples/Article writes these into the folder it runs in (the README runs it from the root).
            let files = [ "server.key"; "server.pub"; "known_hosts" ]

            let article =
                File.ReadAllText(Path.Combine(repoRoot, "examples", "Article", "Program.cs"))

            for f in files do
                Expect.stringContains article $"\"{f}\"" $"the Article example uses {f}"

            match git [ "rev-parse"; "--is-inside-work-tree" ] with
            | 0, _ ->
                let code, output = git ([ "check-ignore"; "--no-index" ] @ files)
                Expect.equal code 0 $"git ignores them: {output}"

                for f in files do
                    Expect.stringContains output f $"{f} is ignored"
            | _ -> skiptest "not a git work tree"

        testCase "Windows: Directory.Build.props runs .paket/paket.cmd, which does what paket.sh does"
        <| fun () ->
            let property (extra: string list) =
                (dotnet
                    repoRoot
                    (TimeSpan.FromMinutes 1.)
                    ([
                        "msbuild"
                        "core-fsharp/HybridProtocol.Core.fsproj"
                        "-getProperty:PaketExePath"
                     ]
                     @ extra))
                    .Trim()

            Expect.stringEnds (property [ "-p:OS=Windows_NT" ]) ".paket/paket.cmd" "Windows gets the .cmd"
            Expect.stringEnds (property [ "-p:OS=Unix" ]) ".paket/paket.sh" "elsewhere the shell script"
            let cmd = File.ReadAllText(Path.Combine(repoRoot, ".paket", "paket.cmd"))
            Expect.isTrue (cmd.Split('\n') |> Array.forall (fun l -> l = "" || l.EndsWith "\r")) "CRLF line ends"

            for step in
                [
                    "dotnet nuget list source --format Short" // the feed from the machine's configuration
                    "dotnet tool restore" // the local tools
                    "dotnet paket %*" // Paket with the arguments
                    "remote: %%NUGET_SOURCE%%" // the placeholder put back into paket.lock
                    "exit /b %status%" // Paket's exit code
                ] do
                Expect.stringContains cmd step $"paket.cmd: {step}"

            Expect.isLessThanOrEqual (cmd.Split('\n').Length) 20 "a few lines"
    ]
