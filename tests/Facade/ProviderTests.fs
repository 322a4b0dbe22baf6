/// The fast crypto provider (facade-csharp/Crypto/SodiumSuite.cs): the same results as NSec's objects, and the
/// secret memory it uses is erased when a handshake no longer needs it (read through SecretMemory's test hook).
module HybridProtocol.Tests.ProviderTests

open System
open System.Net
open System.Net.Sockets
open System.Security.Cryptography
open Expecto
open FsCheck
open HybridProtocol
open HybridProtocol.Core
open HybridProtocol.Crypto
open HybridProtocol.Noise

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 200
}

let private ciphers = [
    "ChaChaPoly", NSecSuite.ChaChaPoly, SodiumSuite.ChaChaPoly
    "AESGCM", NSecSuite.AesGcm, SodiumSuite.AesGcm
    "AEGIS256", NSecSuite.Aegis256, SodiumSuite.Aegis256
    "AEGIS128L", NSecSuite.Aegis128L, SodiumSuite.Aegis128L
]

let private hashes = [
    "SHA256", NSecSuite.Sha256, SodiumSuite.Sha256
    "SHA512", NSecSuite.Sha512, SodiumSuite.Sha512
    "BLAKE2b", NSecSuite.Blake2b, SodiumSuite.Blake2b
]

let private hashWith (h: HashFunctions) (data: byte[]) =
    let output = Array.zeroCreate h.HASHLEN
    h.HASH.Invoke(ReadOnlySpan data, Span output)
    output

let private encryptWith (c: CipherFunctions) (key: IAeadKey) (nonce: byte[]) (ad: byte[]) (plaintext: byte[]) =
    let ciphertext = Array.zeroCreate (plaintext.Length + c.TAGLEN)
    c.ENCRYPT.Invoke(key, ReadOnlySpan nonce, ReadOnlySpan ad, ReadOnlySpan plaintext, Span ciphertext)
    ciphertext

let private decryptWith (c: CipherFunctions) (key: IAeadKey) (nonce: byte[]) (ad: byte[]) (ciphertext: byte[]) =
    let plaintext = Array.zeroCreate (ciphertext.Length - c.TAGLEN)

    if c.DECRYPT.Invoke(key, ReadOnlySpan nonce, ReadOnlySpan ad, ReadOnlySpan ciphertext, Span plaintext) then
        Some plaintext
    else
        None

let private dhWith (dh: DhFunctions) (pair: DhKeyPair) (publicKey: byte[]) =
    let output = Array.create 32 0xAAuy
    let ok = dh.DH.Invoke(pair.Private, ReadOnlySpan publicKey, Span output)
    ok, output

let private isZero (bytes: byte[]) = bytes |> Array.forall ((=) 0uy)

