/// Helpers shared by the test modules: hex, file locations, key import through the public API.
module HybridProtocol.Tests.TestSupport

open System
open System.IO
open System.Diagnostics
open Expecto
open HybridProtocol.Core
open HybridProtocol.Crypto

let hex (s: string) = Convert.FromHexString s

/// FsCheck's arrays and strings include null; the codecs take .NET's non-null ones.
let nonNullBytes (b: byte array) =
    match box b with
    | null -> [||]
    | _ -> b

/// As nonNullBytes, for strings.
let nonNullText (s: string) =
    match box s with
    | null -> ""
    | _ -> s

let toHex (b: byte[]) = Convert.ToHexStringLower b

/// The p-quantile (0 < p <= 1) of sorted figures by nearest rank; nan when there are none.
let percentile (sorted: float[]) (p: float) =
    if sorted.Length = 0 then
        nan
    else
        sorted[min (sorted.Length - 1) (int (ceil (p * float sorted.Length)) - 1)]

/// `lanes` concurrent lanes of `each` attempts one after another (100 legitimate clients 10 at a time: 10, 10), for
/// the figures tests; each attempt returns its time in ms, or None when it failed. The times of those that succeeded,
/// sorted.
let timedAttempts (lanes: int) (each: int) (attempt: unit -> System.Threading.Tasks.Task<float option>) =
    [|
        for _ in 1..lanes ->
            task {
                let results = ResizeArray()

                for _ in 1..each do
                    let! r = attempt ()
                    r |> Option.iter results.Add

                return results.ToArray()
            }
    |]
    |> System.Threading.Tasks.Task.WhenAll
    |> fun t -> t.Result |> Array.concat |> Array.sort

/// An attempt for `timedAttempts`: the time `work` took when it returned true, None when it returned false or threw.
let timed (work: unit -> System.Threading.Tasks.Task<bool>) =
    task {
        let watch = Stopwatch.StartNew()

        try
            let! ok = work ()
            return if ok then Some watch.Elapsed.TotalMilliseconds else None
        with _ ->
            return None
    }

/// The CPU a process uses over one phase of a figures test, in cores: made at the phase's start, read at its end.
type CpuMeter(p: Process) =
    do p.Refresh()
    let before = p.TotalProcessorTime
    let clock = Stopwatch.StartNew()
    member _.Elapsed = clock.Elapsed

    member _.Cores =
        p.Refresh()
        (p.TotalProcessorTime - before).TotalSeconds / clock.Elapsed.TotalSeconds

/// The 1-minute load average, printed beside every figure.
let loadAverage () =
    File.ReadAllText("/proc/loadavg").Split(' ')[0]

/// An attacker for the figures tests: `act` once a second (its argument counts the rounds from 1) until `stop`, on its
/// own background thread, not the thread pool the server and the clients share (a blocked pool thread would delay
/// them and measure the test, not the server). Join it after cancelling.
let everySecond (stop: System.Threading.CancellationToken) (act: int -> unit) =
    let t =
        System.Threading.Thread(fun () ->
            let mutable round = 1

            while not stop.IsCancellationRequested do
                act round
                round <- round + 1
                stop.WaitHandle.WaitOne 1000 |> ignore)

    t.IsBackground <- true
    t.Start()
    t

/// The repository root: the nearest folder above the test binary that holds HybridProtocol.sln.
let repoRoot =
    let rec up (dir: DirectoryInfo | null) =
        match dir with
        | null -> failwith "HybridProtocol.sln not found above the test binary"
        | dir when File.Exists(Path.Combine(dir.FullName, "HybridProtocol.sln")) -> dir.FullName
        | dir -> up dir.Parent

    up (DirectoryInfo AppContext.BaseDirectory)

/// The configuration this test program was built in (tests/bin/CONFIGURATION/net10.0/): the projects it runs (the
/// tool, the examples, the bench, the packages) are built in the same.
let configuration =
    match DirectoryInfo(Path.TrimEndingDirectorySeparator AppContext.BaseDirectory).Parent with
    | null -> "Debug"
    | dir -> dir.Name

/// NAME.dll of the project in FOLDER (relative to the repository root), as built beside this test program.
let builtDll (folder: string) (name: string) =
    Path.Combine(repoRoot, folder, "bin", configuration, "net10.0", name + ".dll")

/// A vector file: the read-only shared copy when this checkout sits beside it, else the copy in tests/vectors
/// (byte-identical; see tests/vectors/README.md for sources and hashes).
let vectorFile (relative: string) =
    let shared = Path.Combine(repoRoot, "..", "shared", "vectors", relative)
    let local = Path.Combine(repoRoot, "tests", "vectors", relative)
    if File.Exists shared then shared else local

