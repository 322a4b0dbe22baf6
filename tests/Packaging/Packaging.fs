/// The packages as a user gets them: packed into a temporary folder, then consumed by a C# and an F# console app
/// made from the `dotnet new` templates outside the repository, which build and run a connection over 127.0.0.1
/// and an HPKE seal/open. Also the packages' metadata, symbols and dependency ranges (read from the .nupkg).
module HybridProtocol.Tests.Packaging

open System
open System.Diagnostics
open System.IO
open System.IO.Compression
open System.Reflection.Metadata
open System.Text.RegularExpressions
open System.Xml.Linq
open Expecto
open HybridProtocol.Tests.TestSupport

/// The one version of every package, as Directory.Build.props sets it.
let version =
    let props = File.ReadAllText(Path.Combine(repoRoot, "Directory.Build.props"))
    let m = Regex.Match(props, "<Version>([^<]+)</Version>")

    if not m.Success then
        failwith "Directory.Build.props sets no <Version>"

    m.Groups[1].Value

/// Runs `dotnet ARGS` in DIR, failing the test after TIMEOUT or on a non-zero exit (showing the output). Build
/// servers and MSBuild nodes are switched off, so nothing keeps running after the test.
let dotnet (dir: string) (timeout: TimeSpan) (args: string list) =
    let info = processIn dir "dotnet" args
    info.RedirectStandardInput <- true
    quietDotnet info
    let r = runProcess timeout info
    let output = r.Out + r.Err

    if r.Status <> 0 then
        failtest $"dotnet {String.Join(' ', args)} (in {dir}) exited with {r.Status}:\n{output}"

    output

let private minutes (m: float) = TimeSpan.FromMinutes m

/// The first enabled package source of this machine's NuGet configuration, read at run time as .paket/paket.sh does
/// (no file names a registry).
let private machineFeed () =
    (dotnet (Path.GetTempPath()) (minutes 1.) [ "nuget"; "list"; "source"; "--format"; "Short" ])
        .Split('\n', StringSplitOptions.RemoveEmptyEntries ||| StringSplitOptions.TrimEntries)
    |> Array.tryPick (fun line ->
        match line.Split(' ', 2, StringSplitOptions.TrimEntries) with
        | [| flags; source |] when flags.StartsWith "E" -> Some source
        | _ -> None)
    |> Option.defaultWith (fun () -> failtest "this machine's NuGet configuration has no enabled package source")

/// The machine's global packages folder, offered as a second source so that packages already downloaded are not
/// downloaded again.
let private machinePackages () =
    let output =
        dotnet (Path.GetTempPath()) (minutes 1.) [ "nuget"; "locals"; "global-packages"; "--list" ]

    let m =
        Regex.Match(output, @"global-packages:\s*(\S.*?)\s*$", RegexOptions.Multiline)

    if m.Success && Directory.Exists m.Groups[1].Value then
        Some m.Groups[1].Value
    else
        None

/// A temporary folder outside the repository, deleted on Dispose.
type Scratch(prefix: string) =
    let path =
        Directory.CreateDirectory(Path.Combine(Path.GetTempPath(), prefix + Guid.NewGuid().ToString "N")).FullName

    do
        if path.StartsWith(repoRoot + string Path.DirectorySeparatorChar, StringComparison.Ordinal) then
            failwith $"the temporary folder {path} is inside the repository"

    member _.Path = path

    member _.Sub(name: string) =
        Directory.CreateDirectory(Path.Combine(path, name)).FullName

    interface IDisposable with
        member _.Dispose() =
            try
                Directory.Delete(path, true)
            with _ ->
                ()

