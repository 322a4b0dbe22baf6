using HybridProtocol.Core.Wire;
using HybridProtocol.Noise;

namespace HybridProtocol.Connections;

/// <summary>Where an error happened, for messages that say what to do.</summary>
/// <param name="IsClient">Whether this end is the client.</param>
/// <param name="Peer">The peer as it should appear in a message, e.g. "the server 127.0.0.1:12345".</param>
/// <param name="PinnedKey">The pinned server key, when the client pinned one.</param>
internal sealed record WireErrorContext(bool IsClient, string Peer, PublicKey? PinnedKey);

/// <summary>
/// The one place where the wire core's <see cref="WireError"/> cases become <see cref="HybridProtocolException"/>s:
/// every case maps to exactly one <see cref="HybridErrorCode"/> (the table is in specs/PROTOCOL.md, "Facade (C#)").
/// </summary>
internal static class WireErrors
{
    public static Exception ToException(WireError error, WireErrorContext context, bool inHandshake) => error switch
    {
        WireError.Noise n => NoiseErrors.ToException(n.Item) is var e && HybridErrors.CodeOf(e) == HybridErrorCode.DecryptionFailed && inHandshake
            ? HybridErrors.Create(HybridErrorCode.DecryptionFailed, $"The handshake with {context.Peer} failed to authenticate: the two ends use different keys or pre-shared keys, or the bytes were altered in transit. Check the pinned key and the PreSharedKey on both ends.")
            : e,
        WireError.Malformed { Item: MalformedReason.NotAStatus n } => HybridErrors.Create(HybridErrorCode.ProtocolViolation, $"{Capital(context.Peer)} is not a HybridProtocol server: it answered \"{Printable(n.received)}\", which cannot be a HybridProtocol status{Guess(n.received)}; the connection was closed. Check the host and port."),
        WireError.Malformed m => HybridErrors.Create(HybridErrorCode.ProtocolViolation, $"{Capital(context.Peer)} sent bytes that break the protocol ({Describe(m.Item)}); the connection was closed. The peer is not a HybridProtocol endpoint of this version, or the data was corrupted."),
        WireError.Refused r => new HybridProtocolException(HybridErrorCode.PeerRefused, $"{Capital(context.Peer)} refused the connection: {Describe(r.code)} (refusal code 0x{(byte)r.code:x2}). It speaks version {r.serverVersion} and accepts: {(r.supported.IsEmpty ? "(nothing listed)" : string.Join(", ", r.supported))}. Change the client's options (Suite, PreSharedKey, ClientIdentity, PostQuantum) to match one of them.{ClassicalHint(r)}") { Refusal = (HybridRefusalCode)(byte)r.code },
        WireError.RefusedPeer r => new HybridProtocolException(HybridErrorCode.PeerRefused, $"Refused {context.Peer}'s request for '{r.requested}': {Describe(r.code)} (refusal code 0x{(byte)r.code:x2}). The client must use one of the protocols this server accepts.") { Refusal = (HybridRefusalCode)(byte)r.code },
        WireError.MessageTooLarge t => HybridErrors.Create(HybridErrorCode.MessageTooLarge, $"A message of {t.size} bytes exceeds the limit of {t.limit} bytes. Send smaller messages, or raise MaxMessageSize on the receiving end."),
        _ when error.IsClosedBeforeAnswer => HybridErrors.Create(HybridErrorCode.ConnectionTruncated, $"{Capital(context.Peer)} closed the connection before answering: it is busy, found us too slow, or is not accepting connections now. Try again later; if it persists, ask its operator."),
        WireError.HandshakeTruncated { reading.IsPinnedKeyNotAccepted: true } => HybridErrors.Create(HybridErrorCode.AuthenticationFailed, $"{Capital(context.Peer)} accepted our request and then closed the connection during the handshake. Either it could not decrypt our first message (it does not hold the private key of the pinned key{(context.PinnedKey is { } pinned ? " " + pinned.Fingerprint : "")}, or the pre-shared keys differ), or it refused our client key (with a ClientIdentity the server checks it before answering). Check the pinned key, the PreSharedKey, and that the server allows our key."),
        _ when error.IsHandshakeTruncated => HybridErrors.Create(HybridErrorCode.ConnectionTruncated, $"{Capital(context.Peer)} closed the connection during the handshake. It refused our handshake (wrong key or pre-shared key, client key not allowed) or failed; its log says why."),
        _ when error.IsTruncated => HybridErrors.Create(HybridErrorCode.ConnectionTruncated, $"The connection to {context.Peer} ended without its authenticated close: data may have been cut off (or an attacker closed the connection). Treat what was received as incomplete."),
        _ when error.IsPeerKeyRevoked => HybridErrors.Create(HybridErrorCode.KeyRevoked, $"{Capital(context.Peer)} proved a key that this end revokes; the connection was refused. A revoked key is refused even where it is also trusted: the peer must use its current key (a server: remove the revoked key from its ServerKeys)."),
        WireError.BadKeyAnnouncement b => HybridErrors.Create(HybridErrorCode.KeyAnnouncementInvalid, $"{Capital(context.Peer)} announced other keys whose proof does not hold for this connection ({Describe(b.Item)}); the connection was refused and nothing was recorded. The server holds a key it cannot prove, or the announcement was copied from another connection."),
        _ when error.IsPeerKeyRejected => HybridErrors.Create(HybridErrorCode.AuthenticationFailed, $"The key {context.Peer} proved was refused by this end's authentication settings."),
        WireError.ApplicationProtocolMismatch a => HybridErrors.Create(HybridErrorCode.PeerRefused, $"The application protocols differ: this end speaks '{a.local}', {context.Peer} speaks '{a.remote}'. Set the same ApplicationProtocol on both ends."),
        WireError.ClosedByPeer c => c.reason switch
        {
            CloseReason.AuthenticationFailed => HybridErrors.Create(HybridErrorCode.AuthenticationFailed, $"{Capital(context.Peer)} refused this end's key (it is not on its allow-list, or its check said no). Ask its operator to allow the key, or use the right ClientIdentity."),
            CloseReason.ApplicationProtocolMismatch => HybridErrors.Create(HybridErrorCode.PeerRefused, $"{Capital(context.Peer)} closed the connection: the application protocols differ. Set the same ApplicationProtocol on both ends."),
            CloseReason.IdleTimeout => HybridErrors.Create(HybridErrorCode.IdleTimeout, $"{Capital(context.Peer)} closed the connection: nothing crossed it for its idle timeout."),
            CloseReason.MessageTooLarge => HybridErrors.Create(HybridErrorCode.MessageTooLarge, $"{Capital(context.Peer)} closed the connection: it received a message larger than it accepts."),
            _ => HybridErrors.Create(HybridErrorCode.ProtocolViolation, $"{Capital(context.Peer)} closed the connection because it received bytes it could not accept (reason {c.reason})."),
        },
        WireError.UnexpectedRecord u => HybridErrors.Create(HybridErrorCode.ProtocolViolation, $"{Capital(context.Peer)} sent a {u.recordType} record where none is allowed; the connection was closed."),
        _ when error.IsClosedDuringHandshake => HybridErrors.Create(HybridErrorCode.InvalidState, "The connection was closed before its handshake completed."),
        _ when error.IsConnectionClosed => HybridErrors.Create(HybridErrorCode.InvalidState, "The connection has been closed; nothing more can be sent. Open a new connection."),
        _ when error.IsNoVerdictPending => HybridErrors.Create(HybridErrorCode.InvalidState, "No peer key is waiting for a verdict."),
        WireError.BufferTooSmall b => HybridErrors.Create(HybridErrorCode.InvalidArgument, $"A buffer of at least {b.needed} bytes is needed."),
        WireError.IdleTimeout i => HybridErrors.Create(HybridErrorCode.IdleTimeout, $"Nothing was sent to or received from {context.Peer} for {i.milliseconds / 1000.0:0.###} s (the IdleTimeout); the connection was closed."),
        WireError.InvalidConfig c => HybridErrors.Create(HybridErrorCode.InvalidArgument, $"The connection options cannot work: {Describe(c.reason)}."),
        WireError.EndorsementRefused r => Endorsements.Refusal(r.reason, Capital(context.Peer)),
        _ => HybridErrors.Create(HybridErrorCode.ProtocolViolation, $"Wire protocol error: {error}."),
    };

