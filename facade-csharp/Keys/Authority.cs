using System.Security.Cryptography;
using HybridProtocol.Core.Formats;
using NSec.Cryptography;
using CoreEndorsement = HybridProtocol.Core.Formats.EndorsementModule;
using Ed25519Algorithm = NSec.Cryptography.SignatureAlgorithm;

namespace HybridProtocol;

/// <summary>
/// A fleet authority's public key (Ed25519, 32 bytes): clients that trust it accept any server key it endorses for a
/// matching host within the endorsement's validity window (<see cref="ServerAuthentication.Authority(IEnumerable{AuthorityKey}, IEnumerable{PublicKey}?, IEnumerable{AuthorityKey}?, TimeProvider?)"/>,
/// a known-hosts <c>@authority</c> line). specs/KEYS.md, "Endorsements".
/// </summary>
public sealed class AuthorityKey : IEquatable<AuthorityKey>
{
    private readonly byte[] raw;

    private AuthorityKey(byte[] raw) => this.raw = raw;

    /// <summary>The 32 raw bytes of the Ed25519 public key (RFC 8032 §5.1.5).</summary>
    public ReadOnlyMemory<byte> RawBytes => raw;

    internal byte[] Raw => raw;

    /// <summary>Makes a key from its 32 raw bytes (copied).</summary>
    /// <exception cref="HybridArgumentException">InvalidKey when not 32 bytes.</exception>
    public static AuthorityKey FromRawBytes(ReadOnlySpan<byte> raw) => raw.Length == 32
        ? new(raw.ToArray())
        : throw new HybridArgumentException(HybridErrorCode.InvalidKey, $"An authority key is 32 bytes (Ed25519), not {raw.Length}.");

    /// <summary>Reads an authority public key file (PEM <c>HYBRID AUTHORITY PUBLIC KEY</c>, specs/KEYS.md).</summary>
    /// <exception cref="HybridArgumentException">InvalidKey when the file holds something else; InvalidArgument when it cannot be read.</exception>
    public static AuthorityKey Load(string path) => FromPem(new string(KeyPem.ReadKeyFile(path)), $"'{path}'");

    /// <summary>Reads an authority public key from PEM text.</summary>
    /// <exception cref="HybridArgumentException">InvalidKey when the text holds something else.</exception>
    public static AuthorityKey FromPem(string pem)
    {
        ArgumentNullException.ThrowIfNull(pem);
        return FromPem(pem, "the text");
    }

    private static AuthorityKey FromPem(string pem, string source) =>
        FromRawBytes(KeyPem.DecodePem(pem, CoreEndorsement.PublicKeyPemLabel, source));

    /// <summary>The PEM text (<c>HYBRID AUTHORITY PUBLIC KEY</c>).</summary>
    public string ToPem() => new(Pem.encode(CoreEndorsement.PublicKeyPemLabel, raw));

    /// <summary>Writes the PEM text to <paramref name="path"/> (readable by others; <paramref name="overwrite"/> replaces an existing file).</summary>
    public void Save(string path, bool overwrite = false) => KeyFiles.Write(path, ToPem().AsSpan(), overwrite, ownerOnly: false, "authority public key");

    /// <summary><c>ed25519 BASE64</c>, as a known-hosts <c>@authority</c> line writes the key.</summary>
    public override string ToString() => KnownHostsLineModule.Ed25519Type + " " + Convert.ToBase64String(raw);

    /// <inheritdoc/>
    public bool Equals(AuthorityKey? other) => other is not null && CryptographicOperations.FixedTimeEquals(raw, other.raw);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as AuthorityKey);

    /// <inheritdoc/>
    public override int GetHashCode() => BitConverter.ToInt32(raw, 0);
}

/// <summary>
/// A fleet authority's private key (Ed25519 through NSec): it endorses server keys (<see cref="Endorse"/>). Keep it
/// offline; the servers need only their endorsements, the clients only <see cref="PublicKey"/>.
/// </summary>
public sealed class AuthoritySigningKey : IDisposable
{
    private readonly Key key;

    private AuthoritySigningKey(Key key)
    {
        this.key = key;
        PublicKey = AuthorityKey.FromRawBytes(key.PublicKey.Export(KeyBlobFormat.RawPublicKey));
    }

    /// <summary>The public key clients trust.</summary>
    public AuthorityKey PublicKey { get; }

    /// <summary>A new random authority key.</summary>
    public static AuthoritySigningKey Generate() =>
        new(Key.Create(Ed25519Algorithm.Ed25519, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));

