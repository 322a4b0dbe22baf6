using System.Diagnostics;

namespace HybridProtocol.Crypto;

/// <summary>
/// Counters for the benchmark's per-handshake CPU breakdown (bench/README.md): how many X25519 operations, AEAD keys,
/// hashes and AEAD calls <see cref="SodiumSuite"/> did, and the time spent in each. Off by default; while off, each
/// operation costs one static read. Counts and times are process-wide, all threads together.
/// </summary>
internal static class ProviderStatistics
{
    /// <summary>Fixed-base scalar multiplications (ephemeral key generation).</summary>
    public static long KeyGenerations;

    /// <summary>Variable-base scalar multiplications (DH).</summary>
    public static long Agreements;

    /// <summary>AEAD keys made (KEY).</summary>
    public static long AeadKeys;

    /// <summary>HASH calls.</summary>
    public static long Hashes;

    /// <summary>ENCRYPT and DECRYPT calls.</summary>
    public static long AeadCalls;

    /// <summary>Stopwatch ticks in key generation and DH.</summary>
    public static long DhTicks;

    /// <summary>Stopwatch ticks making AEAD keys.</summary>
    public static long KeySetupTicks;

    /// <summary>Stopwatch ticks in HASH.</summary>
    public static long HashTicks;

    /// <summary>Stopwatch ticks in ENCRYPT and DECRYPT.</summary>
    public static long AeadTicks;

    /// <summary>KEM operations (GENERATE_KEM_KEYPAIR, GENERATE_KEM_CIPHERTEXT, KEM decapsulation).</summary>
    public static long KemOperations;

    /// <summary>Stopwatch ticks in KEM operations.</summary>
    public static long KemTicks;

    private static volatile bool enabled;

    /// <summary>Whether operations are being counted.</summary>
    public static bool Enabled
    {
        get => enabled;
        set => enabled = value;
    }

    /// <summary>Sets every counter to zero.</summary>
    public static void Reset()
    {
        Interlocked.Exchange(ref KeyGenerations, 0);
        Interlocked.Exchange(ref Agreements, 0);
        Interlocked.Exchange(ref AeadKeys, 0);
        Interlocked.Exchange(ref Hashes, 0);
        Interlocked.Exchange(ref AeadCalls, 0);
        Interlocked.Exchange(ref DhTicks, 0);
        Interlocked.Exchange(ref KeySetupTicks, 0);
        Interlocked.Exchange(ref HashTicks, 0);
        Interlocked.Exchange(ref AeadTicks, 0);
        Interlocked.Exchange(ref KemOperations, 0);
        Interlocked.Exchange(ref KemTicks, 0);
    }

    /// <summary>A timestamp when counting, else 0.</summary>
    public static long Start() => enabled ? Stopwatch.GetTimestamp() : 0;

    /// <summary>Counts one operation begun at <paramref name="start"/> (nothing when <paramref name="start"/> is 0).</summary>
    public static void Stop(ref long count, ref long ticks, long start)
    {
        if (start != 0)
        {
            Interlocked.Increment(ref count);
            Interlocked.Add(ref ticks, Stopwatch.GetTimestamp() - start);
        }
    }
}
