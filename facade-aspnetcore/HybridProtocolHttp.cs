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

/// <summary>
/// HybridProtocol for clients made by <see cref="System.Net.Http.IHttpClientFactory"/>: the named or typed client's
/// primary handler becomes <see cref="HybridProtocolHttp.CreateHandler"/>, so every connection it opens runs the
/// client handshake.
/// <code>
/// services.AddHttpClient("orders", c => c.BaseAddress = new Uri("http://orders.internal:5001"))
///     .UseHybridProtocol(new SecureClientOptions { ServerAuthentication = ServerAuthentication.Pinned(PublicKey.Load("orders.pub")) });
/// </code>
/// The addresses stay <c>http://</c> (the security is HybridProtocol's, below HTTP). For HTTP/2 with prior knowledge,
/// set the client's <c>DefaultRequestVersion</c> to 2.0 and <c>DefaultVersionPolicy</c> to
/// <see cref="HttpVersionPolicy.RequestVersionExact"/> in <c>ConfigureHttpClient</c>.
/// </summary>
public static class HybridProtocolHttpClientBuilderExtensions
{
    /// <summary>
    /// Makes the client's primary handler a HybridProtocol handler with these options (authentication is required).
    /// When <see cref="SecureConnectionOptions.MeterFactory"/> is not set, the container's
    /// <see cref="System.Diagnostics.Metrics.IMeterFactory"/> (if any) is used.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when <see cref="SecureClientOptions.ServerAuthentication"/> is not set.</exception>
    public static Microsoft.Extensions.DependencyInjection.IHttpClientBuilder UseHybridProtocol(
        this Microsoft.Extensions.DependencyInjection.IHttpClientBuilder builder, SecureClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _ = HybridProtocolHttp.ConnectCallback(options); // checks the options now, where the client is registered
        return builder.UseHybridProtocol(_ => options);
    }

    /// <summary>As <see cref="UseHybridProtocol(Microsoft.Extensions.DependencyInjection.IHttpClientBuilder, SecureClientOptions)"/>, with the options made from the container (e.g. from bound settings) each time a handler is built.</summary>
    public static Microsoft.Extensions.DependencyInjection.IHttpClientBuilder UseHybridProtocol(
        this Microsoft.Extensions.DependencyInjection.IHttpClientBuilder builder, Func<IServiceProvider, SecureClientOptions> options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(options);
        return Microsoft.Extensions.DependencyInjection.HttpClientBuilderExtensions.ConfigurePrimaryHttpMessageHandler(builder, services =>
        {
            var made = options(services);
            made.MeterFactory ??= (System.Diagnostics.Metrics.IMeterFactory?)services.GetService(typeof(System.Diagnostics.Metrics.IMeterFactory));
            return HybridProtocolHttp.CreateHandler(made);
        });
    }
}
