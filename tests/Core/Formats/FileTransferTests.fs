/// hybrid-file/1 in the core (core-fsharp/Formats/FileTransfer, FileExchange; specs/FILE-TRANSFER.md): every
/// message round-trips and every malformed one is a typed error; the header agrees with System.Text.Json on what
/// it accepts; the two machines deliver any file in any split, and no event sequence makes the receiver say `ok`
/// before the digest matched and the file was committed.
module HybridProtocol.Tests.FileTransferTests

open System
open System.Security.Cryptography
open System.Text
open System.Text.Json
open Expecto
open HybridProtocol.Core.Formats
open HybridProtocol.Tests.TestSupport

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 300
}

/// Characters a stored name may hold: letters of several scripts, digits, punctuation (no `/`, `\`), a quote, and
/// a character outside the BMP.
let private nameAlphabet = [|
    "a"
    "Z"
    "0"
    "-"
    "_"
    " "
    "."
    "\""
    "'"
    "\u00e9"
    "\u4e2d"
    "\U0001F600"
    "~"
    "#"
    "%"
|]

/// A valid stored name from arbitrary bytes: never empty, no leading dot, at most 255 bytes of UTF-8.
let private nameFrom (seed: byte array) =
    let seed = nonNullBytes seed

    let body =
        seed
        |> Array.truncate 40
        |> Array.map (fun b -> nameAlphabet[int b % nameAlphabet.Length])
        |> String.concat ""

    "n" + body

let private decode (bytes: byte array) =
    FileTransfer.decodeHeader (ReadOnlySpan bytes)

let private decodeAnswer (bytes: byte array) =
    FileTransfer.decodeAnswer (ReadOnlySpan bytes)

let private reasons = [
    BadHeader
    BadName
    HiddenName
    NameTaken
    NotWritable
    Busy
    DiskFull
    WriteFailed
]

let private answerFrom (pick: byte) =
    let reason = reasons[int pick % reasons.Length]

    match pick % 5uy with
    | 0uy -> Ready
    | 1uy -> Refused reason
    | 2uy -> Stored
    | 3uy -> Mismatch
    | _ -> Failed reason

