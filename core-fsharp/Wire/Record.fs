/// The plaintext of a transport record (specs/PROTOCOL.md §5): the record's data followed by one type byte.
///
///     +======================+------+
///     |  data (0..n bytes)   | type |      encrypted as one Noise transport message (Noise §5.3)
///     +======================+------+
///
/// The type comes last, as in TLS 1.3's TLSInnerPlaintext (RFC 8446 §5.2), so that decrypting a record in
/// place leaves its data at offset 0 of the buffer, where the application wants it.
/// Rules checked here (so every reader applies the same ones): Data is never empty; KeyUpdate is always
/// empty; Close carries no data or one reason byte; any other type byte is an error.
///
/// C# use: `Record.Parse(plaintext)` (allocation-free) gives the type and data length;
/// `Record.encode` / `Record.decode` are the codec pair the tests exercise.
namespace HybridProtocol.Core.Wire

open System

/// A record's plaintext as a value (for codecs and tests; the hot path uses spans).
type Record = { Type: RecordType; Data: byte[] }

module Record =
    /// Bytes of the type field.
    [<Literal>]
    let TypeLength = 1

    /// Checks that a record of this type may carry `dataLength` bytes of data.
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

    /// Reads the type from the last byte of a decrypted plaintext and checks the rules; returns the type and
    /// the length of the data (which starts at offset 0). Allocation-free.
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

    /// The reason a Close record's data gives: Normal when it has none.
    let CloseReasonOf (data: ReadOnlySpan<byte>) : CloseReason =
        if data.IsEmpty then
            CloseReason.Normal
        else
            LanguagePrimitives.EnumOfValue data[0]

    /// The data of a Close record with this reason (Normal is sent as no data).
    let CloseData (reason: CloseReason) : byte[] =
        if reason = CloseReason.Normal then
            [||]
        else
            [| byte reason |]

    /// Encodes a record's plaintext: data then type.
    let encode (record: Record) : Result<byte[], WireError> =
        Check(record.Type, record.Data.Length)
        |> Result.map (fun () -> Array.append record.Data [| byte record.Type |])

    /// Decodes a record's plaintext.
    let decode (plaintext: ReadOnlySpan<byte>) : Result<Record, WireError> =
        match Parse plaintext with
        | Ok(struct (recordType, length)) ->
            Ok {
                Type = recordType
                Data = plaintext.Slice(0, length).ToArray()
            }
        | Error e -> Error e