/// An X25519 key pair from 32 raw private-key bytes, through the facade's NSec provider.
let importKeyPair (privateKey: byte[]) =
    match NSecSuite.X25519.IMPORT_PRIVATE.Invoke(ReadOnlySpan privateKey) with
    | ValueSome pair -> pair
    | ValueNone -> failwith "not an X25519 private key"

let publicKey (bytes: byte[]) =
    match DhPublicKey.TryCreate(bytes.Length, ReadOnlySpan bytes) with
    | ValueSome k -> k
    | ValueNone -> failwith "unreachable"

/// What a finished child process wrote, and how it ended.
type ProcessOutput = {
    Status: int
    Out: string
    Err: string
}

/// Starts INFO with its output read (and its input closed, when redirected), and waits up to TIMEOUT: a process still
/// running then is killed with its children and fails the test. The one way the tests run a child to its end.
let runProcess (timeout: TimeSpan) (info: ProcessStartInfo) =
    info.RedirectStandardOutput <- true
    info.RedirectStandardError <- true
    info.UseShellExecute <- false

    use p =
        match Process.Start info with
        | null -> failtest $"could not start {info.FileName}"
        | p -> p

    if info.RedirectStandardInput then
        p.StandardInput.Close()

    let out = p.StandardOutput.ReadToEndAsync()
    let err = p.StandardError.ReadToEndAsync()

    if not (p.WaitForExit timeout) then
        p.Kill true
        failtest $"{info.FileName} {String.Join(' ', info.ArgumentList)} did not finish within {timeout.TotalSeconds} s"

    p.WaitForExit()

    {
        Status = p.ExitCode
        Out = out.Result
        Err = err.Result
    }

/// A child `dotnet` (or a script running one) that leaves nothing behind: what `dotnet run` set for this test program
/// (MSBuild's variables) is taken out, and build servers, node reuse and telemetry are off.
let quietDotnet (info: ProcessStartInfo) =
    for key in List.ofSeq info.Environment.Keys do
        if key.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase) then
            info.Environment.Remove key |> ignore

    for key, value in
        [
            "DOTNET_CLI_TELEMETRY_OPTOUT", "1"
            "DOTNET_NOLOGO", "1"
            "DOTNET_SKIP_FIRST_TIME_EXPERIENCE", "1"
            "DOTNET_CLI_USE_MSBUILD_SERVER", "0"
            "MSBUILDDISABLENODEREUSE", "1"
            "UseSharedCompilation", "false"
        ] do
        info.Environment[key] <- value

/// A ProcessStartInfo for FILE ARGS in DIRECTORY.
let processIn (directory: string) (file: string) (args: string list) =
    let info = ProcessStartInfo file

    for a in args do
        info.ArgumentList.Add a

    info.WorkingDirectory <- directory
    info

/// The openssl executable on PATH, if any.
let openssl =
    let path =
        match Environment.GetEnvironmentVariable "PATH" with
        | null -> ""
        | p -> p

    path.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
    |> Array.tryPick (fun dir ->
        [ "openssl"; "openssl.exe" ]
        |> List.map (fun name -> Path.Combine(dir, name))
        |> List.tryFind File.Exists)

/// Runs openssl in `directory` and returns its standard output; fails the test on a non-zero exit or after
/// 30 s, and skips it (with a message) only when openssl is not on PATH.
let runOpensslIn (directory: string) (args: string list) =
    match openssl with
    | None ->
        skiptest "openssl is not on PATH: the OpenSSL interoperability tests need the openssl command-line tool"
        ""
    | Some exe ->
        let r = processIn directory exe args |> runProcess (TimeSpan.FromSeconds 30.)

        if r.Status <> 0 then
            failtest $"openssl {args} exited with {r.Status}: {r.Err}"

        r.Out

/// The members every in-memory test stream shares: it reads and writes and cannot seek. Subclasses say how they
/// read, write and flush.
[<AbstractClass>]
type UnseekableStream() =
    inherit Stream()
    override _.CanRead = true
    override _.CanWrite = true
    override _.CanSeek = false
    override _.Length = raise (NotSupportedException())

    override _.Position
        with get () = raise (NotSupportedException())
        and set _ = raise (NotSupportedException())

    override _.Seek(_, _) = raise (NotSupportedException())
    override _.SetLength _ = raise (NotSupportedException())
