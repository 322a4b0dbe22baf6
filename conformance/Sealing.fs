/// Records the runner writes after the handshake: sealed by the engine (`SendHalf`), or by the runner's own
/// sealer where a case needs records the engine refuses to seal.
module HybridProtocol.Conformance.Sealing

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

/// Seals a whole message with the engine, in records of the half's size; returns the next half and the frames.
let seal (half: SendHalf) (message: byte[]) (offset: int) (room: int) =
    let destination = Array.zeroCreate room

    match SendHalf.Message(half, ReadOnlySpan message, offset, Span destination) with
    | Wrote(next, written, consumed, finished, _) -> next, destination[.. written - 1], consumed, finished
    | other -> failwithf "the engine refused (offset %d of %d): %A" offset message.Length other

/// Seals `message` from `offset` to its end: the engine stops at each key update, so this calls it until finished.
let sealFrom (half: SendHalf) (message: byte[]) (offset: int) =
    let room = int (SendHalf.MessageLength(half, message.Length))
    let output = Collections.Generic.List<byte>()
    let mutable half = half
    let mutable offset = offset
    let mutable finished = false

    while not finished do
        let next, bytes, consumed, fin = seal half message offset room
        output.AddRange bytes
        half <- next
        offset <- consumed
        finished <- fin

    half, output.ToArray()

let sealAll (half: SendHalf) (message: byte[]) = sealFrom half message 0

let sealClose (half: SendHalf) (reason: CloseReason) =
    let destination = Array.zeroCreate (SendHalf.ControlLength half)

    match SendHalf.Close(half, reason, Span destination) with
    | Wrote(next, written, _, _, _) -> next, destination[.. written - 1]
    | other -> failwithf "the engine refused: %A" other

/// The runner's own record sealer, for records the engine refuses to seal (a message over the peer's announced limit,
/// a Close whose reason byte is written out as 00): each record's plaintext from `Record.encode`, encrypted with
/// `CipherState.EncryptWithAd` (Noise §5.3: "EncryptWithAd(zerolen, payload)") under the half's key from its next
/// nonce, and framed (`Frame.encode`). The half itself is not advanced: use it for nothing after this.
let sealRaw (settings: Settings) (half: SendHalf) (records: (RecordType * byte array) list) =
    let suite = suiteName settings.Suite
    let cipher = (SodiumSuite.For(suite.Cipher, suite.Hash)).Cipher

    let mutable state =
        CipherState.InitializeKey cipher half.Key.Value
        |> CipherState.SetNonce half.Nonce

    [
        for recordType, data in records do
            let plaintext =
                Record.encode { Type = recordType; Data = data }
                |> Result.defaultWith (fun e -> failwithf "record: %A" e)

            let body = Array.zeroCreate (CipherState.ciphertextLength state plaintext.Length)

            state <-
                CipherState.EncryptWithAd(state, ReadOnlySpan.Empty, ReadOnlySpan plaintext, Span body)
                |> Result.defaultWith (fun e -> failwithf "encrypt: %A" e)

            Frame.encode (ReadOnlySpan body)
            |> Result.defaultWith (fun e -> failwithf "frame: %A" e)
    ]

/// The records of one message of `total` bytes, 60,000 bytes of data each (Data, then EndOfMessage).
let overLimit (total: int64) = [
    let chunk = 60_000

    for offset in 0L .. int64 chunk .. total - 1L do
        let length = int (min (int64 chunk) (total - offset))
        let last = offset + int64 length = total
        (if last then RecordType.EndOfMessage else RecordType.Data), Array.create length 0x41uy
]