    /// <summary>
    /// For a hybrid client refused by a server that lists no hybrid (hfs) name: the client does not fall back on its
    /// own (the refusal is unauthenticated, so doing so would let anyone downgrade it); say how to choose classical.
    /// </summary>
    private static string ClassicalHint(WireError.Refused r) =>
        Policy.refusedAsClassicalOnly(r.code, r.supported)
            ? " The server offers no post-quantum (hfs) protocol. This client does not fall back on its own; set PostQuantum = PostQuantumMode.Classical (CLI: --classical) only if connections that a later quantum computer could decrypt are acceptable."
            : "";

    /// <summary>What a refusal code means, for messages.</summary>
    public static string Describe(RefusalCode code) => code switch
    {
        RefusalCode.UnsupportedVersion => "it does not speak this protocol version",
        RefusalCode.MalformedPreamble => "the connection request was malformed",
        RefusalCode.UnsupportedPattern => "it does not accept this handshake pattern (a server that takes no client keys refuses a client that proves one: leave out ClientIdentity, or let the server take client keys)",
        RefusalCode.UnsupportedSuite => "it does not accept this cipher suite",
        RefusalCode.PskRequired => "it requires a pre-shared key",
        RefusalCode.PskNotConfigured => "the client asked for a pre-shared key but the server has none",
        RefusalCode.ClientAuthenticationRequired => "it requires clients to prove a key (set ClientIdentity)",
        RefusalCode.ServerBusy => "it is busy; try again later",
        RefusalCode.PostQuantumRequired => "it requires post-quantum hybrid key agreement (PostQuantum = Hybrid; in the CLI, leave out --classical)",
        RefusalCode.TooSlow => "the client's first message did not arrive in time (or the server made room for newer clients); try again",
        _ => $"refusal code {(byte)code}",
    };

