using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace HybridProtocol.Bench;

/// <summary>
/// The plug-in point: a transport the benchmark drives over 127.0.0.1. It owns a listener and hands out
/// connected, authenticated stream pairs; the benchmark writes on one end and reads on the other. Both ends
/// live in this process, so every cost (CPU, allocation, memory) counts both sides of the connection.
/// </summary>
public interface ITransportUnderTest : IAsyncDisposable
{
    /// <summary>Short name for the table, for example <c>SslStream</c> or <c>HybridProtocol AESGCM</c>.</summary>
    string Name { get; }

    /// <summary>What was negotiated, once a connection exists (for TLS: version and cipher suite).</summary>
    string? Negotiated { get; }

    /// <summary>
    /// Opens a new TCP connection to the listener and completes the handshake on both ends. The task
    /// completes when both the client and the server end can send application data.
    /// </summary>
    Task<ConnectedPair> ConnectPairAsync(CancellationToken cancellationToken);
}

/// <summary>The two ends of one connection. Disposing closes the client end first, then the server end.</summary>
public sealed class ConnectedPair(Stream client, Stream server) : IAsyncDisposable
{
    public Stream Client { get; } = client;

    public Stream Server { get; } = server;

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync().ConfigureAwait(false);
        await Server.DisposeAsync().ConfigureAwait(false);
    }
}

/// <summary>
/// A listening socket on 127.0.0.1 with an accept loop that matches each accepted socket to the client
/// socket that dialled it (by the client's local port), so concurrent connects never get crossed.
/// Subclasses add the handshake on top of the connected sockets.
/// </summary>
public abstract class LoopbackTransport : ITransportUnderTest
{
    private readonly Socket listener;
    private readonly ConcurrentDictionary<IPEndPoint, TaskCompletionSource<Socket>> waiting = new();

    // Client source addresses 127.0.0.1-250 in turn (Linux routes all of 127/8 to loopback): each has its own
    // ephemeral ports, so the tens of thousands of connections a run makes (their TIME_WAIT lasts 60 s) never crowd
    // one address's 28,000 ports, where every bind(0) must search a nearly full range (bare TCP connects measured
    // 500-750 us instead of 40 us once the handshake warm-up had made ~30,000 connections within a minute).
    private static int nextSource;
    private readonly CancellationTokenSource stop = new();
    private readonly Task acceptLoop;
    private CountingStream? countedClient;
    private CountingStream? countedServer;
    private bool countNext;

    protected LoopbackTransport()
    {
        listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(4096);
        acceptLoop = Task.Run(AcceptLoopAsync);
    }

    public abstract string Name { get; }

    public virtual string? Negotiated => null;

