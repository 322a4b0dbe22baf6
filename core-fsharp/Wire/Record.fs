namespace HybridProtocol.Core.Wire

open System

type Record = { Type: RecordType; Data: byte[] }

module Record =
    [<Literal>]
    let TypeLength = 1

    let Check (recordType: RecordType, dataLength: int) : Result<unit, WireError> =
        match recordType with
        | RecordType.Data when dataLength = 0 -> Error(Malformed EmptyDataRecord)
        | RecordType.Data
        | RecordType.EndOfMessage -> Ok()
        | RecordType.KeyUpdate when dataLength = 0 -> Ok()
        | RecordType.KeyUpdate -> Error(Malformed KeyUpdateNotEmpty)
        | RecordType.Close when dataLength <= 1 -> Ok()
        | RecordType.Close -> Error(Malformed(BadCloseRecord dataLength))
        | other -> Error(Malformed(UnknownRecordType(byte other)))

    let Parse (plaintext: ReadOnlySpan<byte>) : Result<struct (RecordType * int), WireError> =
        if plaintext.IsEmpty then
            Error(Malformed(RecordTooShort 0))
        else
            let recordType: RecordType =
                LanguagePrimitives.EnumOfValue plaintext[plaintext.Length - 1]

            let dataLength = plaintext.Length - TypeLength
            // A match, not Result.map: this runs once per record and a closure would allocate.
            match Check(recordType, dataLength) with
            | Ok() -> Ok(struct (recordType, dataLength))
            | Error e -> Error e

    let CloseReasonOf (data: ReadOnlySpan<byte>) : CloseReason =
        if data.IsEmpty then
            CloseReason.Normal
        else
            LanguagePrimitives.EnumOfValue data[0]

    let CloseData (reason: CloseReason) : byte[] =
        if reason = CloseReason.Normal then
            [||]
        else
            [| byte reason |]

    let encode (record: Record) : Result<byte[], WireError> =
        Check(record.Type, record.Data.Length)
        |> Result.map (fun () -> Array.append record.Data [| byte record.Type |])

    let decode (plaintext: ReadOnlySpan<byte>) : Result<Record, WireError> =
        match Parse plaintext with
        | Ok(struct (recordType, length)) ->
            Ok {
                Type = recordType
                Data = plaintext.Slice(0, length).ToArray()
            }
        | Error e -> Error e
