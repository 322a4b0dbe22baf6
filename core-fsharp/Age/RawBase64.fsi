/// The base64 of age's header (age.md "Conventions"): "the standard Base 64 encoding specified in [RFC 4648],
/// Section 4, without `=` padding characters ... Encoders MUST generate canonical base64 according to RFC 4648,
/// Section 3.5, and decoders MUST reject non-canonical encodings and encodings ending with `=` padding characters."
/// Also the padded form the ASCII armor uses (RFC 7468), with the same canonical rule.
module HybridProtocol.Core.Age.RawBase64

/// Unpadded standard base64 of `data`.
val encode: data: System.ReadOnlySpan<byte> -> string

/// Canonical unpadded base64 → bytes; ValueNone for any character outside the alphabet (including '=' and
/// whitespace), a length ≡ 1 (mod 4), or non-zero unused bits in the last character.
val decode: text: System.ReadOnlySpan<char> -> byte array voption

/// Canonical padded base64 (length a multiple of 4, at most two '=' at the end) → bytes; ValueNone otherwise.
val decodePadded: text: System.ReadOnlySpan<char> -> byte array voption

/// The bytes of ASCII text as chars, or ValueNone when a byte is not 7-bit ASCII.
val internal asciiChars: bytes: System.ReadOnlySpan<byte> -> char array voption
