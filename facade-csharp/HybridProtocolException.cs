namespace HybridProtocol;

/// <summary>
/// What went wrong, as a value a caller can switch on. Each code names one class of failure; the
/// exception message says what happened and what to do. Codes are stable: new ones are only appended.
/// </summary>
public enum HybridErrorCode
{
    /// <summary>The peer proved a key that the configured authentication refused (wrong pinned key, key not allowed, callback said no).</summary>
    AuthenticationFailed = 1,

    /// <summary>The server's key differs from the one recorded for this host (known-hosts): a possible man in the middle.</summary>
    ServerKeyChanged = 2,

    /// <summary>The handshake did not finish within the configured timeout.</summary>
    HandshakeTimeout = 3,

    /// <summary>The peer sent something the protocol does not allow (malformed frame, wrong record type, out-of-order message).</summary>
    ProtocolViolation = 4,

    /// <summary>A message is larger than the negotiated or configured limit.</summary>
    MessageTooLarge = 5,

    /// <summary>The connection ended without the peer's authenticated close: data may have been cut off.</summary>
    ConnectionTruncated = 6,

    /// <summary>The server refused the requested protocol version, pattern, suite or application protocol.</summary>
    PeerRefused = 7,

    /// <summary>Authenticated decryption failed: the data was altered, replayed, reordered, or the keys or PSK differ.</summary>
    DecryptionFailed = 8,

    /// <summary>A key or key file is malformed, of the wrong type, or has the wrong length.</summary>
    InvalidKey = 9,

    /// <summary>An argument or option is invalid (the message names it).</summary>
    InvalidArgument = 10,

    /// <summary>The object was used after a failure, after close, or in a state where the operation is not allowed.</summary>
    InvalidState = 11,

    /// <summary>The peer's public key is invalid for key agreement (for X25519, a low-order point).</summary>
    InvalidPeerKey = 12,

    /// <summary>A nonce or sequence number would repeat: the key has been used for as many messages as it may be.</summary>
    NonceExhausted = 13,

    /// <summary>A sealed file or message is malformed, truncated, reordered or tampered with.</summary>
    InvalidCiphertext = 14,

    /// <summary>The protocol name, pattern, suite or mode is unknown or unsupported here.</summary>
    Unsupported = 15,

    /// <summary>The underlying transport failed (socket error, connection reset, stream closed).</summary>
    TransportFailed = 16,

    /// <summary>Nothing was sent or received for the configured idle timeout, so the connection was closed (by this end, or by the peer).</summary>
    IdleTimeout = 17,

    /// <summary>
    /// A private key file can be read or changed by other users (group or others have access), so it is refused, as ssh
    /// refuses such keys; restrict it to its owner, or load it with <see cref="KeyLoadOptions.AllowInsecurePermissions"/>.
    /// </summary>
    InsecureKeyFile = 18,

    /// <summary>
    /// The TCP connection could not be opened within <see cref="SecureClientOptions.ConnectTimeout"/>: the server did not
    /// answer (a host that drops the connection attempt, a firewall, a server whose accept queue is full). A refused or
    /// unreachable address fails at once with <see cref="TransportFailed"/> instead.
    /// </summary>
    ConnectTimeout = 19,

    /// <summary>
    /// The peer proved a key that this end revokes (a known-hosts <c>@revoked</c> line, or the revoked keys of a pinned
    /// set or an allow-list): refused even where another setting trusts it. The peer must switch to a current key.
    /// </summary>
    KeyRevoked = 20,

    /// <summary>
    /// The server's announcement of its other keys (specs/PROTOCOL.md §6a) failed its check: a proof that does not match
    /// this connection (a copied announcement, or a key the server cannot prove), a repeated key, or a malformed list.
    /// </summary>
    KeyAnnouncementInvalid = 21,
    /// <summary>The client trusts an authority and the server sent no endorsement of its key (specs/PROTOCOL.md §6b).</summary>
    EndorsementMissing = 40,

