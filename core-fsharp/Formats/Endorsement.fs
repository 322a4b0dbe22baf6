namespace HybridProtocol.Core.Formats

open System
open System.Buffers.Binary
open System.Security.Cryptography
open System.Text
open HybridProtocol.Core

[<RequireQualifiedAccess>]
type SignatureAlgorithm = | PureEd25519

type EndorsementBody = {
    Algorithm: SignatureAlgorithm
    AuthorityKey: byte array
    ServerKey: byte array
    Hosts: HostPattern list
    NotBefore: int64
    NotAfter: int64
}

type Endorsement = {
    Body: EndorsementBody
    Signature: byte array
}

[<RequireQualifiedAccess>]
type EndorsementFormatError =
    | TruncatedEndorsement
    | UnknownEndorsementVersion of version: byte
    | UnknownAlgorithm of algorithm: byte
    | UnknownServerKeyType of keyType: byte
    | AuthorityKeyLength of length: int
    | ServerKeyLength of length: int
    | SignatureLength of length: int
    | HostCount of count: int
    | BadHost of index: int * text: string
    | NonCanonicalHost of index: int * text: string
    | DuplicateHost of index: int * text: string
    | BadWindow
    | TrailingBytes of count: int

type SignFn = delegate of message: ReadOnlySpan<byte> * signature: Span<byte> -> unit

