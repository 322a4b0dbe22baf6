using System.Buffers.Binary;
using System.Diagnostics;
using HybridProtocol.Crypto;

namespace HybridProtocol.Bench;

/// <summary>The measurements over 127.0.0.1 that run for every <see cref="ITransportUnderTest"/>.</summary>
internal static partial class NetworkBenchmarks
{
    public static readonly int[] BulkMessageSizes = [16 << 10, 64 << 10, 1 << 20];

    private static readonly byte[] Pattern = MakePattern(1 << 20);

    /// <summary>
    /// (1) Bulk throughput on one connection per transport, client to server, per message size. The transports take
    /// turns (repetition 1 of each, then repetition 2 of each, ...), so a change in the shared machine's load during
    /// the run falls on all of them alike rather than on whichever was running then.
    /// </summary>
    public static async Task BulkAsync(IReadOnlyList<ITransportUnderTest> transports, Scale scale, Report report)
    {
        var pairs = await ConnectEachAsync(transports).ConfigureAwait(false);
        try
        {
            foreach (var messageSize in BulkMessageSizes)
            {
                var size = new Buffers(messageSize);
                var rates = transports.Select(_ => new List<double>()).ToArray();
                var cpu = transports.Select(_ => new List<double>()).ToArray();
                var aead = transports.Select(_ => new List<double>()).ToArray();
                foreach (var pair in pairs)
                {
                    await TransferAsync(pair, size, scale.BulkWarmupBytes).ConfigureAwait(false);
                }

                for (var rep = 0; rep < scale.Repetitions; rep++)
                {
                    for (var i = 0; i < pairs.Count; i++)
                    {
                        // Process CPU time (both ends, all threads) over this transport's turn: the cost per byte,
                        // which preemption by other processes on the shared machine does not inflate.
                        // For HybridProtocol, also the time inside the AEAD calls (ProviderStatistics, both ends): the
                        // cipher's share of that cost; the rest is sockets, copies, the engine and the runtime.
                        ProviderStatistics.Reset();
                        ProviderStatistics.Enabled = transports[i] is HybridProtocolTransport;
                        var cpuBefore = Environment.CpuUsage.TotalTime;
                        var seconds = await TransferAsync(pairs[i], size, scale.BulkBytes).ConfigureAwait(false);
                        cpu[i].Add((Environment.CpuUsage.TotalTime - cpuBefore).TotalMicroseconds / (scale.BulkBytes / 1e6));
                        if (ProviderStatistics.Enabled)
                        {
                            ProviderStatistics.Enabled = false;
                            aead[i].Add(ProviderStatistics.AeadTicks * 1e6 / Stopwatch.Frequency / (scale.BulkBytes / 1e6));
                        }

                        rates[i].Add(Stats.MegabytesPerSecond(scale.BulkBytes, seconds));
                    }
                }

                for (var i = 0; i < pairs.Count; i++)
                {
                    report.Add(new Row("Bulk throughput", $"{SizeName(messageSize)} msgs, {SizeName(scale.BulkBytes)}", transports[i].Name, Stats.Median(rates[i]), "MB/s", Better.Higher));
                    report.Add(new Row("Bulk CPU time", $"{SizeName(messageSize)} msgs", transports[i].Name, Stats.Median(cpu[i]), "µs CPU/MB", Better.Lower));
                    if (aead[i].Count > 0)
                    {
                        report.Add(new Row("Bulk CPU time, in AEAD calls", $"{SizeName(messageSize)} msgs", transports[i].Name, Stats.Median(aead[i]), "µs/MB", Better.Lower));
                    }
                }
            }
        }
        finally
        {
            await DisposeEachAsync(pairs).ConfigureAwait(false);
        }
    }

    /// <summary>(4) Bytes allocated per MB moved, in steady state (after a warm-up on the same connection), both ends.</summary>
    public static async Task AllocationAsync(ITransportUnderTest transport, Scale scale, Report report)
    {
        await using var pair = await transport.ConnectPairAsync(CancellationToken.None).ConfigureAwait(false);
        foreach (var messageSize in new[] { 16 << 10, 64 << 10 })
        {
            var size = new Buffers(messageSize);
            await TransferAsync(pair, size, scale.BulkWarmupBytes).ConfigureAwait(false);
            var perMb = new List<double>();
            for (var rep = 0; rep < scale.Repetitions; rep++)
            {
                var before = GC.GetTotalAllocatedBytes(precise: true);
                await TransferAsync(pair, size, scale.AllocBytes).ConfigureAwait(false);
                var allocated = GC.GetTotalAllocatedBytes(precise: true) - before;
                perMb.Add(allocated / (scale.AllocBytes / 1e6));
            }

            report.Add(new Row("Allocated per MB (steady state)", $"{SizeName(messageSize)} msgs", transport.Name, Stats.Median(perMb), "B/MB", Better.Lower));
        }
    }

