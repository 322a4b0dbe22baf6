/// age's recipient and identity strings (age.md "Native recipient types"): Bech32 with a human-readable part per type.
///
/// | Type | Recipient (public) | Identity (private) |
/// |---|---|---|
/// | X25519 | HRP `age`, the 32-byte X25519 public key | HRP `AGE-SECRET-KEY-`, the 32-byte scalar, uppercase |
/// | MLKEM768-X25519 (X-Wing) | HRP `age1pq`, the 1216-byte public key | HRP `AGE-SECRET-KEY-PQ-`, the 32-byte seed, uppercase |
module HybridProtocol.Core.Age.AgeKeys

/// The native recipient types we read and write.
type AgeKeyType =
    /// "The X25519 recipient type".
    | X25519
    /// "The MLKEM768-X25519 (i.e. X-Wing) hybrid post-quantum recipient type".
    | MlKem768X25519

/// Bytes of the public key (32 or 1216) a recipient string holds.
val publicKeyLength: keyType: AgeKeyType -> int

/// Bytes of the private key (32 for both: the X25519 scalar, the X-Wing seed) an identity string holds.
val privateKeyLength: keyType: AgeKeyType -> int

/// "The recipient is encoded as Bech32 with HRP `age`" (X25519) / "`age1pq`" (MLKEM768-X25519): lowercase.
val encodeRecipient: keyType: AgeKeyType * publicKey: System.ReadOnlySpan<byte> -> Result<string, AgeKeyError>

/// An `age1…` string to its type and public key bytes.
val decodeRecipient: text: string -> Result<struct (AgeKeyType * byte array), AgeKeyError>

/// "encoded as Bech32 with HRP `AGE-SECRET-KEY-`" / "`AGE-SECRET-KEY-PQ-`", in uppercase as age writes identities.
/// The string holds the secret and cannot be erased.
val encodeIdentity: keyType: AgeKeyType * privateKey: System.ReadOnlySpan<byte> -> Result<string, AgeKeyError>

/// An `AGE-SECRET-KEY-…` string to its type and private key bytes (a fresh array the caller erases).
val decodeIdentity: text: string -> Result<struct (AgeKeyType * byte array), AgeKeyError>

/// An identity file as age-keygen writes it: one identity per line; empty lines and lines starting with '#' are ignored.
/// The first line that is not an identity is the error (with its number, from 1). At least one identity.
val decodeIdentityFile: text: string -> Result<struct (AgeKeyType * byte array) list, struct (int * AgeKeyError)>

/// A recipients file (age -R): one recipient per line; empty lines and lines starting with '#' are ignored.
val decodeRecipientFile: text: string -> Result<struct (AgeKeyType * byte array) list, struct (int * AgeKeyError)>