/// The packed library: HybridProtocol.Core, HybridProtocol and HybridProtocol.AspNetCore in a local feed, and a nuget.config beside it that
/// takes them from there only (package source mapping) and everything else from the machine's own feed, with a
/// fresh global packages folder so that no earlier extraction of the same version is used.
type PackedFeed() =
    let scratch = new Scratch("hybrid-packages-")
    let feed = scratch.Sub "feed"
    let packOutputs = ResizeArray<string * string>()

    do
        for project in
            [
                "core-fsharp/HybridProtocol.Core.fsproj"
                "facade-csharp/HybridProtocol.csproj"
                "facade-csharp-extended/HybridProtocol.Hpke.Extended.csproj"
                "facade-aspnetcore/HybridProtocol.AspNetCore.csproj"
            ] do
            dotnet repoRoot (minutes 3.) [
                "pack"
                Path.Combine(repoRoot, project)
                "-c"
                configuration
                "--no-build"
                "--disable-build-servers"
                "-o"
                feed
            ]
            |> fun output -> packOutputs.Add(project, output)

        let sources = [
            yield "local", feed
            yield "machine", machineFeed ()
            match machinePackages () with
            | Some folder -> yield "machine-cache", folder
            | None -> ()
        ]

        let add (key: string, value: string) =
            XElement(XName.Get "add", XAttribute(XName.Get "key", key), XAttribute(XName.Get "value", value))

        let mapping (key: string) (patterns: string list) =
            XElement(
                XName.Get "packageSource",
                XAttribute(XName.Get "key", key),
                [
                    for p in patterns -> XElement(XName.Get "package", XAttribute(XName.Get "pattern", p))
                ]
            )

        let config =
            XElement(
                XName.Get "configuration",
                XElement(XName.Get "config", add ("globalPackagesFolder", Path.Combine(scratch.Path, "packages"))),
                XElement(XName.Get "packageSources", XElement(XName.Get "clear"), [ for s in sources -> add s ]),
                XElement(
                    XName.Get "packageSourceMapping",
                    [
                        yield mapping "local" [ "HybridProtocol"; "HybridProtocol.*" ]
                        for key, _ in List.tail sources -> mapping key [ "*" ]
                    ]
                )
            )

        config.Save(Path.Combine(scratch.Path, "nuget.config"))

    member _.Root = scratch.Path
    member _.Feed = feed
    /// What each `dotnet pack` printed, by project.
    member _.PackOutputs = List.ofSeq packOutputs
    member _.File(name: string) = Path.Combine(feed, name)

    interface IDisposable with
        member _.Dispose() = (scratch :> IDisposable).Dispose()

/// What the C# app does: a SecureListener and a SecureConnection over 127.0.0.1 (pinned key), then HPKE.
let private csharpProgram =
    """using System.Net;
using HybridProtocol;

using var serverKey = PrivateKey.Generate();
await using var listener = new SecureListener(new IPEndPoint(IPAddress.Loopback, 0), new SecureServerOptions { ServerKey = serverKey });
listener.Start();
var server = Task.Run(async () =>
{
    await using var connection = await listener.AcceptAsync();
    var message = await connection.ReceiveAsync() ?? throw new InvalidOperationException("the client closed");
    await connection.SendAsync(message);
    await connection.CloseAsync();
});
var options = new SecureClientOptions { ServerAuthentication = ServerAuthentication.Pinned(serverKey.PublicKey) };
await using (var client = await SecureConnection.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port, options))
{
    await client.SendAsync("ping from C#"u8.ToArray());
    var reply = await client.ReceiveAsync();
    if (reply is null || !reply.AsSpan().SequenceEqual("ping from C#"u8)) throw new InvalidOperationException("echo differs");
}
await server.WaitAsync(TimeSpan.FromSeconds(30));
var sealedMessage = Hpke.Seal(serverKey.PublicKey, "sealed in C#"u8, info: "packaging test"u8);
var opened = Hpke.Open(serverKey, sealedMessage, info: "packaging test"u8);
if (!opened.AsSpan().SequenceEqual("sealed in C#"u8)) throw new InvalidOperationException("HPKE round trip differs");
Console.WriteLine("C# round trip ok");
"""

