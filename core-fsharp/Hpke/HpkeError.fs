namespace HybridProtocol.Core.Hpke

/// RFC 9180 §5.1 VerifyPSKInputs: the three ways psk and psk_id can disagree with the mode, plus
/// §5.1.2's floor on the PSK's size.
type PskError =
    /// §5.1: "raise Exception("Inconsistent PSK inputs")": exactly one of psk and psk_id is non-empty.
    | InconsistentPskInputs
    /// §5.1: "raise Exception("PSK input provided when not needed")": a psk in mode_base or mode_auth.
    | PskInputNotNeeded
    /// §5.1: "raise Exception("Missing required PSK input")": no psk in mode_psk or mode_auth_psk.
    | MissingRequiredPsk
    /// §5.1.2: "The PSK MUST have at least 32 bytes of entropy". Entropy cannot be measured, so we
    /// refuse PSKs shorter than 32 bytes, as most implementations do.
    | PskTooShort of length: int

/// RFC 9180 §4 and §7.1: failures of the KEM.
type KemError =
    /// §7.1.3: "DeriveKeyPairError": the derived bytes are not a private key.
    | DeriveKeyPairError
    /// §7.1.3: DeriveKeyPair's "ikm ... MUST have at least Nsk bytes of entropy": we refuse shorter ikm.
    | IkmTooShort of length: int
    /// §4: DeserializePublicKey(enc) fails: `enc` is not Nenc bytes.
    | InvalidEncapsulatedKey of length: int
    /// A public key (pkR or pkS) is not Npk bytes.
    | InvalidPublicKey of length: int
    /// §7.1.4: "ValidationError": the DH output would be all zero (an X25519 low-order point),
    /// and the provider refused the key.
    | DhValidationError

/// The crypto records handed to `Suite.create` do not have the sizes RFC 9180 §7 gives the suite.
type SuiteError =
    /// The DH functions do not have DHLEN = Npk = 32 (X25519).
    | WrongDhLength of dhlen: int
    /// The KEM's hash is not SHA-256 sized, or the KDF's hash does not match HKDF-SHA256/512.
    | WrongHashLength of hashlen: int
    /// The AEAD does not have Nn = 12 and Nt = 16.
    | WrongAeadSizes of nonceLength: int * tagLength: int

/// Every way an HPKE operation can fail (RFC 9180 §5 and §7). Open failure is deliberately
/// opaque: which byte was wrong is not the caller's business.
type HpkeError =
    /// The crypto records do not fit the suite (`Suite.Create`).
    | InvalidSuite of SuiteError
    /// psk and psk_id do not fit the mode (§5.1 VerifyPSKInputs).
    | PskInputs of PskError
    /// The KEM failed (§4.1, §7.1).
    | KemFailure of KemError
    /// §5.2: "OpenError": authentication failed (wrong key, enc, info, aad, psk, sender key,
    /// sequence number, or tampered ciphertext).
    | OpenError
    /// §5.2: "MessageLimitReachedError": the sequence number would overflow. Our seq is a 64-bit
    /// counter, so the limit is 2^64 - 1 messages per context (the RFC's 2^96 - 1 is not reachable).
    | MessageLimitReached
    /// §5.3 / §7.3: the export-only AEAD (0xFFFF) has no Seal or Open.
    | ExportOnlyCannotSeal
    /// §5.3 / §7.2.1: Export's L exceeds the KDF's limit 255 * Nh (or LabeledExpand's 65535).
    | ExportLengthTooLarge of requested: int * maximum: int
    /// A caller-provided output span does not have the length Seal or Open writes.
    | WrongBufferLength of expected: int * actual: int

/// A small `result { }` builder so the HPKE code reads like the RFC's pseudocode.
[<AutoOpen>]
module internal ResultBuilder =
    type ResultBuilder() =
        member _.Return(x) = Ok x
        member _.ReturnFrom(r: Result<'T, 'E>) = r
        member _.Bind(r: Result<'T, 'E>, f: 'T -> Result<'U, 'E>) = Result.bind f r
        member _.Zero() = Ok()

    let result = ResultBuilder()
