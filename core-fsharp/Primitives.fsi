namespace HybridProtocol.Core

/// A Diffie-Hellman private key held by the crypto provider (for NSec, a `Key`). Opaque to the core,
/// which only hands it back to `DH`. Disposing it erases the key.
[<Interface>]
type IDhPrivateKey =
    inherit System.IDisposable

/// A DH public key: exactly DHLEN bytes, checked when it is made.
/// Noise §4.1: "DHLEN = A constant specifying the size in bytes of public keys and DH outputs."
[<Sealed>]
type DhPublicKey =

    /// Checks the length against DHLEN and copies the bytes, so the caller's buffer stays its own.
    static member TryCreate: dhlen: int * value: System.ReadOnlySpan<byte> -> DhPublicKey voption

    /// Constant-time comparison: public keys are not secret, but we keep one comparison for all key material.
    member EqualsKey: other: DhPublicKey -> bool

    override ToString: unit -> string

    /// The encoded public key (never mutated by the core; callers must not mutate it either).
    member Bytes: byte array

    member Length: int

/// A DH key pair: Noise §4.1 GENERATE_KEYPAIR()'s output, but always made outside the core.
[<NoComparison; NoEquality>]
type DhKeyPair = {
    Private: IDhPrivateKey
    Public: DhPublicKey
}

/// Noise §4.1 DH(key_pair, public_key): writes DHLEN bytes of shared secret into `output`.
/// Returns false when the provider refuses the public key (for X25519, a low-order point that
/// yields the all-zero output, which libsodium rejects and Noise §12.1 allows rejecting).
type DhFn = delegate of IDhPrivateKey * System.ReadOnlySpan<byte> * System.Span<byte> -> bool

/// Turns DHLEN bytes of private key into a key pair (RFC 9180 §7.1.3 DeriveKeyPair's last step,
/// and the way test vectors hand fixed keys to the core). ValueNone when the bytes are not a key.
type ImportPrivateFn = delegate of System.ReadOnlySpan<byte> -> DhKeyPair voption

/// Noise §4.1 DH functions for one curve.
[<NoComparison; NoEquality>]
type DhFunctions = {

    /// The name as it appears in a Noise protocol name, e.g. "25519".
    Name: string

    /// Size in bytes of public keys and DH outputs.
    DHLEN: int
    DH: DhFn
    IMPORT_PRIVATE: ImportPrivateFn
}

/// An AEAD key made by the provider from raw key bytes (for NSec, a `Key`), so that the hot path
/// does not import the key per record. Opaque to the core. Disposing it erases the key.
[<Interface>]
type IAeadKey =
    inherit System.IDisposable

/// Makes an AEAD key from 32 bytes. Whoever calls it owns the result (see the facade's key scope).
type AeadKeyFn = delegate of System.ReadOnlySpan<byte> -> IAeadKey

/// Noise §4.2 ENCRYPT(k, n, ad, plaintext), with the nonce already encoded by the core
/// (`Nonce.encode`): writes plaintext.Length + TAGLEN bytes to `ciphertext`.
type EncryptFn =
    delegate of
        IAeadKey * System.ReadOnlySpan<byte> * System.ReadOnlySpan<byte> * System.ReadOnlySpan<byte> * System.Span<byte> ->
            unit

/// Noise §4.2 DECRYPT(k, n, ad, ciphertext): writes ciphertext.Length - TAGLEN bytes to `plaintext`
/// and returns true, or returns false on authentication failure (and `plaintext` must then be ignored).
type DecryptFn =
    delegate of
        IAeadKey * System.ReadOnlySpan<byte> * System.ReadOnlySpan<byte> * System.ReadOnlySpan<byte> * System.Span<byte> ->
            bool

/// How a 64-bit counter becomes the AEAD nonce.
/// Noise §12.3 ChaChaPoly: "32 bits of zeros followed by little-endian encoding of n";
/// Noise §12.4 AESGCM: "32 bits of zeros followed by big-endian encoding of n";
/// the AEGIS suites (our extension, see specs/NOISE-CORE.md) use zeros then little-endian n
/// over their longer nonce.
type NonceEncoding =
    | ZerosThenLittleEndian
    | ZerosThenBigEndian

/// Noise §4.2 cipher functions for one AEAD.
[<NoComparison; NoEquality>]
type CipherFunctions = {

    /// The name as it appears in a Noise protocol name, e.g. "ChaChaPoly".
    Name: string

    /// Nonce length in bytes the AEAD takes (12 for the Noise ciphers).
    NONCELEN: int

    /// Authentication tag length in bytes (16 for the Noise ciphers).
    TAGLEN: int
    NonceEncoding: NonceEncoding
    KEY: AeadKeyFn
    ENCRYPT: EncryptFn
    DECRYPT: DecryptFn
}

