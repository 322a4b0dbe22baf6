namespace HybridProtocol.Core.Age

/// BIP173 Bech32 decoding failures (age.md "Conventions": "Bech32 is as specified in [BIP173], but
/// without length limits on the data part").
type Bech32Error =
    /// The string mixes upper- and lowercase letters ("Bech32 strings can only be all uppercase or all lowercase").
    | MixedCase
    /// No '1' separator, or one that leaves no human-readable part or fewer than 6 checksum characters.
    | MissingSeparator
    /// A character outside 33..126 in the human-readable part, or outside the Bech32 alphabet in the data part.
    | InvalidCharacter of position: int
    /// The 6-character checksum does not match (BIP173 constant 1).
    | ChecksumMismatch
    /// The 5-bit groups do not regroup into whole bytes (more than 4 padding bits, or non-zero padding).
    | InvalidPadding

/// Why an age recipient (`age1…`) or identity (`AGE-SECRET-KEY-1…`) string was refused.
type AgeKeyError =
    | KeyBech32 of Bech32Error
    /// The human-readable part is not one of the recipient (or identity) types we read.
    | UnknownKeyType of hrp: string
    /// The key bytes have the wrong length for the type.
    | WrongKeyLength of expected: int * actual: int

/// Why ASCII armor was refused (age.md "ASCII armor": the strict encoding of RFC 7468 §3, label
/// "AGE ENCRYPTED FILE"). Lines are numbered from 1.
type ArmorError =
    /// Something other than whitespace (space, tab, CR, LF) before the "-----BEGIN AGE ENCRYPTED FILE-----" line,
    /// or a begin line with another label, spacing or case.
    | MissingBeginLine of line: int
    /// The input ended before the "-----END AGE ENCRYPTED FILE-----" line.
    | MissingEndLine
    /// A line longer than 64 columns.
    | LineTooLong of line: int
    /// A body line shorter than 64 columns that is not the last one, or an empty body line.
    | ShortLine of line: int
    /// A body line that is not canonical padded base64 (a character outside the alphabet, whitespace, a
    /// length not a multiple of 4, padding before the last line, non-zero padding bits).
    | InvalidBase64 of line: int
    /// Something other than whitespace after the end line.
    | DataAfterEnd of line: int

/// Why an age header was refused (age.md "Header", its ABNF).
type HeaderError =
    /// The input does not start with "age-encryption.org/" (or is empty).
    | NotAnAgeFile
    /// A version line for another version than v1: "This document only specifies the v1 format".
    | UnsupportedVersion of version: string
    /// The version line has characters outside VCHAR or no LF.
    | MalformedVersionLine
    /// A stanza's argument line is not "-> " argument *(SP argument) LF with arguments of VCHAR.
    | MalformedArgumentLine of line: int
    /// A stanza body line is not 64 canonical base64 characters, or a final line of 0..63.
    | MalformedBodyLine of line: int
    /// A line that starts neither a stanza ("->") nor the MAC ("---").
    | UnexpectedLine of line: int
    /// The header has no stanza ("header = v1-line 1*stanza end").
    | NoStanza
    /// The MAC line is not "--- " followed by 43 canonical base64 characters and LF.
    | MalformedMacLine
    /// The header is longer than `Header.MaxLength` (a bound on the reader's memory).
    | HeaderTooLong of limit: int
    /// The input ended inside the header.
    | HeaderTruncated
    /// The input ended inside the 16-byte payload nonce that follows the header.
    | NonceTruncated of length: int

/// A stanza addressed to one of the identities (by its type) that the spec says MUST be rejected, or a
/// header whose stanzas break a rule of their type.
type StanzaError =
    /// "MUST otherwise reject any stanza that has more or less than two arguments".
    | WrongArgumentCount of stanzaType: string * count: int
    /// An argument that is not the canonical base64 of the size the type requires.
    | InvalidArgument of stanzaType: string * index: int
    /// "MUST check that the body length is exactly 32 bytes before attempting to decrypt it".
    | WrongBodyLength of stanzaType: string * length: int
    /// X25519: "If the shared secret is all 0x00 bytes, the identity implementation MUST abort"; also the X25519
    /// part of an mlkem768x25519 enc that is a low-order point.
    | AllZeroSharedSecret of stanzaType: string
    /// "An scrypt stanza, if present, MUST be the only stanza in the header".
    | ScryptNotAlone

/// Why the payload (age.md "Payload": STREAM over ChaCha20-Poly1305 in 64 KiB chunks) was refused.
/// Chunk authentication failure is opaque.
type PayloadError =
    /// A chunk has a length the format forbids here (a non-final chunk not 64 KiB + 16, a chunk under 16 bytes).
    | WrongChunkLength of length: int
    /// "Streaming decryption MUST signal an error if the end of file is reached without successfully decrypting a final chunk."
    | Truncated
    /// "The final chunk ... MUST NOT be empty unless the whole payload is empty."
    | EmptyFinalChunk
    /// A chunk did not authenticate (tampered, reordered, wrong key, or a final chunk followed by more data).
    | ChunkOpenError
    /// A chunk after the final chunk.
    | AfterFinalChunk
    /// The 88-bit chunk counter (we keep 64 bits) would wrap.
    | ChunkCounterExhausted

/// Every way reading or writing an age file can fail, one case per layer, in the order a reader meets them.
type AgeError =
    | Armor of ArmorError
    | Header of HeaderError
    | Stanza of StanzaError
    /// No identity could unwrap any stanza ("no match" in the test kit).
    | NoIdentityMatched
    /// The header MAC does not verify with the unwrapped file key ("HMAC failure").
    | HeaderMacMismatch
    | Payload of PayloadError
    /// Encrypting to no recipient: "header = v1-line 1*stanza end".
    | NoRecipients
    /// Encrypting to both mlkem768x25519 and other recipients: "the same file SHOULD NOT be encrypted to both this
    /// recipient type and to other non-quantum-resistant recipient types"; we refuse it, as age does.
    | MixedPostQuantumRecipients
    /// A wrong size of randomness or file key given to the writer (a caller bug).
    | WrongInputLength of what: string * expected: int * actual: int
    /// The HPKE layer of an mlkem768x25519 stanza failed when sealing (a bad recipient key).
    | Hpke of HybridProtocol.Core.Hpke.HpkeError
