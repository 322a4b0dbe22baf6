/// hybrid-conformance: checks another implementation of specs/PROTOCOL.md against this one (specs/README.md,
/// "Conformance runner"). Exit 0: every check passed; 1: rules broken (listed); 2: usage.
module HybridProtocol.Conformance.Program

open System
open System.IO
open System.Net
open System.Net.Sockets
open System.Threading
open HybridProtocol.Conformance.Runner

let private usage =
    """usage:
  hybrid-conformance server HOST:PORT [options]      the implementation under test is a server (127.0.0.1)
  hybrid-conformance client --listen ADDR:PORT [--ready-file FILE] [options]
                                                     the implementation under test is a client: it connects
                                                     once per case (4 connections)
options: --app PROTOCOL (default hybrid)  --suite NAME (ChaChaPoly_BLAKE2b)  --classical  --no-echo  --timeout S
         --key FILE         the runner's own private key (PEM): its client identity (XX, IK), or its server key
         --server-key FILE  pin the server's public key (PEM): NK, or IK with --key
         --psk FILE         a 32-byte pre-shared key: the psk twins (NKpsk2, NXpsk2, XXpsk3, IKpsk2)"""

let private endPoint (text: string) : IPEndPoint option =
    match IPEndPoint.TryParse text with
    | true, e when not (isNull e) -> Some(nonNull e)
    | _ -> None

[<EntryPoint>]
let main argv =
    let args = List.ofArray argv

    let rec options (settings: Settings) (rest: string list) (listen: string option) (ready: string option) =
        match rest with
        | "--app" :: v :: tail ->
            options
                {
                    settings with
                        ApplicationProtocol = v
                }
                tail
                listen
                ready
        | "--suite" :: v :: tail -> options { settings with Suite = v } tail listen ready
        | "--classical" :: tail -> options { settings with Hybrid = false } tail listen ready
        | "--no-echo" :: tail -> options { settings with Echo = false } tail listen ready
        | "--timeout" :: v :: tail ->
            options
                {
                    settings with
                        Timeout = TimeSpan.FromSeconds(float v)
                }
                tail
                listen
                ready
        | "--key" :: v :: tail ->
            options
                {
                    settings with
                        Key = Some((HybridProtocol.PrivateKey.Load v).ToKeyPair())
                }
                tail
                listen
                ready
        | "--server-key" :: v :: tail ->
            options
                {
                    settings with
                        ServerKey = Some((HybridProtocol.PublicKey.Load v).ToCore())
                }
                tail
                listen
                ready
        | "--psk" :: v :: tail ->
            options
                {
                    settings with
                        Psk = Some(File.ReadAllBytes v)
                }
                tail
                listen
                ready
        | "--listen" :: v :: tail -> options settings tail (Some v) ready
        | "--ready-file" :: v :: tail -> options settings tail listen (Some v)
        | [] -> Some(settings, listen, ready)
        | _ -> None

    let finish (findings: Finding list) =
        let text, broken = report findings
        Console.Out.Write text
        if broken.IsEmpty then 0 else 1

    match args with
    | "server" :: target :: rest ->
        match endPoint target, options defaults rest None None with
        | Some e, Some(settings, _, _) -> finish (againstServer e settings)
        | _ ->
            eprintfn "%s" usage
            2
    | "client" :: rest ->
        match options defaults rest None None with
        | Some(settings, Some listen, ready) ->
            match endPoint listen with
            | Some e ->
                let listener = new TcpListener(e)
                listener.Start()
                let bound = listener.LocalEndpoint :?> IPEndPoint

                match ready with
                | Some file -> File.WriteAllText(file, bound.ToString())
                | None -> ()

                eprintfn "hybrid-conformance: listening on %O; connect the client under test %d times" bound clientCases
                let findings = againstClient listener settings CancellationToken.None
                listener.Stop()
                finish findings
            | None ->
                eprintfn "%s" usage
                2
        | _ ->
            eprintfn "%s" usage
            2
    | _ ->
        eprintfn "%s" usage
        2
