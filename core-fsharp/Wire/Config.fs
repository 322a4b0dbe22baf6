namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core
open HybridProtocol.Core.Noise

module ConfigDefaults =
    [<Literal>]
    let MaxMessageSize = 16777216

    [<Literal>]
    let MaxRecordData = 65502

[<NoComparison; NoEquality>]
type ClientConfig = {
    ProtocolName: ProtocolName
    Suite: CryptoSuite
    LocalStatic: DhKeyPair option
    LocalEphemeral: DhKeyPair
    Kem: KemParameters
    RemoteStatic: DhPublicKey option
    Psk: byte[] option
    ApplicationProtocol: string
    MaxMessageSize: int
    MaxRecordData: int
    Rekey: RekeyPolicy
} with

    static member Create
        (protocolName: ProtocolName, suite: CryptoSuite, ephemeral: DhKeyPair, applicationProtocol: string)
        = {
        ProtocolName = protocolName
        Suite = suite
        LocalStatic = None
        LocalEphemeral = ephemeral
        Kem = KemParameters.none
        RemoteStatic = None
        Psk = None
        ApplicationProtocol = applicationProtocol
        MaxMessageSize = ConfigDefaults.MaxMessageSize
        MaxRecordData = ConfigDefaults.MaxRecordData
        Rekey = RekeyPolicy.Default
    }

    member this.WithLocalStatic(keyPair: DhKeyPair) = { this with LocalStatic = Some keyPair }

    member this.WithRemoteStatic(publicKey: DhPublicKey) = {
        this with
            RemoteStatic = Some publicKey
    }

    member this.WithPsk(psk: byte[]) = { this with Psk = Some(Array.copy psk) }
    member this.WithMaxMessageSize(size: int) = { this with MaxMessageSize = size }
    member this.WithMaxRecordData(size: int) = { this with MaxRecordData = size }
    member this.WithRekey(policy: RekeyPolicy) = { this with Rekey = policy }

    member this.WithKemKeyPair(keyPair: KemKeyPair) = {
        this with
            Kem = {
                this.Kem with
                    LocalKemKeyPair = Some keyPair
            }
    }

[<NoComparison; NoEquality>]
type ServerConfig = {
    AcceptedProtocols: ProtocolName list
    SuiteFor: Func<ProtocolName, CryptoSuite>
    LocalStatic: DhKeyPair option
    LocalEphemeral: DhKeyPair
    Kem: KemParameters
    Psk: byte[] option
    ApplicationProtocol: string
    MaxMessageSize: int
    MaxRecordData: int
    Rekey: RekeyPolicy
} with

    static member Create
        (
            acceptedProtocols: ProtocolName seq,
            suiteFor: Func<ProtocolName, CryptoSuite>,
            ephemeral: DhKeyPair,
            applicationProtocol: string
        ) = {
        AcceptedProtocols = List.ofSeq acceptedProtocols
        SuiteFor = suiteFor
        LocalStatic = None
        LocalEphemeral = ephemeral
        Kem = KemParameters.none
        Psk = None
        ApplicationProtocol = applicationProtocol
        MaxMessageSize = ConfigDefaults.MaxMessageSize
        MaxRecordData = ConfigDefaults.MaxRecordData
        Rekey = RekeyPolicy.Default
    }

    member this.WithLocalStatic(keyPair: DhKeyPair) = { this with LocalStatic = Some keyPair }
    member this.WithPsk(psk: byte[]) = { this with Psk = Some(Array.copy psk) }
    member this.WithMaxMessageSize(size: int) = { this with MaxMessageSize = size }
    member this.WithMaxRecordData(size: int) = { this with MaxRecordData = size }
    member this.WithRekey(policy: RekeyPolicy) = { this with Rekey = policy }

    member this.WithEncapsulationRandomness(randomness: byte[]) = {
        this with
            Kem = {
                this.Kem with
                    EncapsulationRandomness = Some randomness
            }
    }
