/// The PROXY protocol's version 2, the binary header (§2.2), for `ProxyProtocol`:
///
///     sig (12) | ver_cmd (0x20 LOCAL, 0x21 PROXY) | fam (family << 4 | transport) | len (2, BE)
///     | addresses (12 INET, 36 INET6, 216 UNIX) | TLVs (type 1 | length 2 BE | value) ...   16 + len bytes
namespace HybridProtocol.Core.Formats

open System

module internal ProxyV2 =

    /// The 12-byte signature.
    val Signature: byte array

    /// The fixed part: signature, version and command, family, length.
    [<Literal>]
    val FixedLength: int = 16

    /// Reads a v2 header from the start of `input`, refusing one longer than the options' cap.
    val decode: options: ProxyDecodeOptions -> input: ReadOnlySpan<byte> -> Result<ProxyDecoded, ProxyError>

    /// The binary header (LOCAL as 0x20 0x00 with an empty block).
    val encode: header: ProxyHeader -> Result<byte array, ProxyEncodeError>
