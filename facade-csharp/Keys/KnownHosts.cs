using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using HybridProtocol.Core.Formats;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace HybridProtocol;

/// <summary>
/// A known-hosts file for trust on first use, in the manner of OpenSSH's <c>~/.ssh/known_hosts</c> (specs/KEYS.md).
/// One entry per line: <c>HOST:PORT x25519 BASE64-KEY [comment]</c>, where the key is the 32 raw bytes of the
/// server's X25519 public key in standard base64 and an IPv6 host is written in brackets (<c>[::1]:443</c>).
/// Blank lines and lines starting with <c>#</c> are kept as they are. Several keys may be recorded for one host and
/// port (any of them is trusted).
/// <para>
/// The file is read afresh for every operation, so several instances, connections and tools can share it; changes
/// are written to a temporary 0600 file and renamed over the old one (atomic: readers see the old or the new file,
/// never a mix). Every read-modify-write (<see cref="Verify"/>, <see cref="Add"/>, <see cref="Remove"/>) runs under a
/// lock: within one process a lock per path, and between processes an exclusive lock on the file <c>PATH.lock</c>
/// beside it (an advisory <c>flock</c> on Linux and macOS, an exclusive open on Windows; retried for up to
/// <see cref="LockTimeout"/>), so concurrent first contacts from many processes keep every record. The lock file is
/// removed on release on Linux and Windows, where that is safe (<see cref="FileLock"/>), and left in place elsewhere.
/// </para>
/// </summary>
public sealed partial class KnownHosts
{
    /// <summary>The key type token of this format (only X25519 keys are used by HybridProtocol).</summary>
    public const string KeyType = "x25519";

    /// <summary>The environment variable that, when set, overrides <see cref="GetDefaultPath"/>.</summary>
    public const string PathEnvironmentVariable = "HYBRID_KNOWN_HOSTS";

    /// <summary>Files larger than this are refused (bounded memory): about a hundred thousand entries.</summary>
    internal const int MaxFileBytes = 8 * 1024 * 1024;

    /// <summary>How long an operation waits for another process's lock on the file before failing.</summary>
    internal static readonly TimeSpan LockTimeout = TimeSpan.FromSeconds(60);

    private static readonly ConcurrentDictionary<string, object> PathLocks = new(StringComparer.Ordinal);

    private readonly object _lock;

    private KnownHosts(string path)
    {
        Path = path;
        _lock = PathLocks.GetOrAdd(path, _ => new object());
    }

    /// <summary>The full path of the file.</summary>
    public string Path { get; }

