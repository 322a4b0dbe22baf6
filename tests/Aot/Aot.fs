/// Native AOT as a tested promise: two consumer apps built against the packed packages (tests/Packaging's local feed)
/// are published with `PublishAot=true` and run as native executables. The console app runs every kind of connection
/// (hybrid, classical, PSK, XX with a client key) and sealed files; the Kestrel app binds its settings from
/// appsettings.json (the configuration binder's source generator) and serves a request over HybridProtocol. The
/// publish output must name no trim or AOT warning of our assemblies (detailed per warning: TrimmerSingleWarn=false).
/// Native AOT needs clang and zlib's headers (`.ci/run` installs them) and the ILCompiler packages (restored by the SDK).
module HybridProtocol.Tests.Aot

open System
open System.Diagnostics
open System.IO
open System.Text.RegularExpressions
open Expecto
open HybridProtocol.Tests.Packaging
open HybridProtocol.Tests.TestSupport

/// What the console app checks; each line it prints is one check passed, and it ends with "aot console ok".
let private consoleProgram =
    """using System.Net;
using HybridProtocol;

static void Check(bool condition, string what)
{
    if (!condition) throw new InvalidOperationException("failed: " + what);
    Console.WriteLine("ok: " + what);
}

using var serverKey = PrivateKey.Generate();
using var clientKey = PrivateKey.Generate();
serverKey.Save("server.key", overwrite: true);
using var loaded = PrivateKey.Load("server.key");
Check(loaded.PublicKey == serverKey.PublicKey, "key file round trip (PEM, 0600)");
var psk = new byte[32];
psk[0] = 7;

async Task<(string Client, string Server, PublicKey? ClientKeySeen)> RoundTrip(SecureServerOptions server, SecureClientOptions client)
{
    await using var listener = new SecureListener(new IPEndPoint(IPAddress.Loopback, 0), server);
    listener.Start();
    var accepted = Task.Run(async () =>
    {
        await using var connection = await listener.AcceptAsync();
        var message = await connection.ReceiveAsync() ?? throw new InvalidOperationException("the client closed");
        await connection.SendAsync(message);
        await connection.CloseAsync();
        return (connection.ProtocolName, connection.RemotePublicKey);
    });
    string name;
    await using (var connection = await SecureConnection.ConnectAsync("127.0.0.1", listener.LocalEndPoint.Port, client))
    {
        await connection.SendAsync("ping"u8.ToArray());
        var reply = await connection.ReceiveAsync();
        if (reply is null || !reply.AsSpan().SequenceEqual("ping"u8)) throw new InvalidOperationException("echo differs");
        name = connection.ProtocolName;
    }
    var (serverName, seen) = await accepted.WaitAsync(TimeSpan.FromSeconds(30));
    return (name, serverName, seen);
}

var pinned = ServerAuthentication.Pinned(serverKey.PublicKey);
var hybrid = await RoundTrip(new SecureServerOptions { ServerKey = serverKey }, new SecureClientOptions { ServerAuthentication = pinned });
Check(hybrid.Client.Contains("hfs") && hybrid.Client == hybrid.Server, "hybrid by default: " + hybrid.Client);

var classical = await RoundTrip(new SecureServerOptions { ServerKey = serverKey },
    new SecureClientOptions { ServerAuthentication = pinned, PostQuantum = PostQuantumMode.Classical });
Check(!classical.Client.Contains("hfs"), "classical on request: " + classical.Client);

var withPsk = await RoundTrip(new SecureServerOptions { ServerKey = serverKey, PreSharedKey = psk },
    new SecureClientOptions { ServerAuthentication = pinned, PreSharedKey = psk, Suite = SecureSuite.AesGcmSha256 });
Check(withPsk.Client.Contains("psk") && withPsk.Client.Contains("AESGCM"), "PSK and AES-GCM: " + withPsk.Client);

File.Delete("known_hosts");
var xx = await RoundTrip(
    new SecureServerOptions { ServerKey = serverKey, ClientAuthentication = ClientAuthentication.AllowList([clientKey.PublicKey]) },
    new SecureClientOptions { ServerAuthentication = ServerAuthentication.KnownHostsFile("known_hosts"), ClientIdentity = clientKey });
Check(xx.Client.Contains("XX") && xx.ClientKeySeen == clientKey.PublicKey, "XX with a client key, known hosts: " + xx.Client);

using var otherKey = PrivateKey.Generate();
try
{
    await RoundTrip(new SecureServerOptions { ServerKey = serverKey },
        new SecureClientOptions { ServerAuthentication = ServerAuthentication.Pinned(otherKey.PublicKey), ConnectTimeout = TimeSpan.FromSeconds(10) });
    Check(false, "a wrong pinned key is refused");
}
catch (HybridAuthenticationException e)
{
    Check(e.Code == HybridErrorCode.AuthenticationFailed && e.Message.Length > 20, "a wrong pinned key is refused: " + e.Code);
}

var plaintext = new byte[300_000];
Random.Shared.NextBytes(plaintext);
using var sealedFile = new MemoryStream();
SealedFile.Seal(serverKey.PublicKey, new MemoryStream(plaintext), sealedFile, chunkSize: 65536);
sealedFile.Position = 0;
using var opened = new MemoryStream();
SealedFile.Open(serverKey, sealedFile, opened);
Check(opened.ToArray().AsSpan().SequenceEqual(plaintext), "sealed file round trip (" + sealedFile.Length + " bytes)");
var sealedMessage = Hpke.Seal(serverKey.PublicKey, "one-shot"u8, info: "aot"u8);
Check(Hpke.Open(serverKey, sealedMessage, info: "aot"u8).AsSpan().SequenceEqual("one-shot"u8), "HPKE seal and open");
Console.WriteLine("aot console ok");
"""

