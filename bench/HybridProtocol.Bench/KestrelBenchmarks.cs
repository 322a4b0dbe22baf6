using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using HybridProtocol.AspNetCore;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.Logging;

namespace HybridProtocol.Bench;

/// <summary>
/// HTTP/2 served by Kestrel to HttpClient over 127.0.0.1, three ways in the same run: plain h2c (<c>TCP</c>, the
/// floor), Kestrel's <c>UseHttps</c> with TLS 1.3 (<c>SslStream</c>: the same self-signed ECDSA P-256 certificate kind,
/// pinned by hash, resumption off), and <c>UseHybridProtocol</c> with the client pinning the server key (NK,
/// AES-256-GCM suite). Measures requests per second on one connection with 32 requests in flight, the latency of one
/// request at a time on a warm connection, and the latency of a request on a new connection (connect, handshake,
/// HTTP/2 preface and settings, the request). The three take turns per repetition.
/// </summary>
internal static class KestrelBenchmarks
{
    private const int InFlight = 32;
    private static readonly byte[] Body = "hello from Kestrel"u8.ToArray();

    public static async Task RunAsync(Scale scale, Report report)
    {
        var quick = scale.Repetitions < 3;
        var requests = quick ? 2_000 : 20_000;
        var sequential = quick ? 300 : 3_000;
        var fresh = quick ? 30 : 300;
        using var certificate = TlsTransport.CreateCertificate();
        var pinned = certificate.GetCertHash(HashAlgorithmName.SHA256);
        using var serverKey = PrivateKey.Generate();

        var variants = new (string Name, Action<ListenOptions> Listen, Func<HttpMessageHandler> Handler, string Scheme)[]
        {
            ("TCP", _ => { }, () => new SocketsHttpHandler { UseProxy = false }, "http"),
            (
                "SslStream",
                listen =>
                {
                    listen.UseHttps(new HttpsConnectionAdapterOptions
                    {
                        ServerCertificate = certificate,
                        SslProtocols = SslProtocols.Tls13,
                        OnAuthenticate = (_, options) => options.AllowTlsResume = false,
                    });
                },
                () => new SocketsHttpHandler
                {
                    UseProxy = false,
                    SslOptions = new SslClientAuthenticationOptions
                    {
                        TargetHost = TlsTransport.CertificateHost,
                        EnabledSslProtocols = SslProtocols.Tls13,
                        AllowTlsResume = false,
                        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                        RemoteCertificateValidationCallback = (_, presented, _, _) =>
                            presented is not null && presented.GetCertHash(HashAlgorithmName.SHA256).AsSpan().SequenceEqual(pinned),
                    },
                },
                "https"),
            (
                "HybridProtocol AESGCM",
                listen => listen.UseHybridProtocol(new SecureServerOptions { ServerKey = serverKey }),
                () => HybridProtocolHttp.CreateHandler(new SecureClientOptions
                {
                    ServerAuthentication = ServerAuthentication.Pinned(serverKey.PublicKey),
                    Suite = SecureSuite.AesGcmSha256,
                }),
                "http"),
        };

        var apps = new List<WebApplication>();
        try
        {
            var urls = new List<string>();
            foreach (var variant in variants)
            {
                var (app, url) = await StartAsync(variant.Listen, variant.Scheme).ConfigureAwait(false);
                apps.Add(app);
                urls.Add(url);
            }

            var rates = variants.Select(_ => new List<double>()).ToArray();
            var warm = variants.Select(_ => new List<double>()).ToArray();
            var cold = variants.Select(_ => new List<double>()).ToArray();
            var clients = variants.Select(v => NewClient(v.Handler())).ToArray();
            try
            {
                for (var i = 0; i < variants.Length; i++)
                {
                    await ManyAsync(clients[i], urls[i], requests / 10).ConfigureAwait(false);
                    await FreshAsync(variants[i].Handler, urls[i], 5).ConfigureAwait(false);
                }

                for (var rep = 0; rep < scale.Repetitions; rep++)
                {
                    for (var i = 0; i < variants.Length; i++)
                    {
                        var start = Stopwatch.GetTimestamp();
                        await ManyAsync(clients[i], urls[i], requests).ConfigureAwait(false);
                        rates[i].Add(requests / Stats.Seconds(start, Stopwatch.GetTimestamp()));
                        warm[i].AddRange(await SequentialAsync(clients[i], urls[i], sequential).ConfigureAwait(false));
                        cold[i].AddRange(await FreshAsync(variants[i].Handler, urls[i], fresh).ConfigureAwait(false));
                    }
                }
            }
            finally
            {
                foreach (var client in clients)
                {
                    client.Dispose();
                }
            }

            for (var i = 0; i < variants.Length; i++)
            {
                var name = variants[i].Name;
                report.Add(new Row("Kestrel HTTP/2 requests per second", $"1 connection, {InFlight} in flight", name, Stats.Median(rates[i]), "/s", Better.Higher));
                report.Add(new Row("Kestrel HTTP/2 request latency, median", "warm connection, 1 in flight", name, Stats.Median(warm[i]), "us", Better.Lower));
                report.Add(new Row("Kestrel HTTP/2 request latency, p99", "warm connection, 1 in flight", name, Stats.Percentile(warm[i], 0.99), "us", Better.Lower));
                report.Add(new Row("Kestrel HTTP/2 request latency, median", "new connection", name, Stats.Median(cold[i]), "us", Better.Lower));
                report.Add(new Row("Kestrel HTTP/2 request latency, p99", "new connection", name, Stats.Percentile(cold[i], 0.99), "us", Better.Lower));
            }

            report.Note("Kestrel rows: HTTP/2 to HttpClient (SocketsHttpHandler) over 127.0.0.1; TCP = h2c with prior knowledge, SslStream = Kestrel's UseHttps with TLS 1.3 (ECDSA P-256 self-signed certificate, pinned by hash, resumption off), HybridProtocol = UseHybridProtocol with the client pinning the server key (NK) through HybridProtocolHttp's connect callback, AES-256-GCM suite. A GET of an 18-byte body; the three take turns per repetition. New connection = a new handler: connect, handshake, HTTP/2 setup and one request.");
        }
        finally
        {
            foreach (var app in apps)
            {
                await app.StopAsync().ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    private static async Task<(WebApplication App, string Url)> StartAsync(Action<ListenOptions> secure, string scheme)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            secure(listen);
        }));
        var app = builder.Build();
        app.MapGet("/", (RequestDelegate)(context => context.Response.Body.WriteAsync(Body).AsTask()));
        await app.StartAsync().ConfigureAwait(false);
        var port = new Uri(app.Urls.First()).Port;
        return (app, $"{scheme}://127.0.0.1:{port}/");
    }

    private static HttpClient NewClient(HttpMessageHandler handler) => new(handler)
    {
        DefaultRequestVersion = HttpVersion.Version20,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    private static async Task GetAsync(HttpClient client, string url)
    {
        var body = await client.GetByteArrayAsync(url).ConfigureAwait(false);
        if (!body.AsSpan().SequenceEqual(Body))
        {
            throw new InvalidOperationException("The response body arrived altered.");
        }
    }

    private static async Task ManyAsync(HttpClient client, string url, int count)
    {
        var issued = 0;
        var workers = Enumerable.Range(0, InFlight).Select(async _ =>
        {
            while (Interlocked.Increment(ref issued) <= count)
            {
                await GetAsync(client, url).ConfigureAwait(false);
            }
        });
        await Task.WhenAll(workers).ConfigureAwait(false);
    }

    private static async Task<List<double>> SequentialAsync(HttpClient client, string url, int count)
    {
        var samples = new List<double>(count);
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            await GetAsync(client, url).ConfigureAwait(false);
            samples.Add(Stats.Microseconds(start, Stopwatch.GetTimestamp()));
        }

        return samples;
    }

    private static async Task<List<double>> FreshAsync(Func<HttpMessageHandler> handler, string url, int count)
    {
        var samples = new List<double>(count);
        for (var i = 0; i < count; i++)
        {
            using var client = NewClient(handler());
            var start = Stopwatch.GetTimestamp();
            await GetAsync(client, url).ConfigureAwait(false);
            samples.Add(Stats.Microseconds(start, Stopwatch.GetTimestamp()));
        }

        return samples;
    }
}
