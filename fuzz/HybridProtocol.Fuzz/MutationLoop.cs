using System.Diagnostics;

namespace HybridProtocol.Fuzz;

/// <summary>
/// A bounded in-process mutation fuzzer for machines without AFL++: random corpus entries, a few random
/// mutations each (bit flips, random bytes, insertions, deletions, duplicated or cut ranges), run through the
/// target; any exception is a crash, written to fuzz/findings/&lt;target&gt;/ with the seed that made it.
/// </summary>
public static class MutationLoop
{
    /// <summary>Runs <paramref name="runs"/> mutated inputs; prints executions and crashes; returns 1 if any crashed.</summary>
    public static int Run(string target, string corpusDirectory, int runs, int seed)
    {
        var seeds = Directory.GetFiles(Path.Combine(corpusDirectory, target)).Select(File.ReadAllBytes).ToArray();
        var rng = new Random(seed);
        var crashes = 0;
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < runs; i++)
        {
            var input = Mutate(seeds[rng.Next(seeds.Length)], rng);
            try
            {
                FuzzTargets.Run(target, input);
            }
            catch (Exception e)
            {
                crashes++;
                var folder = Path.Combine("fuzz", "findings", target);
                Directory.CreateDirectory(folder);
                File.WriteAllBytes(Path.Combine(folder, $"crash-{seed}-{i}"), input);
                Console.Error.WriteLine($"{target}: run {i}: {e.GetType().Name}: {e.Message}");
            }
        }

        Console.WriteLine($"{target}: {runs} executions in {clock.Elapsed.TotalSeconds:F1} s, {crashes} crashes (seed {seed}, {seeds.Length} corpus files)");
        return crashes == 0 ? 0 : 1;
    }

    private static byte[] Mutate(byte[] input, Random rng)
    {
        var bytes = new List<byte>(input);
        var count = 1 + rng.Next(4);
        for (var m = 0; m < count; m++)
        {
            var at = bytes.Count == 0 ? 0 : rng.Next(bytes.Count);
            switch (rng.Next(6))
            {
                case 0 when bytes.Count > 0: bytes[at] ^= (byte)(1 << rng.Next(8)); break;
                case 1 when bytes.Count > 0: bytes[at] = (byte)rng.Next(256); break;
                case 2: bytes.Insert(at, (byte)rng.Next(256)); break;
                case 3 when bytes.Count > 0: bytes.RemoveAt(at); break;
                case 4 when bytes.Count > 0:
                    var length = Math.Min(bytes.Count - at, 1 + rng.Next(64));
                    bytes.InsertRange(rng.Next(bytes.Count), bytes.GetRange(at, length));
                    break;
                case 5: bytes.RemoveRange(at, bytes.Count - at); break;
            }
        }

        return [.. bytes];
    }
}
