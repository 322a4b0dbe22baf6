/// Checks on the repository itself that keep a fresh clone building.
module HybridProtocol.Tests.RepositoryTests

open System.IO
open Expecto
open HybridProtocol.Tests.TestSupport

let private lines file =
    File.ReadAllLines(Path.Combine(repoRoot, file)) |> Array.map _.Trim()

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
    ]