/// The Kestrel app: settings from appsettings.json (below), an HTTP/2 endpoint over HybridProtocol, one request.
let private webProgram =
    """using System.Net;
using HybridProtocol;
using HybridProtocol.AspNetCore;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;

if (!File.Exists("server.key"))
{
    using var key = PrivateKey.Generate();
    key.Save("server.key");
}

var builder = WebApplication.CreateSlimBuilder(args);
builder.Services.AddHybridProtocol(builder.Configuration.GetSection("HybridProtocol"));
builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
{
    listen.Protocols = HttpProtocols.Http2;
    listen.UseHybridProtocol();
}));
var app = builder.Build();
app.MapGet("/hello", (HttpContext context) => "hello over " + context.Features.Get<IHybridProtocolFeature>()!.ProtocolName);
await app.StartAsync();

var settings = app.Services.GetRequiredService<IOptions<HybridProtocolServerSettings>>().Value;
if (settings.MaxMessageSize != 65536 || settings.PostQuantum != PostQuantumMode.Required || settings.HandshakeTimeout != TimeSpan.FromSeconds(7))
{
    throw new InvalidOperationException("appsettings.json was not bound: " + settings.MaxMessageSize + " " + settings.PostQuantum + " " + settings.HandshakeTimeout);
}
Console.WriteLine("ok: bound from appsettings.json");

var client = new SecureClientOptions { ServerAuthentication = ServerAuthentication.Pinned(PublicKey.FromPem(PrivateKey.Load("server.key").PublicKey.ToPem())) };
using var http = new HttpClient(HybridProtocolHttp.CreateHandler(client))
{
    DefaultRequestVersion = HttpVersion.Version20,
    DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
};
var hello = await http.GetStringAsync(app.Urls.First() + "/hello");
if (!hello.Contains("hfs")) throw new InvalidOperationException("unexpected answer: " + hello);
Console.WriteLine("ok: " + hello);

var classical = new SecureClientOptions { ServerAuthentication = client.ServerAuthentication, PostQuantum = PostQuantumMode.Classical };
using var refused = new HttpClient(HybridProtocolHttp.CreateHandler(classical)) { DefaultRequestVersion = HttpVersion.Version20, DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact };
try
{
    await refused.GetStringAsync(app.Urls.First() + "/hello");
    throw new InvalidOperationException("a classical client was served although PostQuantum is Required");
}
catch (HttpRequestException e) when (e.InnerException is HybridProtocolException h)
{
    Console.WriteLine("ok: classical client refused (" + h.Code + ")");
}
await app.StopAsync();
Console.WriteLine("aot web ok");
"""

let private appSettings =
    """{
  "Logging": { "LogLevel": { "Default": "Warning" } },
  "HybridProtocol": {
    "KeyFile": "server.key",
    "HandshakeTimeout": "00:00:07",
    "MaxMessageSize": 65536,
    "PostQuantum": "Required"
  }
}
"""

