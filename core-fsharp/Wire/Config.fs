namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core
open HybridProtocol.Core.Noise

module ConfigDefaults =
    [<Literal>]
    let MaxMessageSize = 16777216

    [<Literal>]
    let MaxRecordData = 65502

    [<Literal>]
    let MaxServerKeys = 4

[<NoComparison; NoEquality>]
type ClientConfig = {
    ProtocolName: ProtocolName
    Suite: CryptoSuite
    LocalStatic: DhKeyPair option
    LocalEphemeral: DhKeyPair
    Kem: KemParameters
    RemoteStatic: DhPublicKey option
    TrustedServerKeys: DhPublicKey list
    RevokedServerKeys: DhPublicKey list
    CheckKeyAnnouncements: bool
    Psk: byte[] option
    ApplicationProtocol: string
    MaxMessageSize: int
    MaxRecordData: int
    Rekey: RekeyPolicy
    Authority: HybridProtocol.Core.Formats.AuthorityPolicy option
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
        TrustedServerKeys = []
        RevokedServerKeys = []
        CheckKeyAnnouncements = false
        Psk = None
        ApplicationProtocol = applicationProtocol
        MaxMessageSize = ConfigDefaults.MaxMessageSize
        MaxRecordData = ConfigDefaults.MaxRecordData
        Rekey = RekeyPolicy.Default
        Authority = None
    }

    member this.WithLocalStatic(keyPair: DhKeyPair) = { this with LocalStatic = Some keyPair }

    member this.WithAuthority(policy: HybridProtocol.Core.Formats.AuthorityPolicy) = {
        this with
            Authority = Some policy
    }

    member this.WithRemoteStatic(publicKey: DhPublicKey) = {
        this with
            RemoteStatic = Some publicKey
    }

    member this.WithTrustedServerKeys(keys: DhPublicKey seq) = {
        this with
            TrustedServerKeys = List.ofSeq keys
    }

    member this.WithRevokedServerKeys(keys: DhPublicKey seq) = {
        this with
            RevokedServerKeys = List.ofSeq keys
    }

    member this.WithKeyAnnouncements(check: bool) = {
        this with
            CheckKeyAnnouncements = check
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
    OtherStatics: DhKeyPair list
    AnnounceKeys: bool
    LocalEphemeral: DhKeyPair
    Kem: KemParameters
    Psk: byte[] option
    ApplicationProtocol: string
    MaxMessageSize: int
    MaxRecordData: int
    Rekey: RekeyPolicy
    Endorsement: byte[] option
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
        OtherStatics = []
        AnnounceKeys = false
        LocalEphemeral = ephemeral
        Kem = KemParameters.none
        Psk = None
        ApplicationProtocol = applicationProtocol
        MaxMessageSize = ConfigDefaults.MaxMessageSize
        MaxRecordData = ConfigDefaults.MaxRecordData
        Rekey = RekeyPolicy.Default
        Endorsement = None
    }

    member this.WithLocalStatic(keyPair: DhKeyPair) = { this with LocalStatic = Some keyPair }

    member this.WithLocalStatics(keyPairs: DhKeyPair seq) =
        match List.ofSeq keyPairs with
        | [] -> {
            this with
                LocalStatic = None
                OtherStatics = []
          }
        | current :: others -> {
            this with
                LocalStatic = Some current
                OtherStatics = others
          }

    member this.WithKeyAnnouncements(announce: bool) = { this with AnnounceKeys = announce }

    member this.WithEndorsement(endorsement: byte[]) = {
        this with
            Endorsement = Some(Array.copy endorsement)
    }

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
