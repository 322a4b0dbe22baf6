// The demo: a SecureListener and a client in one process over 127.0.0.1, with a small relaying proxy between them
// that records every byte crossing the wire. It shows, side by side, what the application sent and what an
// eavesdropper sees (like the article's Wireshark comparison). Then the proxy turns into a man in the middle with its
// own key, and the client, which recorded the real server's key on first contact, refuses it (ServerKeyChanged).
using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;
using HybridProtocol;

using var serverKey = PrivateKey.Generate();
using var attackerKey = PrivateKey.Generate();
var knownHosts = Path.Combine(Path.GetTempPath(), $"hybrid-demo-known-hosts-{Environment.ProcessId}");
File.Delete(knownHosts);

await using var listener = new SecureListener(new IPEndPoint(IPAddress.Loopback, 0), new SecureServerOptions { ServerKey = serverKey });
listener.Start();
using var proxy = new Proxy(listener.LocalEndPoint, attackerKey);
var clientOptions = new SecureClientOptions { ServerAuthentication = ServerAuthentication.KnownHostsFile(knownHosts) };

Console.WriteLine($"Server key:  {serverKey.Fingerprint}   listening on {listener.LocalEndPoint}");
Console.WriteLine($"Proxy:       {proxy.EndPoint} relays to the server and records the bytes on the wire");
Console.WriteLine();
Console.WriteLine("1. The client connects through the proxy (first contact: it records the server's key).");
var accepting = listener.AcceptAsync();
await using (var client = await SecureConnection.ConnectAsync("127.0.0.1", proxy.EndPoint.Port, clientOptions))
await using (var server = await accepting)
{
    proxy.PrintWire("handshake");
    Console.WriteLine($"   {client.ProtocolName}; the client sees the server key {client.RemotePublicKey}");
    Console.WriteLine();
    await Show(server, client, "server", "Hey, I'm the server and I'm sending you some info!");
    await Show(client, server, "client", "I'm the client. Sending you back a response!");
    await Show(server, client, "server", "That's all for today! See you next time.");
    var closing = client.CloseAsync();
    _ = await server.ReceiveAsync();
    await closing;
    proxy.PrintWire("authenticated close");
}

Console.WriteLine();
Console.WriteLine("2. The proxy becomes a man in the middle: it answers the handshake itself, with its own key.");
proxy.Intercept = true;
try
{
    await using var victim = await SecureConnection.ConnectAsync("127.0.0.1", proxy.EndPoint.Port, clientOptions);
    Console.WriteLine("   The client accepted the impostor. This must not happen.");
    return 1;
}
catch (HybridAuthenticationException e) when (e.Code == HybridErrorCode.ServerKeyChanged)
{
    Console.WriteLine($"   The client refused: {e.Code}");
    Console.WriteLine($"   {e.Message}");
}
finally
{
    File.Delete(knownHosts);
}

return 0;

async Task Show(SecureConnection from, SecureConnection to, string sender, string text)
{
    await from.SendAsync(Encoding.UTF8.GetBytes(text));
    var received = await to.ReceiveAsync() ?? [];
    Console.WriteLine($"   {sender} application sent ({text.Length} bytes): \"{text}\"");
    proxy.PrintWire("what crossed the wire");
    Console.WriteLine($"   receiver got {received.Length} bytes: \"{Encoding.UTF8.GetString(received)}\"");
    Console.WriteLine();
}

/// <summary>A TCP relay that records what it forwards, or (Intercept) terminates connections with its own key.</summary>
internal sealed class Proxy : IDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly IPEndPoint upstream;
    private readonly PrivateKey ownKey;
    private readonly ConcurrentQueue<(string Direction, byte[] Bytes)> wire = new();

    public Proxy(IPEndPoint upstream, PrivateKey ownKey)
    {
        this.upstream = upstream;
        this.ownKey = ownKey;
        listener.Start();
        _ = Task.Run(AcceptLoop);
    }

    public IPEndPoint EndPoint => (IPEndPoint)listener.LocalEndpoint;

    public volatile bool Intercept;

    public void PrintWire(string title)
    {
        Console.WriteLine($"   {title}:");
        while (wire.TryDequeue(out var chunk))
        {
            var shown = Convert.ToHexStringLower(chunk.Bytes.AsSpan(0, Math.Min(chunk.Bytes.Length, 40)));
            Console.WriteLine($"     {chunk.Direction} {chunk.Bytes.Length,4} bytes  {shown}{(chunk.Bytes.Length > 40 ? "..." : "")}");
        }
    }

    public void Dispose() => listener.Stop();

    private async Task AcceptLoop()
    {
        while (true)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync();
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                return;
            }

            _ = Intercept ? Impersonate(client) : Relay(client);
        }
    }

    private async Task Impersonate(TcpClient client)
    {
        try
        {
            await using var fake = await SecureConnection.AuthenticateAsServerAsync(client.GetStream(), new SecureServerOptions { ServerKey = ownKey });
        }
        catch (Exception e) when (e is IHybridProtocolError)
        {
            // The client broke off: exactly what should happen.
        }
    }

    private async Task Relay(TcpClient client)
    {
        using var server = new TcpClient();
        await server.ConnectAsync(upstream);
        using (client)
        {
            await Task.WhenAll(Copy(client.GetStream(), server.GetStream(), "client -> server"), Copy(server.GetStream(), client.GetStream(), "server -> client"));
        }
    }

    private async Task Copy(NetworkStream from, NetworkStream to, string direction)
    {
        var buffer = new byte[65536];
        try
        {
            int n;
            while ((n = await from.ReadAsync(buffer)) > 0)
            {
                wire.Enqueue((direction, buffer[..n]));
                await to.WriteAsync(buffer.AsMemory(0, n));
            }

            to.Socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is IOException or SocketException or ObjectDisposedException)
        {
            // One side went away.
        }
    }
}
