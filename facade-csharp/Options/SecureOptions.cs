using HybridProtocol.Connections;
using HybridProtocol.Core.Wire;
using Microsoft.Extensions.Logging;
using Microsoft.FSharp.Core;

namespace HybridProtocol;

/// <summary>
/// Whether a connection adds post-quantum key agreement to X25519: the handshake pattern's hfs twin (Noise HFS with
/// ML-KEM-768, e.g. <c>Noise_XXhfs_25519+MLKEM768_ChaChaPoly_BLAKE2b</c>), so that traffic recorded today stays
/// confidential against a later quantum computer as long as ML-KEM-768 holds (specs/PROTOCOL.md, "Post-quantum hybrid
/// key agreement"). It costs about 2.3 KB per handshake and little CPU.
/// </summary>
public enum PostQuantumMode
{
    /// <summary>The default. Client: ask for the hybrid pattern, and never fall back to a classical one on its own
    /// (a refusal is reported with its code). Server: accept hybrid and classical clients; each client chooses.</summary>
    Hybrid = 0,

    /// <summary>Client: as <see cref="Hybrid"/>. Server: accept only hybrid clients; a classical client is refused with
    /// refusal code 0x09 (PostQuantumRequired).</summary>
    Required = 1,

    /// <summary>X25519 only. Client: ask for the classical pattern. Server: accept only classical clients (a hybrid
    /// client is refused with 0x03, UnsupportedPattern, as a server without post-quantum support refuses it).</summary>
    Classical = 2,
}

/// <summary>
/// What client and server options share. Every setter checks its value and throws
/// <see cref="HybridArgumentException"/> (an <see cref="ArgumentException"/> whose ParamName is the option's name) with
/// <see cref="HybridErrorCode.InvalidArgument"/> for a bad one, so a
/// misconfiguration shows where it is made (SslClientAuthenticationOptions is the model). A connection copies the
/// values when it starts; changing options later does not affect it.
/// </summary>
public abstract class SecureConnectionOptions
{
    /// <summary>16 MiB: the default <see cref="MaxMessageSize"/>.</summary>
    public const int DefaultMaxMessageSize = ConfigDefaults.MaxMessageSize;

    private byte[]? preSharedKey;
    private string applicationProtocol = "hybrid";
    private int maxMessageSize = DefaultMaxMessageSize;
    private TimeSpan closeTimeout = TimeSpan.FromSeconds(10);
    private TimeSpan idleTimeout = Timeout.InfiniteTimeSpan;
    private TimeSpan handshakeTimeout = TimeSpan.FromSeconds(10);
    private long rekeyAfterBytes = RekeyPolicyModule.Default.AfterBytes;
    private long rekeyAfterRecords = RekeyPolicyModule.Default.AfterRecords;
    private int maxRecordData = ConfigDefaults.MaxRecordData;
    private PostQuantumMode postQuantum = PostQuantumMode.Hybrid;

    private protected SecureConnectionOptions()
    {
    }

    /// <summary>
    /// An optional 32-byte secret both ends share, as an extra factor (Noise psk modifiers: NKpsk2, NXpsk2, XXpsk3,
    /// IKpsk2). A connection whose ends hold different keys fails with <see cref="HybridErrorCode.DecryptionFailed"/>.
    /// A server with a pre-shared key accepts only clients that use it. The value is copied.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when the key is not exactly 32 bytes.</exception>
    public byte[]? PreSharedKey
    {
        get => preSharedKey is null ? null : (byte[])preSharedKey.Clone();
        set
        {
            if (value is not null)
            {
                Check(Policy.checkPsk(value), $"PreSharedKey ({value.Length} bytes; generate one with RandomNumberGenerator.GetBytes(32))");
            }

            preSharedKey = value is null ? null : (byte[])value.Clone();
        }
    }

