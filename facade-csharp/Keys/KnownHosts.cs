using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace HybridProtocol;

/// <summary>What <see cref="KnownHosts.Verify"/> found for a server's key.</summary>
public enum KnownHostStatus
{
    /// <summary>The key is recorded for this host and port: proceed.</summary>
    Trusted = 1,

    /// <summary>Nothing was recorded for this host and port; the key has now been recorded (trust on first use).</summary>
    FirstContact = 2,

    /// <summary>A different key is recorded for this host and port: refuse the connection (possible man in the middle).</summary>
    Changed = 3,
}

/// <summary>The outcome of <see cref="KnownHosts.Verify"/>: what was found, for which host, and which keys.</summary>
public sealed class KnownHostResult
{
    internal KnownHostResult(KnownHostStatus status, string host, int port, PublicKey presented, PublicKey? recorded, string path, int? recordedLine)
    {
        Status = status;
        Host = host;
        Port = port;
        PresentedKey = presented;
        RecordedKey = recorded;
        Path = path;
        RecordedLine = recordedLine;
    }

    /// <summary>Trusted, first contact (now recorded), or changed.</summary>
    public KnownHostStatus Status { get; }

    /// <summary>The host as recorded (lower case; IP addresses in canonical form, IPv6 without brackets).</summary>
    public string Host { get; }

    /// <summary>The port.</summary>
    public int Port { get; }

    /// <summary>The key the server presented.</summary>
    public PublicKey PresentedKey { get; }

    /// <summary>
    /// The recorded key: equal to <see cref="PresentedKey"/> when trusted, the key that was expected when changed,
    /// and null on first contact.
    /// </summary>
    public PublicKey? RecordedKey { get; }

    /// <summary>The known-hosts file.</summary>
    public string Path { get; }

    /// <summary>The file's line (1-based) holding <see cref="RecordedKey"/>, or holding the new record on first contact.</summary>
    public int? RecordedLine { get; }

    /// <summary>
    /// Throws the <see cref="HybridErrorCode.ServerKeyChanged"/> exception when <see cref="Status"/> is
    /// <see cref="KnownHostStatus.Changed"/>; does nothing otherwise.
    /// </summary>
    /// <exception cref="HybridProtocolException">The server key changed; the message names both fingerprints and the fix.</exception>
    public void ThrowIfChanged()
    {
        if (Status == KnownHostStatus.Changed && RecordedKey is not null)
        {
            throw KnownHosts.ServerKeyChangedException(Host, Port, RecordedKey, PresentedKey, Path, RecordedLine);
        }
    }

    /// <summary>One sentence for a log or a terminal.</summary>
    public override string ToString() => Status switch
    {
        KnownHostStatus.Trusted => $"The key {PresentedKey.Fingerprint} of {KnownHosts.FormatHostPort(Host, Port)} matches {Path} line {RecordedLine}.",
        KnownHostStatus.FirstContact => $"First contact with {KnownHosts.FormatHostPort(Host, Port)}: recorded its key {PresentedKey.Fingerprint} in {Path} line {RecordedLine}.",
        _ => $"The key of {KnownHosts.FormatHostPort(Host, Port)} has changed: expected {RecordedKey?.Fingerprint} ({Path} line {RecordedLine}), got {PresentedKey.Fingerprint}.",
    };
}

/// <summary>One trusted key in a known-hosts file.</summary>
public sealed class KnownHostEntry
{
    internal KnownHostEntry(string host, int port, PublicKey key, string? comment, int lineNumber)
    {
        Host = host;
        Port = port;
        Key = key;
        Comment = comment;
        LineNumber = lineNumber;
    }

    /// <summary>The host (lower case; IP addresses canonical, IPv6 without brackets).</summary>
    public string Host { get; }

    /// <summary>The port.</summary>
    public int Port { get; }

    /// <summary>The trusted key.</summary>
    public PublicKey Key { get; }

    /// <summary>Free text after the key on the line, or null.</summary>
    public string? Comment { get; }

    /// <summary>The line (1-based) of the file where the entry was read.</summary>
    public int LineNumber { get; }

