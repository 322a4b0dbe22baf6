using System.Net.Sockets;

namespace HybridProtocol.Bench;

/// <summary>
/// HybridProtocol's connection over TCP for one suite: <see cref="SecureConnection.AuthenticateAsClientAsync"/> on the
/// client socket and <see cref="SecureConnection.AuthenticateAsServerAsync(Stream, SecureServerOptions, CancellationToken)"/>
/// on the accepted one (what <see cref="SecureListener"/> runs for each client), concurrently. The client pins the
/// server's key and has no identity of its own, so the pattern is NK: server authentication only, like the
/// SslStream rows with their pinned certificate. The ends are <see cref="MessageApiStream"/>s, so the benchmark
/// drives the message API (SendAsync, ReceiveAsync into the caller's buffer), not the Stream view. Both ends use the
/// given <see cref="PostQuantumMode"/>: hybrid (NKhfs, X25519 + ML-KEM-768, the default) or classical (NK).
/// </summary>
public sealed class HybridProtocolTransport : LoopbackTransport
{
    private readonly PrivateKey serverKey = PrivateKey.Generate();
    private readonly SecureSuite suite;
    private readonly SecureServerOptions serverOptions;
    private readonly SecureClientOptions clientOptions;
    private string? negotiated;

    private readonly PrivateKey? clientKey;
    private readonly PrivateKey[] otherKeys;

    /// <param name="suite">The suite both ends use.</param>
    /// <param name="shortName">The suite's name in the table.</param>
    /// <param name="pattern">
    /// NK (the default: the client pins the server's key, no client key), IK (pinned, and the client proves its
    /// key) or XX (the client learns the server's key in the handshake and checks it in a callback; it proves its own).
    /// </param>
    /// <param name="postQuantum">Hybrid (the hfs pattern, the default) or classical, on both ends.</param>
    /// <param name="heldKeys">
    /// The static keys the server holds (specs/PROTOCOL.md §6a; it announces the others on each connection, the
    /// default); the client pins the one at <paramref name="pinnedKey"/> (0, the current key; the last, the oldest:
    /// the server reads the first message with every key before it, trial reading at its most costly).
    /// </param>
    /// <param name="pinnedKey">The index of the server key the client pins (NK, IK).</param>
    public HybridProtocolTransport(SecureSuite suite, string shortName, string pattern = "NK", PostQuantumMode postQuantum = PostQuantumMode.Hybrid, int heldKeys = 1, int pinnedKey = 0)
    {
        this.suite = suite;
        Name = "HybridProtocol " + shortName + (pattern == "NK" ? "" : " " + pattern) + (postQuantum == PostQuantumMode.Classical ? " classical" : "")
            + (heldKeys == 1 ? "" : $" {heldKeys} keys ({(pinnedKey == 0 ? "current" : pinnedKey == heldKeys - 1 ? "oldest" : $"key {pinnedKey + 1}")} pinned)");
        otherKeys = [.. Enumerable.Range(1, heldKeys - 1).Select(_ => PrivateKey.Generate())];
        clientKey = pattern == "NK" ? null : PrivateKey.Generate();
        serverOptions = new SecureServerOptions
        {
            ServerKeys = [serverKey, .. otherKeys],
            AcceptedSuites = [suite],
            PostQuantum = postQuantum,

            // A server that takes client keys (XX, IK) names them; by default it takes none and refuses those patterns.
            ClientAuthentication = clientKey is null ? ClientAuthentication.None : ClientAuthentication.AllowList([clientKey.PublicKey]),
        };
        var serverPublic = serverOptions.ServerKeys[pinnedKey].PublicKey;
        clientOptions = new SecureClientOptions
        {
            ServerAuthentication = pattern == "XX"
                ? ServerAuthentication.Callback(key => key.Equals(serverPublic))
                : ServerAuthentication.Pinned(serverPublic),
            ClientIdentity = clientKey,
            Suite = suite,
            PostQuantum = postQuantum,
        };
    }

    public override string Name { get; }

    public override string? Negotiated => negotiated;

    protected override void DisposeResources()
    {
        serverKey.Dispose();
        clientKey?.Dispose();
        foreach (var key in otherKeys)
        {
            key.Dispose();
        }
    }

    protected override async Task<ConnectedPair> SecureAsync(Socket client, Socket server, CancellationToken cancellationToken)
    {
        var serverSide = SecureConnection.AuthenticateAsServerAsync(Open(server, client: false), serverOptions, cancellationToken);
        var clientSide = SecureConnection.AuthenticateAsClientAsync(Open(client, client: true), "127.0.0.1:1", clientOptions, cancellationToken);
        try
        {
            await Task.WhenAll(serverSide, clientSide).ConfigureAwait(false);
        }
        catch
        {
            if (serverSide.IsCompletedSuccessfully)
            {
                await serverSide.Result.DisposeAsync().ConfigureAwait(false);
            }

            if (clientSide.IsCompletedSuccessfully)
            {
                await clientSide.Result.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }

        var (c, s) = (clientSide.Result, serverSide.Result);
        if (c.ProtocolName != s.ProtocolName || !c.HandshakeHash.Span.SequenceEqual(s.HandshakeHash.Span))
        {
            throw new InvalidOperationException($"The two ends disagree: {c.ProtocolName} / {s.ProtocolName}.");
        }

        negotiated ??= c.ProtocolName;
        return new ConnectedPair(new MessageApiStream(c), new MessageApiStream(s));
    }
}