    public async Task<ConnectedPair> ConnectPairAsync(CancellationToken cancellationToken)
    {
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        try
        {
            client.Bind(new IPEndPoint(NextSourceAddress(), 0));
            var local = (IPEndPoint)client.LocalEndPoint!;
            var accepted = new TaskCompletionSource<Socket>(TaskCreationOptions.RunContinuationsAsynchronously);
            waiting[local] = accepted;
            await client.ConnectAsync(listener.LocalEndPoint!, cancellationToken).ConfigureAwait(false);
            var server = await accepted.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
            server.NoDelay = true;
            return await SecureAsync(client, server, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            client.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The bytes one full handshake puts on the wire: one connection whose sockets are wrapped in byte-counting
    /// streams (only this one), counted from the first byte until both ends can send application data.
    /// </summary>
    public async Task<(long ClientToServer, long ServerToClient)> CountHandshakeBytesAsync(CancellationToken cancellationToken)
    {
        countNext = true;
        await using var pair = await ConnectPairAsync(cancellationToken).ConfigureAwait(false);
        var counted = (countedClient?.Written ?? 0, countedServer?.Written ?? 0);
        (countedClient, countedServer, countNext) = (null, null, false);
        return counted;
    }

    /// <summary>The stream over a connected socket: a <see cref="NetworkStream"/>, counted during <see cref="CountHandshakeBytesAsync"/>.</summary>
    protected Stream Open(Socket socket, bool client)
    {
        var network = new NetworkStream(socket, ownsSocket: true);
        if (!countNext)
        {
            return network;
        }

        var counting = new CountingStream(network);
        if (client)
        {
            countedClient = counting;
        }
        else
        {
            countedServer = counting;
        }

        return counting;
    }

    public async ValueTask DisposeAsync()
    {
        await stop.CancelAsync().ConfigureAwait(false);
        listener.Dispose();
        try
        {
            await acceptLoop.ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // The loop ends when the listener closes.
        }

        stop.Dispose();
        DisposeResources();
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases what a subclass holds (certificates, keys) after the listener has stopped.</summary>
    protected virtual void DisposeResources()
    {
    }

    /// <summary>Runs the handshake on a connected socket pair; both sockets are owned by the result.</summary>
    protected abstract Task<ConnectedPair> SecureAsync(Socket client, Socket server, CancellationToken cancellationToken);

    private static IPAddress NextSourceAddress()
    {
        if (!OperatingSystem.IsLinux())
        {
            return IPAddress.Loopback;
        }

        var n = (uint)Interlocked.Increment(ref nextSource) % 250;
        return new IPAddress([127, 0, 0, (byte)(1 + n)]);
    }

    private async Task AcceptLoopAsync()
    {
        while (!stop.IsCancellationRequested)
        {
            var socket = await listener.AcceptAsync(stop.Token).ConfigureAwait(false);
            if (waiting.TryRemove((IPEndPoint)socket.RemoteEndPoint!, out var pending))
            {
                pending.SetResult(socket);
            }
            else
            {
                socket.Dispose();
            }
        }
    }
}

/// <summary>Plain TCP: the physical limit of loopback (no handshake beyond TCP's, no encryption).</summary>
public sealed class PlainTcpTransport : LoopbackTransport
{
    public override string Name => "TCP";

    protected override Task<ConnectedPair> SecureAsync(Socket client, Socket server, CancellationToken cancellationToken) =>
        Task.FromResult(new ConnectedPair(new NetworkStream(client, ownsSocket: true), new NetworkStream(server, ownsSocket: true)));
}

/// <summary>
/// SslStream with TLS 1.3 only, a self-signed ECDSA P-256 certificate made in-process, server authentication
/// (the client pins the certificate's thumbprint), and TLS resumption off on both ends so every handshake is full.
/// Every connection checks that TLS 1.3 was negotiated.
/// </summary>
public sealed class TlsTransport : LoopbackTransport
{
    private const string HostName = "bench.localhost";
    private readonly X509Certificate2 certificate;
    private readonly SslStreamCertificateContext certificateContext;
    private readonly byte[] pinnedThumbprint;
    private string? negotiated;

    public TlsTransport()
    {
        certificate = CreateCertificate();
        certificateContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
        pinnedThumbprint = certificate.GetCertHash(HashAlgorithmName.SHA256);
    }

    /// <summary>The host name the certificate names (the client's TargetHost).</summary>
    public const string CertificateHost = HostName;

    public override string Name => "SslStream";

    /// <summary>A self-signed ECDSA P-256 server certificate for <see cref="CertificateHost"/>, as every TLS row uses.</summary>
    public static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={HostName}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(HostName);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // Round-trip through PKCS#12 so the private key is a persisted one every platform's TLS stack accepts.
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), password: null);
    }

    protected override void DisposeResources() => certificate.Dispose();

    public override string? Negotiated => negotiated;

    protected override async Task<ConnectedPair> SecureAsync(Socket client, Socket server, CancellationToken cancellationToken)
    {
        var clientStream = new SslStream(Open(client, client: true), leaveInnerStreamOpen: false);
        var serverStream = new SslStream(Open(server, client: false), leaveInnerStreamOpen: false);
        try
        {
            var clientOptions = new SslClientAuthenticationOptions
            {
                TargetHost = HostName,
                EnabledSslProtocols = SslProtocols.Tls13,
                AllowTlsResume = false,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                RemoteCertificateValidationCallback = (_, presented, _, _) =>
                    presented is not null && presented.GetCertHash(HashAlgorithmName.SHA256).AsSpan().SequenceEqual(pinnedThumbprint),
            };
            var serverOptions = new SslServerAuthenticationOptions
            {
                ServerCertificateContext = certificateContext,
                EnabledSslProtocols = SslProtocols.Tls13,
                AllowTlsResume = false,
                ClientCertificateRequired = false,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            };
            await Task.WhenAll(
                clientStream.AuthenticateAsClientAsync(clientOptions, cancellationToken),
                serverStream.AuthenticateAsServerAsync(serverOptions, cancellationToken)).ConfigureAwait(false);
            if (clientStream.SslProtocol != SslProtocols.Tls13 || serverStream.SslProtocol != SslProtocols.Tls13)
            {
                throw new InvalidOperationException($"Expected TLS 1.3, negotiated {clientStream.SslProtocol}/{serverStream.SslProtocol}.");
            }

            negotiated ??= $"TLS 1.3, {clientStream.NegotiatedCipherSuite}";
            return new ConnectedPair(clientStream, serverStream);
        }
        catch
        {
            await clientStream.DisposeAsync().ConfigureAwait(false);
            await serverStream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}

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

/// <summary>
/// The benchmark's view of a <see cref="SecureConnection"/> through its message API, without the copies of
/// <see cref="SecureConnection.GetStream"/>: each write is one <see cref="SecureConnection.SendAsync"/>, each read one
/// <see cref="SecureConnection.ReceiveAsync(Memory{byte}, CancellationToken)"/> into the caller's buffer (which must
/// hold a whole message; the benchmark reads messages of the size it sent). A zero-byte read waits for the next
/// message without taking it (ReceiveAsync keeps a message that does not fit); the connection holds no buffer meanwhile. Disposing sends the authenticated close and disposes the connection.
/// </summary>
public sealed class MessageApiStream(SecureConnection connection) : Stream
{
    public SecureConnection Connection { get; } = connection;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        Connection.SendAsync(buffer, cancellationToken);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            var n = await Connection.ReceiveAsync(buffer, cancellationToken).ConfigureAwait(false);
            return n < 0 ? 0 : n;
        }
        catch (HybridArgumentException e) when (e.Code == HybridErrorCode.InvalidArgument && buffer.IsEmpty)
        {
            // A zero-byte read waits for data: a message has arrived and is kept for the next read.
            return 0;
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer, offset, count, CancellationToken.None).GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => Connection.Send(buffer.AsSpan(offset, count));

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override async ValueTask DisposeAsync()
    {
        await Connection.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Connection.Dispose();
        }

        base.Dispose(disposing);
    }
}

/// <summary>The transports every network measurement runs, in table order.</summary>
public static class Transports
{
    /// <summary>Creates a fresh instance of each transport under test.</summary>
    public static IReadOnlyList<Func<ITransportUnderTest>> All { get; } =
    [
        () => new PlainTcpTransport(),
        () => new TlsTransport(),
        () => new HybridProtocolTransport(SecureSuite.AesGcmSha256, "AESGCM"),
        () => new HybridProtocolTransport(SecureSuite.AesGcmSha256, "AESGCM", postQuantum: PostQuantumMode.Classical),
        () => new HybridProtocolTransport(SecureSuite.ChaChaPolyBlake2b, "ChaChaPoly"),
        () => new HybridProtocolTransport(SecureSuite.Aegis256Blake2b, "AEGIS256"),
    ];

