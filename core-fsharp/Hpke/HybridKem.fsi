/// draft-ietf-hpke-pq §4 "Hybrid KEMs with ECDH and ML-KEM": MLKEM768-P256 (0x0050) and MLKEM1024-P384
/// (0x0051) as HPKE KEMs. The KEM itself is draft-irtf-cfrg-concrete-hybrid-kems's instance of the CG
/// framework of draft-irtf-cfrg-hybrid-kems: ML-KEM for the post-quantum half, a NIST curve as the
/// "nominal group" for the traditional half, SHAKE256 as the PRG that expands the 32-byte seed, and
/// SHA3-256 as the KDF that combines the two shared secrets with the traditional ciphertext, the
/// traditional public key and a label. The crypto comes in as records: the ML-KEM `KemFunctions`, the
/// curve as a `DhGroup` (its ImportPrivate is Exp(G, x), its DH is ElementToSharedSecret(Exp(p, x)),
/// its Order drives RandomScalar), SHAKE256 and SHA3-256.
/// (X-Wing, the X25519 instance, is a KEM of its own in the providers and goes through `PqKem`.)
/// See: https://github.com/hpkewg/hpke-pq (draft-ietf-hpke-pq.md), draft-irtf-cfrg-concrete-hybrid-kems
module HybridProtocol.Core.Hpke.HybridKem

open HybridProtocol.Core

/// One concrete hybrid KEM: its HPKE identity, its components and its constants.
[<NoComparison; NoEquality>]
type HybridParameters = {

    /// The HPKE kem_id (0x0050 or 0x0051); suite_id = concat("KEM", I2OSP(kem_id, 2)).
    kem_id: uint16

    /// "MLKEM768-P256" or "MLKEM1024-P384".
    Name: string

    /// The combiner's domain-separation label (the KEM's name in ASCII, as in the hpke-pq vectors).
    Label: byte array

    /// The post-quantum KEM (ML-KEM-768 or ML-KEM-1024): key pair from the 64-byte seed d || z,
    /// encapsulation with the 32-byte m given.
    Pq: KemFunctions

    /// The traditional nominal group (P-256 or P-384); Nsk is Nscalar, Npk is Nelem.
    Group: DhGroup

    /// Group.Nseed: the SHAKE256 output expandKey draws for the traditional key after KEM.Nseed
    /// (concrete-hybrid-kems: 128 for P-256, 48 for P-384).
    GroupNseed: int

    /// The encapsulation randomness for the ephemeral scalar after ML-KEM's 32-byte m (the hpke-pq
    /// vectors' ikmE: 128 − 32 = 96 for P-256, 80 − 32 = 48 for P-384).
    GroupNrandom: int

    /// SHAKE256, the PRG (and DeriveKeyPair's SHAKE256.LabeledDerive).
    Shake256: XofFn

    /// SHA3-256, the combiner's KDF (HASHLEN 32).
    Sha3_256: HashFunctions
}

/// The hybrid KEM as the HPKE KEM record: Nsecret 32, Nenc = KEM.Nct + Nelem, Npk = KEM.Nek + Nelem,
/// Nsk 32 (the seed), Nrandom = 32 + GroupNrandom; no AuthEncap/AuthDecap (§6.3).
val create: parameters: HybridParameters -> Kem
