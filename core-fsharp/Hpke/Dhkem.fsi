/// RFC 9180 §4.1 "DH-Based KEM (DHKEM)" over any `DhGroup`, with §7.1.3 DeriveKeyPair (both the
/// X25519 form and the NIST curves' rejection sampling) and §7.1.4 validation. `create` makes the
/// `Kem` record value for one curve and its HKDF. The ephemeral key pair of Encap/AuthEncap is
/// `DeriveKeyPair(randomness)` (the RFC's GenerateKeyPair() with its randomness as an argument; the
/// test vectors pass ikmE), so the core stays deterministic.
/// See: https://www.rfc-editor.org/rfc/rfc9180#section-4.1
module HybridProtocol.Core.Hpke.Dhkem

open HybridProtocol.Core

/// The DHKEM for `group` with the HKDF on `hash`, as the KEM record: kem_id 0x0010 (P-256,
/// HKDF-SHA256), 0x0011 (P-384, HKDF-SHA384), 0x0012 (P-521, HKDF-SHA512) or 0x0020 (X25519,
/// HKDF-SHA256). §4.1: "Nsecret ... the output length of the KDF's Extract" is the hash length.
val create: kem_id: uint16 -> group: DhGroup -> hash: HashFunctions -> Kem

/// Big-endian `a < b` for byte strings of equal length, without an early exit (§7.1.3's `sk >= order`
/// test; also RandomScalar's in the hybrid KEMs).
val internal lessThan: a: byte array -> b: byte array -> bool

/// Whether every byte is zero, without an early exit.
val internal isZero: a: byte array -> bool
