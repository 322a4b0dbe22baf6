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
    public static readonly string[] Names = ["frame", "preamble", "handshake", "record", "sealed"];

    /// <summary>Runs the named target on one input.</summary>
    public static void Run(string target, byte[] input)
    {
        switch (target)
        {
            case "frame": Frame(input); break;
            case "preamble": Preamble(input); break;
            case "handshake": Handshake(input); break;
            case "record": Record(input); break;
            case "sealed": Sealed(input); break;
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
    /// Frames through the transport engine's receive half: the first byte picks the chunk sizes; the rest is fed in
    /// chunks. The engine never needs more than one whole frame unconsumed, and writes nothing to the destination
    /// unless a record authenticated; one-shot decoding (the handshake's Frame.decode) agrees on the first frame.
    /// </summary>
    public static void Frame(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var half = TransportLayer.Value;
        var destination = new byte[Core.Wire.Frame.MaxLength];
        var rng = new Random(input[0]);
        var pending = new List<byte>();
        var offset = 1;
        while (offset < input.Length)
        {
            var n = Math.Min(input.Length - offset, 1 + rng.Next(64));
            pending.AddRange(new ArraySegment<byte>(input, offset, n));
            offset += n;
            var received = ReceiveHalfModule.Receive(half, pending.ToArray(), destination, 0);
            half = received.Half;
            pending.RemoveRange(0, received.Consumed);
            if (!received.Event.IsNeedData)
            {
                Check(received.Event.IsFatal || received.Consumed > 0, "progress or failure");
                break;
            }

            Check(pending.Count < 2 + Core.Wire.Frame.MaxLength, "at most one partial frame unconsumed");
        }

        var whole = Core.Wire.Frame.decode(new ReadOnlySpan<byte>(input, 1, input.Length - 1), Core.Wire.Frame.MaxLength);
        if (whole.IsOk && whole.ResultValue is FrameDecode.FrameComplete complete)
        {
            Check(complete.consumed == 2 + complete.body.Length && complete.body.Length <= Core.Wire.Frame.MaxLength, "one-shot decode");
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

    /// <summary>The fixed transport key of the <see cref="Sealed"/> target (client to server).</summary>
    private static readonly byte[] SealedKey = [.. Enumerable.Range(0, 32).Select(i => (byte)(i * 7 + 1))];

    /// <summary>
    /// The receive half past authentication: the input is a program of records that this harness seals with a fixed
    /// key (the sender's CipherState, Noise §5.1 EncryptWithAd), so every record authenticates and the fuzzer explores
    /// what comes after the tag check: record types (known and unknown), lengths, empty Data, messages split over
    /// records and over reads, the message limit, key updates (the sender rekeys as Noise §11.3 says), Close with
    /// every reason, records after Close, and a rare corrupted or skipped record.
    /// <code>
    /// input   = config op*          config: local message limit = 1 + 97 * config (bytes), and the read-chunk seed
    /// op      = kind:u8 args        kind &amp; 7: 0 Data, 1 EndOfMessage, 2 Data (length * 64), each with length:u8 and
    ///                               that many bytes; 3 KeyUpdate; 4 Close reason:u8; 5 any type:u8 length:u8 bytes;
    ///                               6 EndOfMessage of length:u16 pattern bytes; 7 corrupt the last record (or skip a nonce)
    /// </code>
    /// Invariants: no exception; a delivered message is never larger than the limit; while every record was honest
    /// the delivered messages are exactly the ones sealed; after a failure nothing unauthenticated is in the buffer
    /// and the half stays failed; after the peer's Close it stays closed.
    /// </summary>
    public static void Sealed(byte[] input)
    {
        if (input.Length == 0)
        {
            return;
        }

        var cipher = NSecSuite.ChaChaPoly;
        var limit = 1 + (97 * input[0]);
        var limits = new RecordLimits(RecordLayerModule.maxRecordDataFor(cipher.TAGLEN), limit, 65536, RekeyPolicyModule.Default);
        var transport = new TransportState(
            Role.Responder,
            FSharpValueOption<CipherState>.NewValueSome(CipherStateModule.InitializeKey(cipher, cipher.KEY.Invoke(new byte[32]))),
            FSharpValueOption<CipherState>.NewValueSome(CipherStateModule.InitializeKey(cipher, cipher.KEY.Invoke(SealedKey))),
            new byte[32],
            FSharpOption<DhPublicKey>.None);
        var half = TrafficModule.Create(RecordLayerModule.Create(transport, limits).ResultValue).Receive;
        var sealer = CipherStateModule.InitializeKey(cipher, cipher.KEY.Invoke(SealedKey));

        // Seal the program into one stream of frames, and the messages an honest sender meant.
        var stream = new List<byte>();
        var expected = new Queue<byte[]>();
        var message = new List<byte>();
        var honest = true;
        var lastFrame = -1;
        var nonce = 0UL;
        var at = 1;
        int Next() => at < input.Length ? input[at++] : 0;
        byte[] Take(int n)
        {
            var data = new byte[n];
            for (var i = 0; i < n; i++)
            {
                data[i] = at < input.Length ? input[at++] : (byte)(i * 31);
            }

            return data;
        }

        void Seal(int type, byte[] data)
        {
            var length = Math.Min(data.Length, 65535 - 1 - cipher.TAGLEN);
            var plaintext = new byte[length + 1];
            data.AsSpan(0, length).CopyTo(plaintext);
            plaintext[length] = (byte)type;
            var frame = new byte[2 + plaintext.Length + cipher.TAGLEN];
            frame[0] = (byte)((frame.Length - 2) >> 8);
            frame[1] = (byte)(frame.Length - 2);
            sealer = CipherStateModule.EncryptWithAd(sealer, ReadOnlySpan<byte>.Empty, plaintext, frame.AsSpan(2)).ResultValue;
            nonce++;
            lastFrame = stream.Count;
            stream.AddRange(frame);
        }

        while (at < input.Length && stream.Count < 1 << 20)
        {
            var op = Next();
            switch (op & 7)
            {
                case 0 or 1 or 2:
                    var data = Take((op & 7) == 2 ? Next() * 64 : Next());
                    var type = (op & 7) == 1 ? RecordType.EndOfMessage : RecordType.Data;
                    honest &= type == RecordType.EndOfMessage || data.Length > 0;
                    Seal((byte)type, data);
                    message.AddRange(data);
                    if (type == RecordType.EndOfMessage)
                    {
                        expected.Enqueue([.. message]);
                        message.Clear();
                    }

                    break;
                case 3:
                    Seal((byte)RecordType.KeyUpdate, []);
                    sealer = CipherStateModule.Rekey(sealer);
                    break;
                case 4:
                    var reason = Next();
                    Seal((byte)RecordType.Close, reason == 0 ? [] : [(byte)(reason % 7)]);
                    break;
                case 5:
                    var any = Next();
                    Seal(any, Take(Next()));
                    honest = false;
                    break;
                case 6:
                    var n = (Next() << 8) | Next();
                    byte[] big = [.. Enumerable.Range(0, n).Select(i => (byte)i)];
                    Seal((byte)RecordType.EndOfMessage, big);
                    message.AddRange(big.AsSpan(0, Math.Min(big.Length, 65535 - 1 - cipher.TAGLEN)).ToArray());
                    expected.Enqueue([.. message]);
                    message.Clear();
                    break;
                default:
                    honest = false;
                    if (lastFrame >= 0 && (op & 8) == 0)
                    {
                        stream[stream.Count - 1] ^= (byte)(1 + (op >> 4));
                    }
                    else
                    {
                        sealer = CipherStateModule.SetNonce(++nonce, sealer);
                    }

                    break;
            }
        }

        // Feed it in chunks the input chooses; reassemble as a driver would.
        var rng = new Random(input[0]);
        var bytes = stream.ToArray();
        var fed = 0;
        var pending = new byte[0];
        var destination = new byte[1 + rng.Next(256)];
        var filled = 0;
        for (var steps = 0; steps < 100_000; steps++)
        {
            var received = ReceiveHalfModule.Receive(half, pending, destination, filled);
            half = received.Half;
            pending = pending[received.Consumed..];
            filled = received.Written;
            var ev = received.Event;
            if (ev.IsNeedData)
            {
                if (fed == bytes.Length)
                {
                    Check(ReceiveHalfModule.EndOfInput(half).Event.IsFatal || half.End.IsPeerClosedCleanly, "end of input without Close is Truncated");
                    return;
                }

                var chunk = Math.Min(bytes.Length - fed, 1 + rng.Next(3000));
                pending = [.. pending, .. bytes.AsSpan(fed, chunk)];
                fed += chunk;
            }
            else if (ev.IsNeedSpace)
            {
                Check(ev.Needed > destination.Length && ev.Needed <= limit + 65535, "NeedSpace asks for more, within the limit and one record");
                Array.Resize(ref destination, ev.Needed);
            }
            else if (ev.IsMessageEnd)
            {
                Check(filled <= limit, "a message within the limit");
                if (honest)
                {
                    Check(expected.Count > 0 && destination.AsSpan(0, filled).SequenceEqual(expected.Dequeue()), "the messages sealed arrive, in order, unchanged");
                }

                destination.AsSpan().Clear();
                filled = 0;
            }
            else if (ev.IsPeerClosed)
            {
                Check(ReceiveHalfModule.Receive(half, pending, destination, filled).Event.IsPeerClosed, "closed stays closed");
                return;
            }
            else if (ev.IsFatal)
            {
                Check(destination.AsSpan(filled).IndexOfAnyExcept((byte)0) < 0, "nothing unauthenticated written");
                Check(ReceiveHalfModule.Receive(half, pending, destination, filled).Event.IsFatal, "failed stays failed");
                return;
            }
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
