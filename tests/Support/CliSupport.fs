/// Runs the built `hybrid` tool (cli/HybridProtocol.Cli) as a process, with a timeout on every run.
module HybridProtocol.Tests.CliSupport

open System
open System.Collections.Concurrent
open System.Diagnostics
open System.IO
open System.Text
open System.Threading
open System.Threading.Tasks
open Expecto
open HybridProtocol.Tests.TestSupport

/// A fresh directory under the system temp directory, deleted on Dispose.
type TempDir() =
    let path =
        Directory
            .CreateDirectory(Path.Combine(Path.GetTempPath(), "hybrid-cli-" + Guid.NewGuid().ToString "N"))
            .FullName

    member _.Path = path
    member _.File(name: string) = Path.Combine(path, name)

    interface IDisposable with
        member _.Dispose() =
            try
                Directory.Delete(path, true)
            with _ ->
                ()

/// The tool's assembly, built before the tests by the tests project's reference to the CLI project.
let cliDll = builtDll "cli/HybridProtocol.Cli" "HybridProtocol.Cli"

/// What a finished run of the tool gave.
type CliResult = {
    ExitCode: int
    Stdout: byte[]
    Stderr: string
} with

    member r.Out = Encoding.UTF8.GetString r.Stdout

/// The exit codes documented in cli/README.md.
module Exit =
    let success = 0
    let other = 1
    let usage = 2
    let keyOrFile = 3
    let authentication = 4
    let network = 5
    let integrity = 6
    let refused = 7

/// The process start of `hybrid ARGS` in DIR, all three streams redirected, with DIR's own known-hosts file.
let startInfo (dir: TempDir) (args: string list) =
    if not (File.Exists cliDll) then
        failtest $"the tool is not built at {cliDll} (dotnet build the tests project, which builds it first)"

    let info = ProcessStartInfo "dotnet"
    info.ArgumentList.Add cliDll

    for a in args do
        info.ArgumentList.Add a

    info.WorkingDirectory <- dir.Path
    info.RedirectStandardInput <- true
    info.RedirectStandardOutput <- true
    info.RedirectStandardError <- true
    info.UseShellExecute <- false
    // Never the user's own known-hosts file.
    info.Environment["HYBRID_KNOWN_HOSTS"] <- dir.File "known_hosts"
    info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] <- "1"
    info.Environment["DOTNET_NOLOGO"] <- "1"
    info

let private start (info: ProcessStartInfo) =
    match Process.Start info with
    | null -> failtest "could not start dotnet"
    | p -> p

/// Runs `hybrid ARGS` in DIR with INPUT on standard input; fails the test if it runs longer than TIMEOUT.
let runWith (dir: TempDir) (timeout: TimeSpan) (input: byte[]) (args: string list) =
    use p = start (startInfo dir args)
    let stdout = new MemoryStream()
    let copyOut = p.StandardOutput.BaseStream.CopyToAsync stdout
    let stderr = p.StandardError.ReadToEndAsync()

    let feed =
        task {
            try
                do! p.StandardInput.BaseStream.WriteAsync(input, 0, input.Length)
                p.StandardInput.Close()
            with :? IOException ->
                () // the tool exited without reading all of it
        }

    if not (p.WaitForExit timeout) then
        p.Kill true
        failtest $"hybrid {String.Join(' ', args)} did not finish within {timeout.TotalSeconds} s"

    Task.WaitAll([| copyOut; stderr :> Task; feed :> Task |], timeout) |> ignore

    {
        ExitCode = p.ExitCode
        Stdout = stdout.ToArray()
        Stderr = stderr.Result
    }

/// Runs `hybrid ARGS` in DIR with empty standard input, at most 20 seconds.
let run dir args =
    runWith dir (TimeSpan.FromSeconds 20.) [||] args

/// Runs and expects the exit code, showing stderr when it differs.
let expectExit (expected: int) (result: CliResult) what =
    Expect.equal result.ExitCode expected $"{what} (stderr: {result.Stderr.Trim()})"

