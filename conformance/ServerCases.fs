/// The cases against a server under test (specs/README.md, "Conformance runner"): each opens its own connection
/// and judges the server's answer against a rule of specs/PROTOCOL.md §12.
module HybridProtocol.Conformance.ServerCases

open System
open System.Net
open System.Net.Sockets
open System.Security.Cryptography
open System.Text
open System.Threading
open HybridProtocol.Core
open HybridProtocol.Core.Noise
open HybridProtocol.Core.Wire
open HybridProtocol.Crypto
open HybridProtocol.Conformance.Session
open HybridProtocol.Conformance.Sealing

/// One case after a good handshake, on its own connection (the per-case setup every such case shares): `check`
/// writes and judges what follows; a handshake that fails is the case's failing finding.
let private afterHandshake endPoint (settings: Settings) rule case maxRecordData rekeyAfter check : Finding list =
    use p = connect endPoint settings.Timeout

    match handshakeWriting p settings maxRecordData rekeyAfter with
    | Some start -> check p start
    | None -> [ finding rule case false "the handshake failed" ]

/// The cases against a server under test; each opens its own connection.
let againstServer (endPoint: IPEndPoint) (settings: Settings) : Finding list = [
    let name = ProtocolName.toString (clientName settings)

    // 1. A good session: the first flight, then the status; a message each way; the Close exchange.
    use p = connect endPoint settings.Timeout
    let state, outputs = newClient settings 65502 (1L <<< 20)
    p.State <- state

    let flight =
        outputs
        |> List.pick (function
            | Output.Transmit b -> Some b
            | _ -> None)

    let preambleLength =
        match Preamble.decode (ReadOnlySpan flight) with
        | Ok(Decoded(_, used)) -> used
        | other -> failwithf "preamble: %A" other

    p.Write flight[.. preambleLength - 1] |> ignore
    // Half a second with the preamble alone (the server's first-message deadline is longer, P2).
    p.ReadFor(TimeSpan.FromSeconds 0.5)
    let early = p.Received.Length

    yield
        finding
            "P1"
            "good session"
            (early = 0 && not p.Ended)
            (if early = 0 then
                 "nothing answered before the first frame"
             else
                 $"the server answered the preamble alone ({early} bytes) or closed")

    // The rest of the first flight, then the handshake as the core drives it.
    p.Write flight[preambleLength..] |> ignore
    let buffer: byte[] = Array.zeroCreate 65536
    let deadline = DateTime.UtcNow + settings.Timeout

    while not p.Completed && p.Failure.IsNone && DateTime.UtcNow < deadline do
        if p.Socket.Poll(100_000, SelectMode.SelectRead) then
            let n = p.Socket.Receive buffer

            if n = 0 then
                p.Step Input.EndOfInput |> ignore
            else
                p.Write(p.Step(Input.Received(ReadOnlyMemory(buffer[.. n - 1])))) |> ignore

    yield finding "P1" "good session" p.Completed (sprintf "handshake of %s: %A" name p.Failure)

    if p.Completed then
        let hello = Encoding.ASCII.GetBytes "conformance: hello"
        p.Write(p.Step(Input.SendMessage(ReadOnlyMemory hello))) |> ignore

        if settings.Echo then
            p.ReadUntil((fun () -> not p.Delivered.IsEmpty || p.Failure.IsSome), true)

            yield
                finding
                    "P9"
                    "good session"
                    (p.Delivered = [ hello ])
                    "a whole message is delivered (echoed) after its EndOfMessage"

        p.Write(p.Step Input.CloseRequested) |> ignore
        p.ReadUntil((fun () -> p.Closed || p.Failure.IsSome), true)

        yield
            finding
                "P11"
                "good session"
                p.Closed
                (sprintf "our Close (Normal) is answered with the server's Close: %A" p.Failure)

    // 2. A non-canonical name (the pattern in lower case), then a first frame: refusal 02.
    use p = connect endPoint settings.Timeout

    let lower =
        let parts = name.Split '_'
        parts[1] <- parts[1].ToLowerInvariant()
        String.Join("_", parts)

    match Preamble.encode { ProtocolName = lower } with
    | Ok preamble ->
        let frame = Array.append [| 0uy; 32uy |] (RandomNumberGenerator.GetBytes 32)
        p.Write(Array.append preamble frame) |> ignore
        p.ReadUntil((fun () -> p.Ended), false)
        let first = if p.Received.Length > 0 then int p.Received[0] else -1

        yield
            finding
                "P4"
                "non-canonical name"
                (first = 2)
                $"{lower}: the server's first byte is {first:x2} (expected 02 MalformedPreamble)"
    | Error e -> failwithf "preamble: %A" e

    // 3. A handshake payload of version 02 (the client's cleartext payload of NX message 1; in NK and IK it is
    // encrypted to the server's key, in XX it travels in message 3, so this case runs in NX and NXpsk2 only).
    if settings.ServerKey.IsNone && settings.Key.IsNone then
        use p = connect endPoint settings.Timeout
        let state, outputs = newClient settings 65502 (1L <<< 20)
        p.State <- state

        let flight =
            outputs
            |> List.pick (function
                | Output.Transmit b -> Some b
                | _ -> None)

        let payloadLength = 1 + (3 + settings.ApplicationProtocol.Length) + (3 + 4)
        let tampered = Array.copy flight
        tampered[tampered.Length - payloadLength] <- 2uy
        p.Write tampered |> ignore
        p.ReadUntil((fun () -> p.Ended), false)
        let answer = p.Received

        yield
            finding
                "P6"
                "payload version 02"
                (p.Ended && answer.Length <= 1)
                $"the server wrote {answer.Length} bytes ({Convert.ToHexStringLower(answer[.. min 7 (answer.Length - 1)])}) and {closedText p}: expected no handshake message"

        yield
            finding
                "P13"
                "payload version 02"
                (p.Ended && (answer.Length = 0 || answer = [| 0uy |]))
                "a handshake failing before keys exist: nothing but the status, then the TCP close"

    // 4. A tampered record after the handshake: the server closes with ProtocolViolation.
    yield!
        afterHandshake endPoint settings "P12" "tampered record" 65502 (1L <<< 20) (fun p start -> [
            let _, record = sealAll start.Send (message 100)
            record[10] <- record[10] ^^^ 0x40uy
            p.Write record |> ignore
            p.ReadUntil((fun () -> p.Failure.IsSome || p.Closed), true)

            finding
                "P12"
                "tampered record"
                (closedByPeer p = Some CloseReason.ProtocolViolation)
                (sprintf "expected Close (ProtocolViolation) before the end: %A" p.Failure)
        ])

    // 6. A key update after every record: every message still arrives.
    yield!
        afterHandshake endPoint settings "P10" "a KeyUpdate after every record" 16 1L (fun p start -> [
            let m = message 100
            let _, records = sealAll start.Send m
            p.Write records |> ignore

            if settings.Echo then
                p.ReadUntil((fun () -> not p.Delivered.IsEmpty || p.Failure.IsSome), true)

                finding
                    "P10"
                    "a KeyUpdate after every record"
                    (p.Delivered = [ m ] && p.Failure.IsNone)
                    (sprintf "the message echoed whole: %A" p.Failure)
        ])

    // 7. Close (Normal) between the Data records of a message: a clean end, the partial message dropped.
    yield!
        afterHandshake endPoint settings "P9" "Close between Data records" 16 (1L <<< 20) (fun p start -> [
            let m = message 40
            let room = SendHalf.RecordRoom(start.Send, m.Length)
            let half, first, _, _ = seal start.Send m 0 room
            let _, close = sealClose half CloseReason.Normal
            p.Write(Array.append first close) |> ignore
            p.ReadUntil((fun () -> p.Closed || p.Failure.IsSome), true)

            finding
                "P9"
                "Close between Data records"
                (p.Closed && p.Delivered.IsEmpty)
                (sprintf "expected the server's Close (Normal) and nothing delivered: %A" p.Failure)
        ])

    // 8. Close with a reason: the server answers nothing more and closes.
    yield!
        afterHandshake endPoint settings "P12" "Close with a reason" 65502 (1L <<< 20) (fun p start -> [
            let before = p.Received.Length
            let _, close = sealClose start.Send CloseReason.IdleTimeout
            p.Write close |> ignore
            p.ReadUntil((fun () -> p.Ended), true)
            let after = p.Received.Length - before

            finding
                "P12"
                "Close with a reason"
                (p.Ended && after = 0)
                $"after our Close (IdleTimeout) the server wrote {after} bytes and {closedText p}"
        ])

    // 9. A truncated frame: half a record, then our TCP close: nothing delivered, no Close (Normal) answer.
    yield!
        afterHandshake endPoint settings "P15" "truncated frame" 65502 (1L <<< 20) (fun p start -> [
            let _, record = sealAll start.Send (message 50)
            p.Write record[.. record.Length / 2] |> ignore
            p.Socket.Shutdown SocketShutdown.Send
            p.ReadUntil((fun () -> p.Ended), true)

            finding
                "P15"
                "truncated frame"
                (p.Delivered.IsEmpty && not p.Closed)
                "the end of input inside a frame is no clean end: no message, no Close (Normal) from the server"
        ])

    // 10. A Close whose reason byte 00 is written out: the same as Normal, so the server answers with its Close.
    yield!
        afterHandshake endPoint settings "P8" "Close with reason byte 00" 65502 (1L <<< 20) (fun p start -> [
            let close =
                List.exactlyOne (sealRaw settings start.Send [ RecordType.Close, [| 0uy |] ])

            p.Write close |> ignore

            p.ReadUntil((fun () -> p.Closed || p.Failure.IsSome || p.Ended), true)

            finding
                "P8"
                "Close with reason byte 00"
                (p.Closed && p.Failure.IsNone)
                (sprintf "expected the server's Close (Normal), as after a Close without a reason byte: %A" p.Failure)
        ])

    // 11. A message one byte over the limit the server announced (field 02): Close (MessageTooLarge, 04). The
    // runner seals it itself (the engine refuses to), record by record, and stops writing once the server answers.
    yield!
        afterHandshake endPoint settings "P16" "message over the announced limit" 65502 (1L <<< 20) (fun p start -> [
            let limit = start.Send.PeerMaxMessageSize
            let total = int64 limit + 1L
            writeUntilAnswered p (sealRaw settings start.Send (overLimit total))
            p.ReadUntil((fun () -> p.Failure.IsSome || p.Closed), true)

            finding
                "P16"
                "message over the announced limit"
                (closedByPeer p = Some CloseReason.MessageTooLarge && p.Delivered.IsEmpty)
                (sprintf
                    "%d bytes to a server announcing %d: expected Close (MessageTooLarge): %A"
                    total
                    limit
                    p.Failure)
        ])
]
