/// The two native recipient types we implement (age.md "Native recipient types"): wrapping the file key into a stanza
/// for a recipient, and unwrapping it with an identity. Crypto comes in as `AgeCrypto`; randomness as arguments.
module HybridProtocol.Core.Age.Recipients

open HybridProtocol.Core
open HybridProtocol.Core.Hpke
open HybridProtocol.Core.Age.Header

/// What age needs from outside, named as age.md names it. HKDF-SHA-256 and HMAC-SHA-256 are built by the core on
/// `SHA256` (RFC 5869, RFC 2104).
[<NoComparison; NoEquality>]
type AgeCrypto = {
    /// RFC 7748 X25519: DH(scalar, u) and importing a 32-byte scalar.
    X25519: DhFunctions
    /// SHA-256, for HKDF-SHA-256 and HMAC-SHA-256.
    SHA256: HashFunctions
    /// ChaCha20-Poly1305 (RFC 7539), for stanza bodies and payload chunks.
    ChaCha20Poly1305: CipherFunctions
    /// The HPKE suite of the mlkem768x25519 stanza: "KEM: MLKEM768-X25519 ... KDF: HKDF-SHA256 ... AEAD:
    /// ChaCha20Poly1305" (kem_id 0x647a, kdf_id 0x0001, aead_id 0x0003).
    MlKem768X25519Hpke: Suite
}

/// A recipient: an X25519 public key, or an MLKEM768-X25519 (X-Wing) public key accepted by the suite's KEM.
[<NoComparison; NoEquality>]
type AgeRecipient =
    | X25519Recipient of x25519: DhPublicKey
    | MlKem768X25519Recipient of mlkem768x25519: HpkePublicKey

/// An identity: an X25519 key pair, or an X-Wing key pair. The caller owns and disposes the private keys.
[<NoComparison; NoEquality>]
type AgeIdentity =
    | X25519Identity of x25519: DhKeyPair
    | MlKem768X25519Identity of mlkem768x25519: HpkeKeyPair

/// "age-encryption.org/v1/X25519", the X25519 stanza's HKDF info.
val X25519Info: string

/// "age-encryption.org/mlkem768x25519", the mlkem768x25519 stanza's HPKE info.
val MlKem768X25519Info: string

/// The randomness `wrap` takes: 32 bytes ("ephemeral secret = read(CSPRNG, 32)") for X25519; the HPKE KEM's Nrandom
/// (64, X-Wing's eseed) for mlkem768x25519.
val randomnessLength: crypto: AgeCrypto -> recipient: AgeRecipient -> int

/// Whether a 32-byte X25519 u-coordinate is a point of small order (the X25519 output is then all zero for every
/// scalar): the seven values libsodium refuses, with the top bit ignored as RFC 7748 §5 ignores it.
val isLowOrderX25519: u: System.ReadOnlySpan<byte> -> bool

/// Wraps the 16-byte file key for one recipient.
///
/// X25519: "ephemeral share = X25519(ephemeral secret, basepoint); salt = ephemeral share || recipient; info =
/// "age-encryption.org/v1/X25519"; shared secret = X25519(ephemeral secret, recipient); wrap key = HKDF-SHA-256(ikm =
/// shared secret, salt, info); body = ChaCha20-Poly1305(key = wrap key, plaintext = file key)" with a zero nonce;
/// stanza `-> X25519 base64(ephemeral share)`.
///
/// mlkem768x25519: "the file key is encrypted with the HPKE SealBase function ... pkR = recipient, info =
/// "age-encryption.org/mlkem768x25519", aad = """; stanza `-> mlkem768x25519 base64(enc)`, body the HPKE ciphertext.
val wrap:
    crypto: AgeCrypto ->
    recipient: AgeRecipient ->
    randomness: byte array ->
    fileKey: byte array ->
        Result<Stanza, AgeError>

/// Unwraps the file key from one stanza with one identity: `Ok ValueNone` when the stanza is not for this identity (another
/// type, or its body does not decrypt), `Error` when it is of the identity's type but the spec says it MUST be rejected
/// (argument count or size, body length, an all-zero X25519 shared secret).
val unwrap: crypto: AgeCrypto -> identity: AgeIdentity -> stanza: Stanza -> Result<byte array voption, StanzaError>
