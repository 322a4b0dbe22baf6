using System.Diagnostics;
using HybridProtocol.Crypto;

namespace HybridProtocol.Bench;

/// <summary>The handshake measurements over 127.0.0.1 (rates, latency, CPU time, allocation, the CPU breakdown and the X25519 limit).</summary>
internal static partial class NetworkBenchmarks
{
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
}