let private codec =
    testList "codec" [
        testPropertyWithConfig config "decodeHeader (encodeHeader h) = h for every valid name and size"
        <| fun (seed: byte array) (size: int64) ->
            let header = {
                Name = nameFrom seed
                Size = abs (size % Int64.MaxValue)
            }

            decode (FileTransfer.encodeHeader header) = Ok header

        testPropertyWithConfig config "any name encodes to a header that decodes as fileName judges the name"
        <| fun (raw: string) (size: uint32) ->
            let name = nonNullText raw

            let expected =
                FileTransfer.fileName name
                |> Result.map (fun n -> { Name = n; Size = int64 size })
                |> Result.mapError BadFileName

            decode (FileTransfer.encodeHeader { Name = name; Size = int64 size }) = expected

        testPropertyWithConfig
            config
            "System.Text.Json's serialization of a header (escaped, spaced) decodes to the same header"
        <| fun (seed: byte array) (size: uint32) (spaced: bool) ->
            let name = nameFrom seed
            let json = JsonSerializer.Serialize {| name = name; size = size |}

            let json =
                if spaced then
                    json.Replace(",", " ,\r\n\t").Replace(":", " : ")
                else
                    json

            decode (Encoding.UTF8.GetBytes json) = Ok { Name = name; Size = int64 size }

        testPropertyWithConfig
            config
            "what the header decoder accepts, System.Text.Json parses to exactly those two members"
        <| fun (seed: byte array) (mutation: int) (value: byte) ->
            let good = FileTransfer.encodeHeader { Name = nameFrom seed; Size = 12345L }
            let bytes = Array.copy good
            bytes[abs (mutation % bytes.Length)] <- value

            match decode bytes with
            | Ok header ->
                use document = JsonDocument.Parse(ReadOnlyMemory bytes)

                let members =
                    document.RootElement.EnumerateObject()
                    |> Seq.map _.Name
                    |> Seq.sort
                    |> List.ofSeq

                members = [ "name"; "size" ]
                && document.RootElement.GetProperty("size").GetInt64() = header.Size
                && (match document.RootElement.GetProperty("name").GetString() with
                    | null -> false
                    | name -> FileTransfer.fileName name = Ok header.Name)
            | Error _ -> true

        testPropertyWithConfig
            config
            "random bytes, every truncation and every one-byte change give a header or a typed error"
        <| fun (raw: byte array) (seed: byte array) (at: int) (value: byte) ->
            decode (nonNullBytes raw) |> ignore
            let good = FileTransfer.encodeHeader { Name = nameFrom seed; Size = 7L }

            for n in 0 .. good.Length - 1 do
                match decode good[.. n - 1] with
                | Error(MalformedHeader _) -> ()
                | other -> failtest $"a header cut to {n} bytes gave {other}"

            let changed = Array.copy good
            changed[abs (at % good.Length)] <- value
            decode changed |> ignore
            true

        test "FILE-TRANSFER.md [F2] [F3]: each malformed header and unsafe name has its reason" {
            let cases = [
                "{}", BadHeader
                """{"size": 1}""", BadHeader
                """{"name": "a.txt"}""", BadHeader
                """{"Name": "a.txt", "Size": 1}""", BadHeader
                """{"name": null, "size": 1}""", BadHeader
                """{"name": 7, "size": 1}""", BadHeader
                """{"name": "a.txt", "size": -1}""", BadHeader
                """{"name": "a.txt", "size": -0}""", BadHeader
                """{"name": "a.txt", "size": 1.5}""", BadHeader
                """{"name": "a.txt", "size": 1e3}""", BadHeader
                """{"name": "a.txt", "size": 01}""", BadHeader
                """{"name": "a.txt", "size": 9223372036854775808}""", BadHeader
                """{"name": "a.txt", "size": 1, "mode": "x"}""", BadHeader
                """{"name": "a.txt", "name": "b.txt", "size": 1}""", BadHeader
                """{"name": "a.txt", "size": 1} x""", BadHeader
                """{"name": "a.txt", "size": 1,}""", BadHeader
                "\uFEFF{\"name\": \"a\", \"size\": 1}", BadHeader
                "[1, 2]", BadHeader
                "not json at all", BadHeader
                "", BadHeader
                """{"name": "", "size": 1}""", BadName
                """{"name": "../", "size": 1}""", BadName
                """{"name": "..", "size": 1}""", BadName
                """{"name": "x\u001b[2J", "size": 1}""", BadName
                """{"name": "invoice\u202Etxt.exe", "size": 1}""", BadName
                """{"name": "a\u0085b", "size": 1}""", BadName
                """{"name": "tag\udb40\udc01", "size": 1}""", BadName
                $"""{{"name": "{String('n', 256)}", "size": 1}}""", BadName
                """{"name": "a\ud800b", "size": 1}""", BadName
                """{"name": "\udc00", "size": 1}""", BadName
                """{"name": ".profile", "size": 1}""", HiddenName
                """{"name": "sub/.ssh", "size": 1}""", HiddenName
                """{"name": "sub\\.ssh", "size": 1}""", HiddenName
            ]

            for header, reason in cases do
                match decode (Encoding.UTF8.GetBytes header) with
                | Error e -> Expect.equal (FileTransfer.headerReason e) reason header
                | Ok h -> failtest $"{header} was accepted as {h}"

            Expect.equal (decode [| 0xFFuy; 0x7Buy |]) (Error(MalformedHeader NotUtf8)) "not UTF-8"

            let accepted = [
                """{"name":"a.txt","size":0}""", { Name = "a.txt"; Size = 0L }
                """ { "size" : 9223372036854775807 , "n\u0061me" : "dir/\u00e9.txt" } """,
                {
                    Name = "\u00e9.txt"
                    Size = Int64.MaxValue
                }
                $"""{{"name": "{String('m', 255)}", "size": 1}}""", { Name = String('m', 255); Size = 1L }
                """{"name": "\ud83d\ude00", "size": 1}""", { Name = "\U0001F600"; Size = 1L }
            ]

            for header, expected in accepted do
                Expect.equal (decode (Encoding.UTF8.GetBytes header)) (Ok expected) header
        }

        testPropertyWithConfig
            config
            "decodeAnswer (encodeAnswer a text) = (a, text) for every answer and one-line text"
        <| fun (pick: byte) (raw: string) ->
            let answer = answerFrom pick

            let text =
                String(
                    (nonNullText raw).ToCharArray()
                    |> Array.filter (fun c -> not (Char.IsControl c || Char.IsSurrogate c))
                )

            let expected =
                match answer with
                | Refused _
                | Failed _ -> text
                | _ -> ""

            decodeAnswer (FileTransfer.encodeAnswer answer text) = Ok(answer, expected)

        testPropertyWithConfig config "random bytes and every truncation of an answer give an answer or a typed error"
        <| fun (raw: byte array) (pick: byte) ->
            decodeAnswer (nonNullBytes raw) |> ignore
            let good = FileTransfer.encodeAnswer (answerFrom pick) "some text"

            for n in 0 .. good.Length - 1 do
                decodeAnswer good[.. n - 1] |> ignore

            true

        test "answers: the five forms, codes of later versions, and what is no answer" {
            let ok (text: string) =
                decodeAnswer (Encoding.UTF8.GetBytes text)

            Expect.equal (ok "ready") (Ok(Ready, "")) "ready is 72 65 61 64 79"
            Expect.equal (FileTransfer.encodeAnswer Ready "ignored") "ready"B "no text after ready"
            Expect.equal (ok "refused: busy: try later") (Ok(Refused Busy, "try later")) "refused"
            Expect.equal (ok "failed: disk-full: ") (Ok(Failed DiskFull, "")) "an empty text"

            Expect.equal
                (ok "failed: quota-2: over: quota")
                (Ok(Failed(OtherReason "quota-2"), "over: quota"))
                "a later code"

            for bad, error in
                [
                    "Ready", UnknownAnswer
                    "ready\n", UnknownAnswer
                    "ok ", UnknownAnswer
                    "", UnknownAnswer
                    "refused: busy", MalformedReason
                    "refused: : x", MalformedReason
                    "failed: Disk-Full: x", MalformedReason
                    "failed: disk full: x", MalformedReason
                ] do
                Expect.equal (ok bad) (Error error) bad

            Expect.equal (decodeAnswer [| 0xC0uy |]) (Error AnswerNotUtf8) "not UTF-8"

            for reason in reasons do
                Expect.equal
                    (decodeAnswer (FileTransfer.encodeAnswer (Failed reason) "t"))
                    (Ok(Failed reason, "t"))
                    (FileTransfer.reasonCode reason)
        }

        testPropertyWithConfig config "checkData: a data message is 1 to the remaining bytes"
        <| fun (remaining: uint32) (length: int) ->
            let expected =
                if length <= 0 then
                    Error EmptyData
                elif int64 length > int64 remaining then
                    Error(MoreThanAnnounced(int64 remaining, length))
                else
                    Ok()

            FileTransfer.checkData (int64 remaining) length = expected

        testPropertyWithConfig config "digestsEqual is byte equality"
        <| fun (a: byte array) (b: byte array) ->
            let a, b = nonNullBytes a, nonNullBytes b

            FileTransfer.digestsEqual a b = (a = b)
            && FileTransfer.digestsEqual a (Array.copy a)
    ]