    /// <summary>
    /// The application protocol both ends must name (like TLS ALPN), 0 to 255 characters of printable ASCII; default
    /// <c>"hybrid"</c>. Ends naming different protocols fail the handshake with <see cref="HybridErrorCode.PeerRefused"/>.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument for a longer or non-ASCII name.</exception>
    public string ApplicationProtocol
    {
        get => applicationProtocol;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            applicationProtocol = Check(Policy.checkApplicationProtocol(value), "ApplicationProtocol", value);
        }
    }

    /// <summary>
    /// The largest message (in bytes) this end accepts; it is announced to the peer, which then refuses to send
    /// larger ones (its send throws <see cref="HybridErrorCode.MessageTooLarge"/>). Default 16 MiB.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when not positive.</exception>
    public int MaxMessageSize
    {
        get => maxMessageSize;
        set => maxMessageSize = Check(Policy.checkMaxMessageSize(value), "MaxMessageSize", value);
    }

    /// <summary>
    /// How long the handshake may take, from the first byte sent to the last byte received; default 10 seconds. A
    /// silent or slow peer fails with <see cref="HybridErrorCode.HandshakeTimeout"/> and the stream is closed.
    /// <see cref="Timeout.InfiniteTimeSpan"/> disables the limit (not recommended for servers).
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when zero or negative (other than infinite).</exception>
    public TimeSpan HandshakeTimeout
    {
        get => handshakeTimeout;
        set => handshakeTimeout = PositiveOrInfinite(value, nameof(HandshakeTimeout));
    }

    /// <summary>
    /// How long <see cref="SecureConnection.CloseAsync"/> may take to send this end's close and receive the peer's;
    /// default 10 seconds. <see cref="Timeout.InfiniteTimeSpan"/> disables the limit.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when zero or negative (other than infinite).</exception>
    public TimeSpan CloseTimeout
    {
        get => closeTimeout;
        set => closeTimeout = PositiveOrInfinite(value, nameof(CloseTimeout));
    }

    /// <summary>
    /// When nothing is sent or received for this long, the connection closes itself (an authenticated close with
    /// reason IdleTimeout) and fails with <see cref="HybridErrorCode.IdleTimeout"/>. Default
    /// <see cref="Timeout.InfiniteTimeSpan"/> (never).
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when zero or negative (other than infinite).</exception>
    public TimeSpan IdleTimeout
    {
        get => idleTimeout;
        set => idleTimeout = PositiveOrInfinite(value, nameof(IdleTimeout));
    }

    /// <summary>
    /// After this many bytes of data sent under one key, the sender switches to a new key on its own (a KeyUpdate
    /// record, Noise §11.3 Rekey). Default 1 GiB.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when not positive.</exception>
    public long RekeyAfterBytes
    {
        get => rekeyAfterBytes;
        set => rekeyAfterBytes = Check(Policy.checkRekey(new(rekeyAfterRecords, value)), "RekeyAfterBytes", value);
    }

    /// <summary>After this many records sent under one key, the sender switches to a new key. Default 2^20.</summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when not positive.</exception>
    public long RekeyAfterRecords
    {
        get => rekeyAfterRecords;
        set => rekeyAfterRecords = Check(Policy.checkRekey(new(value, rekeyAfterBytes)), "RekeyAfterRecords", value);
    }

    /// <summary>
    /// Post-quantum hybrid key agreement (X25519 + ML-KEM-768, Noise HFS); default <see cref="PostQuantumMode.Hybrid"/>
    /// on both ends. See <see cref="PostQuantumMode"/> for what each value does on a client and on a server.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument for a value outside the enum.</exception>
    public PostQuantumMode PostQuantum
    {
        get => postQuantum;
        set => postQuantum = Enum.IsDefined(value) ? value : throw Invalid($"PostQuantum: {(int)value} is not a PostQuantumMode value.", nameof(PostQuantum));
    }

    /// <summary>
    /// Where connection events go (<see cref="HybridProtocolEvents"/>: handshake completed or failed, connection
    /// closed, key updated; a <see cref="SecureListener"/> also logs accepted and refused clients). Default none. The
    /// events carry fingerprints, error codes and addresses, never a key, a secret or application data.
    /// </summary>
    public ILogger? Logger { get; set; }

    /// <summary>
    /// Where the metrics go: the <see cref="System.Diagnostics.Metrics.IMeterFactory"/> that makes the
    /// <see cref="HybridProtocolDiagnostics.MeterName"/> meter (so a host's DI container owns it, as ASP.NET Core does;
    /// <c>AddHybridProtocol</c> sets it from DI). Default null: one static meter of that name.
    /// </summary>
    public System.Diagnostics.Metrics.IMeterFactory? MeterFactory { get; set; }

    /// <summary>The most data per record (tests use small values to exercise fragmentation).</summary>
    internal int MaxRecordData
    {
        get => maxRecordData;
        set => maxRecordData = Check(Policy.checkMaxRecordData(value), "MaxRecordData", value);
    }

    /// <summary>
    /// TCP keep-alive for connections over TCP: after this long without traffic the operating system probes the peer,
    /// every this long again, and drops a connection whose peer has gone (the next call then fails with
    /// <see cref="HybridErrorCode.TransportFailed"/>). Whole seconds, at least 1. Default
    /// <see cref="Timeout.InfiniteTimeSpan"/>: no keep-alive (the operating system's default).
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when under 1 second (other than infinite).</exception>
    public TimeSpan TcpKeepAlive
    {
        get => tcpKeepAlive;
        set => tcpKeepAlive = value >= TimeSpan.FromSeconds(1) || value == Timeout.InfiniteTimeSpan
            ? value
            : throw Invalid($"TcpKeepAlive must be at least 1 second or Timeout.InfiniteTimeSpan, not {value}.", nameof(TcpKeepAlive));
    }

    private TimeSpan tcpKeepAlive = Timeout.InfiniteTimeSpan;

    internal Core.Wire.RekeyPolicy RekeyPolicy => new(rekeyAfterRecords, rekeyAfterBytes);

    internal byte[]? PreSharedKeyNoCopy => preSharedKey;

    /// <summary>
    /// Fixed handshake secrets instead of fresh ones, for the whole-session vectors of specs/vectors only (internal:
    /// the tests replay the vectors through this class). Null, always outside the tests: fresh secrets per connection.
    /// </summary>
    internal FixedSecretsForTestVectorsOnly? FixedSecretsForTestVectorsOnly { get; set; }

    private protected static HybridArgumentException Invalid(string message, string? option = null) => new(HybridErrorCode.InvalidArgument, message, option);

    /// <summary>Applies the core's rule for one option (<c>Policy.check...</c>): the value, or InvalidArgument worded from the core's reason.</summary>
    private static T Check<T>(FSharpResult<Unit, WireError> rule, string option, T value)
    {
        Check(rule, option);
        return value;
    }

    private static void Check(FSharpResult<Unit, WireError> rule, string option)
    {
        if (rule.IsError)
        {
            throw Invalid($"{option}: {WireErrors.DescribeOption(rule.ErrorValue)}.", option);
        }
    }

    private protected static TimeSpan PositiveOrInfinite(TimeSpan value, string name) => value > TimeSpan.Zero || value == Timeout.InfiniteTimeSpan
        ? value
        : throw Invalid($"{name} must be positive or Timeout.InfiniteTimeSpan, not {value}.", name);
}

