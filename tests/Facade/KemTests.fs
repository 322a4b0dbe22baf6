/// The KEM provider (facade-csharp/Crypto/SodiumKem.cs) against the X-Wing draft's KEM vectors, and
/// ML-KEM-768 / X-Wing round trips, determinism and refusals through the core's KemFunctions record.
module HybridProtocol.Tests.KemTests

open System
open System.IO
open System.Text.Json
open Expecto
open HybridProtocol.Core
open HybridProtocol.Crypto
open HybridProtocol.Tests.TestSupport

let private hex (e: JsonElement) (name: string) =
    Convert.FromHexString(e.GetProperty(name).GetString() |> Option.ofObj |> Option.defaultValue "")

let private encapsulate (kem: KemFunctions) (publicKey: byte[]) (randomness: byte[]) =
    let ct = Array.zeroCreate kem.KEMCIPHERTEXTLEN
    let ss = Array.zeroCreate kem.KEMOUTPUTLEN

    if kem.GENERATE_KEM_CIPHERTEXT.Invoke(ReadOnlySpan publicKey, ReadOnlySpan randomness, Span ct, Span ss) then
        Some(ct, ss)
    else
        None

let private decapsulate (kem: KemFunctions) (key: IKemPrivateKey) (ct: byte[]) =
    let ss = Array.zeroCreate kem.KEMOUTPUTLEN

    if kem.KEM.Invoke(key, ReadOnlySpan ct, Span ss) then
        Some ss
    else
        None

let private seeded (length: int) (seed: int) =
    let bytes = Array.zeroCreate length
    Random(seed).NextBytes bytes
    bytes

let private roundTrip (kem: KemFunctions) =
    testProperty $"{kem.Name}: encapsulation and decapsulation agree, deterministically" (fun (seed: int) ->
        use pair =
            kem.GENERATE_KEM_KEYPAIR.Invoke(ReadOnlySpan(seeded kem.SEEDLEN seed)).Private

        let again = kem.GENERATE_KEM_KEYPAIR.Invoke(ReadOnlySpan(seeded kem.SEEDLEN seed))
        use _ = again.Private
        let pk = again.Public
        let randomness = seeded kem.ENCAPSRANDOMNESSLEN (seed + 1)
        let ct, ss = (encapsulate kem pk randomness).Value
        let ct2, ss2 = (encapsulate kem pk randomness).Value
        Expect.equal pk.Length kem.KEMPUBLICKEYLEN "public key length"
        Expect.equal (ct, ss) (ct2, ss2) "same randomness, same ciphertext and output"
        Expect.equal (decapsulate kem pair ct) (Some ss) "KEM(key_pair, ciphertext) gives the sender's output"
        // ML-KEM's implicit rejection: a flipped ciphertext bit decapsulates to an unrelated output.
        let tampered = Array.copy ct
        tampered[seed &&& 0x3ff] <- tampered[seed &&& 0x3ff] ^^^ 1uy
        Expect.notEqual (decapsulate kem pair tampered) (Some ss) "a tampered ciphertext gives another output")

let private refusals (kem: KemFunctions) =
    test $"{kem.Name}: wrong lengths are refused" {
        let pair = kem.GENERATE_KEM_KEYPAIR.Invoke(ReadOnlySpan(seeded kem.SEEDLEN 7))
        use _ = pair.Private
        let randomness = seeded kem.ENCAPSRANDOMNESSLEN 8
        Expect.isNone (encapsulate kem pair.Public[1..] randomness) "short public key"
        Expect.isNone (encapsulate kem pair.Public randomness[1..]) "short randomness"
        let ct, _ = (encapsulate kem pair.Public randomness).Value
        Expect.isNone (decapsulate kem pair.Private ct[1..]) "short ciphertext"

        Expect.throwsT<ArgumentException>
            (fun () ->
                kem.GENERATE_KEM_KEYPAIR.Invoke(ReadOnlySpan(seeded (kem.SEEDLEN - 1) 9))
                |> ignore)
            "short seed"
    }

[<Tests>]
let tests =
    testList "KEM provider" [
        test "X-Wing KEM vectors (draft-connolly-cfrg-xwing-kem): 3 of 3 byte for byte" {
            use doc =
                JsonDocument.Parse(File.ReadAllText(vectorFile "hpke/xwing-kem-test-vectors.json"))

            let kem = SodiumKem.XWing
            let mutable count = 0

            for v in doc.RootElement.EnumerateArray() do
                let pair = kem.GENERATE_KEM_KEYPAIR.Invoke(ReadOnlySpan(hex v "seed"))
                use _ = pair.Private
                Expect.equal pair.Public (hex v "pk") "pk"
                let ct, ss = (encapsulate kem pair.Public (hex v "eseed")).Value
                Expect.equal ct (hex v "ct") "ct"
                Expect.equal ss (hex v "ss") "ss"
                Expect.equal (decapsulate kem pair.Private ct) (Some(hex v "ss")) "decapsulated ss"
                count <- count + 1

            Expect.equal count 3 "every vector ran"
        }
        roundTrip SodiumKem.MlKem768
        roundTrip SodiumKem.XWing
        refusals SodiumKem.MlKem768
        refusals SodiumKem.XWing
        test "a disposed KEM private key is refused, not used" {
            let kem = SodiumKem.MlKem768
            let pair = kem.GENERATE_KEM_KEYPAIR.Invoke(ReadOnlySpan(seeded kem.SEEDLEN 1))
            let ct, _ = (encapsulate kem pair.Public (seeded kem.ENCAPSRANDOMNESSLEN 2)).Value
            pair.Private.Dispose()
            Expect.throwsT<ObjectDisposedException> (fun () -> decapsulate kem pair.Private ct |> ignore) "disposed"
        }
    ]
