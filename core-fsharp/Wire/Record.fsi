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

/// A record's plaintext as a value (for codecs and tests; the hot path uses spans).
type Record = { Type: RecordType; Data: byte array }

module Record =

    /// Bytes of the type field.
    [<Literal>]
    val TypeLength: int = 1

    /// Checks that a record of this type may carry `dataLength` bytes of data.
    val Check: recordType: RecordType * dataLength: int -> Result<unit, WireError>

    /// Reads the type from the last byte of a decrypted plaintext and checks the rules; returns the type and
    /// the length of the data (which starts at offset 0). Allocation-free.
    val Parse: plaintext: System.ReadOnlySpan<byte> -> Result<struct (RecordType * int), WireError>

    /// The reason a Close record's data gives: Normal when it has none.
    val CloseReasonOf: data: System.ReadOnlySpan<byte> -> CloseReason

    /// The data of a Close record with this reason (Normal is sent as no data).
    val CloseData: reason: CloseReason -> byte array

    /// Encodes a record's plaintext: data then type.
    val encode: record: Record -> Result<byte array, WireError>

    /// Decodes a record's plaintext.
    val decode: plaintext: System.ReadOnlySpan<byte> -> Result<Record, WireError>