/// Runs `body` with SecretMemory observing this async flow; returns the blocks rented and what `body` returned.
let private observed (body: unit -> 'a) =
    // Not `use`: the caller disposes the observation after reading the blocks; until then none is recycled.
    let observation = SecretMemory.Observe()
    let result = body ()
    result, observation

[<Tests>]
let tests =
    testList "Crypto provider" [
        testList "SodiumSuite gives NSecSuite's results" [
            testPropertyWithConfig config "X25519: same public key and shared secret"
            <| fun (a: byte[]) (b: byte[]) ->
                let key (seed: byte[]) = SHA256.HashData(seed)
                let fastA = SodiumSuite.X25519.IMPORT_PRIVATE.Invoke(ReadOnlySpan(key a)).Value
                let slowA = NSecSuite.X25519.IMPORT_PRIVATE.Invoke(ReadOnlySpan(key a)).Value
                let slowB = NSecSuite.X25519.IMPORT_PRIVATE.Invoke(ReadOnlySpan(key b)).Value

                try
                    let okFast, fast = dhWith SodiumSuite.X25519 fastA slowB.Public.Bytes
                    let okSlow, slow = dhWith NSecSuite.X25519 slowA slowB.Public.Bytes

                    fastA.Public.EqualsKey slowA.Public && okFast && okSlow && fast = slow
                finally
                    fastA.Private.Dispose()
                    slowA.Private.Dispose()
                    slowB.Private.Dispose()

            testPropertyWithConfig config "AEADs: same ciphertext; each decrypts the other's; a flipped bit is refused"
            <| fun (key: byte[]) (ad: byte[]) (plaintext: byte[]) (n: uint64) ->
                let raw = SHA256.HashData key

                ciphers
                |> List.forall (fun (_, slow, fast) ->
                    use slowKey = slow.KEY.Invoke(ReadOnlySpan raw)
                    use fastKey = fast.KEY.Invoke(ReadOnlySpan raw)
                    let nonce = Array.zeroCreate fast.NONCELEN
                    Nonce.encode (fast.NonceEncoding, n, Span nonce)
                    let c1 = encryptWith slow slowKey nonce ad plaintext
                    let c2 = encryptWith fast fastKey nonce ad plaintext
                    let flipped = Array.copy c2
                    flipped[flipped.Length - 1] <- flipped[flipped.Length - 1] ^^^ 1uy

                    c1 = c2
                    && decryptWith fast fastKey nonce ad c1 = Some plaintext
                    && decryptWith slow slowKey nonce ad c2 = Some plaintext
                    && decryptWith fast fastKey nonce ad flipped = None)

            testPropertyWithConfig config "hashes: same digest"
            <| fun (data: byte[]) ->
                hashes
                |> List.forall (fun (_, slow, fast) -> hashWith slow data = hashWith fast data)

            testPropertyWithConfig
                config
                "HMAC built on HASH matches .NET's HMAC for keys and data on and off the stack"
            <| fun (seed: int) (keyLength: byte) (dataLength: uint16) ->
                let random = Random seed
                let key = Array.zeroCreate (int keyLength + int keyLength / 2)
                let data = Array.zeroCreate (int dataLength % 3000)
                random.NextBytes key
                random.NextBytes data

                Hkdf.hmac SodiumSuite.Sha256 key data = HMACSHA256.HashData(key, data)
                && Hkdf.hmac SodiumSuite.Sha512 key data = HMACSHA512.HashData(key, data)
        ]

        testList "SodiumSuite refuses" [
            test "a low-order public key (all-zero output): DH returns false and leaves zeros" {
                let pair = SodiumSuite.GenerateEphemeral()

                try
                    let ok, output = dhWith SodiumSuite.X25519 pair (Array.zeroCreate 32)
                    Expect.isFalse ok "refused"
                    Expect.isTrue (isZero output) "no output left"
                finally
                    pair.Private.Dispose()
            }

            test "a disposed AEAD key: ObjectDisposedException, and its block is zero" {
                let key, observation =
                    observed (fun () -> SodiumSuite.AesGcm.KEY.Invoke(ReadOnlySpan(Array.create 32 7uy)))

                use _ = observation

                let block =
                    Expect.wantSome (observation.Blocks |> Seq.tryHead) "the key rented a block"

                Expect.isFalse (isZero (SecretMemory.Observation.Read block)) "the key is in the block"
                key.Dispose()
                Expect.isTrue (isZero (SecretMemory.Observation.Read block)) "erased on dispose"

                Expect.throwsT<ObjectDisposedException>
                    (fun () -> encryptWith SodiumSuite.AesGcm key (Array.zeroCreate 12) [||] [||] |> ignore)
                    "no use after dispose"
            }

            test "AESGCM is libsodium's through a pooled key where the CPU allows it, not NSec's" {
                use key = SodiumSuite.AesGcm.KEY.Invoke(ReadOnlySpan(Array.zeroCreate 32))

                if Sodium.crypto_aead_aes256gcm_is_available () <> 0 then
                    Expect.equal (key.GetType().Name) "NativeAeadKey" "pooled native key"
            }
        ]

        testList "key material of a finished handshake is erased" [
            test "NoiseHandshake NK: after completion only the 4 transport keys are non-zero; after disposal none" {
                use serverKey = PrivateKey.Generate()

                let (initiator, responder), observation =
                    observed (fun () ->
                        let name = "Noise_NK_25519_AESGCM_SHA256"

                        use i =
                            NoiseHandshake.Create(
                                NoiseHandshakeOptions(
                                    ProtocolName = name,
                                    Role = NoiseRole.Initiator,
                                    RemoteStatic = serverKey.PublicKey
                                )
                            )

                        use r =
                            NoiseHandshake.Create(
                                NoiseHandshakeOptions(
                                    ProtocolName = name,
                                    Role = NoiseRole.Responder,
                                    LocalStatic = serverKey
                                )
                            )

                        r.ReadMessage(ReadOnlySpan(i.WriteMessage ReadOnlySpan.Empty)) |> ignore
                        i.ReadMessage(ReadOnlySpan(r.WriteMessage ReadOnlySpan.Empty)) |> ignore
                        i.Transport, r.Transport)

                use _ = observation
                let blocks = observation.Blocks

                // Per side: the ephemeral key, the keys of MixKey(ee) and MixKey(es), and Split's two.
                Expect.equal blocks.Count 10 "every block the provider used was observed"

                let live () =
                    blocks
                    |> Seq.filter (fun b -> not (isZero (SecretMemory.Observation.Read b)))
                    |> Seq.length

                Expect.equal (live ()) 4 "only the transport keys (2 per side) are left"

                let message = initiator.Encrypt(ReadOnlySpan [| 1uy; 2uy |])
                Expect.equal (responder.Decrypt(ReadOnlySpan message)) [| 1uy; 2uy |] "the transport works"
                initiator.Dispose()
                responder.Dispose()
                Expect.equal (live ()) 0 "nothing is left after the transports are disposed"
            }

            test "SecureConnection over TCP: the same, both ends" {
                use serverKey = PrivateKey.Generate()

                use listener =
                    new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)

                listener.Bind(IPEndPoint(IPAddress.Loopback, 0))
                listener.Listen 1

                let (client: SecureConnection, server: SecureConnection), observation =
                    observed (fun () ->
                        let accept =
                            task {
                                let! socket = listener.AcceptAsync()

                                return!
                                    SecureConnection.AuthenticateAsServerAsync(
                                        new NetworkStream(socket, true),
                                        SecureServerOptions(ServerKey = serverKey)
                                    )
                            }

                        let connect =
                            SecureConnection.ConnectAsync(
                                "127.0.0.1",
                                (nonNull listener.LocalEndPoint :?> IPEndPoint).Port,
                                SecureClientOptions(
                                    ServerAuthentication = ServerAuthentication.Pinned serverKey.PublicKey
                                )
                            )

                        connect.Result, accept.Result)

                use _ = observation
                let blocks = observation.Blocks
                Expect.isGreaterThanOrEqual blocks.Count 10 "both ends' blocks were observed"

                let live () =
                    blocks
                    |> Seq.filter (fun b -> not (isZero (SecretMemory.Observation.Read b)))
                    |> Seq.length

                Expect.equal (live ()) 4 "only the transport keys (2 per side) are left"
                client.Send(ReadOnlySpan [| 42uy |])
                let buffer = Array.zeroCreate 8
                Expect.equal (server.Receive(Span buffer)) 1 "the connection works"
                client.Dispose()
                server.Dispose()
                Expect.equal (live ()) 0 "nothing is left after the connections are disposed"
            }
        ]
    ]
