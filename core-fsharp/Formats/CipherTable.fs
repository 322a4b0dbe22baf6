namespace HybridProtocol.Core.Formats

open HybridProtocol.Core
open HybridProtocol.Core.Noise

[<NoComparison>]
type CipherRow = {
    Cipher: CipherName
    Name: string
    NonceLength: int
    NonceEncoding: NonceEncoding
    TagLength: int
    KeyBytesUsed: int
}

type CipherTableError = UnknownCipher of name: string

module CipherTable =
    let row (cipher: CipherName) : CipherRow =
        match cipher with
        // Noise §12.3: "32 bits of zeros followed by little-endian encoding of n".
        | ChaChaPoly -> {
            Cipher = cipher
            Name = "ChaChaPoly"
            NonceLength = 12
            NonceEncoding = ZerosThenLittleEndian
            TagLength = 16
            KeyBytesUsed = 32
          }
        // Noise §12.4: "32 bits of zeros followed by big-endian encoding of n".
        | AESGCM -> {
            Cipher = cipher
            Name = "AESGCM"
            NonceLength = 12
            NonceEncoding = ZerosThenBigEndian
            TagLength = 16
            KeyBytesUsed = 32
          }
        | AEGIS256 -> {
            Cipher = cipher
            Name = "AEGIS256"
            NonceLength = 32
            NonceEncoding = ZerosThenLittleEndian
            TagLength = 32
            KeyBytesUsed = 32
          }
        // AEGIS-128L takes a 128-bit key: the first 16 bytes of Noise's 32 (specs/NOISE-CORE.md).
        | AEGIS128L -> {
            Cipher = cipher
            Name = "AEGIS128L"
            NonceLength = 16
            NonceEncoding = ZerosThenLittleEndian
            TagLength = 32
            KeyBytesUsed = 16
          }

    let rows = [ ChaChaPoly; AESGCM; AEGIS256; AEGIS128L ] |> List.map row

    let ofName (name: string) : Result<CipherRow, CipherTableError> =
        match rows |> List.tryFind (fun r -> r.Name = name) with
        | Some r -> Ok r
        | None -> Error(UnknownCipher name)
