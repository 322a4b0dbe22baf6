using HybridProtocol.Core.Formats;

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

    /// <summary>A <c>@revoked</c> line names this key (for this host and port, or for every host): refuse it, even if also trusted.</summary>
    Revoked = 4,
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
        KnownHostStatus.Trusted => $"The key {PresentedKey.Fingerprint} of {HostPortModule.format(Host, Port)} matches {Path} line {RecordedLine}.",
        KnownHostStatus.FirstContact => $"First contact with {HostPortModule.format(Host, Port)}: recorded its key {PresentedKey.Fingerprint} in {Path} line {RecordedLine}.",
        _ => $"The key of {HostPortModule.format(Host, Port)} has changed: expected {RecordedKey?.Fingerprint} ({Path} line {RecordedLine}), got {PresentedKey.Fingerprint}.",
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
    public override string ToString() => KnownHostsLineModule.encode(KnownHostsLine.NewEntry(KnownHosts.ToCore(this)));
}

/// <summary>A key a known-hosts file revokes (an <c>@revoked</c> line, specs/KEYS.md "Revoked keys").</summary>
public sealed class RevokedHostKey
{
    internal RevokedHostKey(string? host, int port, PublicKey key, string? comment, int lineNumber)
    {
        Host = host;
        Port = port;
        Key = key;
        Comment = comment;
        LineNumber = lineNumber;
    }

    /// <summary>The host it is revoked for (stored form), or null when it is revoked for every host (<c>@revoked *</c>).</summary>
    public string? Host { get; }

    /// <summary>The port it is revoked for; 0 when <see cref="Host"/> is null.</summary>
    public int Port { get; }

    /// <summary>The revoked key.</summary>
    public PublicKey Key { get; }

    /// <summary>Free text after the key on the line, or null.</summary>
    public string? Comment { get; }

    /// <summary>The line (1-based) of the file.</summary>
    public int LineNumber { get; }
}

/// <summary>A fleet authority a known-hosts file trusts (an <c>@authority</c> line, specs/KEYS.md "Endorsements").</summary>
public sealed class KnownHostAuthority
{
    internal KnownHostAuthority(IReadOnlyList<string> hostPatterns, AuthorityKey key, string? comment, int lineNumber)
    {
        HostPatterns = hostPatterns;
        Key = key;
        Comment = comment;
        LineNumber = lineNumber;
    }

    /// <summary>The hosts it may vouch for: <c>HOST[:PORT]</c> or <c>*.NAME[:PORT]</c>, as the line writes them.</summary>
    public IReadOnlyList<string> HostPatterns { get; }

    /// <summary>The authority's key.</summary>
    public AuthorityKey Key { get; }

    /// <summary>Free text after the key on the line, or null.</summary>
    public string? Comment { get; }

    /// <summary>The line (1-based) of the file.</summary>
    public int LineNumber { get; }
}
