module HybridProtocol.Core.Age.AgeFileFormat

open System
open System.Text
open HybridProtocol.Core
open HybridProtocol.Core.Age.Header
open HybridProtocol.Core.Age.Recipients

[<Literal>]
let FileKeyLength = 16

let private headerInfo = Encoding.ASCII.GetBytes "header"

let headerMac (sha256: HashFunctions) (fileKey: byte array) (stanzas: Stanza list) : byte array =
    let prk = Hkdf.extract sha256 [||] fileKey
    let key = (Hkdf.expand sha256 prk headerInfo 32).Value

    try
        Hkdf.hmac sha256 key (macInput stanzas)
    finally
        Array.Clear prk
        Array.Clear key

let private isPostQuantum (recipient: AgeRecipient) =
    match recipient with
    | MlKem768X25519Recipient _ -> true
    | X25519Recipient _ -> false

let encryptHeader (crypto: AgeCrypto) (fileKey: byte array) (recipients: struct (AgeRecipient * byte array) list) =
    let pq =
        recipients
        |> List.filter (fun (struct (r, _)) -> isPostQuantum r)
        |> List.length

    if fileKey.Length <> FileKeyLength then
        Error(WrongInputLength("file key", FileKeyLength, fileKey.Length))
    elif List.isEmpty recipients then
        Error NoRecipients
    elif pq > 0 && pq < List.length recipients then
        Error MixedPostQuantumRecipients
    else
        let rec wrapAll acc remaining =
            match remaining with
            | [] -> Ok(List.rev acc)
            | struct (recipient, randomness) :: rest ->
                match wrap crypto recipient randomness fileKey with
                | Error e -> Error e
                | Ok stanza -> wrapAll (stanza :: acc) rest

        wrapAll [] recipients
        |> Result.map (fun stanzas ->
            encode {
                Stanzas = stanzas
                Mac = headerMac crypto.SHA256 fileKey stanzas
            })

let private constantTimeEquals (a: byte array) (b: byte array) =
    a.Length = b.Length
    && (let mutable diff = 0

        for i in 0 .. a.Length - 1 do
            diff <- diff ||| int (a[i] ^^^ b[i])

        diff = 0)

let unwrapFileKey (crypto: AgeCrypto) (identities: AgeIdentity list) (header: AgeHeader) =
    let isScrypt (s: Stanza) =
        match s.Arguments with
        | "scrypt" :: _ -> true
        | _ -> false

    // "The identity implementation MUST reject headers where an scrypt stanza is present alongside any other stanza."
    if List.exists isScrypt header.Stanzas && List.length header.Stanzas > 1 then
        Error(AgeError.Stanza ScryptNotAlone)
    else
        let rec search identities stanzas =
            match identities, stanzas with
            | [], _ -> Error NoIdentityMatched
            | _ :: others, [] -> search others header.Stanzas
            | identity :: _, stanza :: rest ->
                match unwrap crypto identity stanza with
                | Error e -> Error(AgeError.Stanza e)
                | Ok(ValueSome fileKey) -> Ok fileKey
                | Ok ValueNone -> search identities rest

        search identities header.Stanzas
        |> Result.bind (fun fileKey ->
            if fileKey.Length <> FileKeyLength then
                Array.Clear fileKey
                Error NoIdentityMatched
            elif constantTimeEquals (headerMac crypto.SHA256 fileKey header.Stanzas) header.Mac then
                Ok fileKey
            else
                Array.Clear fileKey
                Error HeaderMacMismatch)

type DetectedFormat =
    | Binary
    | Armored
    | NotAge

let private startsWith (span: ReadOnlySpan<byte>) (text: string) =
    span.Length >= text.Length
    && span.Slice(0, text.Length).SequenceEqual(ReadOnlySpan(Encoding.ASCII.GetBytes text))

let detect (prefix: ReadOnlySpan<byte>) : DetectedFormat =
    let mutable skip = 0

    while skip < prefix.Length
          && (prefix[skip] = 0x20uy
              || prefix[skip] = 0x09uy
              || prefix[skip] = 0x0Duy
              || prefix[skip] = 0x0Auy) do
        skip <- skip + 1

    if startsWith prefix VersionPrefix then
        Binary
    elif startsWith (prefix.Slice skip) "-----BEGIN" then
        Armored
    else
        NotAge