/// The same from F#.
let private fsharpProgram =
    """open System
open System.Net
open System.Threading.Tasks
open HybridProtocol

let run () =
    task {
        use serverKey = PrivateKey.Generate()
        let listener = new SecureListener(IPEndPoint(IPAddress.Loopback, 0), SecureServerOptions(ServerKey = serverKey))
        listener.Start()

        let server =
            task {
                let! connection = listener.AcceptAsync()
                let! message = connection.ReceiveAsync()
                do! connection.SendAsync(message)
                let! _ = connection.CloseAsync()
                do! connection.DisposeAsync()
            }

        let options =
            SecureClientOptions(ServerAuthentication = ServerAuthentication.Pinned serverKey.PublicKey)

        let! client = SecureConnection.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port, options)
        do! client.SendAsync("ping from F#"B)
        let! reply = client.ReceiveAsync()

        if isNull reply || reply <> "ping from F#"B then
            failwith "echo differs"

        do! client.DisposeAsync()
        do! server.WaitAsync(TimeSpan.FromSeconds 30.)
        do! listener.DisposeAsync()
        let sealedMessage = Hpke.Seal(serverKey.PublicKey, ReadOnlySpan "sealed in F#"B, info = ReadOnlySpan "packaging test"B)
        let opened = Hpke.Open(serverKey, ReadOnlySpan sealedMessage, info = ReadOnlySpan "packaging test"B)

        if opened <> "sealed in F#"B then
            failwith "HPKE round trip differs"

        printfn "F# round trip ok"
    }

run().GetAwaiter().GetResult()
"""

/// Makes an app from the console template, adds HybridProtocol from the local feed, builds and runs it.
let private consume (packed: PackedFeed) (name: string) (language: string) (programFile: string) (program: string) =
    let app = Path.Combine(packed.Root, name)

    dotnet packed.Root (minutes 2.) [ "new"; "console"; "-lang"; language; "-o"; app; "--no-restore" ]
    |> ignore

    // All three packages: AspNetCore too, whose dependencies must not pin what the others ask for (NU1605).
    for id in [ "HybridProtocol"; "HybridProtocol.AspNetCore" ] do
        dotnet app (minutes 3.) [ "add"; "package"; id ] |> ignore

    let project = Directory.GetFiles(app, "*.*proj") |> Array.exactlyOne

    Expect.stringContains
        (File.ReadAllText project)
        $"Include=\"HybridProtocol\" Version=\"{version}\""
        "dotnet add package took the packed version"

    File.WriteAllText(Path.Combine(app, programFile), program)

    let build =
        dotnet app (minutes 4.) [ "build"; "-c"; "Release"; "--disable-build-servers" ]

    // NU1605 (a package downgrade: an exact pin below what the app has) or any other restore warning.
    Expect.isFalse (build.Contains "NU1605") $"no package downgrade:\n{build}"
    Expect.isFalse (Regex.IsMatch(build, @"warning NU\d+")) $"no restore warning:\n{build}"

    let output = dotnet app (minutes 2.) [ "run"; "-c"; "Release"; "--no-build" ]

    Expect.stringContains output $"{language} round trip ok" "the app ran its round trip"

let private entry (zip: ZipArchive) (name: string) =
    match zip.GetEntry name with
    | null -> failtest $"the package has no {name}"
    | e -> e

let private nuspecOf (nupkg: string) =
    use zip = ZipFile.OpenRead nupkg

    let entry =
        zip.Entries
        |> Seq.find (fun e -> e.FullName.EndsWith ".nuspec" && not (e.FullName.Contains "/"))

    use stream = entry.Open()
    XDocument.Load stream

let private entriesOf (nupkg: string) =
    use zip = ZipFile.OpenRead nupkg
    zip.Entries |> Seq.map _.FullName |> Set.ofSeq

