/// draft-ietf-hpke-pq §3 "ML-KEM" and §4 "Hybrid KEMs with ECDH and ML-KEM": ML-KEM-768 (0x0041)
/// and MLKEM768-X25519 = X-Wing (0x647a) as HPKE KEMs, over the provider's `KemFunctions` (the same
/// record the Noise HFS handshake uses). Encap takes the KEM's encapsulation randomness as an
/// argument (ML-KEM: m, 32 bytes; X-Wing: eseed, 64 bytes), so the vectors' ikmE replays.
/// Neither KEM has AuthEncap/AuthDecap (§6.3), so the auth modes fail with `AuthModeNotSupported`.
/// See: https://github.com/hpkewg/hpke-pq (draft-ietf-hpke-pq.md)
module HybridProtocol.Core.Hpke.PqKem

open HybridProtocol.Core

/// The PQ KEM `kem` with HPKE identifier `kem_id` (0x0041 ML-KEM-768, 0x647a X-Wing), its
/// DeriveKeyPair on `shake256`. suite_id = concat("KEM", I2OSP(kem_id, 2)) (§3: "KEM\x00\x41",
/// §4: "KEM\x64\x7a").
val create: kem_id: uint16 -> kem: KemFunctions -> shake256: XofFn -> Kem
