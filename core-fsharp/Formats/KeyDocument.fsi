/// The DER key documents of specs/KEYS.md "Key files" and specs/HPKE.md "Key formats": PKCS #8 OneAsymmetricKey
/// (RFC 5958, the "PRIVATE KEY" PEM block) and SubjectPublicKeyInfo (RFC 5280 §4.1, "PUBLIC KEY"):
///
///     OneAsymmetricKey ::= SEQUENCE { version (0 v1 | 1 v2), privateKeyAlgorithm AlgorithmIdentifier,
///                                     privateKey OCTET STRING, attributes [0] OPTIONAL, publicKey [1] BIT STRING OPTIONAL (v2) }
///     SubjectPublicKeyInfo ::= SEQUENCE { algorithm AlgorithmIdentifier, subjectPublicKey BIT STRING }
///
/// | algorithm      | AlgorithmIdentifier                                    | privateKey holds                              | public key   |
/// |----------------|--------------------------------------------------------|-----------------------------------------------|--------------|
/// | X25519, X448   | RFC 8410 id-X25519 1.3.101.110, id-X448 1.3.101.111    | CurvePrivateKey ::= OCTET STRING (32, 56)     | 32, 56 bytes |
/// | P-256/384/521  | RFC 5480 id-ecPublicKey + namedCurve                   | RFC 5915 ECPrivateKey { 1, d, [0] curve, [1] publicKey } | 0x04 ‖ x ‖ y |
/// | ML-KEM-512/768/1024 | RFC 9935 id-alg-ml-kem-* 2.16.840.1.101.3.4.4.1-3 | seed [0] IMPLICIT OCTET STRING (SIZE (64)), or both | 800/1184/1568 |
/// | X-Wing         | 1.3.6.1.4.1.62253.25722                                | the 32-byte seed                               | 1216 bytes   |
///
/// RFC 8410 §3 and the others: the parameters "MUST be absent". Decoding is total: anything else is a typed
/// `KeyFormatError`. Encoding writes exactly what OpenSSL writes (version 0, no attributes; ECPrivateKey with [1] and
/// without [0]). MLKEM768-P256 and MLKEM1024-P384 have no registered form and are not `KeyType`s here. Whether an
/// embedded public key belongs to its private key needs the algorithm's arithmetic: the facade checks it.
namespace HybridProtocol.Core.Formats

[<RequireQualifiedAccess>]
module KeyDocument =

    /// Bytes in a private key (scalar or seed) of each type.
    val privateKeyLength: keyType: KeyType -> int

    /// Bytes in an encoded public key of each type.
    val publicKeyLength: keyType: KeyType -> int

    /// The key type a PKCS #8 document names (whatever its key holds), or why it names none of ours.
    val peekPrivate: der: byte array -> Result<KeyType, KeyFormatError>

    /// Reads a PKCS #8 OneAsymmetricKey.
    val decodePrivate: der: byte array -> Result<PrivateKeyDocument, KeyFormatError>

    /// Reads a SubjectPublicKeyInfo: the key type and the encoded public key (length checked; a point's validity is the
    /// facade's check).
    val decodePublic: der: byte array -> Result<KeyType * byte array, KeyFormatError>

    /// The PKCS #8 DER (version 0) of a private key; `publicKey` is written only where the form carries it (EC's [1]).
    /// Erase the result.
    val encodePrivate:
        keyType: KeyType * privateKey: System.ReadOnlySpan<byte> * publicKey: System.ReadOnlySpan<byte> -> byte array

    /// The SubjectPublicKeyInfo DER of a public key.
    val encodePublic: keyType: KeyType * publicKey: System.ReadOnlySpan<byte> -> byte array
