using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using HybridProtocol.Connections;
using HybridProtocol.Core;
using HybridProtocol.Core.Formats;
using HybridProtocol.Core.Noise;
using HybridProtocol.Core.Wire;
using HybridProtocol.Crypto;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace HybridProtocol;

public sealed partial class SecureConnection
{
    /// <summary>
    /// Connects to <paramref name="host"/>:<paramref name="port"/> over TCP and runs the client handshake
    /// (see <see cref="AuthenticateAsClientAsync"/>). The returned connection owns the socket.
    /// </summary>
    /// <exception cref="HybridProtocolException">
    /// TransportFailed when the TCP connection cannot be made; ConnectTimeout when it is not made within
    /// <see cref="SecureClientOptions.ConnectTimeout"/>; otherwise as <see cref="AuthenticateAsClientAsync"/>.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<SecureConnection> ConnectAsync(string host, int port, SecureClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        CheckClientOptions(options);
        if (HostPortModule.checkPort(port).IsError)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, HostPortMessages.PortMessage(port));
        }

        var socket = await ConnectSocketAsync(host, port, options, cancellationToken).ConfigureAwait(false);
        return await AuthenticateAsClientAsync(new NetworkStream(socket, ownsSocket: true), HostPortModule.format(host, port), options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs the client handshake over an existing stream (a TCP <see cref="NetworkStream"/>, a pipe, a Unix socket).
    /// The connection owns the stream from now on: it is disposed with the connection, or when the handshake fails.
    /// </summary>
    /// <param name="stream">A connected, readable and writable stream.</param>
    /// <param name="targetHost">
    /// The server as <c>HOST:PORT</c> (IPv6 in brackets): the known-hosts entry for
    /// <see cref="ServerAuthentication.KnownHosts"/>, and the name used in error messages.
    /// </param>
    /// <param name="options">The client options; their values are copied now.</param>
    /// <param name="cancellationToken">Cancels the handshake (the stream is then disposed).</param>
    /// <exception cref="HybridProtocolException">
    /// AuthenticationFailed or ServerKeyChanged when the server's key is refused; PeerRefused when the server refused
    /// the request (the message says what it supports); HandshakeTimeout; DecryptionFailed (different pre-shared keys);
    /// ConnectionTruncated, ProtocolViolation, TransportFailed; InvalidArgument for bad options.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<SecureConnection> AuthenticateAsClientAsync(Stream stream, string targetHost, SecureClientOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(targetHost);
        ArgumentNullException.ThrowIfNull(options);
        CheckClientOptions(options);
        var auth = options.ServerAuthentication!;
        string? knownHost = null;
        int knownPort = 0;
        if (auth.Mode is ServerAuthenticationMode.KnownHosts or ServerAuthenticationMode.Authority)
        {
            var target = HostPortModule.parse(HostPortRule.PortRequired, targetHost);
            if (target.IsError)
            {
                throw new HybridArgumentException(
                    HybridErrorCode.InvalidArgument,
                    $"Known-hosts and authority authentication need the server as HOST:PORT, not '{targetHost}': {HostPortMessages.Describe(target.ErrorValue)}.");
            }

            (knownHost, knownPort) = (target.ResultValue.Host, target.ResultValue.Port!.Value);
        }

        var psk = options.PreSharedKeyNoCopy;

        // specs/PROTOCOL.md §6a: one pinned key is a pre-message (NK/IK); a pinned set is checked against the key the
        // server transmits (NX/XX).
        var pinnedSet = auth.Mode == ServerAuthenticationMode.Pinned && auth.PinnedKeys.Count > 1;
        var choice = new ClientChoice(
            auth.Mode == ServerAuthenticationMode.Pinned && !pinnedSet ? ServerKeyKnowledge.Pinned : ServerKeyKnowledge.Learned,
            options.ClientIdentity is not null,
            psk is not null,
            options.PostQuantum != PostQuantumMode.Classical);
        var chosen = ProtocolChoices.Client(choice, options.Suite);
        var context = new WireErrorContext(true, "the server " + targetHost, pinnedSet ? null : auth.PinnedKey);
        var name = chosen.Name.IsOk ? chosen.Name.ResultValue : throw WireErrors.ToException(chosen.Name.ErrorValue, context, inHandshake: true);
        var connection = await RunHandshakeAsync(stream, options, context, name.Text, targetHost, null, default, party =>
        {
            party.Scope = new KeyScope(SodiumSuite.For(name));
            var config = ClientConfig.Create(name, party.Scope.Suite, party.Ephemeral, options.ApplicationProtocol)
                .WithMaxMessageSize(options.MaxMessageSize)
                .WithMaxRecordData(options.MaxRecordData)
                .WithRekey(options.RekeyPolicy);
            if (party.Scope.Suite.Kem is { } kem && chosen.KemKeyPairSeed)
            {
                // Noise HFS "e1": a KEM key pair for this connection only, from a fresh seed (erased at once).
                Span<byte> seed = stackalloc byte[kem.Value.SEEDLEN];
                FillSecret(seed, options.FixedSecretsForTestVectorsOnly?.KemSeed);
                party.KemKeyPair = kem.Value.GENERATE_KEM_KEYPAIR.Invoke(seed);
                CryptographicOperations.ZeroMemory(seed);
                config = config.WithKemKeyPair(party.KemKeyPair);
            }

            config = options.ClientIdentity is { } identity ? config.WithLocalStatic(identity.ToKeyPair()) : config;
            config = pinnedSet ? config.WithTrustedServerKeys(auth.PinnedKeys.Select(k => k.ToCore()))
                : auth.PinnedKey is { } pinned ? config.WithRemoteStatic(pinned.ToCore())
                : config;
            config = config.WithRevokedServerKeys(auth.RevokedKeys.Select(k => k.ToCore()))
                .WithKeyAnnouncements(auth.Mode == ServerAuthenticationMode.KnownHosts);
            config = psk is not null ? config.WithPsk(psk) : config;
            config = AuthorityPolicyFor(auth, knownHost, knownPort) is { } policy ? config.WithAuthority(policy) : config;
            party.Verify = (key, token) => auth.CheckAsync(key, knownHost ?? serverHostOf(targetHost).Host, knownHost is null ? serverHostOf(targetHost).Port : knownPort, token);
            return Connection.Client(config);
        }, cancellationToken).ConfigureAwait(false);

        // specs/PROTOCOL.md §6a: a known-hosts client records the keys the server proved it holds, beside the one it
        // presented, so the server can switch to one of them later without a ServerKeyChanged.
        if (auth.Mode == ServerAuthenticationMode.KnownHosts && knownHost is not null)
        {
            try
            {
                foreach (var announced in connection.AnnouncedServerKeys)
                {
                    auth.Store!.Add(knownHost, knownPort, announced, "announced by the server");
                }
            }
            catch
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        }

        return connection;
    }

    private static (string? Host, int Port) serverHostOf(string targetHost) =>
        HostPortModule.parse(HostPortRule.PortRequired, targetHost) is { IsOk: true } target ? (target.ResultValue.Host, target.ResultValue.Port!.Value) : (null, 0);

    /// <summary>
    /// The endorsement policy of a client (specs/PROTOCOL.md §6b): required with <see cref="ServerAuthentication.Authority"/>;
    /// with a known-hosts file that has <c>@authority</c> lines, an endorsement from one of them accepts the key and a
    /// server without one is checked against the recorded keys. Null otherwise.
    /// </summary>
    private static AuthorityPolicy? AuthorityPolicyFor(ServerAuthentication auth, string? host, int port)
    {
        if (auth.Mode == ServerAuthenticationMode.Authority)
        {
            var trusted = auth.Authorities.Select(a => new TrustedAuthority(a.Raw, FSharpList<HostPattern>.Empty));
            return Endorsements.Policy(trusted, auth.RevokedAuthorities, auth.RevokedKeys, true, host!, port, auth.Clock);
        }

        if (auth.Mode == ServerAuthenticationMode.KnownHosts && auth.Store!.Authorities() is { IsEmpty: false } authorities)
        {
            return Endorsements.Policy(authorities, [], [], false, host!, port, TimeProvider.System);
        }

        return null;
    }

    /// <summary>
    /// Runs the server handshake over an existing stream. The connection owns the stream from now on: it is disposed
    /// with the connection, or when the handshake fails. A client whose request the server does not accept gets a
    /// refusal naming what it accepts, and this call throws PeerRefused.
    /// </summary>
    /// <param name="stream">A connected, readable and writable stream.</param>
    /// <param name="options">The server options; their values are copied now.</param>
    /// <param name="cancellationToken">Cancels the handshake (the stream is then disposed).</param>
    /// <exception cref="HybridProtocolException">
    /// AuthenticationFailed when the client's key is refused; PeerRefused; HandshakeTimeout; DecryptionFailed;
    /// ConnectionTruncated; ProtocolViolation; TransportFailed; InvalidArgument for bad options.
    /// </exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled.</exception>
    public static Task<SecureConnection> AuthenticateAsServerAsync(Stream stream, SecureServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(options);
        return AuthenticateAsServerCoreAsync(stream, options, AcceptedProtocols(options), "the client", cancellationToken);
    }

    /// <summary>
    /// The server handshake with the accepted names already computed (a listener computes them once);
    /// <paramref name="proxied"/>: the client a trusted load balancer's PROXY header named, and that balancer;
    /// <paramref name="firstFlight"/>: the bytes a listener read from the stream before (the client's first flight),
    /// the handshake's first input.
    /// </summary>
    internal static Task<SecureConnection> AuthenticateAsServerCoreAsync(Stream stream, SecureServerOptions options, FSharpList<Core.Noise.ProtocolName> accepted, string peer, CancellationToken cancellationToken, (EndPoint? Client, EndPoint? Balancer)? proxied = null, ReadOnlyMemory<byte> firstFlight = default)
    {
        // One read of the keys and the endorsement: a rotation replaces both together, never changes them in place.
        var (serverKeys, endorsed) = options.Identity;
        if (serverKeys.Length == 0)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, "SecureServerOptions.ServerKey is required.");
        }

        foreach (var key in serverKeys)
        {
            key.ThrowIfDisposed("SecureServerOptions.ServerKey");
        }

        // The endorsement vouches for the key the server presents in NX/XX: the current one, the first of ServerKeys.
        if (endorsed is { } sent && sent.ServerKey != serverKeys[0].PublicKey)
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidArgument,
                $"SecureServerOptions.Endorsement endorses {sent.ServerKey.Fingerprint}, not the ServerKey {serverKeys[0].PublicKey.Fingerprint}: clients would refuse it. Endorse the server's key (AuthoritySigningKey.Endorse).");
        }

        var remote = proxied?.Client ?? (stream is NetworkStream network ? network.Socket.RemoteEndPoint : null);
        return RunHandshakeAsync(stream, options, new WireErrorContext(false, peer, null), null, null, proxied, firstFlight, party =>
        {
            var config = ServerConfig.Create(
                    accepted,
                    new Func<Core.Noise.ProtocolName, CryptoSuite>(n => (party.Scope = new KeyScope(SodiumSuite.For(n))).Suite),
                    party.Ephemeral,
                    options.ApplicationProtocol)
                .WithLocalStatics(serverKeys.Select(k => k.ToKeyPair()))
                .WithKeyAnnouncements(options.AnnounceServerKeys)
                .WithMaxMessageSize(options.MaxMessageSize)
                .WithMaxRecordData(options.MaxRecordData)
                .WithRekey(options.RekeyPolicy);
            config = options.PreSharedKeyNoCopy is { } psk ? config.WithPsk(psk) : config;
            config = endorsed is { } endorsement ? config.WithEndorsement(endorsement.Encoded) : config;
            if (ProtocolChoices.NeedsEncapsulationRandomness(accepted))
            {
                // Noise HFS "ekem1": fresh encapsulation randomness for this connection, erased when the handshake is over.
                party.Randomness = new byte[SodiumKem.MlKem768.ENCAPSRANDOMNESSLEN];
                FillSecret(party.Randomness, options.FixedSecretsForTestVectorsOnly?.EncapsulationRandomness);
                config = config.WithEncapsulationRandomness(party.Randomness);
            }

            party.Verify = (key, token) => options.ClientAuthentication.CheckAsync(key, remote, token);
            return Connection.Server(config);
        }, cancellationToken);
    }

    /// <summary>
    /// The Noise protocols a server with these options accepts, as the core's policy decides from what the
    /// options require (specs/PROTOCOL.md, "Authentication modes and patterns").
    /// </summary>
    internal static FSharpList<Core.Noise.ProtocolName> AcceptedProtocols(SecureServerOptions options)
    {
        var postQuantum = options.PostQuantum switch
        {
            PostQuantumMode.Required => ServerPostQuantum.HybridOnly,
            PostQuantumMode.Classical => ServerPostQuantum.ClassicalOnly,
            _ => ServerPostQuantum.HybridOrClassical,
        };
        var requirement = new ServerRequirement(options.ClientAuthentication.Mode, options.PreSharedKeyNoCopy is not null, postQuantum);
        var accepted = ProtocolChoices.Server(requirement, options.AcceptedSuites).Accepted;
        return accepted.IsOk
            ? accepted.ResultValue
            : throw WireErrors.ToException(accepted.ErrorValue, new WireErrorContext(false, "the client", null), inHandshake: true);
    }

    /// <summary>Fresh randomness, or the fixed bytes of a session vector (tests only).</summary>
    private static void FillSecret(Span<byte> destination, byte[]? fixedForTestVectorsOnly)
    {
        if (fixedForTestVectorsOnly is null)
        {
            RandomNumberGenerator.Fill(destination);
        }
        else
        {
            fixedForTestVectorsOnly.CopyTo(destination);
        }
    }

    private static void CheckClientOptions(SecureClientOptions options)
    {
        if (options.ServerAuthentication is null)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, "SecureClientOptions.ServerAuthentication is required: choose Pinned, KnownHosts, Callback or (for experiments only) DangerousAcceptAnyServerKey.");
        }

        options.ClientIdentity?.ThrowIfDisposed("SecureClientOptions.ClientIdentity");
    }
}
