using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace HybridProtocol.Cli;

/// <summary>
/// The process exit codes of <c>hybrid</c>, one per class of failure (documented in cli/README.md). Every failure
/// is mapped here, in <see cref="For"/>, and nowhere else.
/// </summary>
internal enum ExitCode
{
    /// <summary>The command did what was asked.</summary>
    Success = 0,

    /// <summary>Any other failure (including "nothing to remove").</summary>
    Other = 1,

    /// <summary>The command line is wrong: unknown command or option, missing or malformed argument.</summary>
    Usage = 2,

    /// <summary>A key or file cannot be read, written or used: missing file, not a key, wrong key type, refusing to overwrite.</summary>
    KeyOrFile = 3,

    /// <summary>The peer's key is not the expected one: pin mismatch, key not allowed, server key changed (known hosts).</summary>
    Authentication = 4,

    /// <summary>The connection failed: unreachable host, refused connection, port in use, timeout, transport error, protocol violation.</summary>
    Network = 5,

    /// <summary>Data did not verify: decryption failed, sealed file damaged or cut off, transfer hash mismatch, connection truncated.</summary>
    Integrity = 6,

    /// <summary>The peer refused the request (version, pattern, suite or application protocol).</summary>
    Refused = 7,

    /// <summary>Interrupted (Ctrl+C), as shells report 128 + SIGINT; SIGHUP, SIGQUIT and SIGTERM give 128 + their number (<see cref="ExitCodes.ForSignal"/>).</summary>
    Interrupted = 130,

    /// <summary>Terminated (SIGTERM), as shells report 128 + SIGTERM.</summary>
    Terminated = 143,

    /// <summary>The output pipe was closed by its reader (<c>| head</c>), as shells report 128 + SIGPIPE.</summary>
    OutputClosed = 141,
}

/// <summary>A failure the tool itself detects, with the exit code to use and a message that says what to do.</summary>
internal sealed class CliException(ExitCode code, string message, Exception? inner = null) : Exception(message, inner)
{
    /// <summary>The exit code for this failure.</summary>
    public ExitCode Code { get; } = code;
}

/// <summary>Maps exceptions to exit codes: the one place where failure classes are decided.</summary>
internal static class ExitCodes
{
    /// <summary>The exit code for a failure.</summary>
    public static ExitCode For(Exception e) => e switch
    {
        CliException c => c.Code,
        IHybridProtocolError h => For(h.Code),
        OperationCanceledException => ExitCode.Interrupted,
        SocketException => ExitCode.Network,
        IOException { InnerException: SocketException } => ExitCode.Network,
        FileNotFoundException or DirectoryNotFoundException or UnauthorizedAccessException or IOException => ExitCode.KeyOrFile,
        _ => ExitCode.Other,
    };

    /// <summary>The exit code after a signal: 128 + its number (SIGHUP 129, SIGINT 130, SIGQUIT 131, SIGTERM 143).</summary>
    public static int ForSignal(PosixSignal signal) => signal switch
    {
        PosixSignal.SIGHUP => 129,
        PosixSignal.SIGQUIT => 131,
        PosixSignal.SIGTERM => (int)ExitCode.Terminated,
        _ => (int)ExitCode.Interrupted,
    };

    /// <summary>The exit code for a library error code.</summary>
    public static ExitCode For(HybridErrorCode code) => code switch
    {
        HybridErrorCode.AuthenticationFailed or HybridErrorCode.ServerKeyChanged or HybridErrorCode.InvalidPeerKey
            or HybridErrorCode.KeyRevoked or HybridErrorCode.KeyAnnouncementInvalid => ExitCode.Authentication,
        >= HybridErrorCode.EndorsementMissing and <= HybridErrorCode.EndorsementWrongHost => ExitCode.Authentication,
        HybridErrorCode.HandshakeTimeout or HybridErrorCode.ConnectTimeout or HybridErrorCode.TransportFailed
            or HybridErrorCode.ProtocolViolation or HybridErrorCode.MessageTooLarge => ExitCode.Network,
        HybridErrorCode.DecryptionFailed or HybridErrorCode.InvalidCiphertext or HybridErrorCode.ConnectionTruncated => ExitCode.Integrity,
        HybridErrorCode.PeerRefused => ExitCode.Refused,
        HybridErrorCode.InvalidKey or HybridErrorCode.InvalidArgument or HybridErrorCode.InsecureKeyFile => ExitCode.KeyOrFile,
        _ => ExitCode.Other,
    };
}
