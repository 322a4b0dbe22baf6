/// An age v1 file as a whole (age.md "Encrypted file format"): the header that carries the file key for each recipient
/// and its MAC, then the payload. Writing: `encryptHeader`. Reading: `Header.decode`, `unwrapFileKey` (which checks the
/// MAC), then `Payload`. `detect` tells an age file (binary or armored) from other input.
module HybridProtocol.Core.Age.AgeFileFormat

open HybridProtocol.Core
open HybridProtocol.Core.Age.Header
open HybridProtocol.Core.Age.Recipients

/// "Each file is encrypted with a 128-bit symmetric file key."
[<Literal>]
val FileKeyLength: int = 16

/// "HMAC key = HKDF-SHA-256(ikm = file key, salt = empty, info = "header")", then HMAC-SHA-256 over `Header.macInput`.
val headerMac: sha256: HashFunctions -> fileKey: byte array -> stanzas: Stanza list -> byte array

/// The header for `recipients` (each with its `Recipients.randomnessLength` bytes of randomness): one stanza per
/// recipient in order, then the MAC. Refuses no recipients, and mlkem768x25519 recipients mixed with others.
val encryptHeader:
    crypto: AgeCrypto ->
    fileKey: byte array ->
    recipients: struct (AgeRecipient * byte array) list ->
        Result<byte array, AgeError>

/// The file key: each identity in turn tries each stanza (the first that unwraps wins; a stanza its type must reject
/// stops the search), then the header MAC is verified in constant time. Refuses an scrypt stanza beside other stanzas.
val unwrapFileKey:
    crypto: AgeCrypto -> identities: AgeIdentity list -> header: AgeHeader -> Result<byte array, AgeError>

/// What the first bytes of an input are.
type DetectedFormat =
    /// Starts with "age-encryption.org/".
    | Binary
    /// Whitespace, then "-----BEGIN" (the armor reader decides whether the label and the rest are right).
    | Armored
    /// Neither (for example an HPSEAL sealed file).
    | NotAge

/// Looks at the start of an input (the facade passes what it has read, up to `Armor.MaxLineLength` bytes).
val detect: prefix: System.ReadOnlySpan<byte> -> DetectedFormat