/// A `hybrid` process left running (a server), with its stderr lines collected as they come.
type RunningCli(dir: TempDir, args: string list, ?environment: (string * string) list) =
    let p =
        let info = startInfo dir args

        for name, value in defaultArg environment [] do
            info.Environment[name] <- value

        start info

    let lines = new BlockingCollection<string>()
    let stdout = new MemoryStream()
    let copyOut = p.StandardOutput.BaseStream.CopyToAsync stdout
    let allErr = StringBuilder()

    do
        p.ErrorDataReceived.Add(fun e ->
            match e.Data with
            | null -> ()
            | line ->
                lock allErr (fun () -> allErr.AppendLine line |> ignore)
                lines.Add line)

        p.BeginErrorReadLine()

    member _.Process = p

    /// Waits for a stderr line that satisfies the predicate; fails the test after the timeout.
    member _.WaitForLine(predicate: string -> bool, timeout: TimeSpan) =
        let deadline = DateTime.UtcNow + timeout
        let mutable found = None

        while found.IsNone do
            let left = deadline - DateTime.UtcNow

            if left <= TimeSpan.Zero then
                failtest $"hybrid {String.Join(' ', args)} printed no expected line; stderr so far: {allErr}"

            let mutable line = ""

            if lines.TryTake(&line, left) && predicate line then
                found <- Some line

        found.Value

    /// Waits for the process to end (failing the test after the timeout) and returns what it gave.
    member _.WaitForExit(timeout: TimeSpan) =
        if not (p.WaitForExit timeout) then
            p.Kill true
            failtest $"hybrid {String.Join(' ', args)} did not finish within {timeout.TotalSeconds} s; stderr: {allErr}"

        p.WaitForExit()
        copyOut.Wait timeout |> ignore

        {
            ExitCode = p.ExitCode
            Stdout = stdout.ToArray()
            Stderr = lock allErr (fun () -> allErr.ToString())
        }

    interface IDisposable with
        member _.Dispose() =
            if not p.HasExited then
                p.Kill true

            p.Dispose()

/// Runs openssl in DIR; returns its standard output; skips the test when openssl is not on PATH.
let runOpenssl (dir: TempDir) (args: string list) = runOpensslIn dir.Path args

/// Starts a server command (its --listen is 127.0.0.1:0) and returns it with the port it printed.
let startServer dir (args: string list) =
    let server = new RunningCli(dir, args)

    let line =
        server.WaitForLine(_.Contains("listening on 127.0.0.1:"), TimeSpan.FromSeconds 20.)

    let port =
        int (System.Text.RegularExpressions.Regex.Match(line, @"127\.0\.0\.1:(\d+)").Groups[1].Value)

    server, port

/// Starts `hybrid COMMAND --key server.key --listen 127.0.0.1:0 EXTRA...` in DIR (`serve` or `receive`, with the key
/// `keygen dir "server.key"` made) and returns it with its port.
let startLocal dir (command: string) (extra: string list) =
    startServer dir ([ command; "--key"; "server.key"; "--listen"; "127.0.0.1:0" ] @ extra)

/// `hybrid keygen -o NAME` in DIR, and NAME.pub beside it; returns the key.
let keygen dir name =
    expectExit Exit.success (run dir [ "keygen"; "-o"; name ]) $"keygen {name}"
    File.WriteAllBytes(dir.File(name + ".pub"), (run dir [ "pubkey"; name ]).Stdout)
    HybridProtocol.PrivateKey.Load(dir.File name)

/// Runs a bash SCRIPT in DIR with `hybrid` on PATH (a wrapper running the built tool) and DIR's own known-hosts file;
/// fails the test after TIMEOUT (killing the whole process tree).
let runShell (dir: TempDir) (timeout: TimeSpan) (script: string) =
    let bin = dir.File ".bin"
    Directory.CreateDirectory bin |> ignore
    let wrapper = Path.Combine(bin, "hybrid")
    File.WriteAllText(wrapper, $"#!/bin/sh\nexec dotnet '{cliDll}' \"$@\"\n")

    if not (OperatingSystem.IsWindows()) then
        File.SetUnixFileMode(wrapper, UnixFileMode.UserRead ||| UnixFileMode.UserWrite ||| UnixFileMode.UserExecute)

    let info = processIn dir.Path "bash" [ "-c"; script ]
    info.RedirectStandardInput <- true
    info.Environment["PATH"] <- bin + ":" + (Environment.GetEnvironmentVariable "PATH" |> string)
    info.Environment["HYBRID_KNOWN_HOSTS"] <- dir.File "known_hosts"
    info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] <- "1"
    info.Environment["DOTNET_NOLOGO"] <- "1"
    let r = runProcess timeout info

    {
        ExitCode = r.Status
        Stdout = Encoding.UTF8.GetBytes r.Out
        Stderr = r.Err
    }

/// The first `sh` block after HEADING in cli/README.md, run in DIR as `runShell` runs a script, with `set -e`: the
/// worked examples run exactly as printed.
let runCliReadmeExample (dir: TempDir) (heading: string) =
    let text = File.ReadAllText(Path.Combine(repoRoot, "cli", "README.md"))
    let at = text.IndexOf heading
    Expect.isGreaterThanOrEqual at 0 $"cli/README.md has a section {heading}"

    let block =
        Text.RegularExpressions.Regex
            .Match(text.Substring at, "```sh\n(.*?)```", Text.RegularExpressions.RegexOptions.Singleline)
            .Groups[1].Value

    Expect.isNotEmpty block $"{heading} has a sh block"
    runShell dir (TimeSpan.FromSeconds 120.) ("set -e\n" + block)