    /// <summary>(3) Request/response round-trip time on one connection per transport (the transports take turns): the client writes n bytes, the server echoes them.</summary>
    public static async Task RoundTripAsync(IReadOnlyList<ITransportUnderTest> transports, Scale scale, Report report)
    {
        var pairs = await ConnectEachAsync(transports).ConfigureAwait(false);
        try
        {
            foreach (var size in new[] { 1, 1024 })
            {
                var samples = transports.Select(_ => new List<double>()).ToArray();
                foreach (var pair in pairs)
                {
                    await PingPongAsync(pair, size, scale.RoundTripWarmup).ConfigureAwait(false);
                }

                for (var rep = 0; rep < scale.Repetitions; rep++)
                {
                    for (var i = 0; i < pairs.Count; i++)
                    {
                        samples[i].AddRange(await PingPongAsync(pairs[i], size, scale.RoundTripsPerRepetition).ConfigureAwait(false));
                    }
                }

                var variant = size == 1 ? "1 B" : "1 KiB";
                for (var i = 0; i < pairs.Count; i++)
                {
                    report.Add(new Row("Round trip, median", variant, transports[i].Name, Stats.Median(samples[i]), "us", Better.Lower));
                    report.Add(new Row("Round trip, p99", variant, transports[i].Name, Stats.Percentile(samples[i], 0.99), "us", Better.Lower));
                }
            }
        }
        finally
        {
            await DisposeEachAsync(pairs).ConfigureAwait(false);
        }
    }

    private static async Task<List<ConnectedPair>> ConnectEachAsync(IReadOnlyList<ITransportUnderTest> transports)
    {
        var pairs = new List<ConnectedPair>(transports.Count);
        try
        {
            foreach (var transport in transports)
            {
                pairs.Add(await transport.ConnectPairAsync(CancellationToken.None).ConfigureAwait(false));
            }
        }
        catch
        {
            await DisposeEachAsync(pairs).ConfigureAwait(false);
            throw;
        }

        return pairs;
    }

    private static async Task DisposeEachAsync(List<ConnectedPair> pairs)
    {
        foreach (var pair in pairs)
        {
            await pair.DisposeAsync().ConfigureAwait(false);
        }
    }

    /// <summary>
    /// (5) Memory per idle established connection: working set and GC heap growth divided by the number of
    /// connections. Each connection has both ends in this process and a pending zero-byte read on the server
    /// end (what a server waiting for the next request holds).
    /// </summary>
    public static async Task IdleMemoryAsync(ITransportUnderTest transport, int count, Report report)
    {
        // Warm up the code paths (and the pools they fill) before the baseline.
        await using (var warm = await transport.ConnectPairAsync(CancellationToken.None).ConfigureAwait(false))
        {
        }

        var process = Process.GetCurrentProcess();
        Stats.CollectFully();
        process.Refresh();
        var workingSetBefore = process.WorkingSet64;
        var heapBefore = GC.GetTotalMemory(forceFullCollection: true);

        var pairs = new List<ConnectedPair>(count);
        var pendingReads = new List<Task<int>>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var pair = await transport.ConnectPairAsync(CancellationToken.None).ConfigureAwait(false);
                pairs.Add(pair);
                pendingReads.Add(pair.Server.ReadAsync(Memory<byte>.Empty).AsTask());
            }

            await Task.Delay(200).ConfigureAwait(false);
            Stats.CollectFully();
            process.Refresh();
            var workingSet = (process.WorkingSet64 - workingSetBefore) / (double)count;
            var heap = (GC.GetTotalMemory(forceFullCollection: true) - heapBefore) / (double)count;
            var variant = $"{count} connections";
            if (pendingReads.Count(read => read.IsCompleted) is var early and > 0)
            {
                report.Note($"{transport.Name}: {early} of {count} idle zero-byte reads completed early (they should wait for data).");
            }

