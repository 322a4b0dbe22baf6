/// The cipher table of the Noise suites this library offers, once, for every crypto provider: the name as it is
/// written in a protocol name, the nonce (length and encoding of the counter `n`), the tag length, and how many
/// bytes of the 32-byte Noise key the AEAD uses.
///
///     cipher     nonce                                  tag   key bytes used
///     ChaChaPoly 12: 32 zero bits, then n little-endian  16    32     Noise §12.3
///     AESGCM     12: 32 zero bits, then n big-endian     16    32     Noise §12.4
///     AEGIS256   32: zeros, then n little-endian         32    32     specs/NOISE-CORE.md
///     AEGIS128L  16: zeros, then n little-endian         32    16     specs/NOISE-CORE.md (the key's first 16 bytes)
///
/// The providers (facade-csharp/Crypto/NSecSuite.cs, SodiumSuite.cs) build their `CipherFunctions` from these rows
/// and only bind the AEAD calls.
namespace HybridProtocol.Core.Formats

open HybridProtocol.Core
open HybridProtocol.Core.Noise

/// One row of the table.
[<NoComparison>]
type CipherRow = {

    /// The cipher.
    Cipher: CipherName

    /// The name as written in a Noise protocol name, e.g. "ChaChaPoly".
    Name: string

    /// Nonce length in bytes (NONCELEN).
    NonceLength: int

    /// How the counter `n` fills the nonce.
    NonceEncoding: NonceEncoding

    /// Authentication tag length in bytes (TAGLEN).
    TagLength: int

    /// Bytes of the 32-byte Noise cipher key the AEAD takes: its first `KeyBytesUsed` bytes.
    KeyBytesUsed: int
}

/// Why a text names no cipher of the table.
type CipherTableError =

    /// Not the name of a cipher of the table (names are case-sensitive, as in protocol names).
    | UnknownCipher of name: string

/// The table and its lookups.
module CipherTable =

    /// Every row, in the order of `CipherName`.
    val rows: CipherRow list

    /// The row of a cipher.
    val row: cipher: CipherName -> CipherRow

    /// The row named `name` as written in a protocol name (total: any other text is `UnknownCipher`).
    val ofName: name: string -> Result<CipherRow, CipherTableError>
