// The demo: two parties run a Noise XX handshake in memory and exchange two messages.
// It prints what each side sends on the wire and what each derives.
using System.Text;
using HybridProtocol;
using HybridProtocol.Noise;

const string Protocol = "Noise_XX_25519_ChaChaPoly_BLAKE2b";

using var serverKey = PrivateKey.Generate();
using var clientKey = PrivateKey.Generate();
Console.WriteLine($"Protocol:           {Protocol}");
Console.WriteLine($"Server static key:  {serverKey.Fingerprint}");
Console.WriteLine($"Client static key:  {clientKey.Fingerprint}");
Console.WriteLine();

using var client = NoiseHandshake.Create(new NoiseHandshakeOptions { ProtocolName = Protocol, Role = NoiseRole.Initiator, LocalStatic = clientKey });
using var server = NoiseHandshake.Create(new NoiseHandshakeOptions { ProtocolName = Protocol, Role = NoiseRole.Responder, LocalStatic = serverKey });

var step = 1;
while (client.Turn != NoiseHandshakeTurn.Completed || server.Turn != NoiseHandshakeTurn.Completed)
{
    var (sender, receiver, from, to) = client.Turn == NoiseHandshakeTurn.Write
        ? (client, server, "client", "server")
        : (server, client, "server", "client");
    var message = sender.WriteMessage([]);
    Console.WriteLine($"handshake {step++}: {from} -> {to}  {message.Length,3} bytes  {Hex(message)}");
    receiver.ReadMessage(message);
}

Console.WriteLine();
Console.WriteLine($"Client sees server key: {client.RemoteStatic?.Fingerprint}  (matches: {client.RemoteStatic == serverKey.PublicKey})");
Console.WriteLine($"Server sees client key: {server.RemoteStatic?.Fingerprint}  (matches: {server.RemoteStatic == clientKey.PublicKey})");
Console.WriteLine($"Handshake hash (client): {Hex(client.GetHandshakeHash())}");
Console.WriteLine($"Handshake hash (server): {Hex(server.GetHandshakeHash())}");
Console.WriteLine();

using var clientTransport = client.Transport;
using var serverTransport = server.Transport;
Exchange(clientTransport, serverTransport, "client", "server", "The client says hello!");
Exchange(serverTransport, clientTransport, "server", "client", "Server salutes you!");

static void Exchange(NoiseTransport sender, NoiseTransport receiver, string from, string to, string text)
{
    var wire = sender.Encrypt(Encoding.UTF8.GetBytes(text));
    var received = Encoding.UTF8.GetString(receiver.Decrypt(wire));
    Console.WriteLine($"{from} sends:    \"{text}\"");
    Console.WriteLine($"  on the wire:  {Hex(wire)}");
    Console.WriteLine($"{to} receives: \"{received}\"");
}

static string Hex(byte[] bytes) => Convert.ToHexStringLower(bytes);
