namespace HybridProtocol.Core.Formats

open System
open System.Security.Cryptography

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

type ForeignKeyType =
    | Ed25519
    | Ed448
    | Rsa
    | RsaPss
    | EllipticCurve
    | Dsa
    | DiffieHellman
    | OtherAlgorithm of oid: string

type KeyFormatError =
    | NotDer
    | UnsupportedKeyVersion
    | ForeignKey of ForeignKeyType
    | ParametersPresent of KeyType
    | PrivateKeyStructure of KeyType
    | PrivateKeyLength of KeyType * actual: int
    | ExpandedKeyOnly of KeyType
    | EcPrivateKeyMismatch of KeyType
    | EmbeddedPublicKeyLength of KeyType * actual: int
    | PublicKeyLength of KeyType * actual: int

type PrivateKeyDocument = {
    Type: KeyType
    PrivateKey: byte array
    EmbeddedPublicKeys: byte array list
}
