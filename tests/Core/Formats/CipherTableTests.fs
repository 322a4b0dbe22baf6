/// The Noise cipher table (core-fsharp/Formats/CipherTable): every cipher's row reads back from its name, the names
/// are the protocol names' spelling, any other text is a typed error, and both crypto providers build their cipher
/// functions from the rows (the AEGIS-128L key rule included).
module HybridProtocol.Tests.CipherTableTests

open System
open Expecto
open HybridProtocol.Core
open HybridProtocol.Core.Noise
open HybridProtocol.Core.Formats
open HybridProtocol.Crypto
open HybridProtocol.Tests.TestSupport

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 500
}

let private ciphers = [ ChaChaPoly; AESGCM; AEGIS256; AEGIS128L ]

[<Tests>]
let tests =
    testList "Core.Formats CipherTable" [
        test "every cipher's row reads back from its name, which is the protocol name's spelling" {
            for c in ciphers do
                let row = CipherTable.row c
                Expect.equal row.Cipher c "the row's cipher"
                Expect.equal row.Name (ProtocolName.cipherToString c) "the protocol name's spelling"
                Expect.equal (CipherTable.ofName row.Name) (Ok row) $"{row.Name} round trip"

            Expect.equal (CipherTable.rows |> List.map (fun r -> r.Cipher)) ciphers "one row per cipher, in order"
        }

        test "the rows are Noise §12.3/§12.4's and NOISE-CORE.md's" {
            let shape (r: CipherRow) =
                r.NonceLength, r.NonceEncoding, r.TagLength, r.KeyBytesUsed

            Expect.equal (shape (CipherTable.row ChaChaPoly)) (12, ZerosThenLittleEndian, 16, 32) "ChaChaPoly"
            Expect.equal (shape (CipherTable.row AESGCM)) (12, ZerosThenBigEndian, 16, 32) "AESGCM"
            Expect.equal (shape (CipherTable.row AEGIS256)) (32, ZerosThenLittleEndian, 32, 32) "AEGIS256"
            Expect.equal (shape (CipherTable.row AEGIS128L)) (16, ZerosThenLittleEndian, 32, 16) "AEGIS128L"
        }

        testPropertyWithConfig
            config
            "any other text is UnknownCipher, never an exception (random and case-changed names)"
        <| fun (text: string) (which: byte) ->
            let text = nonNullText text
            let name = (CipherTable.row ciphers[int which % ciphers.Length]).Name

            for candidate in
                [
                    text
                    name.ToLowerInvariant()
                    name.ToUpperInvariant()
                    name + text
                    name[1..]
                ] do
                if CipherTable.rows |> List.forall (fun r -> r.Name <> candidate) then
                    Expect.equal (CipherTable.ofName candidate) (Error(UnknownCipher candidate)) candidate

        test "both providers build their cipher functions from the rows, and their AEADs agree with them" {
            let providers = [
                "NSec",
                [
                    NSecSuite.ChaChaPoly
                    NSecSuite.AesGcm
                    NSecSuite.Aegis256
                    NSecSuite.Aegis128L
                ]
                "libsodium",
                [
                    SodiumSuite.ChaChaPoly
                    SodiumSuite.AesGcm
                    SodiumSuite.Aegis256
                    SodiumSuite.Aegis128L
                ]
            ]

            for provider, functions in providers do
                for c, f in List.zip ciphers functions do
                    let row = CipherTable.row c
                    Expect.equal f.Name row.Name $"{provider} {row.Name}: name"
                    Expect.equal f.NONCELEN row.NonceLength $"{provider} {row.Name}: nonce"
                    Expect.equal f.TAGLEN row.TagLength $"{provider} {row.Name}: tag"
                    Expect.equal f.NonceEncoding row.NonceEncoding $"{provider} {row.Name}: nonce encoding"

            // NSec's own sizes are the table's (a provider cannot restate them differently).
            let nsec = [
                NSec.Cryptography.AeadAlgorithm.ChaCha20Poly1305 :> NSec.Cryptography.AeadAlgorithm
                NSec.Cryptography.AeadAlgorithm.Aes256Gcm
                NSec.Cryptography.AeadAlgorithm.Aegis256
                NSec.Cryptography.AeadAlgorithm.Aegis128L
            ]

            for c, a in List.zip ciphers nsec do
                let row = CipherTable.row c

                Expect.equal
                    (a.NonceSize, a.TagSize, a.KeySize)
                    (row.NonceLength, row.TagLength, row.KeyBytesUsed)
                    row.Name
        }

        test "AEGIS-128L uses the first 16 key bytes: keys that differ only after them encrypt alike" {
            for f in [ NSecSuite.Aegis128L; SodiumSuite.Aegis128L ] do
                let a = Array.init 32 byte
                let b = Array.init 32 (fun i -> if i < 16 then byte i else 0xFFuy)
                let c = Array.init 32 (fun i -> if i = 0 then 0xFFuy else byte i)
                let nonce = Array.zeroCreate f.NONCELEN
                let plaintext = "the first 16 bytes"B

                let seal (key: byte[]) =
                    use k = f.KEY.Invoke(ReadOnlySpan key)
                    let out = Array.zeroCreate (plaintext.Length + f.TAGLEN)
                    f.ENCRYPT.Invoke(k, ReadOnlySpan nonce, ReadOnlySpan<byte>.Empty, ReadOnlySpan plaintext, Span out)
                    out

                Expect.equal (seal a) (seal b) "bytes 16..31 are not used"
                Expect.notEqual (seal a) (seal c) "bytes 0..15 are"
        }
    ]