    /// <summary>The key whose 32-byte Ed25519 seed (RFC 8032 §5.1.5 private key) is <paramref name="seed"/> (for test vectors).</summary>
    /// <exception cref="HybridArgumentException">InvalidKey when not 32 bytes.</exception>
    public static AuthoritySigningKey FromSeed(ReadOnlySpan<byte> seed)
    {
        if (seed.Length != 32)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidKey, $"An authority private key is a 32-byte Ed25519 seed, not {seed.Length} bytes.");
        }

        return new(Key.Import(Ed25519Algorithm.Ed25519, seed, KeyBlobFormat.RawPrivateKey, new KeyCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport }));
    }

    /// <summary>
    /// Reads an authority private key file (PEM <c>HYBRID AUTHORITY PRIVATE KEY</c>, specs/KEYS.md). As for other private
    /// keys, a file other users can access is refused unless <paramref name="options"/> allow it.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidKey when the file holds something else; InvalidArgument when it cannot be read.</exception>
    /// <exception cref="HybridProtocolException">InsecureKeyFile when other users can access the file.</exception>
    public static AuthoritySigningKey Load(string path, KeyLoadOptions? options = null)
    {
        var text = KeyPem.ReadKeyFile(path, out var mode);
        try
        {
            var seed = KeyPem.DecodePem(text, CoreEndorsement.PrivateKeyPemLabel, $"'{path}'");
            try
            {
                var loaded = FromSeed(seed);
                try
                {
                    KeyFiles.CheckPrivateKeyPermissions(path, mode, options);
                }
                catch
                {
                    loaded.Dispose();
                    throw;
                }

                return loaded;
            }
            finally
            {
                CryptographicOperations.ZeroMemory(seed);
            }
        }
        finally
        {
            Array.Clear(text);
        }
    }

    /// <summary>Writes the private key to <paramref name="path"/>, readable by its owner only.</summary>
    public void Save(string path, bool overwrite = false)
    {
        var seed = key.Export(KeyBlobFormat.RawPrivateKey);
        var pem = Pem.encode(CoreEndorsement.PrivateKeyPemLabel, seed);
        try
        {
            KeyFiles.Write(path, pem, overwrite, ownerOnly: true, "authority private key");
        }
        finally
        {
            CryptographicOperations.ZeroMemory(seed);
            Array.Clear(pem);
        }
    }

    /// <summary>
    /// Endorses <paramref name="serverKey"/> (an X25519 server key) for <paramref name="hosts"/> (patterns <c>HOST</c>,
    /// <c>HOST:PORT</c>, <c>*.DOMAIN</c>, <c>*.DOMAIN:PORT</c>; 1 to 16) from <paramref name="notBefore"/> to
    /// <paramref name="notAfter"/> (whole seconds, both included).
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument for a bad pattern, count or window; InvalidKey for a key that is not X25519.</exception>
    public ServerEndorsement Endorse(PublicKey serverKey, IEnumerable<string> hosts, DateTimeOffset notBefore, DateTimeOffset notAfter)
    {
        ArgumentNullException.ThrowIfNull(serverKey);
        ArgumentNullException.ThrowIfNull(hosts);
        if (serverKey.Algorithm != KeyAlgorithm.X25519)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidKey, "Only X25519 server keys can be endorsed (the keys connections use).");
        }

        var patterns = new List<HostPattern>();
        foreach (var host in hosts)
        {
            var parsed = HostPatternModule.parse(host ?? "");
            patterns.Add(parsed.IsOk
                ? parsed.ResultValue
                : throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"'{host}' is not a host pattern (HOST, HOST:PORT, *.DOMAIN or *.DOMAIN:PORT): {Endorsements.Describe(parsed.ErrorValue)}."));
        }

        var body = new EndorsementBody(
            Core.Formats.SignatureAlgorithm.PureEd25519,
            PublicKey.Raw,
            serverKey.RawBytes.ToArray(),
            Microsoft.FSharp.Collections.ListModule.OfSeq(patterns),
            notBefore.ToUnixTimeSeconds(),
            notAfter.ToUnixTimeSeconds());
        var signer = new SignFn((message, signature) => NSec.Cryptography.SignatureAlgorithm.Ed25519.Sign(key, message, signature));
        var signed = CoreEndorsement.sign(signer, body);
        if (signed.IsError)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"Cannot endorse: {Endorsements.Describe(signed.ErrorValue)}.");
        }

        var encoded = CoreEndorsement.encode(signed.ResultValue);
        return ServerEndorsement.FromBytes(encoded.ResultValue);
    }

    /// <inheritdoc/>
    public void Dispose() => key.Dispose();
}

