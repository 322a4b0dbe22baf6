/// The known-hosts line and file codec (core-fsharp/Formats/KnownHostsLine): entries and kept lines round trip,
/// files round trip, every refusal is typed, random, truncated and mutated lines never throw, and the matching
/// rules of KEYS.md ("Rules") decide Trusted, Changed and Unrecorded.
module HybridProtocol.Tests.KnownHostsLineTests

open System
open Expecto
open HybridProtocol.Core.Formats
open HybridProtocol.Tests.TestSupport

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 300
}

let private key32 (seed: byte array) =
    let seed = nonNullBytes seed

    HostKey.X25519(
        Array.init 32 (fun i ->
            if seed.Length = 0 then
                byte i
            else
                seed[i % seed.Length] + byte i)
    )

let private commentFrom (raw: string) =
    match KnownHostsLine.comment ((nonNullText raw).Replace('\n', ' ').Replace('\r', ' ')) with
    | Ok c -> c
    | Error _ -> None

let private entryFrom kind seed (p: uint16) text = {
    Host = HostPortTests.hostFrom kind seed
    Port = 1 + int p % 65535
    Key = key32 seed
    Comment = commentFrom text
}

/// A kept line: blank, white space, or a `#` comment (no line end).
let private keptFrom (raw: string) (blank: bool) =
    let text = (nonNullText raw).Replace('\n', ' ').Replace('\r', ' ')
    if blank then String(' ', text.Length % 3) else "# " + text

let private alice =
    Convert.FromBase64String "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo="

let private bob = Array.init 32 byte

let private line host port key comment =
    Entry {
        Host = host
        Port = port
        Key = HostKey.X25519 key
        Comment = comment
    }

let private neverThrows (text: string) =
    KnownHostsLine.decode text |> ignore
    KnownHostsFile.decode text |> ignore

let private roundTrips =
    testList "round trip" [
        testPropertyWithConfig config "an entry encodes to a line that decodes to the same entry"
        <| fun (kind: byte) (seed: byte array) (p: uint16) (comment: string) ->
            let entry = Entry(entryFrom kind seed p comment)
            let text = KnownHostsLine.encode entry
            KnownHostsLine.decode text = Ok entry && not (text.Contains '\n')

        testPropertyWithConfig config "a file of entries and kept lines round trips"
        <| fun (items: (byte * byte array * uint16 * string * bool * bool) list) ->
            let lines =
                items
                |> List.truncate 30
                |> List.map (fun (kind, seed, p, text, kept, blank) ->
                    if kept then
                        Kept(keptFrom text blank)
                    else
                        Entry(entryFrom kind seed p text))

            KnownHostsFile.decode (KnownHostsFile.encode lines) = Ok lines
    ]

let private malformed =
    testList "malformed" [
        testPropertyWithConfig config "random text gives lines or a typed error, never an exception"
        <| fun (raw: string) -> neverThrows (nonNullText raw)

        testPropertyWithConfig config "every truncation and one-character change of a valid line is total"
        <| fun (kind: byte) (seed: byte array) (p: uint16) (comment: string) (at: int) (c: char) ->
            let text = KnownHostsLine.encode (Entry(entryFrom kind seed p comment))

            for n in 0 .. text.Length do
                neverThrows (text.Substring(0, n))

            let i = abs (at % text.Length)
            neverThrows (text.Substring(0, i) + string c + text.Substring(i + 1))

        test "each refusal is its own error" {
            let b64 = Convert.ToBase64String alice

            let cases = [
                "h:1 x25519", MissingFields 2
                "h:1", MissingFields 1
                "h x25519 " + b64, BadHostPort("h", PortMissing)
                "h:0 x25519 " + b64, BadHostPort("h:0", PortOutOfRange 0)
                "h:99999 x25519 " + b64, BadHostPort("h:99999", PortOutOfRange 99999)
                "h:x:1 x25519 " + b64, BadHostPort("h:x:1", IPv6WithoutBrackets)
                "::1 x25519 " + b64, BadHostPort("::1", IPv6WithoutBrackets)
                "a,b:1 x25519 " + b64, BadHostPort("a,b:1", HostCharacter ',')
                "|1|abc|def x25519 " + b64, HashedHost
                "@revoked h:1 x25519", MissingFields 3
                "@revoked h x25519 " + b64, BadHostPort("h", PortMissing)
                "@revoked", MissingFields 1
                "@cert-authority", UnknownMarker "@cert-authority"
                "h:1 ssh-ed25519 " + b64, UnknownKeyType "ssh-ed25519"
                "h:1 x25519 not-base64!", BadKey "not-base64!"
                "h:1 x25519 " + Convert.ToBase64String alice[..30], BadKey(Convert.ToBase64String alice[..30])
                "h:1 x25519 " + b64.TrimEnd '=', BadKey(b64.TrimEnd '=')
            ]

            for text, expected in cases do
                Expect.equal (KnownHostsLine.decode text) (Error expected) text

            Expect.equal (KnownHostsLine.comment "a\nb") (Error CommentLineBreak) "LF in a comment"
            Expect.equal (KnownHostsLine.comment "a\rb") (Error CommentLineBreak) "CR in a comment"
            Expect.equal (KnownHostsLine.comment "  ") (Ok None) "blank comment"

            Expect.equal
                (KnownHostsFile.decode ("# c\nh:1 x25519 " + b64 + "\ngarbage\n"))
                (Error { Line = 3; Error = MissingFields 1 })
                "the file's first bad line, 1-based"
        }
    ]

