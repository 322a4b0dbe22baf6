/// Bech32 (BIP173), as age.md's "Conventions" use it: "as specified in [BIP173], but without length limits on the data
/// part", and "the checksum is always computed over the lowercase string". Encodes 8-bit data (regrouped into 5-bit
/// groups with zero padding) under a human-readable part (HRP).
/// See: https://github.com/bitcoin/bips/blob/master/bip-0173.mediawiki
module HybridProtocol.Core.Age.Bech32

/// The lowercase Bech32 string for `hrp` (lowercased) and `data`: hrp || "1" || data in 5-bit groups || checksum.
val encode: hrp: string -> data: System.ReadOnlySpan<byte> -> string

/// Total decode: the lowercased HRP and the data bytes, or the first thing wrong. The string must be all lowercase or
/// all uppercase; the HRP is everything before the last '1'.
val decode: text: string -> Result<struct (string * byte array), Bech32Error>
