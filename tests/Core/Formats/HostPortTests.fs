/// The HOST:PORT codec (core-fsharp/Formats/HostPort): stored hosts and ports print and parse back, normalization
/// is idempotent, every rule's refusals are typed, and no text (random, truncated, mutated) makes it throw.
module HybridProtocol.Tests.HostPortTests

open System
open System.Net
open Expecto
open HybridProtocol.Core.Formats
open HybridProtocol.Tests.TestSupport

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 500
}

let private nameAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789-._"

/// A stored-form host of one of three kinds, chosen by `kind`, from arbitrary bytes.
let hostFrom (kind: byte) (seed: byte array) =
    let seed = nonNullBytes seed

    match kind % 3uy with
    | 0uy ->
        let bytes =
            Array.init 16 (fun i -> if seed.Length = 0 then byte i else seed[i % seed.Length])

        IPAddress(bytes).ToString()
    | 1uy -> String.Join(".", Array.init 4 (fun i -> if i < seed.Length then string seed[i] else "7"))
    | _ ->
        let name =
            seed
            |> Array.truncate 60
            |> Array.map (fun b -> nameAlphabet[int b % nameAlphabet.Length])
            |> String

        let name = name.TrimEnd '.'
        if name.Length = 0 then "h" else name

let private portFrom (p: uint16) = 1 + int p % 65535

let private neverThrows (text: string) =
    for rule in [ PortRequired; PortOptional; Listen ] do
        HostPort.parse rule text |> ignore

    HostPort.normalizeHost text |> ignore

let private roundTrips =
    testList "round trip" [
        testPropertyWithConfig config "a stored host and a port print and parse back"
        <| fun (kind: byte) (seed: byte array) (p: uint16) ->
            let host, port = hostFrom kind seed, portFrom p
            let text = HostPort.format host port

            HostPort.parse PortRequired text = Ok { Host = host; Port = Some port }
            && HostPort.parse PortOptional text = Ok { Host = host; Port = Some port }
            && HostPort.parse PortOptional (HostPort.formatHost host) = Ok { Host = host; Port = None }
            && HostPort.normalizeHost host = Ok host

        testPropertyWithConfig config "normalization is idempotent and print inverts parse"
        <| fun (raw: string) ->
            let text = nonNullText raw

            (match HostPort.normalizeHost text with
             | Ok host -> HostPort.normalizeHost host = Ok host
             | Error _ -> true)
            && (match HostPort.parse PortOptional text with
                | Ok parsed -> HostPort.parse PortOptional (HostPort.print parsed) = Ok parsed
                | Error _ -> true)
    ]

let private malformed =
    testList "malformed" [
        testPropertyWithConfig config "random text gives a value or a typed error, never an exception"
        <| fun (raw: string) -> neverThrows (nonNullText raw)

        testPropertyWithConfig config "every truncation and one-character change of a valid text is total"
        <| fun (kind: byte) (seed: byte array) (p: uint16) (at: int) (c: char) ->
            let text = HostPort.format (hostFrom kind seed) (portFrom p)

            for n in 0 .. text.Length do
                neverThrows (text.Substring(0, n))

            let i = abs (at % text.Length)
            neverThrows (text.Substring(0, i) + string c + text.Substring(i + 1))

        test "each refusal is its own error" {
            let cases = [
                PortRequired, "", Error HostMissing
                PortRequired, ":443", Error HostMissing
                PortRequired, "[]:443", Error HostMissing
                PortRequired, "h", Error PortMissing
                PortRequired, "h:", Error(PortNotNumber "")
                PortRequired, "h:0", Error(PortOutOfRange 0)
                PortRequired, "h:65536", Error(PortOutOfRange 65536)
                PortRequired, "h:99999", Error(PortOutOfRange 99999)
                PortRequired, "h:123456", Error(PortNotNumber "123456")
                PortRequired, "h:+1", Error(PortNotNumber "+1")
                PortRequired, "h:x:1", Error IPv6WithoutBrackets
                PortRequired, "::1", Error IPv6WithoutBrackets
                PortRequired, "[::1", Error UnclosedBracket
                PortRequired, "[::1]x", Error ExpectedColonAfterBracket
                PortRequired, "[example.com]:1", Error(NotIPv6 "example.com")
                PortRequired, "a,b:1", Error(HostCharacter ',')
                PortRequired, "*:1", Error(HostCharacter '*')
                PortRequired, "|1|abc:1", Error(HostCharacter '|')
                PortRequired, "a b:1", Error(HostCharacter ' ')
                PortRequired, "ex\u00e4mple:1", Error(HostCharacter '\u00e4')
                PortRequired, String('a', 254) + ":1", Error(HostTooLong 254)
                PortOptional, "h:x:1", Error(NotIPv6 "h:x:1")
                Listen, "h:-1", Error(PortNotNumber "-1")
            ]

            for rule, text, expected in cases do
                Expect.equal (HostPort.parse rule text) expected $"{rule} '{text}'"

            Expect.equal (HostPort.checkPort 0) (Error(PortOutOfRange 0)) "port 0 to connect"
            Expect.equal (HostPort.checkPort 65535) (Ok 65535) "the highest port"
            Expect.equal (HostPort.checkPort -1) (Error(PortOutOfRange -1)) "negative"
        }
    ]

let private examples =
    testList "normalization" [
        test "KEYS.md: lower case, no final dot, canonical IPv6 in brackets, same host on two ports" {
            let cases = [
                PortRequired,
                "EXAMPLE.com.:12345",
                {
                    Host = "example.com"
                    Port = Some 12345
                }
                PortRequired, " [0:0::1]:443 ", { Host = "::1"; Port = Some 443 }
                PortRequired, "127.0.0.1:1", { Host = "127.0.0.1"; Port = Some 1 }
                PortRequired, "h:00022", { Host = "h"; Port = Some 22 }
                PortOptional, "H", { Host = "h"; Port = None }
                PortOptional, "[::1]", { Host = "::1"; Port = None }
                PortOptional, "0:0::1", { Host = "::1"; Port = None }
                Listen, "*:0", { Host = "*"; Port = Some 0 }
                Listen, "[::]:0", { Host = "::"; Port = Some 0 }
            ]

            for rule, text, expected in cases do
                Expect.equal (HostPort.parse rule text) (Ok expected) $"{rule} '{text}'"

            Expect.equal (HostPort.format "::1" 443) "[::1]:443" "IPv6 in brackets"
            Expect.equal (HostPort.format "example.com" 1) "example.com:1" "a name as it is"
            Expect.equal (HostPort.normalizeHost "[FE80::1]") (Ok "fe80::1") "bracketed host alone"
            Expect.equal (HostPort.normalizeHost ".") (Ok ".") "a lone dot keeps its dot"
        }
    ]

[<Tests>]
let tests = testList "Core.Formats.HostPort" [ roundTrips; malformed; examples ]