    /// <summary>The server's endorsement is malformed or its signature does not verify (altered, or not signed by the key it names).</summary>
    BadEndorsement = 41,

    /// <summary>The server's endorsement is signed by an authority this client does not trust (for this host).</summary>
    UnknownAuthority = 42,

    /// <summary>The server's endorsement is for another key than the one the server proved in this handshake.</summary>
    EndorsementKeyMismatch = 43,

    /// <summary>The authority that signed the server's endorsement is revoked (a revoked server key is <see cref="KeyRevoked"/>).</summary>
    EndorsementRevoked = 44,

    /// <summary>The server's endorsement is not valid yet (its not-before is in the future).</summary>
    EndorsementNotYetValid = 45,

    /// <summary>The server's endorsement has expired (its not-after is in the past).</summary>
    EndorsementExpired = 46,

    /// <summary>The server's endorsement does not cover the host and port the client connected to.</summary>
    EndorsementWrongHost = 47,
}

/// <summary>
/// Why a server refused a connection: the status byte of specs/PROTOCOL.md §3 (a code this version does not know
/// keeps its number).
/// </summary>
public enum HybridRefusalCode : byte
{
    /// <summary>01: the server does not speak this protocol version.</summary>
    UnsupportedVersion = 0x01,

    /// <summary>02: the connection request was malformed.</summary>
    MalformedPreamble = 0x02,

    /// <summary>03: the server does not accept this handshake pattern (also: a hybrid client at a classical-only server, a client proving a key at a server that takes none).</summary>
    UnsupportedPattern = 0x03,

    /// <summary>04: the server accepts the pattern but not this cipher suite (or KEM).</summary>
    UnsupportedSuite = 0x04,

    /// <summary>05: the server requires a pre-shared key.</summary>
    PskRequired = 0x05,

    /// <summary>06: the client asked for a pre-shared key but the server has none.</summary>
    PskNotConfigured = 0x06,

    /// <summary>07: the server requires clients to prove a key.</summary>
    ClientAuthenticationRequired = 0x07,

    /// <summary>08: the server is busy.</summary>
    ServerBusy = 0x08,

    /// <summary>09: the server requires post-quantum hybrid key agreement and the client asked for classical.</summary>
    PostQuantumRequired = 0x09,

    /// <summary>0A: the client's first message did not arrive in time, or the server made room for a newer client; try again.</summary>
    TooSlow = 0x0A,
}

/// <summary>
/// What every exception HybridProtocol throws has in common: its <see cref="HybridErrorCode"/>. The exceptions belong to
/// the .NET families a caller already catches, and each of them implements this interface, so the code is read the
/// same way from any of them: <c>catch (Exception e) when (e is IHybridProtocolError { Code: HybridErrorCode.X })</c>.
/// The family follows the code (see <see cref="HybridProtocolException"/>):
/// <list type="bullet">
/// <item><see cref="HybridErrorCode.InvalidArgument"/> and <see cref="HybridErrorCode.InvalidKey"/>:
/// <see cref="HybridArgumentException"/>, an <see cref="ArgumentException"/>.</item>
/// <item><see cref="HybridErrorCode.InvalidState"/>: <see cref="HybridObjectDisposedException"/> (an
/// <see cref="ObjectDisposedException"/>) after dispose, otherwise <see cref="HybridInvalidOperationException"/>; both are
/// <see cref="InvalidOperationException"/>s.</item>
/// <item><see cref="HybridErrorCode.AuthenticationFailed"/> and <see cref="HybridErrorCode.ServerKeyChanged"/>:
/// <see cref="HybridAuthenticationException"/>, an <see cref="System.Security.Authentication.AuthenticationException"/>
/// (as SslStream's certificate failures).</item>
/// <item>Every other code (connection, protocol, transport, integrity, key file permissions):
/// <see cref="HybridProtocolException"/>, an <see cref="IOException"/>.</item>
/// </list>
/// </summary>
public interface IHybridProtocolError
{
    /// <summary>What went wrong, as a value a caller can switch on.</summary>
    HybridErrorCode Code { get; }
}

