using System.Buffers.Binary;
using System.Diagnostics;
using HybridProtocol.Crypto;

namespace HybridProtocol.Bench;

/// <summary>The measurements over 127.0.0.1 that run for every <see cref="ITransportUnderTest"/>.</summary>
internal static class NetworkBenchmarks
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

    /// <summary>
    /// (2) Full handshakes per second, a new TCP connection each, with 1 and 2 concurrent clients; latency per connection.
    /// The transports take turns. Around each transport's turn the process's CPU time and managed allocation are read,
    /// and, for HybridProtocol, the provider's operation counters (<see cref="ProviderStatistics"/>): the per-handshake
    /// CPU breakdown and the share of the X25519 limit reached come from them.
    /// </summary>
    public static async Task HandshakeAsync(IReadOnlyList<ITransportUnderTest> transports, Scale scale, Report report)
    {
        foreach (var transport in transports)
        {
            if (transport is LoopbackTransport loopback)
            {
                var (toServer, toClient) = await loopback.CountHandshakeBytesAsync(CancellationToken.None).ConfigureAwait(false);
                report.Add(new Row("Handshake bytes on the wire", "client to server", transport.Name, toServer, "B", Better.Lower));
                report.Add(new Row("Handshake bytes on the wire", "server to client", transport.Name, toClient, "B", Better.Lower));
                report.Add(new Row("Handshake bytes on the wire", "total", transport.Name, toServer + toClient, "B", Better.Lower));
            }

            // Warm up for a time, not a count: the JIT's tiering needs thousands of handshakes to reach optimised code
            // for our managed path (SslStream's is mostly precompiled), and 50 left it partly unoptimised.
            var warm = Stopwatch.StartNew();
            while (warm.Elapsed < scale.HandshakeWarmup)
            {
                await ConnectManyAsync(transport, 50, clients: 1).ConfigureAwait(false);
            }
        }

        var (variableBase, fixedBase) = X25519Rates(scale);
        report.Add(new Row("X25519 limit, one core", "scalar multiplications per second", "SodiumSuite X25519", 1e6 / variableBase, "/s", Better.Higher) { OverNetwork = false });
        foreach (var clients in new[] { 1, 2 })
        {
            var rates = transports.Select(_ => new List<double>()).ToArray();
            var latencies = transports.Select(_ => new List<double>()).ToArray();
            var totals = transports.Select(_ => new Totals()).ToArray();
            for (var rep = 0; rep < scale.Repetitions; rep++)
            {
                for (var i = 0; i < transports.Count; i++)
                {
                    var hybrid = transports[i] is HybridProtocolTransport;
                    ProviderStatistics.Reset();
                    ProviderStatistics.Enabled = hybrid;
                    var cpu = Environment.CpuUsage.TotalTime;
                    var allocated = GC.GetTotalAllocatedBytes(precise: true);
                    var start = Stopwatch.GetTimestamp();
                    latencies[i].AddRange(await ConnectManyAsync(transports[i], scale.HandshakesPerRepetition, clients).ConfigureAwait(false));
                    var end = Stopwatch.GetTimestamp();
                    ProviderStatistics.Enabled = false;
                    rates[i].Add(scale.HandshakesPerRepetition / Stats.Seconds(start, end));
                    totals[i].Add(scale.HandshakesPerRepetition, Stats.Seconds(start, end), (Environment.CpuUsage.TotalTime - cpu).TotalMicroseconds, GC.GetTotalAllocatedBytes(precise: true) - allocated);
                }
            }

            var variant = clients == 1 ? "1 client" : "2 clients";
            var cores = Math.Min(clients, Environment.ProcessorCount);
            for (var i = 0; i < transports.Count; i++)
            {
                var name = transports[i].Name;
                var t = totals[i];
                report.Add(new Row("Handshakes per second", variant, name, Stats.Median(rates[i]), "/s", Better.Higher));
                report.Add(new Row("Handshake latency, median", variant, name, Stats.Median(latencies[i]), "us", Better.Lower));
                report.Add(new Row("Handshake latency, p99", variant, name, Stats.Percentile(latencies[i], 0.99), "us", Better.Lower));
                report.Add(new Row("Handshake CPU time (both ends, whole process)", variant, name, t.CpuMicroseconds / t.Handshakes, "us", Better.Lower));
                report.Add(new Row("Handshake managed allocation (both ends)", variant, name, t.AllocatedBytes / (double)t.Handshakes, "B", Better.Lower));
                if (transports[i] is not HybridProtocolTransport)
                {
                    continue;
                }

                // Scalar multiplications in units of the variable-base one (a fixed-base one costs less).
                var multiplications = t.Agreements + (t.KeyGenerations * fixedBase / variableBase);
                report.Add(new Row("X25519 limit reached", variant, name, 100 * multiplications * variableBase / 1e6 / t.Seconds / cores, $"% of {cores} core(s)", Better.Higher) { OverNetwork = false });
                var per = (double)t.Handshakes;
                var dh = Stats.Microseconds(0, t.DhTicks) / per;
                var keys = Stats.Microseconds(0, t.KeySetupTicks) / per;
                var hashing = Stats.Microseconds(0, t.HashTicks) / per;
                var aead = Stats.Microseconds(0, t.AeadTicks) / per;
                var kem = Stats.Microseconds(0, t.KemTicks) / per;
                var cpuPer = t.CpuMicroseconds / per;
                report.Add(new Row("Handshake CPU breakdown", $"{variant}: DH (X25519, {(t.Agreements + t.KeyGenerations) / per:0.#} ops)", name, dh, "us", Better.Lower) { OverNetwork = false });
                report.Add(new Row("Handshake CPU breakdown", $"{variant}: key setup ({t.AeadKeys / per:0.#} AEAD keys)", name, keys, "us", Better.Lower) { OverNetwork = false });
                report.Add(new Row("Handshake CPU breakdown", $"{variant}: hashing ({t.Hashes / per:0.#} HASH calls)", name, hashing, "us", Better.Lower) { OverNetwork = false });
                report.Add(new Row("Handshake CPU breakdown", $"{variant}: AEAD ({t.AeadCalls / per:0.#} calls)", name, aead, "us", Better.Lower) { OverNetwork = false });
                if (t.KemOperations > 0)
                {
                    report.Add(new Row("Handshake CPU breakdown", $"{variant}: KEM (ML-KEM-768, {t.KemOperations / per:0.#} ops)", name, kem, "us", Better.Lower) { OverNetwork = false });
                }

                report.Add(new Row("Handshake CPU breakdown", $"{variant}: framing, I/O, runtime, rest", name, cpuPer - dh - keys - hashing - aead - kem, "us", Better.Lower) { OverNetwork = false });
            }
        }

        report.Note("Handshake CPU time: the process's CPU time (all threads, user + system, both ends, the bench's own loop) during the handshake runs, per handshake. CPU breakdown: the crypto provider's own timers around each X25519, AEAD key, HASH, AEAD and KEM call (KEM: ML-KEM-768 key generation, encapsulation and decapsulation; zero for classical names) (wall time inside the call; the machine is shared, so preemption inflates them alike); the rest is the CPU time less those. X25519 limit reached: scalar multiplications done per second (fixed-base ones counted at their cost relative to a variable-base one) over what one core does alone, times the cores used (1 client: 1, both ends take turns; 2 clients: 2).");
    }

    /// <summary>CPU microseconds per variable-base and per fixed-base X25519 multiplication through the provider, one core, fastest of the repetitions.</summary>
    private static (double VariableBase, double FixedBase) X25519Rates(Scale scale)
    {
        var pair = SodiumSuite.GenerateEphemeral();
        var peer = SodiumSuite.GenerateEphemeral();
        var output = new byte[32];
        var count = Math.Max(200, scale.HandshakesPerRepetition * 2);
        double variable = double.MaxValue, fixedBase = double.MaxValue;
        // CPU time, not wall time: on a shared machine, time spent preempted is not what one core can do.
        for (var rep = 0; rep <= scale.Repetitions; rep++)
        {
            var start = Environment.CpuUsage.TotalTime;
            for (var i = 0; i < count; i++)
            {
                SodiumSuite.X25519.DH.Invoke(pair.Private, peer.Public.Bytes, output);
            }

            var middle = Environment.CpuUsage.TotalTime;
            for (var i = 0; i < count; i++)
            {
                SodiumSuite.GenerateEphemeral().Private.Dispose();
            }

            var end = Environment.CpuUsage.TotalTime;
            variable = Math.Min(variable, (middle - start).TotalMicroseconds / count);
            fixedBase = Math.Min(fixedBase, (end - middle).TotalMicroseconds / count);
        }

        pair.Private.Dispose();
        peer.Private.Dispose();
        return (variable, fixedBase);
    }

    /// <summary>Sums over one transport's repetitions: handshakes, wall time, CPU time, allocation, provider counters.</summary>
    private sealed class Totals
    {
        public long Handshakes { get; private set; }

        public double Seconds { get; private set; }

        public double CpuMicroseconds { get; private set; }

        public long AllocatedBytes { get; private set; }

        public long KeyGenerations { get; private set; }

        public long Agreements { get; private set; }

        public long AeadKeys { get; private set; }

        public long Hashes { get; private set; }

        public long AeadCalls { get; private set; }

        public long DhTicks { get; private set; }

        public long KeySetupTicks { get; private set; }

        public long HashTicks { get; private set; }

        public long AeadTicks { get; private set; }

        public long KemOperations { get; private set; }

        public long KemTicks { get; private set; }

        public void Add(int handshakes, double seconds, double cpuMicroseconds, long allocatedBytes)
        {
            Handshakes += handshakes;
            Seconds += seconds;
            CpuMicroseconds += cpuMicroseconds;
            AllocatedBytes += allocatedBytes;
            KeyGenerations += ProviderStatistics.KeyGenerations;
            Agreements += ProviderStatistics.Agreements;
            AeadKeys += ProviderStatistics.AeadKeys;
            Hashes += ProviderStatistics.Hashes;
            AeadCalls += ProviderStatistics.AeadCalls;
            DhTicks += ProviderStatistics.DhTicks;
            KeySetupTicks += ProviderStatistics.KeySetupTicks;
            KemOperations += ProviderStatistics.KemOperations;
            KemTicks += ProviderStatistics.KemTicks;
            HashTicks += ProviderStatistics.HashTicks;
            AeadTicks += ProviderStatistics.AeadTicks;
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

    /// <summary>Opens and closes <paramref name="total"/> connections from <paramref name="clients"/> concurrent loops; returns each latency in microseconds.</summary>
    private static async Task<double[]> ConnectManyAsync(ITransportUnderTest transport, int total, int clients)
    {
        var perClient = total / clients;
        var results = await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            var latencies = new double[perClient];
            for (var i = 0; i < perClient; i++)
            {
                var start = Stopwatch.GetTimestamp();
                var pair = await transport.ConnectPairAsync(CancellationToken.None).ConfigureAwait(false);
                latencies[i] = Stats.Microseconds(start, Stopwatch.GetTimestamp());
                await pair.DisposeAsync().ConfigureAwait(false);
            }

            return latencies;
        }))).ConfigureAwait(false);
        return [.. results.SelectMany(l => l)];
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
