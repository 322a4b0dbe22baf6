// Kestrel serves a minimal API over HybridProtocol (HTTP/2), and HttpClient calls it through the connect callback,
// with the server's key pinned. Runs by itself on 127.0.0.1 and stops.
using System.Net;
using HybridProtocol;
using HybridProtocol.AspNetCore;
using Microsoft.AspNetCore.Server.Kestrel.Core;

using var serverKey = PrivateKey.Generate(); // a real server loads its key: PrivateKey.Load("server.key")

var builder = WebApplication.CreateSlimBuilder(args);
builder.Logging.AddFilter("Microsoft", LogLevel.Warning); // keep HybridProtocol's own lines (category "HybridProtocol")
builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
{
    listen.Protocols = HttpProtocols.Http2;
    listen.UseHybridProtocol(new SecureServerOptions { ServerKey = serverKey });
}));

var app = builder.Build();
app.MapGet("/hello", (HttpContext context) =>
{
    var secure = context.Features.Get<IHybridProtocolFeature>()!;
    return $"Hello over {context.Request.Protocol} inside {secure.ProtocolName}";
});
await app.StartAsync();
var address = app.Urls.First(); // http://127.0.0.1:PORT: the security is HybridProtocol's, not TLS

var client = new SecureClientOptions { ServerAuthentication = ServerAuthentication.Pinned(serverKey.PublicKey) };
using var http = new HttpClient(HybridProtocolHttp.CreateHandler(client))
{
    DefaultRequestVersion = HttpVersion.Version20,
    DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
};
Console.WriteLine(await http.GetStringAsync(address + "/hello"));

// A client that pins another key is refused; the library's error code is inside HttpClient's exception.
using var otherKey = PrivateKey.Generate();
var wrong = new SecureClientOptions { ServerAuthentication = ServerAuthentication.Pinned(otherKey.PublicKey) };
using var mistaken = new HttpClient(HybridProtocolHttp.CreateHandler(wrong)) { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
try
{
    await mistaken.GetStringAsync(address + "/hello");
}
catch (HttpRequestException e) when (e.InnerException is IHybridProtocolError h)
{
    Console.WriteLine($"Wrong pinned key: {h.Code}");
}

await app.StopAsync();