/// The receiver driven by `events`: every (event, commands) pair, and the last state.
let private runReceiver (events: ReceiverEvent list) =
    ((FileReceiver.start, []), events)
    ||> List.fold (fun (state, trace) event ->
        let next, commands = FileReceiver.step state event
        next, trace @ [ event, commands ])

/// An event from arbitrary numbers, biased so that long runs reach every phase.
let private eventFrom (header: byte array) (data: byte array) (digest: byte array) (pick: byte) (payload: byte array) =
    match pick % 14uy with
    | 0uy -> FromSender header
    | 1uy
    | 2uy -> FromSender data
    | 3uy -> FromSender digest
    | 4uy -> FromSender payload
    | 5uy -> SenderClosed
    | 6uy -> StorageOpened
    | 7uy -> StorageFailed NameTaken
    | 8uy
    | 9uy -> Written
    | 10uy -> WritingFailed DiskFull
    | 11uy -> DigestComputed(if pick > 128uy then payload else digest)
    | 12uy -> Committed
    | _ -> CommitFailed NameTaken

let private machines =
    testList "state machines" [
        testPropertyWithConfig
            { config with maxTest = 1000 }
            "any sequence of events ends typed, never throws; the receiver says ok only after a matching digest and its commit"
        <| fun (picks: (byte * byte array) list) (size: byte) ->
            let data = Array.create (1 + int size % 3) 7uy
            let total = int64 (data.Length * (1 + int size % 2))
            let header = FileTransfer.encodeHeader { Name = "f"; Size = total }
            let digest = Array.create 32 1uy

            // Mostly the honest order (so runs reach every phase, and `ok`), with any event in between.
            let honest = [|
                yield FromSender header
                yield StorageOpened
                for _ in 1 .. int (total / int64 data.Length) do
                    yield FromSender data
                    yield Written
                yield FromSender digest
                yield DigestComputed digest
                yield Committed
            |]

            let events =
                picks
                |> List.mapFold
                    (fun k (p, payload) ->
                        if p % 4uy <> 0uy && k < honest.Length then
                            honest[k], k + 1
                        else
                            eventFrom header data digest p (nonNullBytes payload), k)
                    0
                |> fst

            let final, trace = runReceiver events
            let commands = trace |> List.collect snd

            // Once ended, nothing more happens.
            let endedAt =
                trace |> List.tryFindIndex (fun (_, cs) -> List.contains CloseExchange cs)

            let quietAfterEnd =
                match endedAt with
                | Some i -> trace |> List.skip (i + 1) |> List.forall (snd >> List.isEmpty)
                | None -> true

            // `ok` is answered only to Committed, after a Commit, which follows a DigestComputed equal to the digest
            // message, after the stored (Written) bytes added up to the size.
            let okAt =
                trace |> List.tryFindIndex (fun (_, cs) -> List.contains (Answer Stored) cs)

            let okIsEarned =
                match okAt with
                | None -> true
                | Some i ->
                    let before = trace |> List.take i
                    let event, _ = trace[i]

                    let written =
                        before
                        |> List.pairwise
                        |> List.sumBy (fun ((_, cs), (e, _)) ->
                            match cs, e with
                            | [ Write d ], Written -> int64 d.Length
                            | _ -> 0L)

                    let verified =
                        before
                        |> List.pairwise
                        |> List.exists (function
                            | (FromSender expected, cs), (e, _) -> cs = [ ComputeDigest ] && e = DigestComputed expected
                            | _ -> false)

                    event = Committed
                    && written = total
                    && verified
                    && (before |> List.exists (fun (_, cs) -> cs = [ Commit ]))

            let endingMatches =
                match final with
                | ReceiverEnded(Delivered _) -> okAt.IsSome
                | _ -> okAt.IsNone

            quietAfterEnd
            && okIsEarned
            && endingMatches
            && (commands |> List.filter ((=) (Answer Stored)) |> List.length) <= 1

        testPropertyWithConfig
            config
            "the sender: any sequence of events and answers ends typed, never throws, and closes once"
        <| fun (events: (byte * byte array) list) (size: byte) ->
            let _, start = FileSender.start { Name = "f"; Size = int64 size }

            let answers = [| "ready"B; "ok"B; "mismatch"B; "failed: disk-full: x"B; "refused: busy: x"B |]

            let event (pick: byte, payload: byte array) =
                match pick % 5uy with
                | 0uy -> FromReceiver(nonNullBytes payload)
                | 1uy -> ReceiverClosed
                | 2uy -> DataSent(int pick - 100)
                | _ -> FromReceiver answers[int pick % answers.Length]

            let final, closes =
                ((start, 0), events)
                ||> List.fold (fun (state, closes) e ->
                    let next, commands = FileSender.step state (event e)
                    next, closes + (commands |> List.filter ((=) CloseSending) |> List.length))

            match final with
            | SenderEnded _ -> closes = 1
            | _ -> closes = 0

        testPropertyWithConfig
            config
            "sender and receiver machines deliver any file in any split; a write failure is told to the sender"
        <| fun (content: byte array) (splits: byte list) (failAt: byte option) ->
            let content = nonNullBytes content

            let headerBytes, senderStart =
                FileSender.start {
                    Name = "data.bin"
                    Size = int64 content.Length
                }

            let stored = Collections.Generic.List<byte>()

            let toReceiver =
                Collections.Generic.Queue<ReceiverEvent>([ FromSender headerBytes ])

            let toSender = Collections.Generic.Queue<SenderEvent>()
            let mutable sender, receiver, sent, writes = senderStart, FileReceiver.start, 0, 0
            let splits = Array.ofList (if splits.IsEmpty then [ 1uy ] else splits)
            let mutable guard = 0

            while (toReceiver.Count > 0 || toSender.Count > 0) && guard < 10_000 do
                guard <- guard + 1

                if toReceiver.Count > 0 then
                    let next, commands = FileReceiver.step receiver (toReceiver.Dequeue())
                    receiver <- next

                    for c in commands do
                        match c with
                        | OpenStorage _ -> toReceiver.Enqueue StorageOpened
                        | Answer a -> toSender.Enqueue(FromReceiver(FileTransfer.encodeAnswer a "text"))
                        | Write d ->
                            writes <- writes + 1

                            if failAt = Some(byte writes) then
                                toReceiver.Enqueue(WritingFailed DiskFull)
                            else
                                stored.AddRange d
                                toReceiver.Enqueue Written
                        | ComputeDigest -> toReceiver.Enqueue(DigestComputed(SHA256.HashData(stored.ToArray())))
                        | Commit -> toReceiver.Enqueue Committed
                        | CloseExchange -> toSender.Enqueue ReceiverClosed
                else
                    let next, commands = FileSender.step sender (toSender.Dequeue())
                    sender <- next

                    for c in commands do
                        match c with
                        | SendData remaining ->
                            let n = min remaining (int64 (1 + int splits[sent % splits.Length])) |> int
                            toReceiver.Enqueue(FromSender content[sent .. sent + n - 1])
                            sent <- sent + n
                            toSender.Enqueue(DataSent n)
                        | SendDigest -> toReceiver.Enqueue(FromSender(SHA256.HashData content))
                        | CloseSending -> toReceiver.Enqueue SenderClosed

            match failAt, sender, receiver with
            | Some k, SenderEnded(ReceiverFailed(DiskFull, "text")), ReceiverEnded(NotStored(_, DiskFull)) when
                int k <= writes
                ->
                true
            | _, SenderEnded ReceiverStored, ReceiverEnded(Delivered h) ->
                stored.ToArray() = content && h.Size = int64 content.Length
            | _ -> false

        test "examples: a refused header, storage refused, a mismatch, a short sender, an overrun" {
            let header = FileTransfer.encodeHeader { Name = "a"; Size = 2L }
            let h = { Name = "a"; Size = 2L }
            let final events = runReceiver events |> fst

            Expect.equal
                (runReceiver [ FromSender "{}"B ] |> snd |> List.collect snd)
                [ Answer(Refused BadHeader); CloseExchange ]
                "a bad header is refused and closed"

            Expect.equal
                (final [ FromSender header; StorageFailed Busy ])
                (ReceiverEnded(StorageRefused(h, Busy)))
                "busy"

            Expect.equal
                (final [
                    FromSender header
                    StorageOpened
                    FromSender [| 1uy; 2uy |]
                    Written
                    FromSender(Array.zeroCreate 31)
                ])
                (ReceiverEnded(DigestMismatch h))
                "a digest of 31 bytes is a mismatch"

            Expect.equal
                (final [
                    FromSender header
                    StorageOpened
                    FromSender [| 1uy |]
                    Written
                    SenderClosed
                ])
                (ReceiverEnded(SenderCut(h, 1L)))
                "cut"

            Expect.equal
                (final [ FromSender header; StorageOpened; FromSender [| 1uy; 2uy; 3uy |] ])
                (ReceiverEnded(SenderViolation(h, MoreThanAnnounced(2L, 3))))
                "more than announced"

            Expect.equal
                (final [ FromSender header; StorageOpened; FromSender [||] ])
                (ReceiverEnded(SenderViolation(h, EmptyData)))
                "empty data"

            Expect.equal
                (final [ FromSender header; Written ])
                (ReceiverEnded(ReceiverOutOfTurn(Opening h, Written)))
                "out of turn"

            let empty = FileTransfer.encodeHeader { Name = "e"; Size = 0L }

            Expect.equal
                (runReceiver [ FromSender empty; StorageOpened ] |> snd |> List.last |> snd)
                [ Answer Ready ]
                "an empty file: ready, then the digest at once"
        }
    ]

[<Tests>]
let tests = testList "Core.Formats.FileTransfer" [ codec; machines ]
