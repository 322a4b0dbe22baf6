// The article's Secure_Socket example, with HybridProtocol: the same messages in the same order over 127.0.0.1:12345.
//   dotnet run --project examples/Article -- server     (creates server.key / server.pub in the current folder once)
//   dotnet run --project examples/Article -- client     (pins server.pub if present, else trusts on first use)
using System.Net;
using System.Text;
using HybridProtocol;

if (args is ["server"])
{
    using var key = File.Exists("server.key") ? PrivateKey.Load("server.key") : NewServerKey();
    await using var listener = new SecureListener(new IPEndPoint(IPAddress.Loopback, 12345), new SecureServerOptions { ServerKey = key });
    listener.Start();
    await using var socket = await listener.AcceptAsync();

    await socket.SendAsync(Encoding.UTF8.GetBytes("Hey, I'm the server and I'm sending you some info!"));
    var received = await socket.ReceiveAsync() ?? [];
    Console.WriteLine($"[+] Received from the client: {Encoding.UTF8.GetString(received)}\n[+] A total amount of {received.Length} bytes!");
    await socket.SendAsync(Encoding.UTF8.GetBytes("That's all for today! See you next time."));
    await socket.CloseAsync();
}
else if (args is ["client"])
{
    var trust = File.Exists("server.pub")
        ? ServerAuthentication.Pinned(PublicKey.Load("server.pub"))
        : ServerAuthentication.KnownHostsFile("known_hosts");
    await using var socket = await SecureConnection.ConnectAsync("127.0.0.1", 12345, new SecureClientOptions { ServerAuthentication = trust });

    var received = await socket.ReceiveAsync() ?? [];
    Console.WriteLine($"[+] Received from the server: {Encoding.UTF8.GetString(received)}\n[+] A total amount of {received.Length} bytes!");
    await socket.SendAsync(Encoding.UTF8.GetBytes("I'm the client. Sending you back a response!"));
    received = await socket.ReceiveAsync() ?? [];
    Console.WriteLine($"[+] Received from the server: {Encoding.UTF8.GetString(received)}\n[+] A total amount of {received.Length} bytes!");
    await socket.CloseAsync();
}
else
{
    Console.Error.WriteLine("usage: Article server | client");
    return 2;
}

return 0;

static PrivateKey NewServerKey()
{
    var key = PrivateKey.Generate();
    key.Save("server.key");
    key.PublicKey.Save("server.pub");
    Console.WriteLine($"[*] New server key {key.Fingerprint} saved to server.key (owner-only) and server.pub");
    return key;
}
