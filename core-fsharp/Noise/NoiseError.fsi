namespace HybridProtocol.Core.Noise

/// Why a protocol name was refused (Noise §8).
type ProtocolNameError =

    /// The name does not have the five '_'-separated parts "Noise_PATTERN_DH_CIPHER_HASH".
    | MalformedName

    /// The name does not start with "Noise".
    | NotNoise

    /// The handshake pattern is not one of the spec's (§7.4, §7.5, §18.1).
    | UnknownPattern of pattern: string

    /// A modifier we do not know or that makes the pattern invalid (e.g. "psk9" past the last message,
    /// a repeated modifier, or "fallback", which this implementation does not offer).
    | InvalidModifier of modifier: string
    | UnsupportedDh of dh: string

    /// Noise HFS §5: the KEM named after the DH ("25519+MLKEM768") is not one we offer.
    | UnsupportedKem of kem: string

    /// Noise HFS §5: "When the "hfs" modifier is used, the DH name section must contain a KEM algorithm name";
    /// this name has "hfs" but no KEM.
    | MissingKem

    /// The DH section names a KEM but the pattern has no "hfs" modifier to use it.
    | KemWithoutHfs
    | UnsupportedCipher of cipher: string
    | UnsupportedHash of hash: string

    /// The name spells a name we accept in a way that is not its one canonical spelling (specs/NOISE-CORE.md,
    /// "Canonical names"): modifiers out of order (hfs first, then psk modifiers by ascending position, Noise §9
    /// "psk0+psk2"), or a section in the wrong case ("xx", "chachapoly"). Each spelling gives another handshake
    /// hash, so two peers must agree on one; `canonical` is the name to use instead.
    | NonCanonical of canonical: string

/// Inputs to HandshakeState.Initialize that do not fit the pattern (Noise §5.3 Initialize).
type InitError =

    /// The pattern needs our static key pair (it has an "s" token or pre-message for this role).
    | MissingLocalStatic

    /// The pattern needs our ephemeral key pair ("e" token or pre-message for this role).
    | MissingLocalEphemeral

    /// The pattern's pre-message says the peer's static key is known in advance.
    | MissingRemoteStatic

    /// The pattern's pre-message says the peer's ephemeral key is known in advance.
    | MissingRemoteEphemeral

    /// The crypto suite's names differ from the protocol name's DH, cipher or hash.
    | SuiteMismatch

    /// The number of PSKs differs from the number of "psk" tokens.
    | WrongPskCount of expected: int * actual: int

    /// Noise §9.2: "psk is a 32-byte secret value".
    | WrongPskLength

    /// The provider's DH functions do not have the DHLEN the name implies, or a key has the wrong length.
    | WrongKeyLength

    /// Noise HFS: the pattern has us send "e1" but no KEM key pair was given (GENERATE_KEM_KEYPAIR's output).
    | MissingLocalKemKeyPair

    /// Noise HFS: the pattern has us send "ekem1" but no encapsulation randomness was given, or it is not
    /// ENCAPSRANDOMNESSLEN bytes.
    | MissingEncapsulationRandomness

/// Using an object in a phase where the operation is not allowed (snow's StateProblem).
type StateError =
    | NotTurnToWrite
    | NotTurnToRead
    | HandshakeFinished

    /// Noise §5.1: "If incrementing n results in 2^64-1, then any further EncryptWithAd() or
    /// DecryptWithAd() calls will signal an error to the caller."
    | NonceExhausted

    /// Noise §7.4: in a one-way pattern the recipient must not send, and the sender cannot receive.
    | OneWayDirection

    /// The object failed earlier and is no longer usable (Noise §5.3: "the HandshakeState is deleted").
    | Failed

/// Malformed input, judged before any cryptography.
type InputError =

    /// Noise §3: "Noise messages ... are limited to 65535 bytes."
    | MessageTooLong of length: int

    /// The message ends before a public key or authentication tag it must contain.
    | MessageTooShort of length: int

/// Every way a Noise operation can fail. Decryption failure is deliberately opaque
/// (which byte was wrong is not the caller's business, as snow's Error::Decrypt advises).
type NoiseError =
    | Name of ProtocolNameError
    | Init of InitError
    | State of StateError
    | Input of InputError

    /// The DH function refused a public key (an X25519 low-order point, all-zero output).
    | Dh

    /// Noise HFS: the KEM refused the peer's KEM public key (for ML-KEM-768, the FIPS 203 §7.2 modulus check)
    /// or a ciphertext. A well-formed but wrong ciphertext is not refused here (ML-KEM's implicit rejection):
    /// it yields an unrelated output, and the next authenticated data fails with Decrypt.
    | Kem

    /// AEAD authentication failed: wrong key, tampered data, wrong prologue or PSK, replayed or reordered message.
    | Decrypt

/// Limits Noise sets.
module Limits =

    /// Noise §3: "All Noise messages are less than or equal to 65535 bytes in length."
    [<Literal>]
    val internal MaxMessageLength: int = 65535

    /// Noise §9.2: "psk is a 32-byte secret value" (the one rule behind the handshake's check and `Policy.checkPsk`).
    [<Literal>]
    val PskLength: int = 32