/// Noise §4.3 HASH(data): writes HASHLEN bytes of digest of `data` into `output`.
type HashFn = delegate of System.ReadOnlySpan<byte> * System.Span<byte> -> unit

/// Noise §4.3 hash functions. HMAC-HASH and HKDF are built on HASH by the core (`Hkdf`), exactly as
/// the spec defines them, so no provider can substitute a different MAC (NSec's keyed BLAKE2b is not HMAC).
[<NoComparison; NoEquality>]
type HashFunctions = {

    /// The name as it appears in a Noise protocol name, e.g. "BLAKE2b".
    Name: string

    /// Output length in bytes (32 or 64).
    HASHLEN: int

    /// Internal block length in bytes, used by HMAC (64 or 128).
    BLOCKLEN: int
    HASH: HashFn
}

/// A KEM private key (decapsulation key) held by the crypto provider in memory the GC does not move.
/// Opaque to the core, which only hands it back to `KEM`. Disposing it erases the key.
[<Interface>]
type IKemPrivateKey =
    inherit System.IDisposable

/// A KEM key pair: the output of GENERATE_KEM_KEYPAIR, made from a seed given as an argument.
[<NoComparison; NoEquality>]
type KemKeyPair = {
    Private: IKemPrivateKey

    /// The encoded public key, KEMPUBLICKEYLEN bytes (not secret).
    Public: byte array
}

/// Noise HFS §3 GENERATE_KEM_KEYPAIR(), deterministic: the key pair for SEEDLEN bytes of seed
/// (ML-KEM-768: d || z, 64 bytes, FIPS 203 ML-KEM.KeyGen_internal; X-Wing: the 32-byte private key).
type KemGenerateKeypairFn = delegate of System.ReadOnlySpan<byte> -> KemKeyPair

/// Noise HFS §3 GENERATE_KEM_CIPHERTEXT(public_key), deterministic: writes KEMCIPHERTEXTLEN bytes of
/// ciphertext and KEMOUTPUTLEN bytes of KEM output for ENCAPSRANDOMNESSLEN bytes of randomness
/// (ML-KEM-768: m, 32 bytes, FIPS 203 ML-KEM.Encaps_internal; X-Wing: eseed, 64 bytes).
/// Returns false when the public key is refused (wrong length or, for ML-KEM, the FIPS 203 §7.2 modulus check).
type KemEncapsulateFn =
    delegate of System.ReadOnlySpan<byte> * System.ReadOnlySpan<byte> * System.Span<byte> * System.Span<byte> -> bool

/// Noise HFS §3 KEM(key_pair, ciphertext): writes KEMOUTPUTLEN bytes of KEM output. Returns false when the
/// ciphertext has the wrong length; a well-formed but wrong ciphertext yields an unrelated output
/// (ML-KEM's implicit rejection), which the handshake's next authenticated message then refuses.
type KemDecapsulateFn = delegate of IKemPrivateKey * System.ReadOnlySpan<byte> * System.Span<byte> -> bool

/// Noise HFS §3 KEM functions for one KEM (also the building block of the HPKE PQ KEMs).
[<NoComparison; NoEquality>]
type KemFunctions = {

    /// The name as it appears in a Noise protocol name after the "+", e.g. "MLKEM768".
    Name: string

    /// Size in bytes of encoded KEM public keys.
    KEMPUBLICKEYLEN: int

    /// Size in bytes of KEM ciphertexts.
    KEMCIPHERTEXTLEN: int

    /// Size in bytes of KEM outputs (shared secrets).
    KEMOUTPUTLEN: int

    /// Size in bytes of the seed GENERATE_KEM_KEYPAIR takes.
    SEEDLEN: int

    /// Size in bytes of the randomness GENERATE_KEM_CIPHERTEXT takes.
    ENCAPSRANDOMNESSLEN: int
    GENERATE_KEM_KEYPAIR: KemGenerateKeypairFn
    GENERATE_KEM_CIPHERTEXT: KemEncapsulateFn
    KEM: KemDecapsulateFn
}

/// One DH, one cipher and one hash, and for Noise HFS one KEM: everything a Noise or HPKE computation
/// needs from outside.
[<NoComparison; NoEquality>]
type CryptoSuite = {
    Dh: DhFunctions
    Cipher: CipherFunctions
    Hash: HashFunctions

    /// Noise HFS §3 KEM functions, for protocol names with the "hfs" modifier ("25519+MLKEM768");
    /// None for a classical suite.
    Kem: KemFunctions option
}

/// Encodes a Noise nonce counter as the cipher's nonce bytes.
module Nonce =

    /// Writes n into `nonce` (whose length is NONCELEN) as the cipher's encoding prescribes.
    val encode: encoding: NonceEncoding * n: uint64 * nonce: System.Span<byte> -> unit