let private metadata (doc: XDocument) (name: string) =
    doc.Descendants()
    |> Seq.tryFind (fun e -> e.Name.LocalName = name)
    |> Option.map _.Value

let private dependencies (doc: XDocument) =
    doc.Descendants()
    |> Seq.filter (fun e -> e.Name.LocalName = "dependency")
    |> Seq.map (fun e ->
        let attr (n: string) =
            match e.Attribute(XName.Get n) with
            | null -> ""
            | a -> a.Value

        attr "id", attr "version")
    |> Map.ofSeq

/// The sources embedded in a portable .pdb (the EmbeddedSource custom debug information).
let private embeddedSources (provider: MetadataReaderProvider) =
    let reader = provider.GetMetadataReader()
    let embeddedSource = Guid "0E8A571B-6926-466E-B4AD-8AB04611F5FE"

    [
        for h in reader.Documents do
            let doc = reader.GetDocument h

            let embedded =
                reader.GetCustomDebugInformation(DocumentHandle.op_Implicit h: EntityHandle)
                |> Seq.exists (fun c -> reader.GetGuid(reader.GetCustomDebugInformation(c).Kind) = embeddedSource)

            reader.GetString doc.Name, embedded
    ]

/// Packed once for the tests below (and tests/Aot), deleted when the test program exits.
let packed =
    lazy
        (let feed = new PackedFeed()
         AppDomain.CurrentDomain.ProcessExit.Add(fun _ -> (feed :> IDisposable).Dispose())
         feed)

