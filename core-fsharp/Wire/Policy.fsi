/// Protocol policy as values: which Noise protocol a client's options select, which names a server with
/// given requirements accepts, which refusal a server sends for a preamble, and which configurations can
/// work at all. specs/PROTOCOL.md §3 (refusal codes, in the order checked here) and §"Authentication
/// modes and patterns" (the tables) say the same; tests `Wire policy` check every row.
///
/// Names are built from typed parts (`ProtocolName.create`) and compared as values: nothing here
/// concatenates or re-parses a protocol name, and a server's accepted list is parsed once, when its
/// configuration is made, not per preamble.
///
/// C# use: `Policy.clientProtocol(new ClientChoice(ServerKeyKnowledge.Pinned, false, false), suite)`;
/// `Policy.serverAccepted(new ServerRequirement(ClientKeys.Required, false, ServerPostQuantum.HybridOrClassical), suites)`.
namespace HybridProtocol.Core.Wire

open HybridProtocol.Core
open HybridProtocol.Core.Noise

/// How a client knows the server's static key before the handshake.
type ServerKeyKnowledge =

    /// The client holds the server's key in advance ("pinned"): the key is a responder pre-message and
    /// the first message is encrypted to it (NK, IK).
    | Pinned

    /// The client learns the key in the handshake and decides about it through `VerifyPeerKey` (known
    /// hosts, a callback, accept-any): the server transmits it (NX, XX).
    | Learned

/// What a client's options ask for; the handshake pattern follows from it (`Policy.clientPattern`).
type ClientChoice = {
    ServerKey: ServerKeyKnowledge

    /// The client proves a static key of its own.
    ClientIdentity: bool

    /// The client has a pre-shared key (Noise §9).
    PreSharedKey: bool

    /// The client asks for post-quantum hybrid key agreement: the pattern's hfs twin with ML-KEM-768
    /// (Noise HFS). A client that asks for it never falls back to a classical name on its own.
    Hybrid: bool
}

/// Which key agreements a server accepts (specs/PROTOCOL.md, "Post-quantum hybrid key agreement").
type ServerPostQuantum =

    /// Hybrid (hfs) names and their classical twins: the client chooses (the default).
    | HybridOrClassical

    /// Only hybrid names; a classical request is refused with `PostQuantumRequired`.
    | HybridOnly

    /// Only classical names (a hybrid request is refused with `UnsupportedPattern`, as a server of an earlier
    /// version refuses it).
    | ClassicalOnly

/// Whether a server takes client keys: the application's explicit choice, since a pattern with a client identity
/// (XX, IK and their hfs and psk twins) costs the server a third handshake message or a longer first one, and an
/// unauthenticated client could use it only to hold a slot longer (specs/PROTOCOL.md §3 and "Authentication
/// modes and patterns").
[<RequireQualifiedAccess>]
type ClientKeys =

    /// The application never looks at a client's key: only patterns without a client identity (NK, NX); a client
    /// that asks for XX or IK is refused with `UnsupportedPattern` (03), none of the accepted names having it.
    | NotAccepted

    /// Clients may stay anonymous or prove a key (NK, NX, XX and IK); a proved key goes to the application.
    | Optional

    /// Every client must prove a static key (XX, IK); an anonymous client is refused with
    /// `ClientAuthenticationRequired` (07).
    | Required

/// What a server demands of every client; its accepted names follow from it (`Policy.serverAccepted`).
type ServerRequirement = {

    /// Whether the server takes client keys: not at all, optionally, or from every client.
    ClientKeys: ClientKeys

    /// The server has a pre-shared key: it accepts only the psk variants.
    PreSharedKey: bool

    /// Whether hybrid, classical or both kinds of name are accepted.
    PostQuantum: ServerPostQuantum
}

/// The DH, cipher and hash sections of a Noise protocol name (Noise §8, §12).
type SuiteName = {
    Dh: DhName
    Cipher: CipherName
    Hash: HashName
}

/// The fresh randomness a party supplies for the KEM before a handshake (Noise HFS §4): the core takes
/// randomness as arguments, and this says which.
type KemRandomness = {

    /// The party writes "e1" ("directs the sender to call GENERATE_KEM_KEYPAIR()"): a KEM key pair for this
    /// connection only, from SEEDLEN fresh bytes.
    KeyPairSeed: bool

    /// The party writes "ekem1" ("directs the sender to call GENERATE_KEM_CIPHERTEXT()"): ENCAPSRANDOMNESSLEN
    /// fresh bytes.
    EncapsulationRandomness: bool
}