    /// <summary>
    /// The file the <c>hybrid</c> command-line tool keeps its trust in: <c>$HYBRID_KNOWN_HOSTS</c> if set, else
    /// <c>hybrid/known_hosts</c> in the user's configuration directory (<see cref="Environment.SpecialFolder.ApplicationData"/>:
    /// <c>~/.config</c> or <c>$XDG_CONFIG_HOME</c> on Linux, <c>%APPDATA%</c> on Windows). The library itself never uses
    /// it unless the caller passes it (<see cref="LoadDefault"/>, or this path to <see cref="Load"/> or
    /// <see cref="ServerAuthentication.KnownHostsFile"/>), which shares trust with that tool.
    /// </summary>
    /// <exception cref="HybridProtocolException"><see cref="HybridErrorCode.InvalidArgument"/> when there is no configuration directory.</exception>
    public static string GetDefaultPath()
    {
        var overridden = Environment.GetEnvironmentVariable(PathEnvironmentVariable);
        if (!string.IsNullOrEmpty(overridden))
        {
            return System.IO.Path.GetFullPath(overridden);
        }

        var config = Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData);
        if (string.IsNullOrEmpty(config))
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidArgument,
                $"There is no user configuration directory for the known-hosts file (is HOME set?). Set {PathEnvironmentVariable} to a file path.");
        }

        return System.IO.Path.Combine(config, "hybrid", "known_hosts");
    }

    /// <summary>Opens the <c>hybrid</c> tool's known-hosts file, at <see cref="GetDefaultPath"/>, sharing its trust (see <see cref="Load"/>).</summary>
    /// <exception cref="HybridProtocolException">As <see cref="Load"/> and <see cref="GetDefaultPath"/>.</exception>
    public static KnownHosts LoadDefault() => Load(GetDefaultPath());

    /// <summary>
    /// Opens a known-hosts file and checks that it parses. A missing file is an empty store (it and its directory are
    /// created, owner-only, when the first key is recorded).
    /// </summary>
    /// <exception cref="HybridProtocolException">
    /// <see cref="HybridErrorCode.InvalidKey"/> when a line is malformed (the message names the file and line number);
    /// <see cref="HybridErrorCode.InvalidArgument"/> when the file cannot be read.
    /// </exception>
    public static KnownHosts Load(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, "The known-hosts path is empty.");
        }

        var store = new KnownHosts(System.IO.Path.GetFullPath(path));
        lock (store._lock)
        {
            _ = store.Read();
        }

        return store;
    }

    /// <summary>
    /// Checks the key a server presented: <see cref="KnownHostStatus.Trusted"/> if it is recorded for this host and
    /// port; <see cref="KnownHostStatus.FirstContact"/> if nothing is recorded (the key is recorded now);
    /// <see cref="KnownHostStatus.Changed"/> if other keys are recorded (nothing is written). Call
    /// <see cref="KnownHostResult.ThrowIfChanged"/> to refuse a changed key with the standard error.
    /// </summary>
    /// <exception cref="HybridProtocolException">
    /// <see cref="HybridErrorCode.InvalidArgument"/> for a bad host or port or an unwritable file;
    /// <see cref="HybridErrorCode.InvalidKey"/> when the file is malformed.
    /// </exception>
    public KnownHostResult Verify(string host, int port, PublicKey key)
    {
        var presented = HostKeyOf(key);
        var h = NormalizeHost(host);
        CheckPort(port);
        lock (_lock)
        {
            using var fileLock = LockFile();
            var lines = Read();
            var found = KnownHostsFile.verify(h, port, presented, lines);
            if (found is KnownHostMatch.Trusted trusted)
            {
                return new KnownHostResult(KnownHostStatus.Trusted, h, port, key, key, Path, trusted.line);
            }

            if (found is KnownHostMatch.RevokedKey revoked)
            {
                return new KnownHostResult(KnownHostStatus.Revoked, h, port, key, key, Path, revoked.line);
            }

            if (found is KnownHostMatch.Changed changed)
            {
                var recorded = PublicKey.FromOwnedRaw(changed.recorded.publicKey);
                return new KnownHostResult(KnownHostStatus.Changed, h, port, key, recorded, Path, changed.line);
            }

            var added = new KnownHostEntry(h, port, key, null, lines.Length + 1);
            Write(Append(lines, added));
            return new KnownHostResult(KnownHostStatus.FirstContact, h, port, key, null, Path, added.LineNumber);
        }
    }

    /// <summary>
    /// Records <paramref name="key"/> as trusted for <paramref name="host"/> and <paramref name="port"/>, beside any
    /// key already recorded there (to replace a key, <see cref="Remove"/> first). Returns false if it was already recorded.
    /// </summary>
    /// <exception cref="HybridProtocolException">As <see cref="Verify"/>; also InvalidArgument for a comment with a line break.</exception>
    public bool Add(string host, int port, PublicKey key, string? comment = null)
    {
        var presented = HostKeyOf(key);
        var h = NormalizeHost(host);
        CheckPort(port);
        var checkedComment = CheckedComment(comment);

        lock (_lock)
        {
            using var fileLock = LockFile();
            var lines = Read();
            if (KnownHostsFile.holds(h, port, presented, lines))
            {
                return false;
            }

            Write(Append(lines, new KnownHostEntry(h, port, key, OptionModule.IsSome(checkedComment) ? checkedComment!.Value : null, lines.Length + 1)));
            return true;
        }
    }

    /// <summary>
    /// Revokes <paramref name="key"/> (specs/KEYS.md, "Revoked keys"): writes <c>@revoked * x25519 KEY</c>, or
    /// <c>@revoked HOST:PORT x25519 KEY</c> when <paramref name="host"/> is given, after which <see cref="Verify"/> says
    /// <see cref="KnownHostStatus.Revoked"/> for it even where another line trusts it. Returns false if it was revoked already.
    /// </summary>
    /// <exception cref="HybridProtocolException">As <see cref="Verify"/>.</exception>
    public bool Revoke(PublicKey key, string? host = null, int port = 0, string? comment = null)
    {
        var revokedKey = HostKeyOf(key);
        var scope = RevokedScope.AnyHost;
        if (host is not null)
        {
            CheckPort(port);
            scope = RevokedScope.NewHostPort(NormalizeHost(host), port);
        }

        var checkedComment = CheckedComment(comment);

        lock (_lock)
        {
            using var fileLock = LockFile();
            var lines = Read();
            var already = lines.Any(l => l is KnownHostsLine.Revoked { Item: var r } && r.Scope.Equals(scope) && KnownHostsLineModule.sameKey(r.Key, revokedKey));
            if (already)
            {
                return false;
            }

            var line = KnownHostsLine.NewRevoked(new RevokedEntry(scope, revokedKey, checkedComment!));
            Write(ListModule.Append(lines, FSharpList<KnownHostsLine>.Cons(line, FSharpList<KnownHostsLine>.Empty)));
            return true;
        }
    }

    /// <summary>A line's free comment as the core checks it (one line, trimmed; none when empty).</summary>
    private static FSharpOption<string>? CheckedComment(string? comment)
    {
        var checkedComment = KnownHostsLineModule.comment(comment ?? "");
        return checkedComment.IsOk
            ? checkedComment.ResultValue
            : throw new HybridArgumentException(HybridErrorCode.InvalidArgument, "A known-hosts comment must be a single line.");
    }

    /// <summary>
    /// Removes the entries for <c>HOST:PORT</c>, or for every port of <c>HOST</c> when no port is given (IPv6 with a
    /// port in brackets: <c>[::1]:443</c>). Returns how many entries were removed; comments are kept.
    /// </summary>
    /// <exception cref="HybridProtocolException">As <see cref="Verify"/>.</exception>
    public int Remove(string hostAndOptionalPort)
    {
        ArgumentNullException.ThrowIfNull(hostAndOptionalPort);
        var parsed = HostPortModule.parse(HostPortRule.PortOptional, hostAndOptionalPort);
        if (parsed.IsError)
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidArgument,
                $"'{hostAndOptionalPort}' is not HOST or HOST:PORT: {HostPortMessages.Describe(parsed.ErrorValue)}.");
        }

        lock (_lock)
        {
            using var fileLock = LockFile();
            var (kept, removed) = KnownHostsFile.remove(parsed.ResultValue.Host, parsed.ResultValue.Port, Read());
            if (removed > 0)
            {
                Write(kept);
            }

            return removed;
        }
    }

    /// <summary>
    /// The error for a server whose key differs from the recorded one, in the manner of OpenSSH: it names the host, both
    /// fingerprints, where the old key is recorded, and how to accept the new key if it is genuine.
    /// </summary>
    public static HybridAuthenticationException ServerKeyChangedException(
        string host, int port, PublicKey recorded, PublicKey presented, string? knownHostsPath = null, int? line = null)
    {
        ArgumentNullException.ThrowIfNull(recorded);
        ArgumentNullException.ThrowIfNull(presented);
        var hostPort = HostPortModule.format(host, port);
        var where = knownHostsPath is null ? "" : line is null ? $" (recorded in {knownHostsPath})" : $" (recorded in {knownHostsPath} line {line})";
        var message = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"WARNING: the server key for {hostPort} has changed! ")
            .Append("Someone could be intercepting this connection (a man-in-the-middle attack), or the server's key was replaced. ")
            .Append(CultureInfo.InvariantCulture, $"Expected {recorded.Fingerprint}{where}, got {presented.Fingerprint}. ")
            .Append("The connection was refused. ")
            .Append(CultureInfo.InvariantCulture, $"If the new key is genuine, remove the old entry (KnownHosts.Remove for {hostPort}")
            .Append(knownHostsPath is null ? "" : line is null ? $", or edit {knownHostsPath}" : $", or delete line {line} of {knownHostsPath}")
            .Append(") and connect again. ")
            .Append("If the server's operator rotated its key while this client was offline (so it never saw the announcement of the new key), ")
            .Append(CultureInfo.InvariantCulture, $"check {presented.Fingerprint} with the operator and record it beside the old one (KnownHosts.Add for {hostPort}).")
            .ToString();
        return new HybridAuthenticationException(HybridErrorCode.ServerKeyChanged, message);
    }
}