/// <summary>
/// A connection, protocol, transport or data failure: an <see cref="IOException"/>, so code that
/// already catches <c>IOException</c> around a stream or socket also catches these. Switch on <see cref="Code"/> (or on
/// <see cref="IHybridProtocolError.Code"/>, which every HybridProtocol exception has); the message explains what happened
/// and what to do. A refused key is a <see cref="HybridAuthenticationException"/> instead, and a caller's mistakes are
/// not of this type either: a bad argument, option or key is a
/// <see cref="HybridArgumentException"/> (<see cref="ArgumentException"/>), and a call in the wrong state is a
/// <see cref="HybridInvalidOperationException"/> or <see cref="HybridObjectDisposedException"/>
/// (<see cref="InvalidOperationException"/>).
/// </summary>
public sealed class HybridProtocolException : IOException, IHybridProtocolError
{
    /// <summary>Creates an exception with a code and a message that says what happened and what to do.</summary>
    public HybridProtocolException(HybridErrorCode code, string message)
        : base(message) => Code = code;

    /// <summary>Creates an exception with a code, a message and the underlying cause.</summary>
    public HybridProtocolException(HybridErrorCode code, string message, Exception? innerException)
        : base(message, innerException) => Code = code;

    /// <summary>What went wrong, as a value a caller can switch on.</summary>
    public HybridErrorCode Code { get; }

    /// <summary>
    /// For <see cref="HybridErrorCode.PeerRefused"/> from a server's refusal (either end): the refusal code of
    /// specs/PROTOCOL.md §3, e.g. <see cref="HybridRefusalCode.PostQuantumRequired"/>; otherwise null. The refusal
    /// is not authenticated, so a client never retries with weaker settings on its word alone.
    /// </summary>
    public HybridRefusalCode? Refusal { get; init; }
}

/// <summary>
/// The peer's key was refused (<see cref="HybridErrorCode.AuthenticationFailed"/>: a wrong pinned key, a key not on the
/// allow-list, a callback that said no, or the peer refused ours) or differs from the one recorded for the host
/// (<see cref="HybridErrorCode.ServerKeyChanged"/>). An <see cref="System.Security.Authentication.AuthenticationException"/>,
/// as SslStream throws for a certificate that fails validation, so code (and gRPC, which reports such a call as
/// <c>Internal</c>, not as a retryable <c>Unavailable</c>) tells it from a network failure.
/// </summary>
public sealed class HybridAuthenticationException : System.Security.Authentication.AuthenticationException, IHybridProtocolError
{
    /// <summary>Creates an exception with a code and a message that says what happened and what to do.</summary>
    public HybridAuthenticationException(HybridErrorCode code, string message)
        : base(message) => Code = code;

    /// <summary>Creates an exception with a code, a message and the underlying cause.</summary>
    public HybridAuthenticationException(HybridErrorCode code, string message, Exception? innerException)
        : base(message, innerException) => Code = code;

    /// <summary>What went wrong: <see cref="HybridErrorCode.AuthenticationFailed"/> or <see cref="HybridErrorCode.ServerKeyChanged"/>.</summary>
    public HybridErrorCode Code { get; }
}

/// <summary>
/// A caller's argument, option or key is invalid: <see cref="HybridErrorCode.InvalidArgument"/> or
/// <see cref="HybridErrorCode.InvalidKey"/> (a key's bytes or text, or the key file a path names). An
/// <see cref="ArgumentException"/>; <see cref="ArgumentException.ParamName"/> names the parameter or option when there is
/// one (e.g. <c>MaxMessageSize</c>).
/// </summary>
public sealed class HybridArgumentException : ArgumentException, IHybridProtocolError
{
    /// <summary>Creates an exception with a code and a message that says what is wrong and what to do.</summary>
    public HybridArgumentException(HybridErrorCode code, string message)
        : base(message) => Code = code;