/// <summary>Options for a client connection (<see cref="SecureConnection.ConnectAsync"/>).</summary>
public sealed class SecureClientOptions : SecureConnectionOptions
{
    private ServerAuthentication? serverAuthentication;
    private SecureSuite suite = SecureSuite.ChaChaPolyBlake2b;

    /// <summary>
    /// How the server's key is checked. Required: connecting without it throws InvalidArgument. See
    /// <see cref="HybridProtocol.ServerAuthentication"/> for the modes.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when set to null.</exception>
    public ServerAuthentication? ServerAuthentication
    {
        get => serverAuthentication;
        set => serverAuthentication = value ?? throw Invalid("ServerAuthentication cannot be null: choose Pinned, KnownHosts, Callback or (for experiments) DangerousAcceptAnyServerKey.", nameof(ServerAuthentication));
    }

    /// <summary>
    /// The client's own static key, proved to the server during the handshake (XX or IK), for servers that
    /// authenticate clients. Null (the default): the client stays anonymous. Not disposed by the connection.
    /// </summary>
    public PrivateKey? ClientIdentity { get; set; }

    /// <summary>
    /// How long <see cref="SecureConnection.ConnectAsync"/> may take to open the TCP connection; default 10 seconds.
    /// A server that does not answer in time fails with <see cref="HybridErrorCode.ConnectTimeout"/> (one that refuses
    /// at once, with <see cref="HybridErrorCode.TransportFailed"/>).
    /// <see cref="Timeout.InfiniteTimeSpan"/> leaves it to the operating system (about two minutes on Linux).
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when zero or negative (other than infinite).</exception>
    public TimeSpan ConnectTimeout
    {
        get => connectTimeout;
        set => connectTimeout = PositiveOrInfinite(value, nameof(ConnectTimeout));
    }