/// The protocol policy as functions of typed values: which Noise name a client runs, which names a server
/// accepts and which refusal it gives, and whether a configuration can work.
module Policy =

    /// The Noise protocol a client with these options asks for: the pattern of its authentication mode, or
    /// that pattern's hfs twin when it asks for hybrid (NKhfs, NXhfs, XXhfs, IKhfs and their psk variants).
    val clientProtocol: choice: ClientChoice -> suite: SuiteName -> Result<ProtocolName, WireError>

    /// Which client choices a server with this requirement accepts: the same PSK setting, a client identity
    /// exactly as the server takes client keys (never with `NotAccepted`, always with `Required`, either with
    /// `Optional`), and a key agreement (hybrid or classical) the server takes.
    val accepts: requirement: ServerRequirement -> choice: ClientChoice -> bool

    /// The names a server with this requirement accepts, for each suite in the order given: NK, NX, XX and
    /// IK (only NK and NX when the server takes no client keys, only XX and IK when clients must prove one), each as its hfs twin first and then classical, as
    /// far as the server takes them; their psk variants when the server has a pre-shared key. Exactly the
    /// `clientProtocol` of every choice `accepts` allows.
    val serverAccepted: requirement: ServerRequirement -> suites: SuiteName seq -> Result<ProtocolName list, WireError>

    /// The client proves a static key in this pattern (XX, IK, ...).
    val initiatorProvesKey: name: ProtocolName -> bool

    /// The server sends its static key in this pattern (NX, XX, ...), as opposed to a pre-message (NK, IK).
    val responderTransmitsKey: name: ProtocolName -> bool

    /// The KEM randomness a party in `role` supplies before a handshake that may run any of `names` (a client
    /// passes its one name, a server its accepted list): what the role writes in any of their patterns
    /// (`HandshakePattern.writes`).
    val kemRandomness: role: Role -> names: ProtocolName list -> KemRandomness

    /// specs/PROTOCOL.md §3: the server's answer to the name in a preamble. The checks run in this order:
    /// parse, exact match with an accepted name (accept), then PostQuantumRequired, PskNotConfigured,
    /// PskRequired, ClientAuthenticationRequired, UnsupportedSuite, UnsupportedPattern. `accepted` is the
    /// server's parsed list; only the requested name is parsed here.
    val protocolChoice: accepted: ProtocolName list -> requested: string -> Result<ProtocolName, RefusalCode>

    /// A refusal of a pattern by a server whose list of accepted names holds no hfs name: the server speaks only
    /// classical handshakes. The list is unauthenticated, so this only shapes the client's message (specs/PROTOCOL.md
    /// §8a: no fallback on a refusal's word); names that do not parse count as classical.
    val refusedAsClassicalOnly: code: RefusalCode -> supported: string list -> bool

    /// One option's rule, for a driver that checks each value as it is set (the facade's option setters); the
    /// configuration checks below apply the same functions. specs/PROTOCOL.md §9: a largest message of at least
    /// 1 byte.
    val checkMaxMessageSize: size: int -> Result<unit, WireError>

    /// specs/PROTOCOL.md §9: 1..`ConfigDefaults.MaxRecordData` bytes of data per record.
    val checkMaxRecordData: size: int -> Result<unit, WireError>

    /// specs/PROTOCOL.md §9: a rekey interval of at least 1 record and 1 byte.
    val checkRekey: rekey: RekeyPolicy -> Result<unit, WireError>

    /// Noise §9 "Pre-shared symmetric keys": a PSK is a 32-byte secret (`Noise (Init WrongPskLength)` otherwise).
    val checkPsk: psk: byte array -> Result<unit, WireError>

    /// specs/PROTOCOL.md §6: 0..255 characters of printable ASCII.
    val checkApplicationProtocol: name: string -> Result<unit, WireError>

    /// specs/PROTOCOL.md §9 limits a configuration must respect, and the application protocol's length (§6).
    val checkSizes:
        maxMessageSize: int ->
        maxRecordData: int ->
        rekey: RekeyPolicy ->
        applicationProtocol: string ->
            Result<unit, WireError>

    /// Whether a client configuration can work: an interactive pattern and sizes within the limits.
    val internal checkClient: config: ClientConfig -> Result<unit, WireError>

    /// Whether a server configuration can work: every accepted name is interactive, needs no client key in
    /// advance, and has the PSK and static key it needs; sizes within the limits; a 32-byte PSK.
    val internal checkServer: config: ServerConfig -> Result<unit, WireError>