/// A project file for a Native AOT app on the packed packages (no template: the same defaults written out).
let private project (sdk: string) (packages: string list) =
    let references =
        packages
        |> List.map (fun p -> $"    <PackageReference Include=\"{p}\" Version=\"{version}\" />")
        |> String.concat "\n"

    $"""<Project Sdk="{sdk}">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
    <PublishAot>true</PublishAot>
    <InvariantGlobalization>true</InvariantGlobalization>
    <TrimmerSingleWarn>false</TrimmerSingleWarn>
  </PropertyGroup>
  <ItemGroup>
{references}
  </ItemGroup>
</Project>
"""

/// Runs a published native executable in its folder, returning its output; fails on a non-zero exit or after 2 min.
let private runNative (exe: string) =
    let r =
        processIn (Path.GetDirectoryName exe |> string) exe []
        |> runProcess (TimeSpan.FromMinutes 2.)

    let output = r.Out + r.Err
    Expect.equal r.Status 0 $"{Path.GetFileName exe} exited with {r.Status}:\n{output}"
    output

/// The trim and AOT warnings (ILxxxx) of a publish's output that name one of our assemblies or namespaces.
let ourWarnings (output: string) =
    output.Split('\n')
    |> Array.filter (fun line -> Regex.IsMatch(line, @"warning IL\d{4}") && line.Contains "HybridProtocol")
    |> Array.distinct

/// Publishes an app (Release, Native AOT) and runs the executable; returns the publish and run outputs.
let private publishAndRun (name: string) (sdk: string) (packages: string list) (files: (string * string) list) =
    let packedFeed = packed.Value
    let app = Path.Combine(packedFeed.Root, name)
    Directory.CreateDirectory app |> ignore
    File.WriteAllText(Path.Combine(app, name + ".csproj"), project sdk packages)

    for file, text in files do
        File.WriteAllText(Path.Combine(app, file), text)

    let publishDir = Path.Combine(app, "out")

    let publish =
        dotnet app (TimeSpan.FromMinutes 8.) [
            "publish"
            "-c"
            "Release"
            "-r"
            "linux-x64"
            "--disable-build-servers"
            "-o"
            publishDir
        ]

    publish, runNative (Path.Combine(publishDir, name))

[<Tests>]
let tests =
    testSequenced
    <| testList "Aot" [
        testCase "the publish warning filter sees an IL warning that names our assembly, and only such lines"
        <| fun () ->
            let sample =
                "x.cs(1,1): warning IL2026: HybridProtocol.Foo.Bar(): Using member 'X' ...\n"
                + "warning IL3053: Assembly 'FSharp.Core' produced AOT analysis warnings.\n"
                + "HybridProtocol -> /tmp/x.dll\n"

            Expect.equal (ourWarnings sample).Length 1 "one warning of ours"

        testCase
            "a Native AOT console app: hybrid, classical, PSK + AES-GCM, XX with a client key, a refused key, sealed files, HPKE"
        <| fun () ->
            let publish, output =
                publishAndRun "AotConsole" "Microsoft.NET.Sdk" [ "HybridProtocol" ] [ "Program.cs", consoleProgram ]

            Expect.isEmpty (ourWarnings publish) $"no trim or AOT warning names our assemblies:\n{publish}"
            Expect.stringContains output "aot console ok" "the native app ran every check"
            Expect.equal (Regex.Matches(output, "^ok: ", RegexOptions.Multiline).Count) 8 $"eight checks:\n{output}"

        testCase
            "a Native AOT Kestrel app binds its settings from appsettings.json and serves HTTP/2 over HybridProtocol"
        <| fun () ->
            let publish, output =
                publishAndRun "AotWeb" "Microsoft.NET.Sdk.Web" [ "HybridProtocol.AspNetCore" ] [
                    "Program.cs", webProgram
                    "appsettings.json", appSettings
                ]

            Expect.isEmpty (ourWarnings publish) $"no trim or AOT warning names our assemblies:\n{publish}"
            Expect.stringContains output "ok: bound from appsettings.json" "the binder source generator bound them"
            Expect.stringContains output "aot web ok" $"the native app served and refused:\n{output}"
    ]