    private TimeSpan connectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>The suite to ask for; the server refuses one it does not accept (<see cref="HybridErrorCode.PeerRefused"/>, naming what it supports).</summary>
    /// <exception cref="HybridArgumentException">InvalidArgument for a value outside the enum.</exception>
    public SecureSuite Suite
    {
        get => suite;
        set
        {
            SecureSuites.Check(value, nameof(Suite));
            suite = value;
        }
    }
}

/// <summary>Options for a server (<see cref="SecureListener"/>, <see cref="SecureConnection.AuthenticateAsServerAsync"/>).</summary>
public sealed class SecureServerOptions : SecureConnectionOptions
{
    private PrivateKey[] serverKeys = [];
    private ClientAuthentication clientAuthentication = ClientAuthentication.None;
    private SecureSuite[] acceptedSuites = [SecureSuite.ChaChaPolyBlake2b, SecureSuite.AesGcmSha256];
    private TimeSpan handshakeMessageTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long the server waits for each client message after the first flight (specs/PROTOCOL.md [S4] and [S6]):
    /// message 3 of XX, and, where the server writes the last handshake message (NK, NX, IK), the client's first
    /// authenticated record, which shows it holds its ephemeral key. Default 2 s; always within
    /// <see cref="SecureConnectionOptions.HandshakeTimeout"/>. <see cref="Timeout.InfiniteTimeSpan"/> leaves only the
    /// handshake timeout (which then also bounds the wait for the first record).
    /// </summary>
    /// <exception cref="HybridProtocolException">InvalidArgument when zero or negative (other than infinite).</exception>
    public TimeSpan HandshakeMessageTimeout
    {
        get => handshakeMessageTimeout;
        set => handshakeMessageTimeout = PositiveOrInfinite(value, nameof(HandshakeMessageTimeout));
    }

    /// <summary>
    /// The server's static key, the one clients pin or record: an X25519 key (the Noise DH key; keys of other
    /// algorithms serve only sealed files). Required (or <see cref="ServerKeys"/>). Setting it replaces
    /// <see cref="ServerKeys"/> with this one key; reading it gives the current key (the first of <see cref="ServerKeys"/>).
    /// Not disposed by connections or listeners.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when set to null.</exception>
    /// <exception cref="ArgumentException">The key is not an X25519 key (P-256, ML-KEM-768, X-Wing...): no connection could use it.</exception>
    public PrivateKey? ServerKey
    {
        get => serverKeys.Length > 0 ? serverKeys[0] : null;
        set
        {
            var key = value ?? throw Invalid("ServerKey cannot be null: load one with PrivateKey.Load or make one with PrivateKey.Generate.", nameof(ServerKey));
            CheckServerKey(key);
            serverKeys = [key];
        }
    }

