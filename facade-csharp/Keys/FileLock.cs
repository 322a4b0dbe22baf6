namespace HybridProtocol;

/// <summary>
/// An exclusive lock between processes on a lock file (<c>PATH.lock</c>), removed again when released where that is
/// safe, so no lock file is left behind.
/// <para>
/// The lock is the file opened with <see cref="FileShare.None"/>: .NET turns that into <c>flock(LOCK_EX | LOCK_NB)</c>
/// on Unix and an exclusive open on Windows. Removing a lock file on release is safe only if a process that locked
/// the old file after its removal notices: on Linux the holder checks, once it has the lock, that the path still names
/// the file it locked (<c>/proc/self/fd</c> shows a removed file as "(deleted)") and otherwise starts again, so the
/// removal cannot let two processes hold the lock at once. On Windows the file is opened with
/// <see cref="FileOptions.DeleteOnClose"/>, which the exclusive open makes atomic. Elsewhere (macOS) the lock file
/// is left in place.
/// </para>
/// </summary>
internal sealed class FileLock : IDisposable
{
    private readonly FileStream _stream;
    private readonly string? _removeOnRelease;

    private FileLock(FileStream stream, string? removeOnRelease)
    {
        _stream = stream;
        _removeOnRelease = removeOnRelease;
    }

    /// <summary>
    /// Takes the lock on <paramref name="lockPath"/>, retrying with short pauses while another process holds it, for
    /// up to <paramref name="timeout"/>; then the last <see cref="IOException"/> propagates. Null when the lock file
    /// cannot be created at all (a read-only directory).
    /// </summary>
    public static FileLock? Take(string lockPath, TimeSpan timeout)
    {
        var options = new FileStreamOptions { Mode = FileMode.OpenOrCreate, Access = FileAccess.ReadWrite, Share = FileShare.None };
        if (OperatingSystem.IsWindows())
        {
            options.Options = FileOptions.DeleteOnClose;
        }
        else
        {
            options.UnixCreateMode = KeyFiles.OwnerOnly;
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var pause = 1;
        while (true)
        {
            FileStream stream;
            try
            {
                stream = new FileStream(lockPath, options);
            }
            catch (UnauthorizedAccessException) when (!File.Exists(lockPath))
            {
                return null;
            }
            catch (IOException e) when (e is not FileNotFoundException and not DirectoryNotFoundException && clock.Elapsed < timeout)
            {
                // held by another process: try again shortly, with a little jitter so that waiters do not move in step
                Thread.Sleep(pause + Random.Shared.Next(pause + 1));
                pause = Math.Min(pause * 2, 10);
                continue;
            }

            switch (OperatingSystem.IsLinux() ? IsRemoved(stream) : null)
            {
                case false:
                    return new FileLock(stream, lockPath);
                case null:
                    return new FileLock(stream, null);
                case true:
                    // the holder before us removed the file after we opened it: a lock nobody else sees; start again
                    stream.Dispose();
                    break;
            }
        }
    }

    /// <summary>Removes the lock file (while still holding it, so a waiter that opened it starts again), then releases.</summary>
    public void Dispose()
    {
        if (_removeOnRelease is not null)
        {
            try
            {
                File.Delete(_removeOnRelease);
            }
            catch (Exception e) when (KeyFiles.IsFileError(e))
            {
                // left in place: harmless, the next holder reuses it
            }
        }

        _stream.Dispose();
    }

    /// <summary>
    /// Whether the file open in <paramref name="stream"/> has been removed (Linux: its <c>/proc/self/fd</c> link ends in
    /// " (deleted)"); null when that cannot be seen (no <c>/proc</c>, as in some containers), and then the file is kept.
    /// </summary>
    private static bool? IsRemoved(FileStream stream)
    {
        try
        {
            var target = new FileInfo($"/proc/self/fd/{stream.SafeFileHandle.DangerousGetHandle().ToInt64()}").LinkTarget;
            return target?.EndsWith(" (deleted)", StringComparison.Ordinal);
        }
        catch (Exception e) when (KeyFiles.IsFileError(e))
        {
            return null;
        }
    }
}
