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