let private spec =
    testList "KEYS.md" [
        test "the spec's example file decodes, keeps its comment, and rewrites identically" {
            let text =
                "# comment lines and blank lines are kept as they are\n\n"
                + "example.com:12345 x25519 hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=\n"
                + "[::1]:443 x25519 hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo= rotated 2025\n"

            let expected = [
                Kept "# comment lines and blank lines are kept as they are"
                Kept ""
                line "example.com" 12345 alice None
                line "::1" 443 alice (Some "rotated 2025")
            ]

            Expect.equal (KnownHostsFile.decode text) (Ok expected) "decoded"
            Expect.equal (KnownHostsFile.encode expected) text "encoded back"
        }

        test "reading: tabs, CRLF, upper-case type and host; the normal form written" {
            let text =
                "  Example.COM.:1\tX25519  "
                + Convert.ToBase64String alice
                + " \t a  comment \r\n"

            let expected = [ line "example.com" 1 alice (Some "a  comment") ]
            Expect.equal (KnownHostsFile.decode text) (Ok expected) "decoded"

            Expect.equal
                (KnownHostsFile.encode expected)
                ("example.com:1 x25519 " + Convert.ToBase64String alice + " a  comment\n")
                "normal form"

            Expect.equal (KnownHostsFile.decode "") (Ok []) "an empty file has no lines"
            Expect.equal (KnownHostsFile.decode "\n") (Ok [ Kept "" ]) "one blank line"
        }

        test "Verify's rules: trusted by any recorded key, changed names the first, unrecorded; ports are separate" {
            let lines = [
                Kept "# hosts"
                line "h" 1 alice None
                line "h" 1 bob (Some "rotated")
                line "h" 2 bob None
            ]

            Expect.equal (KnownHostsFile.verify "h" 1 (HostKey.X25519 bob) lines) (Trusted 3) "second key of h:1"
            Expect.equal (KnownHostsFile.verify "h" 1 (HostKey.X25519 alice) lines) (Trusted 2) "first key of h:1"

            Expect.equal
                (KnownHostsFile.verify "h" 2 (HostKey.X25519 alice) lines)
                (Changed(4, HostKey.X25519 bob))
                "h:2 changed"

            Expect.equal (KnownHostsFile.verify "h" 3 (HostKey.X25519 alice) lines) Unrecorded "h:3 unknown"
            Expect.equal (KnownHostsFile.verify "g" 1 (HostKey.X25519 alice) lines) Unrecorded "g unknown"
            Expect.isTrue (KnownHostsFile.holds "h" 2 (HostKey.X25519 bob) lines) "holds"
            Expect.isFalse (KnownHostsFile.holds "h" 2 (HostKey.X25519 alice) lines) "does not hold"

            let withoutPort2, removed = KnownHostsFile.remove "h" (Some 2) lines
            Expect.equal removed 1 "h:2 removed"
            Expect.equal withoutPort2 lines[..2] "the rest kept"
            let onlyComment, removedAll = KnownHostsFile.remove "h" None lines
            Expect.equal (removedAll, onlyComment) (3, [ Kept "# hosts" ]) "every port of h removed, comment kept"
        }
    ]

[<Tests>]
let tests = testList "Core.Formats.KnownHostsLine" [ roundTrips; malformed; spec ]
