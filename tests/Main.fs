module HybridProtocol.Tests.Main

open System
open System.Text
open Expecto
open Expecto.Impl

/// CI reads a closing line "N passed, N failed" alone on a line. Expecto wraps Console.Out, so the
/// line goes to the raw standard output stream after Expecto's own summary.
let private closingLine (summary: TestRunSummary) =
    let failed = summary.failed.Length + summary.errored.Length

    let line =
        $"{summary.passed.Length} passed, {failed} failed, {summary.ignored.Length} skipped\n"

    use raw = Console.OpenStandardOutput()
    let bytes = Encoding.UTF8.GetBytes line
    raw.Write(bytes, 0, bytes.Length)
    raw.Flush()

[<EntryPoint>]
let main argv =
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
