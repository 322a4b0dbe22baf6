using System.Diagnostics;
using System.Runtime.InteropServices;

namespace HybridProtocol.Bench;

/// <summary>Command-line options: <c>[--quick] [--markdown FILE] [--only NAME[,NAME...]] [--transports NAME[,NAME...]]</c>.</summary>
internal sealed record BenchOptions(bool Quick, string? MarkdownPath, IReadOnlySet<string>? Only, IReadOnlySet<string>? TransportNames = null)
{
    /// <summary>The measurement names <c>--only</c> accepts, in the order they run.</summary>
    public static readonly string[] Sections = ["aead", "provider", "noise-handshake", "hpke", "bulk", "alloc", "rtt", "handshake", "idle", "kestrel"];

    public bool Runs(string section) => Only is null || Only.Contains(section);

    /// <summary>Whether <c>--transports</c> (exact names, any case; all when absent) keeps this transport, e.g. to profile one.</summary>
    public bool Keeps(ITransportUnderTest transport) => TransportNames is null || TransportNames.Contains(transport.Name);

    public static BenchOptions? Parse(string[] args)
    {
        var quick = false;
        string? markdown = null;
        HashSet<string>? only = null;
        HashSet<string>? transports = null;
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--quick":
                    quick = true;
                    break;
                case "--markdown" when i + 1 < args.Length:
                    markdown = args[++i];
                    break;
                case "--only" when i + 1 < args.Length:
                    only = [.. args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)];
                    if (only.FirstOrDefault(name => !Sections.Contains(name)) is { } unknown)
                    {
                        Console.Error.WriteLine($"Unknown measurement '{unknown}'. Known: {string.Join(", ", Sections)}");
                        return null;
                    }

                    break;
                case "--transports" when i + 1 < args.Length:
                    transports = new HashSet<string>(args[++i].Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries), StringComparer.OrdinalIgnoreCase);
                    break;
                default:
                    Console.Error.WriteLine($"Unknown argument '{args[i]}'.");
                    Console.Error.WriteLine($"Usage: dotnet run --project bench/HybridProtocol.Bench -c Release -- [--quick] [--markdown FILE] [--only {string.Join('|', Sections)}] [--transports NAME[,NAME]]");
                    return null;
            }
        }

        return new BenchOptions(quick, markdown, only, transports);
    }
}

/// <summary>Sizes and repetition counts; <c>--quick</c> shrinks all of them for a smoke test.</summary>
internal sealed record Scale(
    long BulkBytes,
    long BulkWarmupBytes,
    long AllocBytes,
    int Repetitions,
    int HandshakesPerRepetition,
    TimeSpan HandshakeWarmup,
    int RoundTripsPerRepetition,
    int RoundTripWarmup,
    int IdleConnections,
    long AeadBytes,
    int NoiseHandshakesPerRepetition)
{
    public static Scale Full { get; } = new(
        BulkBytes: 1L << 30,
        BulkWarmupBytes: 128L << 20,
        AllocBytes: 256L << 20,
        Repetitions: 3,
        HandshakesPerRepetition: 400,
        HandshakeWarmup: TimeSpan.FromSeconds(2),
        RoundTripsPerRepetition: 10_000,
        RoundTripWarmup: 2_000,
        IdleConnections: 2_000,
        AeadBytes: 256L << 20,
        NoiseHandshakesPerRepetition: 200);

    public static Scale Quick { get; } = new(
        BulkBytes: 32L << 20,
        BulkWarmupBytes: 8L << 20,
        AllocBytes: 16L << 20,
        Repetitions: 2,
        HandshakesPerRepetition: 40,
        HandshakeWarmup: TimeSpan.FromSeconds(0.3),
        RoundTripsPerRepetition: 500,
        RoundTripWarmup: 100,
        IdleConnections: 200,
        AeadBytes: 16L << 20,
        NoiseHandshakesPerRepetition: 20);
}

/// <summary>Medians and percentiles over samples; times from <see cref="Stopwatch.GetTimestamp"/>.</summary>
internal static class Stats
{
    public static double Median(IEnumerable<double> samples) => Percentile(samples, 0.5);

    /// <summary>The nearest-rank percentile (p in 0..1) of the samples.</summary>
    public static double Percentile(IEnumerable<double> samples, double p)
    {
        var sorted = samples.Order().ToArray();
        if (sorted.Length == 0)
        {
            return double.NaN;
        }

        var rank = (int)Math.Ceiling(p * sorted.Length) - 1;
        return sorted[Math.Clamp(rank, 0, sorted.Length - 1)];
    }

    public static double Microseconds(long startTimestamp, long endTimestamp) =>
        (endTimestamp - startTimestamp) * 1_000_000.0 / Stopwatch.Frequency;

    public static double Seconds(long startTimestamp, long endTimestamp) =>
        (endTimestamp - startTimestamp) / (double)Stopwatch.Frequency;

    /// <summary>Decimal megabytes per second (1 MB = 10^6 bytes).</summary>
    public static double MegabytesPerSecond(long bytes, double seconds) => bytes / 1e6 / seconds;

    /// <summary>
    /// Three full blocking collections so that heap figures reflect live objects only; then, on Linux, glibc's
    /// malloc_trim, so native memory an earlier transport freed (OpenSSL's, libsodium's) leaves the working set before
    /// a baseline is taken rather than during the next measurement (which then showed negative growth).
    /// </summary>
    public static void CollectFully()
    {
        for (var i = 0; i < 3; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }

        if (OperatingSystem.IsLinux())
        {
            try
            {
                _ = MallocTrim(0);
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // Not glibc (musl): nothing to trim.
            }
        }
    }

    [DllImport("libc", EntryPoint = "malloc_trim")]
    private static extern int MallocTrim(nuint pad);
}
