using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace HybridProtocol.AspNetCore;

/// <summary>
/// Kestrel endpoints over HybridProtocol, in the shape of <c>UseHttps</c>:
/// <code>
/// builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 5001, listen =>
/// {
///     listen.Protocols = HttpProtocols.Http2;   // HTTP/2 with prior knowledge (gRPC); Http1 for HTTP/1.1
///     listen.UseHybridProtocol(new SecureServerOptions { ServerKey = PrivateKey.Load("server.key") });
/// }));
/// </code>
/// Without ALPN, Kestrel picks HTTP/1.1 on an endpoint that allows both HTTP/1.1 and HTTP/2; give HTTP/2 its own
/// endpoint (<see cref="HttpProtocols.Http2"/>). Clients connect with <see cref="HybridProtocolHttp"/>.
/// </summary>
public static class HybridProtocolListenOptionsExtensions
{
    /// <summary>Runs every connection of this endpoint through a HybridProtocol server handshake with these options.</summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when the options have no server key.</exception>
    public static ListenOptions UseHybridProtocol(this ListenOptions listenOptions, SecureServerOptions serverOptions)
    {
        ArgumentNullException.ThrowIfNull(serverOptions);
        return listenOptions.UseHybridProtocol(new HybridProtocolConnectionOptions { ServerOptions = serverOptions });
    }

    /// <summary>As <see cref="UseHybridProtocol(ListenOptions, SecureServerOptions)"/>, with the endpoint's limits configured by <paramref name="configure"/>.</summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when the options have no server key.</exception>
    public static ListenOptions UseHybridProtocol(this ListenOptions listenOptions, Action<HybridProtocolConnectionOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        var options = new HybridProtocolConnectionOptions();
        configure(options);
        return listenOptions.UseHybridProtocol(options);
    }

    /// <summary>
    /// With the options registered by <see cref="HybridProtocolServiceCollectionExtensions.AddHybridProtocol(IServiceCollection, Microsoft.Extensions.Configuration.IConfiguration)"/>
    /// (bound from configuration: key file, timeouts, limits).
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when no server key file is configured; InvalidKey when it cannot be loaded.</exception>
    public static ListenOptions UseHybridProtocol(this ListenOptions listenOptions)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        var settings = listenOptions.ApplicationServices.GetService<IOptions<HybridProtocolServerSettings>>()?.Value
            ?? throw new HybridArgumentException(HybridErrorCode.InvalidArgument, "No HybridProtocol settings are registered: call services.AddHybridProtocol(configuration) first, or pass SecureServerOptions.");
        var options = settings.CreateConnectionOptions();
        // The key files are reloaded while the host runs (its stopping ends the reloads and holds the reloader).
        if (settings.KeyFileReloadInterval != Timeout.InfiniteTimeSpan
            && listenOptions.ApplicationServices.GetService<Microsoft.Extensions.Hosting.IHostApplicationLifetime>() is { } lifetime)
        {
            var logger = listenOptions.ApplicationServices.GetService<ILoggerFactory>()?.CreateLogger(HybridProtocolDiagnostics.LoggerCategory);
            var reloader = new KeyFileReloader(settings, options.ServerOptions!, logger);
            lifetime.ApplicationStopping.Register(reloader.Dispose);
        }

        return listenOptions.UseHybridProtocol(options);
    }

    /// <summary>
    /// Runs every connection of this endpoint through a HybridProtocol server handshake. The endpoint logs to the host's
    /// logger (category <see cref="HybridProtocolDiagnostics.LoggerCategory"/>) and, unless
    /// <see cref="SecureConnectionOptions.MeterFactory"/> is set, measures with the host's
    /// <see cref="System.Diagnostics.Metrics.IMeterFactory"/> when DI provides one.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when the options have no server key.</exception>
    public static ListenOptions UseHybridProtocol(this ListenOptions listenOptions, HybridProtocolConnectionOptions options)
    {
        ArgumentNullException.ThrowIfNull(listenOptions);
        ArgumentNullException.ThrowIfNull(options);
        var logger = listenOptions.ApplicationServices.GetService<ILoggerFactory>()?.CreateLogger(HybridProtocolDiagnostics.LoggerCategory);
        if (options.ServerOptions is { MeterFactory: null } serverOptions)
        {
            // The host's meter factory (AddMetrics, which ASP.NET Core's host adds), so the host owns the meter.
            serverOptions.MeterFactory = listenOptions.ApplicationServices.GetService<System.Diagnostics.Metrics.IMeterFactory>();
        }

        listenOptions.Use(next => new HybridProtocolConnectionMiddleware(next, options, logger).OnConnectionAsync);
        return listenOptions;
    }
}
