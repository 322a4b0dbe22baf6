namespace HybridProtocol.Core.Noise

type ProtocolNameError =
    | MalformedName
    | NotNoise
    | UnknownPattern of pattern: string
    | InvalidModifier of modifier: string
    | UnsupportedDh of dh: string
    | UnsupportedKem of kem: string
    | MissingKem
    | KemWithoutHfs
    | UnsupportedCipher of cipher: string
    | UnsupportedHash of hash: string
    | NonCanonical of canonical: string

type InitError =
    | MissingLocalStatic
    | MissingLocalEphemeral
    | MissingRemoteStatic
    | MissingRemoteEphemeral
    | SuiteMismatch
    | WrongPskCount of expected: int * actual: int
    | WrongPskLength
    | WrongKeyLength
    | MissingLocalKemKeyPair
    | MissingEncapsulationRandomness

type StateError =
    | NotTurnToWrite
    | NotTurnToRead
    | HandshakeFinished
    | NonceExhausted
    | OneWayDirection
    | Failed

type InputError =
    | MessageTooLong of length: int
    | MessageTooShort of length: int

type NoiseError =
    | Name of ProtocolNameError
    | Init of InitError
    | State of StateError
    | Input of InputError
    | Dh
    | Kem
    | Decrypt

module Limits =
    [<Literal>]
    let MaxMessageLength = 65535

    [<Literal>]
    let PskLength = 32
