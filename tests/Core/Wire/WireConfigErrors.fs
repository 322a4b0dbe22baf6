/// Every InvalidConfigReason, each from the public function that checks it, with the exact case and its values.
module HybridProtocol.Tests.WireConfigErrors

open System
open Expecto
open HybridProtocol.Core
open HybridProtocol.Core.Noise
open HybridProtocol.Core.Wire
open HybridProtocol.Tests.WireDriver

let private invalid reason : Result<'T, WireError> = Error(InvalidConfig reason)

let private xx = "Noise_XX_25519_ChaChaPoly_BLAKE2b"

let private withRekey records bytes = {
    RekeyPolicy.Default with
        AfterRecords = records
        AfterBytes = bytes
}

/// The client's result without its outputs (Connection has no equality).
let private client (config: ClientConfig) =
    Connection.Client config |> Result.map ignore

let private server (config: ServerConfig) =
    Connection.Server config |> Result.map ignore

let private refusal code version =
    ServerStatus.encode (
        Declined {
            Code = LanguagePrimitives.EnumOfValue code
            ServerVersion = version
            Supported = []
        }
    )

[<Tests>]
let tests =
    testList "Wire configuration errors" [
        test "MessageSizeOutOfRange: a largest message below 1 byte" {
            let c, s = configs xx
            Expect.equal (client (c.WithMaxMessageSize 0)) (invalid (MessageSizeOutOfRange 0)) "client"
            Expect.equal (server (s.WithMaxMessageSize -5)) (invalid (MessageSizeOutOfRange -5)) "server"


            let ti, _ = WireRecordLayer.transports "Noise_NN_25519_ChaChaPoly_BLAKE2b"

            let layer limits =
                RecordLayer.Create(ti, limits) |> Result.map ignore

            Expect.equal
                (layer {
                    WireRecordLayer.limits with
                        PeerMaxMessageSize = 0
                })
                (invalid (MessageSizeOutOfRange 0))
                "record layer, peer's limit"

            Expect.equal
                (layer {
                    WireRecordLayer.limits with
                        LocalMaxMessageSize = -1
                })
                (invalid (MessageSizeOutOfRange -1))
                "record layer, our limit"
        }

        test "RecordDataOutOfRange: record data outside 1..the limit" {
            let c, s = configs xx
            let max = ConfigDefaults.MaxRecordData
            Expect.equal (client (c.WithMaxRecordData 0)) (invalid (RecordDataOutOfRange(0, max))) "client 0"

            Expect.equal
                (server (s.WithMaxRecordData(max + 1)))
                (invalid (RecordDataOutOfRange(max + 1, max)))
                "server, one over"

            // The record layer's limit is the cipher's: 65535 - 1 type byte - 16-byte ChaChaPoly tag.
            let ti, _ = WireRecordLayer.transports "Noise_NN_25519_ChaChaPoly_BLAKE2b"

            Expect.equal
                (RecordLayer.Create(
                    ti,
                    {
                        WireRecordLayer.limits with
                            MaxRecordData = 65519
                    }
                 )
                 |> Result.map ignore)
                (invalid (RecordDataOutOfRange(65519, 65518)))
                "record layer, ChaChaPoly"
        }

        test "RekeyIntervalOutOfRange: a rekey interval below 1 record or 1 byte" {
            let c, s = configs xx
            Expect.equal (client (c.WithRekey(withRekey 0L 5L))) (invalid (RekeyIntervalOutOfRange(0L, 5L))) "records"
            Expect.equal (server (s.WithRekey(withRekey 5L 0L))) (invalid (RekeyIntervalOutOfRange(5L, 0L))) "bytes"
            Expect.equal (Policy.checkSizes 1 1 (withRekey 1L 1L) "x") (Ok()) "the limits themselves are fine"
        }

        test "BadApplicationProtocol: not 0..255 characters of printable ASCII" {
            let c, s = configs xx

            Expect.equal (client { c with ApplicationProtocol = "é" }) (invalid (BadApplicationProtocol 1)) "non-ASCII"

            Expect.equal
                (server {
                    s with
                        ApplicationProtocol = String.replicate 256 "a"
                })
                (invalid (BadApplicationProtocol 256))
                "256 characters"

            Expect.equal (client { c with ApplicationProtocol = "a\tb" }) (invalid (BadApplicationProtocol 3)) "a tab"

            Expect.equal
                (client {
                    c with
                        ApplicationProtocol = String.replicate 255 "a"
                })
                (Ok())
                "255 characters are fine"
        }

        test "OneWayPattern: N, K and X cannot carry a connection" {
            let c, s = configs xx
            let n = parse "Noise_N_25519_ChaChaPoly_BLAKE2b"
            Expect.equal (client { c with ProtocolName = n }) (invalid (OneWayPattern n)) "client"
            Expect.equal (server { s with AcceptedProtocols = [ n ] }) (invalid (OneWayPattern n)) "server"
        }

        test "NoAcceptedProtocol: a server that accepts nothing" {
            let _, s = configs xx
            Expect.equal (server { s with AcceptedProtocols = [] }) (invalid NoAcceptedProtocol) "empty list"
        }

        test "ClientStaticKeyInAdvance: a pattern with the client's key as a pre-message" {
            let _, s = configs xx
            let kk = parse "Noise_KK_25519_ChaChaPoly_BLAKE2b"
            Expect.equal (server { s with AcceptedProtocols = [ kk ] }) (invalid (ClientStaticKeyInAdvance kk)) "KK"
        }

        test "PskMissing: a psk name on a server without a pre-shared key" {
            let _, s = configs xx
            let xxpsk3 = parse "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b"

            Expect.equal
                (server {
                    s with
                        AcceptedProtocols = [ xxpsk3 ]
                        Psk = None
                })
                (invalid (PskMissing xxpsk3))
                "XXpsk3"
        }

        test "ServerStaticKeyMissing: NK, NX, XX without the server's static key" {
            let _, s = configs xx

            for name in [ xx; "Noise_NK_25519_ChaChaPoly_BLAKE2b"; "Noise_NX_25519_ChaChaPoly_BLAKE2b" ] do
                let p = parse name

                Expect.equal
                    (server {
                        s with
                            AcceptedProtocols = [ p ]
                            LocalStatic = None
                    })
                    (invalid (ServerStaticKeyMissing p))
                    name
        }

        test "a PSK that is not 32 bytes and a missing KEM key pair are Noise Init errors, not InvalidConfig" {
            let _, s = configs "Noise_XXpsk3_25519_ChaChaPoly_BLAKE2b"

            Expect.equal
                (server {
                    s with
                        Psk = Some(Array.zeroCreate 31)
                })
                (Error(Noise(Init WrongPskLength)))
                "31-byte PSK"

            let c, _ = configs "Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b"

            Expect.equal
                (client { c with Kem = KemParameters.none })
                (Error(Noise(Init MissingLocalKemKeyPair)))
                "hfs without a KEM key pair"
        }

        test "RefusalCodeOutOfRange and RefusalVersionZero: refusals a client could not read" {
            Expect.equal (refusal 0uy 1uy) (invalid (RefusalCodeOutOfRange 0uy)) "0 means Accepted"
            Expect.equal (refusal 0x20uy 1uy) (invalid (RefusalCodeOutOfRange 0x20uy)) "0x20"
            Expect.equal (refusal 0xFFuy 1uy) (invalid (RefusalCodeOutOfRange 0xFFuy)) "0xFF"
            Expect.equal (refusal 1uy 0uy) (invalid RefusalVersionZero) "version 0"
            Expect.equal (refusal 0x1Fuy 1uy) (Ok [| 0x1Fuy; 1uy; 0uy |]) "0x1F is fine"
        }

        test "each option's own check gives the same case as the configuration check, at and past its limits" {
            Expect.equal (Policy.checkMaxMessageSize 0) (invalid (MessageSizeOutOfRange 0)) "message size 0"
            Expect.equal (Policy.checkMaxMessageSize 1) (Ok()) "message size 1"
            Expect.equal (Policy.checkMaxRecordData 0) (invalid (RecordDataOutOfRange(0, 65502))) "record data 0"
            Expect.equal (Policy.checkMaxRecordData 65503) (invalid (RecordDataOutOfRange(65503, 65502))) "65503"
            Expect.equal (Policy.checkMaxRecordData 65502) (Ok()) "65502"
            Expect.equal (Policy.checkRekey (withRekey 1L 0L)) (invalid (RekeyIntervalOutOfRange(1L, 0L))) "0 bytes"
            Expect.equal (Policy.checkRekey (withRekey 1L 1L)) (Ok()) "1 record, 1 byte"

            Expect.equal
                (Policy.checkApplicationProtocol (String('a', 256)))
                (invalid (BadApplicationProtocol 256))
                "256"

            Expect.equal (Policy.checkApplicationProtocol (String('~', 255))) (Ok()) "255 printable"
            Expect.equal (Policy.checkPsk (Array.zeroCreate 31)) (Error(Noise(Init WrongPskLength))) "31-byte PSK"
            Expect.equal (Policy.checkPsk (Array.zeroCreate 32)) (Ok()) "32-byte PSK"

            let _, s = configs xx

            Expect.equal
                (server {
                    s with
                        Psk = Some(Array.zeroCreate 31)
                })
                (Error(Noise(Init WrongPskLength)))
                "the server configuration check uses the same PSK rule"
        }
    ]
