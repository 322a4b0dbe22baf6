module HybridProtocol.Core.Hpke.PqKem







/// The PQ KEM `kem` with HPKE identifier `kem_id` (0x0041 ML-KEM-768, 0x647a X-Wing), its
/// DeriveKeyPair on `shake256`. suite_id = concat("KEM", I2OSP(kem_id, 2)) (§3: "KEM\x00\x41",
/// §4: "KEM\x64\x7a").
val create:
    kem_id: uint16 ->
    kem: HybridProtocol.Core.KemFunctions ->
    shake256: HybridProtocol.Core.Hpke.XofFn ->
        HybridProtocol.Core.Hpke.Kem