/// <summary>
/// An authority's signature over one server key, the hosts it may serve and a validity window (specs/KEYS.md,
/// "Endorsements"). A server sends it in its handshake (<see cref="SecureServerOptions.Endorsement"/>).
/// </summary>
public sealed class ServerEndorsement
{
    private readonly byte[] encoded;
    private readonly Core.Formats.Endorsement decoded;

    private ServerEndorsement(byte[] encoded, Core.Formats.Endorsement decoded)
    {
        this.encoded = encoded;
        this.decoded = decoded;
        Hosts = decoded.Body.Hosts.Select(HostPatternModule.print).ToArray();
    }

    /// <summary>The authority that signed it.</summary>
    public AuthorityKey Authority => AuthorityKey.FromRawBytes(decoded.Body.AuthorityKey);

    /// <summary>The endorsed server key.</summary>
    public PublicKey ServerKey => PublicKey.FromRawBytes(decoded.Body.ServerKey);

    /// <summary>The host patterns it covers, in stored form.</summary>
    public IReadOnlyList<string> Hosts { get; }

    /// <summary>The first second of validity.</summary>
    public DateTimeOffset NotBefore => DateTimeOffset.FromUnixTimeSeconds(decoded.Body.NotBefore);

    /// <summary>The last second of validity.</summary>
    public DateTimeOffset NotAfter => DateTimeOffset.FromUnixTimeSeconds(decoded.Body.NotAfter);

    internal byte[] Encoded => encoded;

    /// <summary>Reads the canonical encoding (specs/KEYS.md). The signature is checked by clients, not here.</summary>
    /// <exception cref="HybridArgumentException">InvalidKey when the bytes are not an endorsement.</exception>
    public static ServerEndorsement FromBytes(ReadOnlySpan<byte> bytes)
    {
        var result = CoreEndorsement.decode(bytes);
        return result.IsOk
            ? new(bytes.ToArray(), result.ResultValue)
            : throw new HybridArgumentException(HybridErrorCode.InvalidKey, $"Not an endorsement: {Endorsements.Describe(result.ErrorValue)}.");
    }

    /// <summary>Reads an endorsement file (PEM <c>HYBRID ENDORSEMENT</c>).</summary>
    /// <exception cref="HybridArgumentException">InvalidKey when the file holds something else; InvalidArgument when it cannot be read.</exception>
    public static ServerEndorsement Load(string path) => FromBytes(KeyPem.DecodePem(KeyPem.ReadKeyFile(path), CoreEndorsement.PemLabel, $"'{path}'"));

    /// <summary>The canonical bytes (a copy).</summary>
    public byte[] ToBytes() => (byte[])encoded.Clone();

    /// <summary>The PEM text (<c>HYBRID ENDORSEMENT</c>).</summary>
    public string ToPem() => new(Pem.encode(CoreEndorsement.PemLabel, encoded));

    /// <summary>Writes the PEM text to <paramref name="path"/>.</summary>
    public void Save(string path, bool overwrite = false) => KeyFiles.Write(path, ToPem().AsSpan(), overwrite, ownerOnly: false, "endorsement");

    /// <summary>A description: server key, hosts, window and authority.</summary>
    public override string ToString() =>
        $"server key {ServerKey.Fingerprint} for {string.Join(",", Hosts)}, valid {NotBefore:yyyy-MM-ddTHH:mm:ssZ} to {NotAfter:yyyy-MM-ddTHH:mm:ssZ}, signed by authority {Authority}";
}

/// <summary>NSec's Ed25519 for the core's endorsement checks, and the messages of its errors.</summary>
internal static class Endorsements
{
    internal static readonly VerifyFn Verify = (publicKey, message, signature) =>
        NSec.Cryptography.PublicKey.TryImport(NSec.Cryptography.SignatureAlgorithm.Ed25519, publicKey, KeyBlobFormat.RawPublicKey, out var key)
        && NSec.Cryptography.SignatureAlgorithm.Ed25519.Verify(key!, message, signature);

    internal static string Describe(HostPatternError error) => error switch
    {
        HostPatternError.NotHostPort b => HostPortMessages.Describe(b.error),
        HostPatternError.WildcardAddress => "a wildcard '*.' covers host names, not IP addresses",
        _ => error.ToString(),
    };

