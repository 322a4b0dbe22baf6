/// The fuzz targets of fuzz/HybridProtocol.Fuzz (frame decoder, preamble decoder, the server's handshake
/// state machine, the record layer's Open) replayed in CI: every checked-in corpus file (fuzz/corpus/<target>/,
/// including inputs that once crashed) and a bounded, seeded in-process mutation run per target. Any exception
/// or broken invariant fails the test; typed errors are the expected outcome. AFL++ runs: fuzz/run.sh.
module HybridProtocol.Tests.FuzzCorpus

open System.IO
open Expecto
open HybridProtocol.Fuzz
open HybridProtocol.Tests.TestSupport

let corpusDirectory = Path.Combine(repoRoot, "fuzz", "corpus")

[<Tests>]
let tests =
    testList "Fuzz corpus" [
        for target in FuzzTargets.Names do
            test $"{target}: every corpus file gives a typed result, no exception" {
                let files = Directory.GetFiles(Path.Combine(corpusDirectory, target))
                Expect.isGreaterThanOrEqual files.Length 3 "a corpus to replay"

                for file in files do
                    try
                        FuzzTargets.Run(target, File.ReadAllBytes file)
                    with e ->
                        failtestf "%s: %s" (Path.GetFileName file) e.Message

                printfn $"Fuzz corpus {target}: {files.Length} files replayed"
            }

            test $"{target}: 2000 seeded mutations of the corpus, no exception" {
                Expect.equal (MutationLoop.Run(target, corpusDirectory, 2000, 7)) 0 "no crash"
            }
    ]