    /// <summary>What is wrong with an option's value, from the error of the core's check for it (<c>Policy.check...</c>).</summary>
    public static string DescribeOption(WireError error) => error switch
    {
        WireError.InvalidConfig c => Describe(c.reason),
        WireError.Noise { Item: Core.Noise.NoiseError.Init i } => NoiseErrors.Describe(i.Item),
        _ => ToException(error, new WireErrorContext(false, "the peer", null), inHandshake: false).Message,
    };

    /// <summary>What is wrong with a configuration, for messages (one wording per core case).</summary>
    public static string Describe(InvalidConfigReason reason) => reason switch
    {
        InvalidConfigReason.MessageSizeOutOfRange m => $"the largest message size must be at least 1 byte (it is {m.size}); set MaxMessageSize",
        InvalidConfigReason.RecordDataOutOfRange r => $"the record size must be 1..{r.maximum} bytes (it is {r.size})",
        InvalidConfigReason.RekeyIntervalOutOfRange r => $"the rekey interval must be at least 1 record and 1 byte (it is {r.records} records, {r.bytes} bytes)",
        InvalidConfigReason.BadApplicationProtocol a => $"the application protocol must be 0..255 characters of printable ASCII (it has {a.length} characters); set ApplicationProtocol",
        InvalidConfigReason.OneWayPattern o => $"{Core.Noise.ProtocolNameModule.toString(o.protocol)} is a one-way pattern (N, K, X), which cannot carry a two-way connection",
        InvalidConfigReason.ClientStaticKeyInAdvance k => $"{Core.Noise.ProtocolNameModule.toString(k.protocol)}: a server cannot know the client's static key in advance",
        InvalidConfigReason.PskMissing p => $"{Core.Noise.ProtocolNameModule.toString(p.protocol)} needs a pre-shared key; set PreSharedKey",
        InvalidConfigReason.ServerStaticKeyMissing k => $"{Core.Noise.ProtocolNameModule.toString(k.protocol)} needs the server's static key; set ServerKey",
        InvalidConfigReason.RefusalCodeOutOfRange r => $"a refusal code must be 0x01..0x1F (it is 0x{r.code:x2})",
        InvalidConfigReason.TooManyServerKeys t => $"a server holds at most {ConfigDefaults.MaxServerKeys} keys at once (it has {t.count}); retire the oldest from ServerKeys",
        _ when reason.IsPinnedKeyRevoked => "the pinned server key is also revoked; pin the server's current key",
        _ when reason.IsNoAcceptedProtocol => "the server accepts no protocol name",
        _ when reason.IsFirstMessageCompletesHandshake => "the pattern's first message completes the handshake (one-way patterns cannot carry a connection)",
        _ when reason.IsRefusalVersionZero => "a refusal's server version cannot be 0",
        _ => reason.ToString(),
    };

    private static string Describe(KeyAnnouncementError error) => error switch
    {
        KeyAnnouncementError.AnnouncementLength l => $"an announcement of {l.length} bytes is not 1..{KeyAnnouncement.MaxKeys} whole entries",
        KeyAnnouncementError.HandshakeKeyAnnounced h => $"entry {h.index} announces the key of the handshake itself",
        KeyAnnouncementError.DuplicateKey d => $"entry {d.index} repeats a key",
        KeyAnnouncementError.UnusableKey u => $"entry {u.index} is not a usable X25519 key",
        KeyAnnouncementError.BadProof b => $"the proof of entry {b.index} is wrong",
        _ => error.ToString(),
    };

    private static string Describe(MalformedReason reason) => reason switch
    {
        MalformedReason.FrameTooLong f => $"a frame of {f.length} bytes, limit {f.limit}",
        MalformedReason.UnknownRecordType u => $"unknown record type 0x{u.recordType:x2}",
        MalformedReason.RecordTooShort s => $"a record of {s.length} bytes is too short",
        _ => reason.ToString(),
    };

    /// <summary>Bytes as text for a message: printable ASCII kept, anything else as \xNN.</summary>
    private static string Printable(byte[] bytes) =>
        string.Concat(bytes.Select(b => b is >= 0x20 and < 0x7F ? ((char)b).ToString() : $"\\x{b:x2}"));

    private static string Guess(byte[] bytes)
    {
        var text = System.Text.Encoding.ASCII.GetString(bytes);
        return text.StartsWith("SSH-", StringComparison.Ordinal) ? " (an SSH server)"
            : text.StartsWith("HTTP/", StringComparison.Ordinal) ? " (an HTTP server)"
            : "";
    }

    private static string Capital(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
}
