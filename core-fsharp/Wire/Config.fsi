namespace HybridProtocol.Core.Wire

module ConfigDefaults =

    /// 16 MiB: the largest message a party accepts unless configured otherwise.
    [<Literal>]
    val MaxMessageSize: int = 16777216

    /// The most data per record that fits every cipher offered (65535 - 1 type byte - 32-byte AEGIS tag).
    [<Literal>]
    val MaxRecordData: int = 65502

/// A client connection's configuration.
[<NoComparison; NoEquality>]
type ClientConfig = {

    /// The Noise protocol to run, e.g. Noise_XX_25519_ChaChaPoly_BLAKE2b (interactive patterns only); the
    /// facade takes it from `Policy.clientProtocol`.
    ProtocolName: HybridProtocol.Core.Noise.ProtocolName

    /// The crypto functions for that name (DH, cipher, hash).
    Suite: HybridProtocol.Core.CryptoSuite

    /// Our static key pair s, for patterns where the client proves one (XX, IK, ...).
    LocalStatic: HybridProtocol.Core.DhKeyPair option

    /// Our ephemeral key pair e: fresh for this connection, never reused.
    LocalEphemeral: HybridProtocol.Core.DhKeyPair

    /// Noise HFS inputs for an hfs name: the client sends "e1", so it needs `LocalKemKeyPair` (made from a fresh
    /// seed for this connection only). `KemParameters.none` for a classical name.
    Kem: HybridProtocol.Core.Noise.KemParameters

    /// The server's static key known in advance ("pinned"): the pre-message for NK/IK; for patterns that
    /// transmit the server's key (NX/XX) the received key must equal it.
    RemoteStatic: HybridProtocol.Core.DhPublicKey option

    /// A 32-byte pre-shared key, used for every "psk" token of the pattern (Noise §9).
    Psk: byte array option

    /// The application protocol both ends must name (like ALPN).
    ApplicationProtocol: string

    /// The largest message we accept; announced to the server.
    MaxMessageSize: int

    /// The most data we put in one record (smaller values fragment more; tests use small ones).
    MaxRecordData: int

    /// When we update our sending key on our own.
    Rekey: RekeyPolicy
} with

    /// A configuration with the defaults: no static key, no pinned key, no PSK, 16 MiB messages,
    /// the largest records, rekey every 2^20 records or 1 GiB.
    static member Create:
        protocolName: HybridProtocol.Core.Noise.ProtocolName *
        suite: HybridProtocol.Core.CryptoSuite *
        ephemeral: HybridProtocol.Core.DhKeyPair *
        applicationProtocol: string ->
            ClientConfig

    /// Our KEM key pair for "e1" (Noise HFS), from a fresh seed; the caller disposes it after the handshake.
    member WithKemKeyPair: keyPair: HybridProtocol.Core.KemKeyPair -> ClientConfig

    member WithLocalStatic: keyPair: HybridProtocol.Core.DhKeyPair -> ClientConfig

    member WithMaxMessageSize: size: int -> ClientConfig

    member WithMaxRecordData: size: int -> ClientConfig

    member WithPsk: psk: byte array -> ClientConfig

    member WithRekey: policy: RekeyPolicy -> ClientConfig

    member WithRemoteStatic: publicKey: HybridProtocol.Core.DhPublicKey -> ClientConfig

/// A server connection's configuration (one per accepted connection: the ephemeral key is per connection).
[<NoComparison; NoEquality>]
type ServerConfig = {

    /// The Noise protocols this server accepts, parsed once (the facade takes them from
    /// `Policy.serverAccepted`). Whether it requires a PSK or client authentication follows from them
    /// (e.g. only XX names: every client must prove a static key).
    AcceptedProtocols: HybridProtocol.Core.Noise.ProtocolName list

    /// The crypto functions for the name the client chose.
    SuiteFor: System.Func<HybridProtocol.Core.Noise.ProtocolName, HybridProtocol.Core.CryptoSuite>

    /// The server's static key pair (needed by NK, NX, XX, IK, ...).
    LocalStatic: HybridProtocol.Core.DhKeyPair option

    /// The server's ephemeral key pair for this connection.
    LocalEphemeral: HybridProtocol.Core.DhKeyPair

    /// Noise HFS inputs for when the client chooses an hfs name: the server sends "ekem1", so it needs
    /// `EncapsulationRandomness` (fresh for this connection). Unused for a classical name.
    Kem: HybridProtocol.Core.Noise.KemParameters

    /// The 32-byte pre-shared key, if psk patterns are accepted.
    Psk: byte array option
    ApplicationProtocol: string
    MaxMessageSize: int
    MaxRecordData: int
    Rekey: RekeyPolicy
} with

    static member Create:
        acceptedProtocols: HybridProtocol.Core.Noise.ProtocolName seq *
        suiteFor: System.Func<HybridProtocol.Core.Noise.ProtocolName, HybridProtocol.Core.CryptoSuite> *
        ephemeral: HybridProtocol.Core.DhKeyPair *
        applicationProtocol: string ->
            ServerConfig

    /// The randomness our "ekem1" encapsulates with (Noise HFS), ENCAPSRANDOMNESSLEN fresh bytes; the caller
    /// erases the array after the handshake (the core does not copy or alter it).
    member WithEncapsulationRandomness: randomness: byte array -> ServerConfig

    member WithLocalStatic: keyPair: HybridProtocol.Core.DhKeyPair -> ServerConfig

    member WithMaxMessageSize: size: int -> ServerConfig

    member WithMaxRecordData: size: int -> ServerConfig

    member WithPsk: psk: byte array -> ServerConfig

    member WithRekey: policy: RekeyPolicy -> ServerConfig
