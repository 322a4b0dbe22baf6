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

    /// §7.1.4: a NIST-curve public key (pkR, pkS or enc) that is not an uncompressed point on the
    /// curve: the identity, coordinates out of range, or off the curve.
    | InvalidPoint

    /// §4: "DeserializePrivateKey(skXm)" fails: the bytes are not a private key of this KEM (wrong
    /// length, zero or not below the group order).
    | InvalidPrivateKey of length: int

    /// draft-ietf-hpke-pq §3: "an ML-KEM encapsulation key check failure causes an HPKE EncapError".
    | EncapError

    /// draft-ietf-hpke-pq §3: the KEM refused the ciphertext or the decapsulation key ("DecapError").
    | DecapError

    /// The encapsulation randomness (GenerateKeyPair's or the KEM's) has the wrong length.
    | WrongRandomnessLength of expected: int * actual: int

    /// A key made for the KEM `actual` was used with the KEM `expected` (e.g. a P-256 key in an
    /// X25519 suite): keys carry their kem_id, and every KEM function checks it.
    | WrongKeyKem of expected: uint16 * actual: uint16

    /// FIPS 203 §7.2 "Encapsulation key check" (modulus check), made when a public key is deserialized:
    /// a 12-bit coefficient of the ML-KEM-768 encapsulation key (of X-Wing's ML-KEM part) is not below
    /// q = 3329, so ByteEncode12(ByteDecode12(ek)) differs from ek. draft-ietf-hpke-pq §3 calls the same
    /// failure at Encap an EncapError; refusing the key at import means it is never stored or used.
    | EncapsulationKeyCheck

/// The crypto records handed to `Suite.create` do not have the sizes RFC 9180 §7 gives the suite.
type SuiteError =

    /// The KEM record's sizes are not the ones §7.1 (or draft-ietf-hpke-pq) registers for its kem_id,
    /// or the kem_id is not one we offer.
    | WrongKemSizes of kem_id: uint16

    /// The KDF's hash does not have the length its HKDF variant needs (32, 48 or 64).
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

    /// The mode needs AuthEncap/AuthDecap, which this KEM does not have (draft-ietf-hpke-pq §6.3:
    /// "The KEMs defined in this document do not support AuthEncap/AuthDecap"): ML-KEM and X-Wing
    /// refuse mode_auth and mode_auth_psk.
    | AuthModeNotSupported of kem_id: uint16

    /// mode_auth and mode_auth_psk with a one-stage KDF (SHAKE128 0x0010, SHAKE256 0x0011): no
    /// specification defines that combination (draft-ietf-hpke-hpke defines the auth modes only with
    /// the two-stage HKDF key schedule), so it is refused, as that draft does.
    | AuthModeNotDefinedForKdf of kdf_id: uint16

    /// §5.2: "OpenError": authentication failed (wrong key, enc, info, aad, psk, sender key,
    /// sequence number, or tampered ciphertext).
    | OpenError

    /// §5.2: "MessageLimitReachedError": the sequence number would overflow. Our seq is a 64-bit
    /// counter, so the limit is 2^64 - 1 messages per context (the RFC's 2^96 - 1 is not reachable).
    | MessageLimitReached

    /// §5.3 / §7.3: the export-only AEAD (0xFFFF) has no Seal or Open.
    | ExportOnlyCannotSeal

    /// §5.3 / §7.2.1: Export's L exceeds the KDF's limit: 255 * Nh for HKDF, I2OSP(L, 2)'s 65535 for the
    /// one-stage SHAKE KDFs (which have no 255 * Nh limit).
    | ExportLengthTooLarge of requested: int * maximum: int

    /// §5.3: Export's L is a length: a negative one is refused.
    | ExportLengthNegative of requested: int

    /// draft-ietf-hpke-hpke §5.1 (one-stage KDF): info, psk or psk_id is longer than lengthPrefixed's
    /// I2OSP(len, 2) can encode (65535 bytes).
    | InputTooLong of length: int * maximum: int

    /// A caller-provided output span does not have the length Seal or Open writes.
    | WrongBufferLength of expected: int * actual: int