    /// <summary>
    /// More transports for the handshake rows only: the AES-GCM suite with the XX and IK patterns (client keys), and a
    /// server holding 3 keys (specs/PROTOCOL.md §6a) whose client pins the current key or the oldest, beside the 1-key
    /// "HybridProtocol AESGCM" row.
    /// </summary>
    public static IReadOnlyList<Func<ITransportUnderTest>> HandshakeOnly { get; } =
    [
        () => new HybridProtocolTransport(SecureSuite.AesGcmSha256, "AESGCM", "XX"),
        () => new HybridProtocolTransport(SecureSuite.AesGcmSha256, "AESGCM", "IK"),
        () => new HybridProtocolTransport(SecureSuite.AesGcmSha256, "AESGCM", heldKeys: 3, pinnedKey: 0),
        () => new HybridProtocolTransport(SecureSuite.AesGcmSha256, "AESGCM", heldKeys: 3, pinnedKey: 2),
    ];
}

/// <summary>A stream that counts the bytes written through it (the bytes this end put on the wire).</summary>
public sealed class CountingStream(Stream inner) : Stream
{
    private long written;

    public long Written => Interlocked.Read(ref written);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Flush() => inner.Flush();

    public override Task FlushAsync(CancellationToken cancellationToken) => inner.FlushAsync(cancellationToken);

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, count);

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) => inner.ReadAsync(buffer, cancellationToken);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) => inner.ReadAsync(buffer, offset, count, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count)
    {
        Interlocked.Add(ref written, count);
        inner.Write(buffer, offset, count);
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        Interlocked.Add(ref written, buffer.Length);
        inner.Write(buffer);
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        Interlocked.Add(ref written, buffer.Length);
        return inner.WriteAsync(buffer, cancellationToken);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        Interlocked.Add(ref written, count);
        return inner.WriteAsync(buffer, offset, count, cancellationToken);
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await inner.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