[<RequireQualifiedAccess>]
module Endorsement =

    [<Literal>]
    let Version = 1uy

    [<Literal>]
    let MaxHosts = 16

    [<Literal>]
    let Label = "HybridProtocol endorsement"

    [<Literal>]
    let PemLabel = "HYBRID ENDORSEMENT"

    [<Literal>]
    let PrivateKeyPemLabel = "HYBRID AUTHORITY PRIVATE KEY"

    [<Literal>]
    let PublicKeyPemLabel = "HYBRID AUTHORITY PUBLIC KEY"

    let private x25519Type = 1uy
    let private serverKeyLength = 32

    let algorithmId algorithm =
        match algorithm with
        | SignatureAlgorithm.PureEd25519 -> 1uy

    let publicKeyLength algorithm =
        match algorithm with
        | SignatureAlgorithm.PureEd25519 -> 32

    let signatureLength algorithm =
        match algorithm with
        | SignatureAlgorithm.PureEd25519 -> 64

    let private algorithmOf id =
        match id with
        | 1uy -> Ok SignatureAlgorithm.PureEd25519
        | other -> Error(EndorsementFormatError.UnknownAlgorithm other)

    /// The host checks shared by encode and decode: count, stored form, no repeats.
    let private checkHosts (texts: string list) =
        let count = List.length texts

        if count < 1 || count > MaxHosts then
            Error(EndorsementFormatError.HostCount count)
        else
            let rec go i seen acc rest =
                match rest with
                | [] -> Ok(List.rev acc)
                | (text: string) :: tail ->
                    if
                        text.Length < 1
                        || text.Length > 255
                        || text |> Seq.exists (fun c -> c < '\u0021' || c > '\u007e')
                    then
                        Error(EndorsementFormatError.BadHost(i, text))
                    else
                        match HostPattern.parse text with
                        | Error _ -> Error(EndorsementFormatError.BadHost(i, text))
                        | Ok p when HostPattern.print p <> text ->
                            Error(EndorsementFormatError.NonCanonicalHost(i, text))
                        | Ok _ when List.contains text seen -> Error(EndorsementFormatError.DuplicateHost(i, text))
                        | Ok p -> go (i + 1) (text :: seen) (p :: acc) tail

            go 0 [] [] texts

    let private checkBody (body: EndorsementBody) =
        if body.AuthorityKey.Length <> publicKeyLength body.Algorithm then
            Error(EndorsementFormatError.AuthorityKeyLength body.AuthorityKey.Length)
        elif body.ServerKey.Length <> serverKeyLength then
            Error(EndorsementFormatError.ServerKeyLength body.ServerKey.Length)
        elif body.NotBefore < 0L || body.NotAfter < body.NotBefore then
            Error EndorsementFormatError.BadWindow
        else
            checkHosts (body.Hosts |> List.map HostPattern.print) |> Result.map ignore

    let private writeBody (body: EndorsementBody) =
        let hosts = body.Hosts |> List.map (HostPattern.print >> Encoding.ASCII.GetBytes)

        let length =
            1
            + 1
            + 2
            + body.AuthorityKey.Length
            + 1
            + 2
            + body.ServerKey.Length
            + 8
            + 8
            + 1
            + (hosts |> List.sumBy (fun h -> 1 + h.Length))

        let output = Array.zeroCreate<byte> length
        let mutable at = 0

        let put (b: byte) =
            output[at] <- b
            at <- at + 1

        let putBytes (bytes: byte array) =
            Array.blit bytes 0 output at bytes.Length
            at <- at + bytes.Length

        let putLength16 (n: int) =
            BinaryPrimitives.WriteUInt16BigEndian(Span(output, at, 2), uint16 n)
            at <- at + 2

        let putTime (t: int64) =
            BinaryPrimitives.WriteUInt64BigEndian(Span(output, at, 8), uint64 t)
            at <- at + 8

        put Version
        put (algorithmId body.Algorithm)
        putLength16 body.AuthorityKey.Length
        putBytes body.AuthorityKey
        put x25519Type
        putLength16 body.ServerKey.Length
        putBytes body.ServerKey
        putTime body.NotBefore
        putTime body.NotAfter
        put (byte hosts.Length)

        for h in hosts do
            put (byte h.Length)
            putBytes h

        output

    let private labelBytes = Array.append (Encoding.ASCII.GetBytes Label) [| 0uy |]

    let signatureInput (body: EndorsementBody) =
        checkBody body
        |> Result.map (fun () -> Array.append labelBytes (writeBody body))

    let sign (sign: SignFn) (body: EndorsementBody) =
        signatureInput body
        |> Result.map (fun input ->
            let signature = Array.zeroCreate<byte>(signatureLength body.Algorithm)
            sign.Invoke(ReadOnlySpan input, Span signature)
            { Body = body; Signature = signature })

    let encode (endorsement: Endorsement) =
        match checkBody endorsement.Body with
        | Error e -> Error e
        | Ok() when endorsement.Signature.Length <> signatureLength endorsement.Body.Algorithm ->
            Error(EndorsementFormatError.SignatureLength endorsement.Signature.Length)
        | Ok() ->
            let body = writeBody endorsement.Body
            let output = Array.zeroCreate<byte>(body.Length + 2 + endorsement.Signature.Length)
            Array.blit body 0 output 0 body.Length
            BinaryPrimitives.WriteUInt16BigEndian(Span(output, body.Length, 2), uint16 endorsement.Signature.Length)
            Array.blit endorsement.Signature 0 output (body.Length + 2) endorsement.Signature.Length
            Ok output

    /// A cursor over the input: each read gives the value and the next offset, or Truncated.
    let private take (input: byte array) (at: int) (count: int) =
        if count < 0 || input.Length - at < count then
            Error EndorsementFormatError.TruncatedEndorsement
        else
            Ok(Array.sub input at count, at + count)

    let private readU8 (input: byte array) (at: int) =
        if input.Length - at < 1 then
            Error EndorsementFormatError.TruncatedEndorsement
        else
            Ok(input[at], at + 1)

    let private readU16 (input: byte array) (at: int) =
        if input.Length - at < 2 then
            Error EndorsementFormatError.TruncatedEndorsement
        else
            Ok(int (BinaryPrimitives.ReadUInt16BigEndian(ReadOnlySpan(input, at, 2))), at + 2)

    let private readU64 (input: byte array) (at: int) =
        if input.Length - at < 8 then
            Error EndorsementFormatError.TruncatedEndorsement
        else
            Ok(BinaryPrimitives.ReadUInt64BigEndian(ReadOnlySpan(input, at, 8)), at + 8)

    /// `count` hosts, each a length byte and that many bytes (checked as patterns by `checkHosts`).
    let private readHosts (input: byte array) (at: int) (count: int) =
        let rec go i at texts =
            if i = count then
                Ok(List.rev texts, at)
            else
                result {
                    let! length, at = readU8 input at
                    let! bytes, at = take input at (int length)
                    return! go (i + 1) at (Encoding.Latin1.GetString bytes :: texts)
                }

        go 0 at []

    /// A rule of the format: Ok, or its error.
    let private require (rule: bool) (error: EndorsementFormatError) = if rule then Ok() else Error error

    let decode (input: ReadOnlySpan<byte>) : Result<Endorsement, EndorsementFormatError> =
        // One step per field, in wire order (specs/KEYS.md "Endorsements"); the first that fails ends the decoding
        // with its error. The input is copied once (at most a few KiB) so that the steps can hold it.
        let input = input.ToArray()

        result {
            let! version, at = readU8 input 0
            do! require (version = Version) (EndorsementFormatError.UnknownEndorsementVersion version)
            let! algorithmByte, at = readU8 input at
            let! algorithm = algorithmOf algorithmByte
            let! keyLength, at = readU16 input at
            do! require (keyLength = publicKeyLength algorithm) (EndorsementFormatError.AuthorityKeyLength keyLength)
            let! authorityKey, at = take input at keyLength
            let! keyType, at = readU8 input at
            do! require (keyType = x25519Type) (EndorsementFormatError.UnknownServerKeyType keyType)
            let! length, at = readU16 input at
            do! require (length = serverKeyLength) (EndorsementFormatError.ServerKeyLength length)
            let! serverKey, at = take input at length
            let! notBefore, at = readU64 input at
            let! notAfter, at = readU64 input at

            do!
                require
                    (notBefore <= uint64 Int64.MaxValue
                     && notAfter <= uint64 Int64.MaxValue
                     && notAfter >= notBefore)
                    EndorsementFormatError.BadWindow

            let! count, at = readU8 input at
            do! require (count >= 1uy && int count <= MaxHosts) (EndorsementFormatError.HostCount(int count))
            let! texts, at = readHosts input at (int count)
            let! hosts = checkHosts texts
            let! length, at = readU16 input at
            do! require (length = signatureLength algorithm) (EndorsementFormatError.SignatureLength length)
            let! signature, endAt = take input at length
            do! require (endAt = input.Length) (EndorsementFormatError.TrailingBytes(input.Length - endAt))

            return {
                Body = {
                    Algorithm = algorithm
                    AuthorityKey = authorityKey
                    ServerKey = serverKey
                    Hosts = hosts
                    NotBefore = int64 notBefore
                    NotAfter = int64 notAfter
                }
                Signature = signature
            }
        }