    /// <summary>The entry as a known-hosts line (without the line end).</summary>
    public override string ToString() =>
        KnownHosts.FormatHostPort(Host, Port) + " " + KnownHosts.KeyType + " " + Convert.ToBase64String(Key.RawBytes.Span)
        + (Comment is null ? "" : " " + Comment);
}

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
public sealed class KnownHosts
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
        ArgumentNullException.ThrowIfNull(key);
        var h = NormalizeHost(host);
        CheckPort(port);
        lock (_lock)
        {
            using var fileLock = LockFile();
            var lines = Read();
            KnownHostEntry? first = null;
            foreach (var line in lines)
            {
                if (line.Entry is { } e && e.Host == h && e.Port == port)
                {
                    if (e.Key.Equals(key))
                    {
                        return new KnownHostResult(KnownHostStatus.Trusted, h, port, key, e.Key, Path, e.LineNumber);
                    }

                    first ??= e;
                }
            }

            if (first is not null)
            {
                return new KnownHostResult(KnownHostStatus.Changed, h, port, key, first.Key, Path, first.LineNumber);
            }

            var added = new KnownHostEntry(h, port, key, null, lines.Count + 1);
            lines.Add(new Line(null, added));
            Write(lines);
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
        ArgumentNullException.ThrowIfNull(key);
        var h = NormalizeHost(host);
        CheckPort(port);
        if (comment is not null && (comment.Contains('\n', StringComparison.Ordinal) || comment.Contains('\r', StringComparison.Ordinal)))
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, "A known-hosts comment must be a single line.");
        }

        comment = string.IsNullOrWhiteSpace(comment) ? null : comment.Trim();
        lock (_lock)
        {
            using var fileLock = LockFile();
            var lines = Read();
            if (lines.Exists(l => l.Entry is { } e && e.Host == h && e.Port == port && e.Key.Equals(key)))
            {
                return false;
            }

            lines.Add(new Line(null, new KnownHostEntry(h, port, key, comment, lines.Count + 1)));
            Write(lines);
            return true;
        }
    }

    /// <summary>
    /// Removes the entries for <c>HOST:PORT</c>, or for every port of <c>HOST</c> when no port is given (IPv6 with a
    /// port in brackets: <c>[::1]:443</c>). Returns how many entries were removed; comments are kept.
    /// </summary>
    /// <exception cref="HybridProtocolException">As <see cref="Verify"/>.</exception>
    public int Remove(string hostAndOptionalPort)
    {
        ArgumentNullException.ThrowIfNull(hostAndOptionalPort);
        if (!TryParseHostPort(hostAndOptionalPort.Trim(), requirePort: false, out var h, out var port, out var problem))
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"'{hostAndOptionalPort}' is not HOST or HOST:PORT: {problem}.");
        }

        lock (_lock)
        {
            using var fileLock = LockFile();
            var lines = Read();
            var removed = lines.RemoveAll(l => l.Entry is { } e && e.Host == h && (port is null || e.Port == port));
            if (removed > 0)
            {
                Write(lines);
            }

            return removed;
        }
    }

    /// <summary>The entries in file order.</summary>
    /// <exception cref="HybridProtocolException">As <see cref="Load"/>.</exception>
    public IReadOnlyList<KnownHostEntry> List()
    {
        lock (_lock)
        {
            return Read().Where(l => l.Entry is not null).Select(l => l.Entry!).ToList();
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
        var hostPort = FormatHostPort(host, port);
        var where = knownHostsPath is null ? "" : line is null ? $" (recorded in {knownHostsPath})" : $" (recorded in {knownHostsPath} line {line})";
        var message = new StringBuilder()
            .Append(CultureInfo.InvariantCulture, $"WARNING: the server key for {hostPort} has changed! ")
            .Append("Someone could be intercepting this connection (a man-in-the-middle attack), or the server's key was replaced. ")
            .Append(CultureInfo.InvariantCulture, $"Expected {recorded.Fingerprint}{where}, got {presented.Fingerprint}. ")
            .Append("The connection was refused. ")
            .Append(CultureInfo.InvariantCulture, $"If the new key is genuine, remove the old entry (KnownHosts.Remove for {hostPort}")
            .Append(knownHostsPath is null ? "" : line is null ? $", or edit {knownHostsPath}" : $", or delete line {line} of {knownHostsPath}")
            .Append(") and connect again.")
            .ToString();
        return new HybridAuthenticationException(HybridErrorCode.ServerKeyChanged, message);
    }

    /// <summary><c>host:port</c>, with an IPv6 host in brackets.</summary>
    internal static string FormatHostPort(string host, int port) =>
        (host.Contains(':', StringComparison.Ordinal) ? "[" + host + "]" : host) + ":" + port.ToString(CultureInfo.InvariantCulture);

    private static string NormalizeHost(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var text = host.Trim();
        if (text.StartsWith('[') && text.EndsWith(']'))
        {
            text = text[1..^1];
        }

        if (!TryNormalizeHost(text, out var normalized, out var problem))
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"'{host}' is not a host name or IP address: {problem}.");
        }

        return normalized;
    }

    private static void CheckPort(int port)
    {
        if (port is < 1 or > 65535)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"Port {port} is not between 1 and 65535.");
        }
    }

    private static bool TryNormalizeHost(string host, out string normalized, out string problem)
    {
        normalized = "";
        if (host.Length == 0)
        {
            problem = "the host is empty";
            return false;
        }

        if (host.Length > 253)
        {
            problem = "the host is longer than 253 characters";
            return false;
        }

        if (host.Contains(':', StringComparison.Ordinal))
        {
            if (IPAddress.TryParse(host, out var v6) && v6.AddressFamily == AddressFamily.InterNetworkV6)
            {
                normalized = v6.ToString();
                problem = "";
                return true;
            }

            problem = "it has a ':' but is not an IPv6 address";
            return false;
        }

        foreach (var c in host)
        {
            if (c <= ' ' || c >= 0x7f || "#,[]/@*?!|\\\"'".Contains(c, StringComparison.Ordinal))
            {
                problem = $"the character '{(c < ' ' || c == 0x7f ? "\\x" + ((int)c).ToString("x2", CultureInfo.InvariantCulture) : c.ToString())}' is not allowed (one ASCII host name or IP address, no patterns)";
                return false;
            }
        }

        normalized = host.EndsWith('.') && host.Length > 1 ? host[..^1].ToLowerInvariant() : host.ToLowerInvariant();
        problem = "";
        return true;
    }

    /// <summary>Parses HOST, HOST:PORT, [IPV6] or [IPV6]:PORT (a bare IPv6 address has no port).</summary>
    private static bool TryParseHostPort(string text, bool requirePort, out string host, out int? port, out string problem)
    {
        host = "";
        port = null;
        string hostPart;
        string? portPart = null;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                problem = "'[' without ']'";
                return false;
            }

            hostPart = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    problem = "expected ':' after ']'";
                    return false;
                }

                portPart = rest[1..];
            }
        }
        else
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            if (colon >= 0 && text.IndexOf(':', colon + 1) < 0)
            {
                hostPart = text[..colon];
                portPart = text[(colon + 1)..];
            }
            else
            {
                hostPart = text;
            }
        }

        if (portPart is not null)
        {
            if (portPart.Length is 0 or > 5 || !portPart.All(char.IsAsciiDigit)
                || int.Parse(portPart, NumberStyles.None, CultureInfo.InvariantCulture) is < 1 or > 65535)
            {
                problem = $"the port '{portPart}' is not a number between 1 and 65535";
                return false;
            }

            port = int.Parse(portPart, NumberStyles.None, CultureInfo.InvariantCulture);
        }
        else if (requirePort)
        {
            problem = "the port is missing (write HOST:PORT, or [IPV6]:PORT)";
            return false;
        }

        if (!TryNormalizeHost(hostPart, out host, out problem))
        {
            return false;
        }

        return true;
    }

    private List<Line> Read()
    {
        byte[] bytes;
        try
        {
            if (!File.Exists(Path))
            {
                return [];
            }

            using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (stream.Length > MaxFileBytes)
            {
                throw new HybridArgumentException(
                    HybridErrorCode.InvalidKey,
                    $"The known-hosts file {Path} is larger than {MaxFileBytes / (1024 * 1024)} MiB; it is not a known-hosts file or has grown out of hand.");
            }

            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (FileNotFoundException)
        {
            return []; // removed between the check and the open: as good as missing
        }
        catch (Exception e) when (KeyFiles.IsFileError(e))
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"Cannot read the known-hosts file {Path}: {e.Message}", e);
        }

        return Parse(Encoding.UTF8.GetString(bytes), Path);
    }

    /// <summary>Parses the whole file; the first malformed line is an error naming the file and the line number.</summary>
    internal static List<Line> Parse(string text, string path)
    {
        var lines = new List<Line>();
        var raw = text.Split('\n');
        var count = raw.Length;
        if (count > 0 && raw[^1].Length == 0)
        {
            count--; // the final line end does not start another line
        }

        for (var i = 0; i < count; i++)
        {
            var line = raw[i].EndsWith('\r') ? raw[i][..^1] : raw[i];
            var trimmed = line.Trim();
            if (trimmed.Length == 0 || trimmed.StartsWith('#'))
            {
                lines.Add(new Line(line, null));
                continue;
            }

            if (!TryParseEntry(trimmed, i + 1, out var entry, out var problem))
            {
                throw new HybridArgumentException(
                    HybridErrorCode.InvalidKey,
                    $"The known-hosts file {path}, line {i + 1}, is malformed: {problem}. "
                    + $"Each line must be 'HOST:PORT {KeyType} BASE64-KEY [comment]' (or a '#' comment); fix or delete line {i + 1}.");
            }

            lines.Add(new Line(null, entry));
        }

        return lines;
    }

    private static bool TryParseEntry(string line, int lineNumber, out KnownHostEntry? entry, out string problem)
    {
        entry = null;
        var fields = line.Split([' ', '\t'], 4, StringSplitOptions.RemoveEmptyEntries);
        if (fields.Length < 3)
        {
            problem = $"expected three fields (host:port, key type, key), found {fields.Length}";
            return false;
        }

        if (fields[0].StartsWith('|'))
        {
            problem = "hashed host names are not supported";
            return false;
        }

        if (!TryParseHostPort(fields[0], requirePort: true, out var host, out var port, out problem))
        {
            problem = $"'{fields[0]}': {problem}";
            return false;
        }

        if (!string.Equals(fields[1], KeyType, StringComparison.OrdinalIgnoreCase))
        {
            problem = $"the key type is '{fields[1]}', but only '{KeyType}' keys are used by HybridProtocol";
            return false;
        }

        var key = new byte[KeyPem.KeyLength];
        if (!Convert.TryFromBase64String(fields[2], key, out var written) || written != KeyPem.KeyLength
            || fields[2].Length != 44)
        {
            problem = $"the key '{fields[2]}' is not the base64 of {KeyPem.KeyLength} bytes";
            return false;
        }

        var comment = fields.Length > 3 ? fields[3].Trim() : null;
        entry = new KnownHostEntry(host, port!.Value, PublicKey.FromOwnedRaw(key), string.IsNullOrEmpty(comment) ? null : comment, lineNumber);
        problem = "";
        return true;
    }

    private void Write(List<Line> lines)
    {
        var text = new StringBuilder();
        foreach (var line in lines)
        {
            text.Append(line.Entry?.ToString() ?? line.Text).Append('\n');
        }

        CreateDirectory();
        KeyFiles.ReplaceAtomically(Path, Encoding.UTF8.GetBytes(text.ToString()), KeyFiles.OwnerOnly, "known-hosts file");
    }

    private void CreateDirectory()
    {
        var directory = System.IO.Path.GetDirectoryName(Path);
        try
        {
            if (!string.IsNullOrEmpty(directory) && !Directory.Exists(directory))
            {
                if (OperatingSystem.IsWindows())
                {
                    Directory.CreateDirectory(directory);
                }
                else
                {
                    Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
            }
        }
        catch (Exception e) when (KeyFiles.IsFileError(e))
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"Cannot create the directory {directory} for the known-hosts file: {e.Message}", e);
        }
    }

    /// <summary>
    /// Takes the lock between processes on <c>PATH.lock</c> (<see cref="FileLock"/>), retried for up to
    /// <see cref="LockTimeout"/>; disposing the result releases it. Null where the lock file cannot be created at all (a
    /// read-only directory): nothing can be written there either, and reads are consistent without it (writes replace
    /// the file by rename).
    /// </summary>
    private FileLock? LockFile()
    {
        CreateDirectory();
        var lockPath = Path + ".lock";
        try
        {
            return FileLock.Take(lockPath, LockTimeout);
        }
        catch (Exception e) when (KeyFiles.IsFileError(e))
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidArgument,
                $"The known-hosts file {Path} is locked by another process (lock file {lockPath}) for more than {(int)LockTimeout.TotalSeconds} s, or the lock cannot be taken: {e.Message}",
                e);
        }
    }

    /// <summary>A line of the file: kept text (blank or comment), or an entry.</summary>
    internal readonly record struct Line(string? Text, KnownHostEntry? Entry);
}
