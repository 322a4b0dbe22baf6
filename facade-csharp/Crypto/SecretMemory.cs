namespace HybridProtocol.Crypto;

/// <summary>
/// Where the fast provider keeps short-lived secrets (ephemeral private keys, AEAD keys): fixed 64-byte blocks
/// carved out of slabs of libsodium guarded memory (one <c>sodium_malloc</c> per 64 KiB slab: guard pages around
/// it, locked so it is never swapped, outside the GC heap so nothing is moved or copied). Renting and returning a
/// block is a short critical section, with no system call; a returned block is zeroed at once
/// (<c>sodium_memzero</c>) and goes back on the free list. Slabs are kept for the life of the process, so the
/// memory held is the peak number of live secrets times 64 bytes.
/// </summary>
internal static unsafe class SecretMemory
{
    /// <summary>Bytes in one block: room for one 32-byte key, aligned to a cache line.</summary>
    public const int BlockSize = 64;

    private const int BlocksPerSlab = 1024;
    private static readonly Lock Gate = new();
    private static readonly AsyncLocal<Observation?> CurrentObservation = new();
    private static readonly HashSet<nint> Observed = [];
    private static readonly HashSet<nint> Held = [];
    private static nint[] free = new nint[BlocksPerSlab];
    private static int freeCount;
    private static int slabs;
    private static volatile int observing;

    /// <summary>Slabs allocated so far (each <see cref="BlocksPerSlab"/> blocks).</summary>
    public static int Slabs => Volatile.Read(ref slabs);

    /// <summary>A zeroed block of <see cref="BlockSize"/> bytes; give it back with <see cref="Return"/>.</summary>
    public static byte* Rent()
    {
        nint block;
        lock (Gate)
        {
            if (freeCount == 0)
            {
                Grow();
            }

            block = free[--freeCount];
        }

        if (observing != 0 && CurrentObservation.Value is { } observation)
        {
            observation.Add(block);
        }

        return (byte*)block;
    }

    /// <summary>Erases the block and makes it available again.</summary>
    public static void Return(byte* block)
    {
        Sodium.sodium_memzero(block, BlockSize);
        lock (Gate)
        {
            if (Observed.Count > 0 && Observed.Contains((nint)block))
            {
                // Observed by a test: kept out of circulation until the observation ends, so it can be read.
                Held.Add((nint)block);
                return;
            }

            if (freeCount == free.Length)
            {
                Array.Resize(ref free, free.Length * 2);
            }

            free[freeCount++] = (nint)block;
        }
    }

    /// <summary>
    /// Test hook: from now on, on this async flow only, every block rented is recorded, and stays out of circulation
    /// after it is returned (zeroed) until the observation is disposed, so a test can read what is left in it.
    /// </summary>
    internal static Observation Observe()
    {
        var observation = new Observation();
        CurrentObservation.Value = observation;
        Interlocked.Increment(ref observing);
        return observation;
    }

    private static void Grow()
    {
        var slab = (byte*)Sodium.sodium_malloc(BlockSize * BlocksPerSlab);
        if (slab is null)
        {
            throw new OutOfMemoryException("libsodium could not allocate guarded memory for keys (sodium_malloc).");
        }

        Sodium.sodium_memzero(slab, BlockSize * BlocksPerSlab);
        if (free.Length - freeCount < BlocksPerSlab)
        {
            Array.Resize(ref free, Math.Max(free.Length * 2, freeCount + BlocksPerSlab));
        }

        for (var i = BlocksPerSlab - 1; i >= 0; i--)
        {
            free[freeCount++] = (nint)(slab + (i * BlockSize));
        }

        slabs++;
    }

    /// <summary>The blocks one async flow rented while observed (see <see cref="Observe"/>).</summary>
    internal sealed class Observation : IDisposable
    {
        private readonly List<nint> blocks = [];
        private bool ended;

        /// <summary>Every block rented so far, in order.</summary>
        public IReadOnlyList<nint> Blocks
        {
            get
            {
                lock (Gate)
                {
                    return [.. blocks];
                }
            }
        }

        /// <summary>A copy of what a block holds now.</summary>
        public static byte[] Read(nint block) => new ReadOnlySpan<byte>((void*)block, BlockSize).ToArray();

        /// <summary>Ends the observation; blocks returned meanwhile go back into circulation.</summary>
        public void Dispose()
        {
            lock (Gate)
            {
                if (ended)
                {
                    return;
                }

                ended = true;
                foreach (var block in blocks)
                {
                    // A block still in use stays with its owner and is returned normally later; one already
                    // returned (and zeroed) goes back into circulation now.
                    Observed.Remove(block);
                    if (Held.Remove(block))
                    {
                        if (freeCount == free.Length)
                        {
                            Array.Resize(ref free, free.Length * 2);
                        }

                        free[freeCount++] = block;
                    }
                }
            }

            CurrentObservation.Value = null;
            Interlocked.Decrement(ref observing);
        }

        internal void Add(nint block)
        {
            lock (Gate)
            {
                if (!ended)
                {
                    blocks.Add(block);
                    Observed.Add(block);
                }
            }
        }
    }
}