            report.Add(new Row("Idle connection, working set", variant, transport.Name, workingSet / 1024, "KiB/conn", Better.Lower));
            report.Add(new Row("Idle connection, GC heap", variant, transport.Name, heap / 1024, "KiB/conn", Better.Lower));
        }
        finally
        {
            foreach (var pair in pairs)
            {
                await pair.Client.DisposeAsync().ConfigureAwait(false);
            }

            foreach (var read in pendingReads)
            {
                try
                {
                    await read.ConfigureAwait(false);
                }
                catch (IOException)
                {
                    // A reset instead of a clean close is fine here.
                }
            }

            foreach (var pair in pairs)
            {
                await pair.Server.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>How many idle connections fit under the open-file limit (two sockets each, plus headroom).</summary>
    public static int IdleConnectionsThatFit(int wanted)
    {
        var limit = OpenFileLimit();
        return limit is null ? wanted : (int)Math.Max(10, Math.Min(wanted, (limit.Value - 256) / 2));
    }

    public static string SizeName(long bytes) => bytes switch
    {
        >= 1L << 30 when bytes % (1L << 30) == 0 => $"{bytes >> 30} GiB",
        >= 1L << 20 when bytes % (1L << 20) == 0 => $"{bytes >> 20} MiB",
        >= 1L << 10 when bytes % (1L << 10) == 0 => $"{bytes >> 10} KiB",
        _ => $"{bytes} B",
    };

    /// <summary>
    /// Sends <paramref name="total"/> bytes client to server in messages of <paramref name="size"/> bytes and
    /// returns the seconds until the server has received and checked the last byte. Each message is
    /// [sequence number][fixed pattern][sequence number]; the server checks all of it.
    /// </summary>
    private static async Task<double> TransferAsync(ConnectedPair pair, Buffers buffers, long total)
    {
        var size = buffers.Send.Length;
        var messages = total / size;
        var start = Stopwatch.GetTimestamp();
        var receiver = Task.Run(async () =>
        {
            for (long seq = 0; seq < messages; seq++)
            {
                await pair.Server.ReadExactlyAsync(buffers.Receive).ConfigureAwait(false);
                Check(buffers.Receive, seq);
            }
        });
        var sender = Task.Run(async () =>
        {
            for (long seq = 0; seq < messages; seq++)
            {
                BinaryPrimitives.WriteInt64LittleEndian(buffers.Send, seq);
                BinaryPrimitives.WriteInt64LittleEndian(buffers.Send.AsSpan(size - 8), seq);
                await pair.Client.WriteAsync(buffers.Send).ConfigureAwait(false);
            }

            await pair.Client.FlushAsync().ConfigureAwait(false);
        });
        await Task.WhenAll(sender, receiver).ConfigureAwait(false);
        return Stats.Seconds(start, Stopwatch.GetTimestamp());
    }

    private static void Check(byte[] message, long seq)
    {
        var size = message.Length;
        if (BinaryPrimitives.ReadInt64LittleEndian(message) != seq
            || BinaryPrimitives.ReadInt64LittleEndian(message.AsSpan(size - 8)) != seq
            || !message.AsSpan(8, size - 16).SequenceEqual(Pattern.AsSpan(8, size - 16)))
        {
            throw new InvalidDataException($"Message {seq} of {size} bytes arrived damaged or out of order.");
        }
    }

    /// <summary>Runs <paramref name="count"/> request/response exchanges and returns each one's time in microseconds.</summary>
    private static async Task<double[]> PingPongAsync(ConnectedPair pair, int size, int count)
    {
        var echo = Task.Run(async () =>
        {
            var buffer = new byte[size];
            for (var i = 0; i < count; i++)
            {
                await pair.Server.ReadExactlyAsync(buffer).ConfigureAwait(false);
                await pair.Server.WriteAsync(buffer).ConfigureAwait(false);
            }
        });
        var samples = new double[count];
        var request = Pattern.AsSpan(0, size).ToArray();
        var response = new byte[size];
        for (var i = 0; i < count; i++)
        {
            request[0] = (byte)i;
            var start = Stopwatch.GetTimestamp();
            await pair.Client.WriteAsync(request).ConfigureAwait(false);
            await pair.Client.ReadExactlyAsync(response).ConfigureAwait(false);
            samples[i] = Stats.Microseconds(start, Stopwatch.GetTimestamp());
            if (!response.AsSpan().SequenceEqual(request))
            {
                throw new InvalidDataException($"Round trip {i}: the response differs from the request.");
            }
        }

        await echo.ConfigureAwait(false);
        return samples;
    }

    /// <summary>The application's send and receive buffers for one message size, made once, outside the measured loops.</summary>
    private sealed class Buffers(int size)
    {
        public byte[] Send { get; } = Pattern.AsSpan(0, size).ToArray();

        public byte[] Receive { get; } = new byte[size];
    }

    private static byte[] MakePattern(int length)
    {
        var pattern = new byte[length];
        for (var i = 0; i < length; i++)
        {
            pattern[i] = (byte)((i * 131) + (i >> 8));
        }

        return pattern;
    }

    private static long? OpenFileLimit()
    {
        try
        {
            var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            var fields = line?.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            return fields is { Length: >= 4 } && long.TryParse(fields[3], out var soft) ? soft : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
