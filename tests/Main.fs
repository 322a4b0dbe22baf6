module HybridProtocol.Tests.Main

open System
open System.Text
open Expecto
open Expecto.Impl

/// CI reads a closing line "N passed, N failed" alone on a line. Expecto wraps Console.Out, so the
/// line goes to the raw standard output stream after Expecto's own summary. Expecto's last colour
/// reset (ESC [ 0 m) may still be pending without a line end: flush it, then write a reset and a
/// line end of our own first, so the count starts its own line.
let private closingLine (summary: TestRunSummary) =
    let failed = summary.failed.Length + summary.errored.Length

    let line =
        $"\u001b[0m\n{summary.passed.Length} passed, {failed} failed, {summary.ignored.Length} skipped\n"

    Console.Out.Flush()

    use raw = Console.OpenStandardOutput()
    let bytes = Encoding.UTF8.GetBytes line
    raw.Write(bytes, 0, bytes.Length)
    raw.Flush()

/// A helper process for the known-hosts concurrency tests (tests/CliAbuseTests.fs): waits until the file GO exists,
/// then records one first contact, `known-hosts-writer PATH GO HOST PORT BASE64-KEY`; exit 0 on first contact.
let private knownHostsWriter (args: string[]) =
    let path, go, host, port, key = args[0], args[1], args[2], int args[3], args[4]

    while not (IO.File.Exists go) do
        Threading.Thread.Sleep 2

    let key = HybridProtocol.PublicKey.FromRawBytes(Convert.FromBase64String key)
    let result = HybridProtocol.KnownHosts.Load(path).Verify(host, port, key)

    if result.Status = HybridProtocol.KnownHostStatus.FirstContact then
        0
    else
        1

[<EntryPoint>]
let main argv =
    if argv.Length = 6 && argv[0] = "known-hosts-writer" then
        exit (knownHostsWriter argv[1..])

    let printer = {
        TestPrinters.defaultPrinter with
            summary =
                fun config summary ->
                    async {
                        do! TestPrinters.defaultPrinter.summary config summary
                        closingLine summary
                    }
    }

    let config = { defaultConfig with printer = printer }
    runTestsInAssemblyWithCLIArgs [ Printer printer ] argv
