using HybridProtocol.Core;
using HybridProtocol.Core.Noise;
using HybridProtocol.Core.Wire;
using HybridProtocol.Crypto;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace HybridProtocol.Fuzz;

/// <summary>
/// The fuzz targets: each takes arbitrary bytes and drives one decoder or state machine of the pure core. A
/// typed error is a normal outcome; an exception (or a broken invariant, thrown as <see cref="InvariantBroken"/>)
/// is a finding. The same functions run under AFL++ (<c>fuzz/run.sh</c>) and in CI over the checked-in corpus
/// (<c>tests/Adversarial/FuzzCorpus.fs</c>).
/// </summary>
public static class FuzzTargets
{
    /// <summary>The target names, as given on the command line and as corpus folder names.</summary>
    public static readonly string[] Names = ["frame", "preamble", "handshake", "record"];

    /// <summary>Runs the named target on one input.</summary>
    public static void Run(string target, byte[] input)
    {
        switch (target)
        {
            case "frame": Frame(input); break;
            case "preamble": Preamble(input); break;
            case "handshake": Handshake(input); break;
            case "record": Record(input); break;
            default: throw new ArgumentException($"unknown target {target}", nameof(target));
        }
    }

    /// <summary>A bug found by a target: an invariant of the core did not hold.</summary>
    public sealed class InvariantBroken(string message) : Exception(message);

    private static void Check(bool condition, string what)
    {
        if (!condition)
        {
            throw new InvariantBroken(what);
        }
    }

    /// <summary>
    /// Frame decoder: the first byte picks the limit (1..65535) and the chunk sizes; the rest is fed in chunks.
    /// Frames are within the limit, the decoder never buffers a whole frame or more, and one-shot decoding agrees.
    /// </summary>
    public static void Frame(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var limit = input[0] == 0 ? Core.Wire.Frame.MaxLength : input[0] * 4;
        var decoder = FrameDecoderModule.Create(limit).ResultValue;
        var rng = new Random(input[0]);
        var offset = 1;
        while (offset < input.Length)
        {
            var n = Math.Min(input.Length - offset, 1 + rng.Next(64));
            var result = FrameDecoderModule.Feed(decoder, new ReadOnlySpan<byte>(input, offset, n));
            offset += n;
            decoder = result.Decoder;
            foreach (var frame in result.Frames)
            {
                Check(frame.Length >= 1 && frame.Length <= limit, "frame within the limit");
            }

            Check(FrameDecoderModule.Buffered(decoder).Length < 2 + limit, "at most one partial frame buffered");
            if (FSharpOption<WireError>.get_IsSome(result.Error))
            {
                break;
            }
        }

        var whole = Core.Wire.Frame.decode(new ReadOnlySpan<byte>(input, 1, input.Length - 1), limit);
        if (whole.IsOk && whole.ResultValue is FrameDecode.FrameComplete complete)
        {
            Check(complete.consumed == 2 + complete.body.Length && complete.body.Length <= limit, "one-shot decode");
        }
    }

    /// <summary>Preamble and server status decoders: a value that decodes re-encodes to the same bytes.</summary>
    public static void Preamble(byte[] input)
    {
        var preamble = PreambleModule.decode(input);
        if (preamble.IsOk && preamble.ResultValue is Decoded<Core.Wire.Preamble>.Decoded p)
        {
            var again = PreambleModule.encode(p.value);
            Check(again.IsOk && again.ResultValue.AsSpan().SequenceEqual(input.AsSpan(0, p.consumed)), "preamble round trip");
        }

        var status = ServerStatusModule.decode(input);
        if (status.IsOk && status.ResultValue is Decoded<ServerStatus>.Decoded s && s.consumed > 0)
        {
            Check(s.consumed <= input.Length, "status within the input");
        }
    }

    /// <summary>
    /// The server's state machine fed arbitrary bytes (in chunks picked by the input's length), then end of
    /// input: it ends failed or, with an honest stream, closed; it never delivers a message of a failed handshake.
    /// </summary>
    public static void Handshake(byte[] input)
    {
        var state = Step(Server(), null);
        var rng = new Random(input.Length);
        var offset = 0;
        while (offset < input.Length)
        {
            var n = Math.Min(input.Length - offset, 1 + rng.Next(300));
            state = Step(state, Input.NewReceived(new ReadOnlyMemory<byte>(input, offset, n)));
            offset += n;
        }

        state = Step(state, Input.EndOfInput);
        Check(state.IsFailed || state.IsClosed, "end of input ends the connection");
    }

    private static Connection Step(Connection state, Input? input)
    {
        var queue = new Queue<Input>();
        if (input is not null)
        {
            queue.Enqueue(input);
        }

        while (queue.Count > 0)
        {
            var (next, outputs) = Connection.Step(state, queue.Dequeue());
            state = next;
            foreach (var output in outputs)
            {
                if (output is Output.VerifyPeerKey)
                {
                    queue.Enqueue(Input.NewPeerKeyVerdict(true));
                }
                else if (output is Output.Deliver)
                {
                    Check(Connection.HandshakeInfo(state) is not null || state.IsClosed || state.IsFailed, "delivery after a handshake");
                }
            }
        }

        return state;
    }

    /// <summary>The transport engine's receive half on an arbitrary frame body (framed here), with keys from a fixed NN handshake.</summary>
    public static void Record(byte[] input)
    {
        var half = TransportLayer.Value;
        var frame = new byte[2 + input.Length];
        frame[0] = (byte)(input.Length >> 8);
        frame[1] = (byte)input.Length;
        input.CopyTo(frame, 2);
        var destination = new byte[Math.Max(1, input.Length)];
        var received = ReceiveHalfModule.Receive(half, frame, destination, 0);
        if (received.Event.IsMessageEnd)
        {
            // Only the honest first record of the session (in the seed corpus) authenticates.
            Check(received.Written <= input.Length - 17, "data within the record");
        }
        else if (received.Event.IsFatal)
        {
            Check(destination.AsSpan().IndexOfAnyExcept((byte)0) < 0, "nothing unauthenticated written");
        }
    }

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