    /// <summary>
    /// The server's static keys during a rotation (specs/PROTOCOL.md §6a): the first is the current key (the one NX/XX
    /// handshakes present); a client that pinned any of them (NK/IK) is served with that one. With
    /// <see cref="AnnounceServerKeys"/> each connection announces the others with a proof of possession, so
    /// known-hosts clients record them before the switch. 1 to 4 X25519 keys; the list is copied, and a listener's
    /// new connections use the new list at once (assign a new list to rotate a running server).
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when null, empty, with more than 4 keys, or with a repeated key.</exception>
    /// <exception cref="ArgumentException">A key is not an X25519 key.</exception>
    public IReadOnlyList<PrivateKey> ServerKeys
    {
        get => serverKeys;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            var keys = value.ToArray();
            if (keys.Length == 0 || keys.Length > Core.Wire.ConfigDefaults.MaxServerKeys)
            {
                throw Invalid($"ServerKeys must hold 1 to {Core.Wire.ConfigDefaults.MaxServerKeys} keys (it holds {keys.Length}).", nameof(ServerKeys));
            }

            foreach (var key in keys)
            {
                CheckServerKey(key ?? throw Invalid("ServerKeys cannot hold null.", nameof(ServerKeys)));
            }

            if (keys.Select(k => k.PublicKey).Distinct().Count() != keys.Length)
            {
                throw Invalid("ServerKeys holds the same key twice.", nameof(ServerKeys));
            }

            serverKeys = keys;
        }
    }

    /// <summary>
    /// Whether a server holding several <see cref="ServerKeys"/> announces the ones a handshake did not use, each with a
    /// proof bound to that connection (specs/PROTOCOL.md §6a); default true. Clients of earlier versions skip it.
    /// </summary>
    public bool AnnounceServerKeys { get; set; } = true;

    private static void CheckServerKey(PrivateKey key)
    {
        if (key.Algorithm != KeyAlgorithm.X25519)
        {
            throw new ArgumentException(
                $"ServerKey must be an X25519 key, not {KeyAlgorithms.Name(key.Algorithm)}: connections use X25519 (Noise DH); keys of other algorithms are for sealed files. Make one with PrivateKey.Generate().",
                "value");
        }
    }

    /// <summary>
    /// The authority's endorsement of <see cref="ServerKey"/>, sent inside the encrypted handshake to clients that trust
    /// the authority (<see cref="ServerAuthentication.Authority"/>, a known-hosts <c>@authority</c> line); null (the
    /// default) sends none. Load one with <see cref="ServerEndorsement.Load"/>. Checked against the key when a connection
    /// starts: an endorsement of another key fails the handshake with InvalidArgument.
    /// </summary>
    public ServerEndorsement? Endorsement { get; set; }

    /// <summary>Whether and how clients must prove a key; default <see cref="ClientAuthentication.None"/>.</summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when set to null.</exception>
    public ClientAuthentication ClientAuthentication
    {
        get => clientAuthentication;
        set => clientAuthentication = value ?? throw Invalid("ClientAuthentication cannot be null; use ClientAuthentication.None.", nameof(ClientAuthentication));
    }

    /// <summary>The suites this server accepts; default ChaChaPoly/BLAKE2b and AES-GCM/SHA-256. The list is copied.</summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when empty or holding a value outside the enum.</exception>
    public IReadOnlyList<SecureSuite> AcceptedSuites
    {
        get => acceptedSuites;
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (value.Count == 0)
            {
                throw Invalid("AcceptedSuites must name at least one suite.", nameof(AcceptedSuites));
            }

            foreach (var s in value)
            {
                SecureSuites.Check(s, nameof(AcceptedSuites));
            }

            acceptedSuites = value.Distinct().ToArray();
        }
    }
}

/// <summary>
/// One handshake's secrets fixed in advance (specs/vectors, session vectors): the X25519 ephemeral private key (32
/// bytes), the ML-KEM seed d || z of Noise HFS "e1" (64 bytes, client) and the encapsulation randomness of "ekem1"
/// (32 bytes, server). Reusing them destroys forward secrecy; internal, for the tests only.
/// </summary>
internal sealed record FixedSecretsForTestVectorsOnly(byte[] Ephemeral, byte[]? KemSeed, byte[]? EncapsulationRandomness);
