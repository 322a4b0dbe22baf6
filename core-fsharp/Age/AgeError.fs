namespace HybridProtocol.Core.Age

type Bech32Error =
    | MixedCase
    | MissingSeparator
    | InvalidCharacter of position: int
    | ChecksumMismatch
    | InvalidPadding

type AgeKeyError =
    | KeyBech32 of Bech32Error
    | UnknownKeyType of hrp: string
    | WrongKeyLength of expected: int * actual: int

type ArmorError =
    | MissingBeginLine of line: int
    | MissingEndLine
    | LineTooLong of line: int
    | ShortLine of line: int
    | InvalidBase64 of line: int
    | DataAfterEnd of line: int

type HeaderError =
    | NotAnAgeFile
    | UnsupportedVersion of version: string
    | MalformedVersionLine
    | MalformedArgumentLine of line: int
    | MalformedBodyLine of line: int
    | UnexpectedLine of line: int
    | NoStanza
    | MalformedMacLine
    | HeaderTooLong of limit: int
    | HeaderTruncated
    | NonceTruncated of length: int

type StanzaError =
    | WrongArgumentCount of stanzaType: string * count: int
    | InvalidArgument of stanzaType: string * index: int
    | WrongBodyLength of stanzaType: string * length: int
    | AllZeroSharedSecret of stanzaType: string
    | ScryptNotAlone

type PayloadError =
    | WrongChunkLength of length: int
    | Truncated
    | EmptyFinalChunk
    | ChunkOpenError
    | AfterFinalChunk
    | ChunkCounterExhausted

type AgeError =
    | Armor of ArmorError
    | Header of HeaderError
    | Stanza of StanzaError
    | NoIdentityMatched
    | HeaderMacMismatch
    | Payload of PayloadError
    | NoRecipients
    | MixedPostQuantumRecipients
    | WrongInputLength of what: string * expected: int * actual: int
    | Hpke of HybridProtocol.Core.Hpke.HpkeError
