using System.Globalization;
using System.Runtime.InteropServices;

namespace HybridProtocol.Cli;

/// <summary>
/// An output that appears only when complete and stored: a temporary file beside the target
/// (<see cref="TemporaryFiles.NameFor"/>), flushed to disk (fsync) and renamed over the target by <see cref="Commit"/>,
/// and deleted on every other path (a failed write, a flush that throws, an exception, a signal). Standard output
/// (<c>-</c>) is written directly.
/// </summary>
internal sealed partial class AtomicOutput : IAsyncDisposable
{
    private readonly string? _target;
    private readonly string? _temporary;
    private readonly FileStream? _file;
    private bool _committed;

    private AtomicOutput(Stream stream, string? target, string? temporary)
    {
        Stream = stream;
        _file = stream as FileStream;
        _target = target;
        _temporary = temporary;
    }

    /// <summary>Where to write.</summary>
    public Stream Stream { get; }

    /// <summary>Opens the output for <paramref name="path"/> (see <see cref="Streams.CheckOutput"/>).</summary>
    public static AtomicOutput Create(string path, bool force)
    {
        Streams.CheckOutput(path, force);
        if (path == "-")
        {
            return new AtomicOutput(Streams.StandardOutput(), null, null);
        }

        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(directory))
        {
            throw new CliException(ExitCode.KeyOrFile, $"The folder '{directory}' for the output does not exist; create it or choose another path.");
        }

        TemporaryFiles.RemoveStale(full);
        var temporary = TemporaryFiles.NameFor(full);
        var options = new FileStreamOptions
        {
            Mode = FileMode.CreateNew,
            Access = FileAccess.Write,
            Options = FileOptions.Asynchronous,
            BufferSize = 64 * 1024,
        };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        TemporaryFiles.Add(temporary);
        try
        {
            return new AtomicOutput(new FileStream(temporary, options), full, temporary);
        }
        catch
        {
            TemporaryFiles.Delete(temporary);
            throw;
        }
    }

    /// <summary>
    /// Flushes the data to disk (fsync), renames the file into place (refusing an existing target unless
    /// <paramref name="force"/>) and flushes the directory entry. On failure the temporary file is gone.
    /// </summary>
    /// <exception cref="IOException">The disk is full, the target appeared meanwhile (without --force), or another write error.</exception>
    public async Task Commit(bool force)
    {
        await Stream.FlushAsync().ConfigureAwait(false);
        if (_temporary is not null && _target is not null && _file is not null)
        {
            _file.Flush(flushToDisk: true);
            await _file.DisposeAsync().ConfigureAwait(false);
            PauseForTests();
            if (force)
            {
                File.Move(_temporary, _target, overwrite: true);
            }
            else
            {
                MoveNoReplace(_temporary, _target);
            }

            TemporaryFiles.Forget(_temporary);
            FlushDirectory(Path.GetDirectoryName(_target) ?? ".");
        }

        _committed = true;
    }

    /// <summary>Closes the output; deletes the temporary file unless committed, even when closing throws.</summary>
    public async ValueTask DisposeAsync()
    {
        try
        {
            await Stream.DisposeAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (!_committed && e is IOException or CliException)
        {
            // the failure that brought us here is the one reported; the buffered rest has nowhere to go
        }
        finally
        {
            if (!_committed && _temporary is not null)
            {
                TemporaryFiles.Delete(_temporary);
            }
        }
    }

    /// <summary>
    /// Renames <paramref name="temporary"/> to <paramref name="target"/> only if no file of that name exists, in one
    /// step of the file system: renameat2(RENAME_NOREPLACE) on Linux, else link(2) then unlink(2) of the temporary
    /// name (link fails with EEXIST); MoveFileEx without replace on Windows. File.Move(overwrite: false) checks with
    /// lstat and then renames, so a file created between the two was replaced (issue 26 item 6).
    /// </summary>
    /// <exception cref="IOException">The target exists (HResult 17, EEXIST), or another error of the file system.</exception>
    private static void MoveNoReplace(string temporary, string target)
    {
        if (OperatingSystem.IsWindows())
        {
            File.Move(temporary, target, overwrite: false);
            return;
        }

        if (OperatingSystem.IsLinux())
        {
            try
            {
                if (Posix.RenameAt2(AtCurrentDirectory, temporary, AtCurrentDirectory, target, RenameNoReplace) == 0)
                {
                    return;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno is not (EINVAL or ENOSYS or ENOTSUP))
                {
                    throw Failure(errno, target);
                }
            }
            catch (EntryPointNotFoundException)
            {
                // a C library without renameat2: link and unlink below
            }
        }

        if (Posix.Link(temporary, target) != 0)
        {
            throw Failure(Marshal.GetLastPInvokeError(), target);
        }

        _ = Posix.Unlink(temporary);
    }

    private const int AtCurrentDirectory = -100;
    private const uint RenameNoReplace = 1;
    private const int EEXIST = 17;
    private const int EINVAL = 22;
    private const int ENOSYS = 38;
    private const int ENOTSUP = 95;

    private static IOException Failure(int errno, string target) => errno == EEXIST
        ? new IOException($"'{target}' was created by someone else while the data arrived; it was kept, and this output was not stored.", EEXIST)
        : new IOException($"Could not move the output into place as '{target}': {Marshal.GetPInvokeErrorMessage(errno)}.", errno);

    /// <summary>
    /// For tests only: with HYBRID_TEST_PAUSE_BEFORE_COMMIT_MS set (1 to 10,000), waits that long before the rename,
    /// so a test can create the target between the last check and the rename (a slow disk or scheduler does the same).
    /// </summary>
    private static void PauseForTests()
    {
        if (int.TryParse(Environment.GetEnvironmentVariable("HYBRID_TEST_PAUSE_BEFORE_COMMIT_MS"), NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
            && ms is >= 1 and <= 10_000)
        {
            Thread.Sleep(ms);
        }
    }

    /// <summary>fsync of the directory, so that the rename itself survives a crash (best effort; POSIX only).</summary>
    private static void FlushDirectory(string directory)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        var fd = Posix.Open(directory, 0);
        if (fd >= 0)
        {
            _ = Posix.Fsync(fd);
            _ = Posix.Close(fd);
        }
    }

    private static partial class Posix
    {
        [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Open(string path, int flags);

        [LibraryImport("libc", EntryPoint = "renameat2", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int RenameAt2(int oldDirectory, string oldPath, int newDirectory, string newPath, uint flags);

        [LibraryImport("libc", EntryPoint = "link", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Link(string oldPath, string newPath);

        [LibraryImport("libc", EntryPoint = "unlink", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
        public static partial int Unlink(string path);

        [LibraryImport("libc", EntryPoint = "fsync")]
        public static partial int Fsync(int fd);

        [LibraryImport("libc", EntryPoint = "close")]
        public static partial int Close(int fd);
    }
}
