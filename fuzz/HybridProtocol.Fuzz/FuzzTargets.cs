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
public static partial class FuzzTargets
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
}
