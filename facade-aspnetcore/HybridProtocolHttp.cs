using System.Net;
using System.Net.Http;

namespace HybridProtocol.AspNetCore;

/// <summary>
/// HttpClient over HybridProtocol: a <see cref="SocketsHttpHandler.ConnectCallback"/> that connects over TCP and runs
/// the client handshake, so HTTP/1.1 and HTTP/2 (and gRPC channels built on the handler) travel inside the secure
/// connection. Use <c>http://</c> addresses (the security is HybridProtocol's, not TLS); for HTTP/2 set
/// <see cref="HttpVersion.Version20"/> with <see cref="HttpVersionPolicy.RequestVersionExact"/> (prior knowledge).
/// <code>
/// using var http = new HttpClient(HybridProtocolHttp.CreateHandler(new SecureClientOptions
///     { ServerAuthentication = ServerAuthentication.Pinned(PublicKey.Load("server.pub")) }))
///     { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
/// </code>
/// A failed handshake surfaces as <see cref="HttpRequestException"/> whose <see cref="Exception.InnerException"/> is
/// the <see cref="HybridProtocolException"/> with its <see cref="HybridErrorCode"/>.
/// </summary>
public static class HybridProtocolHttp
{
    /// <summary>
    /// The connect callback: each new HTTP connection is a <see cref="SecureConnection"/> to the request's host and
    /// port, authenticated by <paramref name="options"/> (pinned key, known hosts, callback); known-hosts entries are
    /// keyed by that host and port.
    /// </summary>
    public static Func<SocketsHttpConnectionContext, CancellationToken, ValueTask<Stream>> ConnectCallback(SecureClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.ServerAuthentication is null)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, "SecureClientOptions.ServerAuthentication is required: choose Pinned, KnownHosts, Callback or (for experiments only) DangerousAcceptAnyServerKey.");
        }

        return async (context, cancellationToken) =>
        {
            var connection = await SecureConnection.ConnectAsync(context.DnsEndPoint.Host, context.DnsEndPoint.Port, options, cancellationToken).ConfigureAwait(false);
            return connection.GetStream();
        };
    }

    /// <summary>A <see cref="SocketsHttpHandler"/> whose connections run over HybridProtocol (see <see cref="ConnectCallback"/>).</summary>
    public static SocketsHttpHandler CreateHandler(SecureClientOptions options) => new()
    {
        ConnectCallback = ConnectCallback(options),
        UseProxy = false,
    };
}