[<Tests>]
let tests =
    testSequenced
    <| testList "Packaging" [
        testCase "the three packages say what they are: description, tags, MIT license, readme, release notes, XML docs"
        <| fun () ->
            for id in [ "HybridProtocol.Core"; "HybridProtocol"; "HybridProtocol.AspNetCore" ] do
                let nupkg = packed.Value.File $"{id}.{version}.nupkg"
                let nuspec = nuspecOf nupkg
                Expect.equal (metadata nuspec "version") (Some version) $"{id}: the one version"
                let description = metadata nuspec "description" |> Option.defaultValue ""
                Expect.isFalse (description.Contains "Package Description") $"{id}: a real description"
                Expect.isGreaterThan description.Length 80 $"{id}: a real description"
                Expect.stringContains (metadata nuspec "tags" |> Option.defaultValue "") "hpke" $"{id}: tags"
                Expect.equal (metadata nuspec "license") (Some "MIT") $"{id}: SPDX license expression"
                Expect.equal (metadata nuspec "readme") (Some "README.md") $"{id}: readme"
                Expect.isSome (metadata nuspec "releaseNotes") $"{id}: release notes"
                let entries = entriesOf nupkg

                use zip = ZipFile.OpenRead nupkg
                let dll = entry zip $"lib/net10.0/{id}.dll"
                use dllStream = new MemoryStream()

                do
                    use s = dll.Open()
                    s.CopyTo dllStream

                dllStream.Position <- 0L
                use pe = new System.Reflection.PortableExecutable.PEReader(dllStream)

                Expect.isTrue
                    (pe.ReadDebugDirectory()
                     |> Seq.exists (fun d ->
                         d.Type = System.Reflection.PortableExecutable.DebugDirectoryEntryType.Reproducible))
                    $"{id}: built deterministically (reproducible)"

                for file in [ "LICENSE"; "README.md"; $"lib/net10.0/{id}.dll"; $"lib/net10.0/{id}.xml" ] do
                    Expect.contains entries file $"{id}: carries {file}"

                let license = File.ReadAllText(Path.Combine(repoRoot, "LICENSE"))
                Expect.stringStarts license "MIT License" "the repository's LICENSE is MIT"

        testCase
            "dependencies are ranges an app on the current SDK satisfies: no exact pins, FSharp.Core at most 10.1.401"
        <| fun () ->
            let deps id =
                dependencies (nuspecOf (packed.Value.File $"{id}.{version}.nupkg"))

            let facade = deps "HybridProtocol"
            Expect.equal facade["HybridProtocol.Core"] version "the F# core comes along, same version"

            Expect.equal
                (Set.ofSeq facade.Keys)
                // Microsoft.Extensions.Logging.Abstractions: the ILogger events (issue 15); no logging implementation.
                (set [
                    "HybridProtocol.Core"
                    "FSharp.Core"
                    "NSec.Cryptography"
                    "Microsoft.Extensions.Logging.Abstractions"
                ])
                "no more"

            Expect.equal
                (Set.ofSeq (deps "HybridProtocol.Core").Keys)
                (set [ "FSharp.Core" ])
                "the core needs FSharp.Core only"

            for range in
                [
                    facade["FSharp.Core"]
                    facade["NSec.Cryptography"]
                    facade["Microsoft.Extensions.Logging.Abstractions"]
                    (deps "HybridProtocol.Core")["FSharp.Core"]
                ] do
                // NuGet: "1.2.3" means >= 1.2.3; "[1.2.3]" is an exact pin, "(" or "," an upper bound.
                Expect.isTrue (Regex.IsMatch(range, @"^\d+(\.\d+)*$")) $"'{range}' is a lower bound only"

            // The SDK 10.0.401 gives new F# apps FSharp.Core 10.1.401; the range must let them keep it.
            Expect.isLessThanOrEqual
                (System.Version facade["FSharp.Core"])
                (System.Version "10.1.401")
                "FSharp.Core floor"

            // .NET 10 apps have Microsoft.Extensions.Logging.Abstractions 10.0.x (ASP.NET Core's shared framework).
            Expect.isLessThanOrEqual
                (System.Version facade["Microsoft.Extensions.Logging.Abstractions"])
                (System.Version "10.0.0")
                "Logging.Abstractions floor"

        testCase
            "the optional HybridProtocol.Hpke.Extended packs with lower bounds only: BouncyCastle.Cryptography >= 2.7.0, HybridProtocol of the same version"
        <| fun () ->
            let nupkg = packed.Value.File $"HybridProtocol.Hpke.Extended.{version}.nupkg"
            let nuspec = nuspecOf nupkg
            let deps = dependencies nuspec
            Expect.equal deps["HybridProtocol"] version "the main package, same version"
            Expect.equal deps["BouncyCastle.Cryptography"] "2.7.0" "BouncyCastle's floor is the version tested"

            for id in
                Set.ofSeq deps.Keys
                - set [ "HybridProtocol"; "BouncyCastle.Cryptography"; "FSharp.Core" ] do
                failtest $"unexpected dependency {id}"

            for range in deps.Values do
                Expect.isTrue (Regex.IsMatch(range, @"^\d+(\.\d+)*$")) $"'{range}' is a lower bound only"

            Expect.stringContains (metadata nuspec "description" |> Option.defaultValue "") "X448" "a real description"
            Expect.contains (entriesOf nupkg) "lib/net10.0/HybridProtocol.Hpke.Extended.dll" "the assembly"

        testCase
            "packing prints no warning; every dependency of the three packages is a lower bound; the package readme"
        <| fun () ->
            for project, output in packed.Value.PackOutputs do
                Expect.isFalse
                    (Regex.IsMatch(output, @"warning (NU|CS|FS|IL|MSB)\d+"))
                    $"{project}: no warning:\n{output}"

                // NuGet prints this one as a message, not a coded warning; it came from the .snupkg made from the
                // same .nuspec (before symbols moved into the assemblies).
                Expect.isFalse (output.Contains "missing a readme") $"{project}: no 'missing a readme':\n{output}"

            for id in [ "HybridProtocol.Core"; "HybridProtocol"; "HybridProtocol.AspNetCore" ] do
                let deps = dependencies (nuspecOf (packed.Value.File $"{id}.{version}.nupkg"))
                Expect.isNonEmpty deps $"{id} has dependencies"

                for KeyValue(dep, range) in deps do
                    Expect.isTrue
                        (Regex.IsMatch(range, @"^\d+(\.\d+)*$"))
                        $"{id}: {dep} '{range}' is a lower bound (no exact pin, no upper bound)"

            let aspnet =
                dependencies (nuspecOf (packed.Value.File $"HybridProtocol.AspNetCore.{version}.nupkg"))

            Expect.equal aspnet["HybridProtocol"] version "AspNetCore depends on the same HybridProtocol"

            Expect.isLessThanOrEqual
                (System.Version aspnet["FSharp.Core"])
                (System.Version "10.1.401")
                "AspNetCore: FSharp.Core floor an F# app on the SDK satisfies"

            // The package page shows the package's readme: links relative to the repository break there.
            use zip = ZipFile.OpenRead(packed.Value.File $"HybridProtocol.{version}.nupkg")
            use reader = new StreamReader((entry zip "README.md").Open())
            let readme = reader.ReadToEnd()
            Expect.stringContains readme "post-quantum" "the package readme says what it is"

            let relative =
                [ for m in Regex.Matches(readme, @"\]\(([^)]+)\)") -> m.Groups[1].Value ]
                |> List.filter (fun l -> not (l.StartsWith "https://"))

            Expect.isEmpty relative "the package readme has no relative link"

        testCase
            "symbols: each assembly embeds its PDB with every source, deterministic, under a fixed root; no .snupkg"
        <| fun () ->
            for id in [ "HybridProtocol.Core"; "HybridProtocol"; "HybridProtocol.AspNetCore" ] do
                Expect.isFalse (File.Exists(packed.Value.File $"{id}.{version}.snupkg")) $"{id}: no symbols package"
                let nupkg = packed.Value.File $"{id}.{version}.nupkg"
                Expect.isFalse (entriesOf nupkg |> Set.exists _.EndsWith(".pdb")) $"{id}: no loose .pdb"

                use zip = ZipFile.OpenRead nupkg
                use dll = new MemoryStream()

                do
                    use s = (entry zip $"lib/net10.0/{id}.dll").Open()
                    s.CopyTo dll

                dll.Position <- 0L
                use pe = new System.Reflection.PortableExecutable.PEReader(dll)

                let embeddedPdb =
                    pe.ReadDebugDirectory()
                    |> Seq.tryFind (fun d ->
                        d.Type = System.Reflection.PortableExecutable.DebugDirectoryEntryType.EmbeddedPortablePdb)
                    |> Option.defaultWith (fun () -> failtest $"{id}: the assembly embeds no PDB")

                use provider = pe.ReadEmbeddedPortablePdbDebugDirectoryData embeddedPdb

                let sources =
                    embeddedSources provider
                    |> List.filter (fun (name, _) -> name.EndsWith ".cs" || name.EndsWith ".fs")

                Expect.isNonEmpty sources $"{id}: documents"

                for name, embedded in sources do
                    Expect.isTrue embedded $"{id}: {name} is embedded"
                    Expect.isFalse (name.Contains repoRoot) $"{id}: {name} names no build machine path"

        testCase "a C# console app (dotnet new console) builds against the package and runs a connection and HPKE"
        <| fun () -> consume packed.Value "csharp-app" "C#" "Program.cs" csharpProgram

        testCase "an F# console app (dotnet new console -lang F#) builds against the package and runs them too"
        <| fun () -> consume packed.Value "fsharp-app" "F#" "Program.fs" fsharpProgram

        testCase
            "every packable project (Core, HybridProtocol, AspNetCore, the CLI) packs LICENSE and a readme, at the one version"
        <| fun () ->
            let projects = [
                "core-fsharp/HybridProtocol.Core.fsproj"
                "facade-csharp/HybridProtocol.csproj"
                "cli/HybridProtocol.Cli/HybridProtocol.Cli.csproj"
                "facade-aspnetcore/HybridProtocol.AspNetCore.csproj"
            ]

            for project in projects do
                let json =
                    dotnet repoRoot (minutes 1.) [
                        "msbuild"
                        project
                        "-getItem:None"
                        "-getProperty:PackageLicenseExpression"
                        "-getProperty:Version"
                        "-getProperty:IsPackable"
                        "-getProperty:PackageReadmeFile"
                    ]

                use doc = System.Text.Json.JsonDocument.Parse(json.Substring(json.IndexOf '{'))
                let props = doc.RootElement.GetProperty "Properties"
                let prop (name: string) = props.GetProperty(name).GetString()
                Expect.equal (prop "IsPackable") "true" $"{project} is packable"
                Expect.equal (prop "PackageLicenseExpression") "MIT" $"{project}: MIT"
                Expect.equal (prop "Version") version $"{project}: the version from Directory.Build.props"
                Expect.equal (prop "PackageReadmeFile") "README.md" $"{project}: a readme"

                let packed = [
                    for item in doc.RootElement.GetProperty("Items").GetProperty("None").EnumerateArray() do
                        let text (name: string) =
                            match item.TryGetProperty name with
                            | true, v -> v.GetString() |> string
                            | _ -> ""

                        if text "Pack" = "true" then
                            text "Filename" + text "Extension", text "PackagePath"
                ]

                Expect.contains packed ("LICENSE", "/") $"{project} packs LICENSE"
                // The libraries pack docs/PACKAGE.md (no repository-relative links) as README.md, the CLI its own.
                Expect.isTrue
                    (packed
                     |> List.exists (fun (file, path) -> path = "/README.md" && file.EndsWith ".md"))
                    $"{project} packs a README.md"

            for file in Directory.GetFiles(repoRoot, "*.*proj", SearchOption.AllDirectories) do
                if not (file.Contains $"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}") then
                    Expect.isFalse
                        (File.ReadAllText(file).Contains "<Version>")
                        $"{Path.GetRelativePath(repoRoot, file)} sets no version of its own"

        testCase "the repository and project URLs are set at pack time (no remote here), and default to nothing"
        <| fun () ->
            let props (extra: string list) =
                let json =
                    dotnet
                        repoRoot
                        (minutes 1.)
                        ([
                            "msbuild"
                            "facade-csharp/HybridProtocol.csproj"
                            "-getProperty:RepositoryUrl"
                            "-getProperty:PackageProjectUrl"
                            "-getProperty:RepositoryType"
                         ]
                         @ extra)

                use doc = System.Text.Json.JsonDocument.Parse(json.Substring(json.IndexOf '{'))
                let p = doc.RootElement.GetProperty "Properties"

                p.GetProperty("RepositoryUrl").GetString(),
                p.GetProperty("PackageProjectUrl").GetString(),
                p.GetProperty("RepositoryType").GetString()

            // example.invalid: a reserved name (RFC 2606), never a real host.
            let url = "https://example.invalid/hybridprotocol.git"
            Expect.equal (props [ $"-p:HybridRepositoryUrl={url}" ]) (url, url, "git") "given at pack time"

            Expect.equal
                (props [
                    $"-p:HybridRepositoryUrl={url}"
                    "-p:HybridProjectUrl=https://example.invalid/docs"
                ])
                (url, "https://example.invalid/docs", "git")
                "a project page of its own"

            let repo, project, _ = props []
            Expect.isEmpty repo "no invented repository URL"
            Expect.isEmpty project "no invented project URL"

        testCase "the CLI is the same version (hybrid --version)"
        <| fun () ->
            use dir = new CliSupport.TempDir()
            let r = CliSupport.run dir [ "--version" ]
            CliSupport.expectExit CliSupport.Exit.success r "hybrid --version"
            Expect.equal (r.Out.Trim()) version "the CLI's version is the packages' version"

    ]
