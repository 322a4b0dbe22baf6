using HybridProtocol.Core;
using HybridProtocol.Core.Noise;
using HybridProtocol.Core.Wire;
using HybridProtocol.Crypto;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace HybridProtocol.Fuzz;

/// <summary>Fixed keys and honest sessions the handshake and record targets start from.</summary>
public static partial class FuzzTargets
{
    /// <summary>Fixed keys: the fuzzer's runs are reproducible.</summary>
    internal static DhKeyPair Key(int label)
    {
        var raw = new byte[32];
        for (var i = 0; i < raw.Length; i++)
        {
            raw[i] = (byte)(label * 37 + i * 11 + 5);
        }

        return NSecSuite.X25519.IMPORT_PRIVATE.Invoke(raw).Value;
    }

    internal static readonly string[] ServerNames =
    [
        "Noise_NN_25519_ChaChaPoly_BLAKE2b",
        "Noise_XX_25519_ChaChaPoly_BLAKE2b",
        "Noise_IK_25519_ChaChaPoly_BLAKE2b",
        "Noise_NK_25519_AESGCM_SHA256",
    ];

    internal static Connection Server()
    {
        var config = ServerConfig.Create(
            ServerNames.Select(n => ProtocolNameModule.parse(n).ResultValue),
            new Func<ProtocolName, CryptoSuite>(NSecSuite.For),
            Key(4),
            "fuzz/1").WithLocalStatic(Key(2));
        return Connection.Server(config).ResultValue.Item1;
    }

    internal static ClientConfig Client(string name)
    {
        var protocol = ProtocolNameModule.parse(name).ResultValue;
        var config = ClientConfig.Create(protocol, NSecSuite.For(protocol), Key(3), "fuzz/1");
        if (name.Contains("_XX_") || name.Contains("_IK_"))
        {
            config = config.WithLocalStatic(Key(1));
        }

        return name.Contains("_IK_") || name.Contains("_NK_") ? config.WithRemoteStatic(Key(2).Public) : config;
    }

    private static readonly Lazy<ReceiveHalf> TransportLayer = new(() =>
        Connection.Traffic(HonestSession("Noise_NN_25519_ChaChaPoly_BLAKE2b", []).Server).ResultValue.Receive);

    /// <summary>
    /// An honest in-memory session: the client sends <paramref name="messages"/> (none: the handshake only).
    /// Returns both ends' states and the bytes the client sent.
    /// </summary>
    internal static (Connection Client, Connection Server, byte[] ToServer) HonestSession(string name, byte[][] messages)
    {
        var (client, clientOut) = Connection.Client(Client(name)).ResultValue;
        var server = Server();
        var toServer = new List<byte>();
        var pendingToServer = Transmitted(clientOut);
        foreach (var m in messages)
        {
            var (c, o) = Connection.Step(client, Input.NewSendMessage(m));
            client = c;
            pendingToServer = [.. pendingToServer, .. Transmitted(o)];
        }

        for (var round = 0; round < 10 && pendingToServer.Length > 0; round++)
        {
            toServer.AddRange(pendingToServer);
            var (s, so) = Connection.Step(server, Input.NewReceived(pendingToServer));
            server = s;
            pendingToServer = [];
            var toClient = Transmitted(so);
            var serverVerdicts = so.Any(o => o is Output.VerifyPeerKey);
            if (serverVerdicts)
            {
                var (s2, so2) = Connection.Step(server, Input.NewPeerKeyVerdict(true));
                server = s2;
                toClient = [.. toClient, .. Transmitted(so2)];
            }

            if (toClient.Length > 0)
            {
                var (c, co) = Connection.Step(client, Input.NewReceived(toClient));
                client = c;
                pendingToServer = Transmitted(co);
                if (co.Any(o => o is Output.VerifyPeerKey))
                {
                    var (c2, co2) = Connection.Step(client, Input.NewPeerKeyVerdict(true));
                    client = c2;
                    pendingToServer = [.. pendingToServer, .. Transmitted(co2)];
                }
            }
        }

        return (client, server, [.. toServer]);
    }

    private static byte[] Transmitted(FSharpList<Output> outputs) =>
        [.. outputs.OfType<Output.Transmit>().SelectMany(t => t.Bytes)];
}
