using HybridProtocol.Core;
using HybridProtocol.Core.Noise;
using HybridProtocol.Core.Wire;
using HybridProtocol.Crypto;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace HybridProtocol.Fuzz;

/// <summary>The sealed-record target: the receive half past authentication.</summary>
public static partial class FuzzTargets
{
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
}