    /// <summary>Creates an exception with a code, a message and the underlying cause.</summary>
    public HybridArgumentException(HybridErrorCode code, string message, Exception? innerException)
        : base(message, innerException) => Code = code;

    /// <summary>Creates an exception with a code, a message and the name of the parameter or option that is wrong.</summary>
    public HybridArgumentException(HybridErrorCode code, string message, string? paramName)
        : base(message, paramName) => Code = code;

    /// <summary>What went wrong: <see cref="HybridErrorCode.InvalidArgument"/> or <see cref="HybridErrorCode.InvalidKey"/>.</summary>
    public HybridErrorCode Code { get; }
}

/// <summary>
/// The call is not allowed in the object's current state (<see cref="HybridErrorCode.InvalidState"/>): a listener not
/// started, a handshake not finished, a connection already closed. An <see cref="InvalidOperationException"/>.
/// </summary>
public sealed class HybridInvalidOperationException : InvalidOperationException, IHybridProtocolError
{
    /// <summary>Creates an exception with a message that says what is not allowed now and what to do.</summary>
    public HybridInvalidOperationException(string message)
        : base(message) { }

    /// <summary>Creates an exception with a message and the underlying cause.</summary>
    public HybridInvalidOperationException(string message, Exception? innerException)
        : base(message, innerException) { }

    /// <summary>Always <see cref="HybridErrorCode.InvalidState"/>.</summary>
    public HybridErrorCode Code => HybridErrorCode.InvalidState;
}

/// <summary>
/// The object was used after it was disposed (<see cref="HybridErrorCode.InvalidState"/>). An
/// <see cref="ObjectDisposedException"/>, so also an <see cref="InvalidOperationException"/>.
/// </summary>
public sealed class HybridObjectDisposedException : ObjectDisposedException, IHybridProtocolError
{
    /// <summary>Creates an exception naming the disposed object's type and saying what to do.</summary>
    public HybridObjectDisposedException(string? objectName, string message)
        : base(objectName, message) { }

    /// <summary>Always <see cref="HybridErrorCode.InvalidState"/>.</summary>
    public HybridErrorCode Code => HybridErrorCode.InvalidState;
}

/// <summary>Makes the exception of the family a <see cref="HybridErrorCode"/> belongs to (<see cref="IHybridProtocolError"/>).</summary>
internal static class HybridErrors
{
    /// <summary>The exception for a code: ArgumentException, InvalidOperationException or IOException family.</summary>
    public static Exception Create(HybridErrorCode code, string message, Exception? innerException = null) => code switch
    {
        HybridErrorCode.InvalidArgument or HybridErrorCode.InvalidKey => new HybridArgumentException(code, message, innerException),
        HybridErrorCode.InvalidState => new HybridInvalidOperationException(message, innerException),
        HybridErrorCode.AuthenticationFailed or HybridErrorCode.ServerKeyChanged => new HybridAuthenticationException(code, message, innerException),
        >= HybridErrorCode.EndorsementMissing and <= HybridErrorCode.EndorsementWrongHost => new HybridAuthenticationException(code, message, innerException),
        _ => new HybridProtocolException(code, message, innerException),
    };

    /// <summary>
    /// The exception for a call after an earlier failure: the same family and code, the earlier one as the cause (a
    /// disposed object stays an <see cref="ObjectDisposedException"/>).
    /// </summary>
    public static Exception Again(Exception earlier, string message) => earlier switch
    {
        ObjectDisposedException d => new HybridObjectDisposedException(d.ObjectName, message),
        HybridProtocolException { Refusal: { } refusal } h => new HybridProtocolException(h.Code, message, h) { Refusal = refusal },
        _ => Create(CodeOf(earlier), message, earlier),
    };

    /// <summary>The code of an exception of any of the families (the caller knows it is one of ours).</summary>
    public static HybridErrorCode CodeOf(Exception e) => e is IHybridProtocolError h ? h.Code : HybridErrorCode.TransportFailed;
}
