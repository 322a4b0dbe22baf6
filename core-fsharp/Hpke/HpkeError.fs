namespace HybridProtocol.Core.Hpke

type PskError =
    | InconsistentPskInputs
    | PskInputNotNeeded
    | MissingRequiredPsk
    | PskTooShort of length: int

type KemError =
    | DeriveKeyPairError
    | IkmTooShort of length: int
    | InvalidEncapsulatedKey of length: int
    | InvalidPublicKey of length: int
    | DhValidationError
    | InvalidPoint
    | InvalidPrivateKey of length: int
    | EncapError
    | DecapError
    | WrongRandomnessLength of expected: int * actual: int
    | WrongKeyKem of expected: uint16 * actual: uint16
    | EncapsulationKeyCheck

type SuiteError =
    | WrongKemSizes of kem_id: uint16
    | WrongHashLength of hashlen: int
    | WrongAeadSizes of nonceLength: int * tagLength: int

type HpkeError =
    | InvalidSuite of SuiteError
    | PskInputs of PskError
    | KemFailure of KemError
    | AuthModeNotSupported of kem_id: uint16
    | AuthModeNotDefinedForKdf of kdf_id: uint16
    | OpenError
    | MessageLimitReached
    | ExportOnlyCannotSeal
    | ExportLengthTooLarge of requested: int * maximum: int
    | ExportLengthNegative of requested: int
    | InputTooLong of length: int * maximum: int
    | WrongBufferLength of expected: int * actual: int
