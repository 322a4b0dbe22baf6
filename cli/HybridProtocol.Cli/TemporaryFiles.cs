using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace HybridProtocol.Cli;

/// <summary>
/// The temporary files of this process (<see cref="AtomicOutput"/>), so that a signal removes them even when the
/// command does not get to its own clean-up (see App's signal handling), and the naming that lets a later run
/// recognise the leftovers of a killed one: <c>.NAME.hybrid-PID-RANDOM.partial</c> beside the target NAME.
/// </summary>
internal static class TemporaryFiles
{
    private static readonly ConcurrentDictionary<string, byte> Live = new(StringComparer.Ordinal);

    /// <summary>
    /// The longest target name, in UTF-8 bytes, kept whole in a temporary name: NAME_MAX (255) less the fixed part
    /// (<c>.</c>, <c>.hybrid-</c>, a process id of up to 10 digits, <c>-</c>, 32 hex digits, <c>.partial</c>).
    /// </summary>
    private const int MaxKeptNameBytes = 255 - 60;

    /// <summary>The temporary name for <paramref name="target"/> (a full path), owned by this process; it fits NAME_MAX.</summary>
    public static string NameFor(string target) =>
        Path.Combine(
            Path.GetDirectoryName(target) ?? ".",
            string.Create(CultureInfo.InvariantCulture, $"{PrefixFor(target)}{Environment.ProcessId}-{Guid.NewGuid():N}.partial"));

    /// <summary>
    /// The start of every temporary name for <paramref name="target"/>: <c>.NAME.hybrid-</c>, where a NAME longer
    /// than <see cref="MaxKeptNameBytes"/> bytes is cut (on a character boundary) and ends in <c>~</c> and 16 hex
    /// digits of its SHA-256, so the whole temporary name stays within 255 bytes and differs between long names.
    /// </summary>
    private static string PrefixFor(string target)
    {
        var name = Path.GetFileName(target);
        if (System.Text.Encoding.UTF8.GetByteCount(name) > MaxKeptNameBytes)
        {
            var digest = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(name)))[..16];
            var kept = new System.Text.StringBuilder();
            var bytes = 0;
            foreach (var rune in name.EnumerateRunes())
            {
                bytes += rune.Utf8SequenceLength;
                if (bytes > MaxKeptNameBytes - 17)
                {
                    break;
                }

                kept.Append(rune.ToString());
            }

            name = kept + "~" + digest;
        }

        return $".{name}.hybrid-";
    }

    /// <summary>Records a temporary file as this process's.</summary>
    public static void Add(string path) => Live[path] = 0;

    /// <summary>Forgets a temporary file (renamed into place, or deleted).</summary>
    public static void Forget(string path) => Live.TryRemove(path, out _);

    /// <summary>Deletes a temporary file; never throws (the clean-up of a failure must not hide the failure).</summary>
    public static void Delete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // a later run of the same command removes it (RemoveStale)
        }

        Forget(path);
    }

    /// <summary>Deletes every temporary file this process still has (on a signal or at exit).</summary>
    public static void DeleteAll()
    {
        foreach (var path in Live.Keys)
        {
            Delete(path);
        }
    }

    /// <summary>
    /// Removes the temporary files for <paramref name="target"/> left by runs that were killed (SIGKILL, power loss):
    /// those whose process id is not a running process. Returns how many were removed.
    /// </summary>
    public static int RemoveStale(string target)
    {
        var directory = Path.GetDirectoryName(target) ?? ".";
        var prefix = PrefixFor(target);
        var removed = 0;
        IEnumerable<string> candidates;
        try
        {
            // The name comes from a sender: never part of a search pattern ('?' and '*' would match other files);
            // every temporary file is listed and compared exactly.
            candidates = Directory.EnumerateFiles(directory, "*.partial")
                .Where(path => Path.GetFileName(path).StartsWith(prefix, StringComparison.Ordinal))
                .ToList();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return 0;
        }

        foreach (var path in candidates)
        {
            var rest = Path.GetFileName(path)[prefix.Length..];
            var dash = rest.IndexOf('-', StringComparison.Ordinal);
            if (dash <= 0 || !int.TryParse(rest[..dash], NumberStyles.None, CultureInfo.InvariantCulture, out var pid) || IsRunning(pid))
            {
                continue;
            }

            try
            {
                File.Delete(path);
                removed++;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // not ours to remove (another user's directory); leave it
            }
        }

        return removed;
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
