/// Noise §8 protocol names, parsed into typed values and printed back.
namespace HybridProtocol.Core.Noise

/// Noise §12 DH functions this implementation offers.
type DhName = | Curve25519

/// Noise HFS §6 leaves the KEM open; this implementation offers ML-KEM-768 (FIPS 203), written "MLKEM768".
type KemName = | MLKEM768

/// A pattern modifier (§8.1, §9.4, Noise HFS §5) in the order the name writes it.
type PatternModifier =

    /// "pskN": a psk token at the start of the first message (N = 0) or the end of message N.
    | PskModifier of position: int

    /// "hfs": the KEM tokens "e1" and "ekem1".
    | HfsModifier

/// Noise §12 cipher functions we offer, plus the AEGIS extension (specs/NOISE-CORE.md §"AEGIS suites").
type CipherName =
    | ChaChaPoly
    | AESGCM
    | AEGIS256
    | AEGIS128L

/// Noise §12 hash functions we offer (NSec has no BLAKE2s).
type HashName =
    | SHA256
    | SHA512
    | BLAKE2b

/// A parsed protocol name such as Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b or
/// Noise_XXhfs+psk3_25519+MLKEM768_ChaChaPoly_BLAKE2b.
type ProtocolName = {

    /// The base pattern with its modifiers applied.
    Pattern: HandshakePattern

    /// The base pattern's name, e.g. "XX".
    BasePattern: string

    /// The modifiers in the order written, e.g. [HfsModifier; PskModifier 3].
    Modifiers: PatternModifier list
    Dh: DhName

    /// Noise HFS §5: the KEM named in the DH section after a '+'; present exactly when the pattern is hfs.
    Kem: KemName option
    Cipher: CipherName
    Hash: HashName

    /// The name as written (§8), what `toString` returns: made once, when the name is parsed or created, since
    /// each handshake hashes it and a server compares a requested name with it (`Policy.protocolChoice`).
    Text: string
} with

    /// Noise HFS: whether the pattern carries the "hfs" modifier (and so "e1" and "ekem1").
    member IsHfs: bool

    /// The psk modifier positions in the order written, e.g. [0; 3].
    member PskModifiers: int list

module ProtocolName =

    val dhToString: _arg1: DhName -> string

    val kemToString: _arg1: KemName -> string

    val cipherToString: _arg1: CipherName -> string

    val hashToString: _arg1: HashName -> string

    /// Parses "Noise_<pattern>_<dh>_<cipher>_<hash>" (§8). Only the canonical spelling of a name is accepted
    /// (specs/NOISE-CORE.md, "Canonical names"): the modifiers in the order hfs, then psk modifiers by ascending
    /// position; the base pattern in upper case, modifiers in lower case, DH, KEM, cipher and hash as the specs
    /// write them. A name that is one of ours in any other order or case is `NonCanonical canonical`, which
    /// names the spelling to use; `parse (toString n) = Ok n`.
    val parse: name: string -> Result<ProtocolName, ProtocolNameError>

    /// The pattern section as written: base name then the modifiers joined by '+'.
    val patternSection: name: ProtocolName -> string

    /// The DH section as written: "25519", or "25519+MLKEM768" for hfs.
    val dhSection: name: ProtocolName -> string

    /// Prints the name back (its `Text`); `parse (toString n) = Ok n`.
    val toString: name: ProtocolName -> string

    /// Builds a name from typed parts (Noise §8, Noise HFS §5), with the checks `parse` makes: the modifiers
    /// are applied in the order given (§9.4), none twice, the result must satisfy the §9.3 validity rule, a
    /// KEM is given exactly when the modifiers include hfs, and the order must be the canonical one (hfs, then
    /// psk modifiers by ascending position; otherwise `NonCanonical canonical`). `parse (toString n) = Ok n` holds for every name
    /// it returns.
    val createWithModifiers:
        basePattern: HandshakePattern ->
        modifiers: PatternModifier list ->
        dh: DhName ->
        kem: KemName option ->
        cipher: CipherName ->
        hash: HashName ->
            Result<ProtocolName, ProtocolNameError>

    /// A classical name from typed parts: `createWithModifiers` with psk modifiers only and no KEM.
    val create:
        basePattern: HandshakePattern ->
        pskModifiers: int list ->
        dh: DhName ->
        cipher: CipherName ->
        hash: HashName ->
            Result<ProtocolName, ProtocolNameError>
