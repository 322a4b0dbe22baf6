namespace HybridProtocol.Core.Formats

open System
open System.Security.Cryptography

type PemError =
    | EmptyText
    | OpenSshLine
    | BinaryText
    | DamagedBlock
    | NoBlock

type PemBlock = { Label: string; Data: byte array }

[<RequireQualifiedAccess>]
module Pem =

    [<Literal>]
    let PrivateKeyLabel = "PRIVATE KEY"

    [<Literal>]
    let PublicKeyLabel = "PUBLIC KEY"

    let private classify (text: ReadOnlySpan<char>) =
        let trimmed = text.TrimStart()

        if
            trimmed.StartsWith("ssh-".AsSpan(), StringComparison.Ordinal)
            || trimmed.StartsWith("ecdsa-".AsSpan(), StringComparison.Ordinal)
        then
            OpenSshLine
        elif text.IndexOfAny('\000', '\uFFFD') >= 0 then
            BinaryText
        elif text.IndexOf("-----BEGIN".AsSpan(), StringComparison.Ordinal) >= 0 then
            DamagedBlock
        elif trimmed.IsEmpty then
            EmptyText
        else
            NoBlock

    let decode (text: ReadOnlySpan<char>) =
        let mutable fields = Unchecked.defaultof<PemFields>

        if not (PemEncoding.TryFind(text, &fields)) then
            Error(classify text)
        else
            let data = Array.zeroCreate<byte> fields.DecodedDataLength

            let struct (dataStart, dataLength) =
                fields.Base64Data.GetOffsetAndLength text.Length

            let struct (labelStart, labelLength) = fields.Label.GetOffsetAndLength text.Length
            let mutable written = 0

            if
                Convert.TryFromBase64Chars(text.Slice(dataStart, dataLength), Span data, &written)
                && written = data.Length
            then
                Ok {
                    Label = text.Slice(labelStart, labelLength).ToString()
                    Data = data
                }
            else
                Error DamagedBlock

    let size (label: string, length: int) =
        PemEncoding.GetEncodedSize(label.Length, length) + 1

    let write (label: string, data: ReadOnlySpan<byte>, destination: Span<char>) =
        let mutable written = 0

        if
            PemEncoding.TryWrite(label.AsSpan(), data, destination, &written)
            && written < destination.Length
        then
            destination[written] <- '\n'
            written + 1
        else
            0

    let encode (label: string, data: ReadOnlySpan<byte>) =
        let chars = Array.zeroCreate<char>(size (label, data.Length))
        write (label, data, Span chars) |> ignore
        chars