    internal static string Describe(EndorsementFormatError error) => error switch
    {
        _ when error.IsTruncatedEndorsement => "it is truncated",
        _ when error.IsBadWindow => "not-before is after not-after, or a time is out of range",
        EndorsementFormatError.UnknownEndorsementVersion v => $"version {v.version} is not supported",
        EndorsementFormatError.UnknownAlgorithm a => $"signature algorithm {a.algorithm} is unknown",
        EndorsementFormatError.UnknownServerKeyType k => $"server key type {k.keyType} is unknown",
        EndorsementFormatError.AuthorityKeyLength a => $"an authority key of {a.length} bytes",
        EndorsementFormatError.ServerKeyLength s => $"a server key of {s.length} bytes (X25519 keys are 32)",
        EndorsementFormatError.SignatureLength s => $"a signature of {s.length} bytes",
        EndorsementFormatError.HostCount h => $"{h.count} host patterns (1 to {CoreEndorsement.MaxHosts} are allowed)",
        EndorsementFormatError.BadHost b => $"host pattern {b.index + 1} ('{b.text}') is not a host pattern",
        EndorsementFormatError.NonCanonicalHost n => $"host pattern {n.index + 1} ('{n.text}') is not in stored form",
        EndorsementFormatError.DuplicateHost d => $"host pattern '{d.text}' is given twice",
        EndorsementFormatError.TrailingBytes t => $"{t.count} bytes follow the signature",
        _ => error.ToString(),
    };

    /// <summary>The exception for a refused endorsement: one <see cref="HybridErrorCode"/> per check (specs/PROTOCOL.md §6b).</summary>
    internal static Exception Refusal(EndorsementError error, string peer)
    {
        var (code, why) = error switch
        {
            EndorsementError.BadEncoding b => (HybridErrorCode.BadEndorsement, $"sent a malformed endorsement ({Describe(b.Item)})"),
            _ when error.IsMissing => (HybridErrorCode.EndorsementMissing, "sent no endorsement of its key, and this client trusts only keys its authorities endorse. Give the server an endorsement of its key (AuthoritySigningKey.Endorse, SecureServerOptions.Endorsement)"),
            _ when error.IsRevokedAuthority => (HybridErrorCode.EndorsementRevoked, "is endorsed by an authority whose key is revoked here. Endorse the server with a current authority"),
            _ when error.IsUnknownAuthority => (HybridErrorCode.UnknownAuthority, "is endorsed by an authority this client does not trust for this host. Trust that authority, or endorse the server with a trusted one"),
            _ when error.IsBadSignature => (HybridErrorCode.BadEndorsement, "sent an endorsement whose signature does not verify (it was altered, or not signed by the authority it names)"),
            _ when error.IsDifferentKey => (HybridErrorCode.EndorsementKeyMismatch, "sent an endorsement of another key than the one it proved. Endorse the server's current key"),
            _ when error.IsRevokedServerKey => (HybridErrorCode.KeyRevoked, "proved a key that is revoked here, although an authority endorses it"),
            EndorsementError.NotYetValid n => (HybridErrorCode.EndorsementNotYetValid, $"sent an endorsement valid only from {DateTimeOffset.FromUnixTimeSeconds(n.notBefore):yyyy-MM-ddTHH:mm:ssZ} (now {DateTimeOffset.FromUnixTimeSeconds(n.now):yyyy-MM-ddTHH:mm:ssZ}). Check both clocks, or wait"),
            EndorsementError.Expired x => (HybridErrorCode.EndorsementExpired, $"sent an endorsement that expired at {DateTimeOffset.FromUnixTimeSeconds(x.notAfter):yyyy-MM-ddTHH:mm:ssZ} (now {DateTimeOffset.FromUnixTimeSeconds(x.now):yyyy-MM-ddTHH:mm:ssZ}). Renew it: endorse the key again with a later not-after (AuthoritySigningKey.Endorse)"),
            EndorsementError.WrongHost w => (HybridErrorCode.EndorsementWrongHost, $"sent an endorsement for {HostPatternModule.printList(w.patterns)}, which does not cover {HostPortModule.format(w.host, w.port)}"),
            _ => (HybridErrorCode.BadEndorsement, error.ToString()),
        };
        return HybridErrors.Create(code, $"{peer} {why}; the connection was closed.");
    }

    /// <summary>The policy a client checks endorsements against (specs/PROTOCOL.md §6b).</summary>
    internal static AuthorityPolicy Policy(
        IEnumerable<TrustedAuthority> authorities,
        IEnumerable<AuthorityKey> revokedAuthorities,
        IEnumerable<PublicKey> revokedServerKeys,
        bool required,
        string host,
        int port,
        TimeProvider clock) =>
        new(
            Microsoft.FSharp.Collections.ListModule.OfSeq(authorities),
            Microsoft.FSharp.Collections.ListModule.OfSeq(revokedAuthorities.Select(a => a.Raw)),
            Microsoft.FSharp.Collections.ListModule.OfSeq(revokedServerKeys.Select(k => k.RawBytes.ToArray())),
            required,
            host,
            port,
            clock.GetUtcNow().ToUnixTimeSeconds(),
            Verify);
}
