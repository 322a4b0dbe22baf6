/// The key types of specs/KEYS.md "Key files", the foreign ones a document may name, and what `KeyDocument`
/// reports about a document (see KeyDocument.fsi for the formats).
namespace HybridProtocol.Core.Formats

/// The key types with a PKCS #8 and SubjectPublicKeyInfo form.
type KeyType =
    | X25519
    | X448
    | P256
    | P384
    | P521
    | MlKem512
    | MlKem768
    | MlKem1024
    | XWing

/// Algorithms recognised in a document but not used here, so that the facade can name them.
type ForeignKeyType =
    | Ed25519
    | Ed448
    | Rsa
    | RsaPss
    | EllipticCurve
    | Dsa
    | DiffieHellman
    | OtherAlgorithm of oid: string

/// What is wrong with a key document.
type KeyFormatError =

    /// Not the DER structure of the document (truncated, damaged, bytes after it).
    | NotDer

    /// A OneAsymmetricKey version other than 0 or 1.
    | UnsupportedKeyVersion

    /// A key of an algorithm that is not a `KeyType`.
    | ForeignKey of ForeignKeyType

    /// AlgorithmIdentifier parameters where the spec says they are absent.
    | ParametersPresent of KeyType

    /// The privateKey field is not a primitive OCTET STRING, or its content is not the algorithm's structure.
    | PrivateKeyStructure of KeyType

    /// The private key (scalar or seed) has the wrong length.
    | PrivateKeyLength of KeyType * actual: int

    /// ML-KEM with only the expanded decapsulation key: the seed is needed (specs/HPKE.md).
    | ExpandedKeyOnly of KeyType

    /// An ECPrivateKey whose version is not 1, or whose [0] parameters name another curve.
    | EcPrivateKeyMismatch of KeyType

    /// An embedded public key ([1]) of the wrong length.
    | EmbeddedPublicKeyLength of KeyType * actual: int

    /// A subjectPublicKey of the wrong length (or with unused bits).
    | PublicKeyLength of KeyType * actual: int

/// A decoded private key document: the key type, the private key (scalar or seed; erase it), and any public keys it
/// embeds (RFC 5958 v2 [1], RFC 5915 [1]), for the facade to check against the private key.
type PrivateKeyDocument = {
    Type: KeyType
    PrivateKey: byte array
    EmbeddedPublicKeys: byte array list
}
