using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace HybridProtocol.Cli;

/// <summary>Input and output files for the commands, where <c>-</c> means standard input or output.</summary>
internal static class Streams
{
    /// <summary>Opens <paramref name="path"/> for reading, or standard input for <c>-</c>.</summary>
    public static Stream OpenInput(string path)
    {
        if (path == "-")
        {
            return Console.OpenStandardInput();
        }

        Keys.RequireFile(path, "input");
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.Asynchronous | FileOptions.SequentialScan);
    }

    /// <summary>
    /// Standard output as a stream that fails when the reader has gone (<c>hybrid open ... -o - | head -c 10</c>):
    /// the console stream of .NET drops writes to a closed pipe silently, so the command would run to its end and
    /// exit 0. A write or flush to a closed pipe throws a <see cref="CliException"/> with <see cref="ExitCode.OutputClosed"/>.
    /// On Unix the bytes go out with plain write(2) on descriptor 1 (<see cref="DescriptorStream"/>), which moves the
    /// offset the shell's redirection shares: a <see cref="FileStream"/> writes with pwrite at an offset of its own, so
    /// the next writer into the same file (<c>{ hybrid open ... -o -; echo END; } &gt; out</c>) overwrote the output.
    /// </summary>
    public static Stream StandardOutput()
    {
        if (OperatingSystem.IsWindows())
        {
            return new PipeAware(Console.OpenStandardOutput());
        }

        return new PipeAware(new DescriptorStream(1));
    }

    /// <summary>Fails unless <paramref name="path"/> may be written: <c>-</c>, a new file, or an existing one with --force.</summary>
    public static void CheckOutput(string path, bool force)
    {
        if (path == "-")
        {
            return;
        }

        if (Directory.Exists(path))
        {
            throw new CliException(ExitCode.KeyOrFile, $"'{path}' is a directory; give a file name for the output.");
        }

        if (File.Exists(path) && !force)
        {
            throw new CliException(ExitCode.KeyOrFile, $"'{path}' already exists; choose another name, or pass --force to replace it.");
        }
    }
}


/// <summary>
/// A file descriptor written with plain write(2), as a shell's own commands write: the kernel advances the descriptor's
/// shared file offset (or appends under O_APPEND), so output mixed with other writers into one redirection keeps its
/// place. Partial writes and EINTR are retried; EAGAIN (a descriptor inherited non-blocking) waits until writable.
/// Errors become <see cref="IOException"/> with the errno in HResult (EPIPE = 32, as <see cref="PipeAware"/> expects).
/// </summary>
internal sealed partial class DescriptorStream(int fd) : WriteOnlyStream
{
    private const int EINTR = 4;
    private const int EAGAIN = 11;

    public override void Flush()
    {
        // nothing is buffered
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override unsafe void Write(ReadOnlySpan<byte> buffer)
    {
        fixed (byte* start = buffer)
        {
            var done = 0;
            while (done < buffer.Length)
            {
                var n = Posix.Write(fd, start + done, (nint)(buffer.Length - done));
                if (n >= 0)
                {
                    done += (int)n;
                    continue;
                }

                var errno = Marshal.GetLastPInvokeError();
                if (errno == EINTR)
                {
                    continue;
                }

                if (errno == EAGAIN)
                {
                    Thread.Sleep(1);
                    continue;
                }

                throw new IOException($"Writing to the output failed: {Marshal.GetPInvokeErrorMessage(errno)}.", errno);
            }
        }
    }

    /// <summary>Writes synchronously (a terminal, pipe or file takes the bytes at once; a full pipe blocks as it should).</summary>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        Write(buffer.Span);
        return ValueTask.CompletedTask;
    }

    private static unsafe partial class Posix
    {
        [LibraryImport("libc", EntryPoint = "write", SetLastError = true)]
        public static partial nint Write(int fd, byte* buffer, nint count);
    }
}

/// <summary>Turns "broken pipe" on standard output into the tool's own failure (exit 141, see <see cref="ExitCode.OutputClosed"/>).</summary>
internal sealed class PipeAware(Stream inner) : WriteOnlyStream
{
    /// <summary>EPIPE on Linux and macOS; ERROR_BROKEN_PIPE / ERROR_NO_DATA on Windows.</summary>
    private static bool IsClosedPipe(IOException e) => (e.HResult & 0xFFFF) is 32 or 109 or 232;

    private static CliException Closed(IOException e) =>
        new(ExitCode.OutputClosed, "the output was closed before everything was written (the reading command ended); stopped.", e);

    public override void Flush()
    {
        try
        {
            inner.Flush();
        }
        catch (IOException e) when (IsClosedPipe(e))
        {
            throw Closed(e);
        }
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        try
        {
            await inner.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e) when (IsClosedPipe(e))
        {
            throw Closed(e);
        }
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        try
        {
            inner.Write(buffer);
        }
        catch (IOException e) when (IsClosedPipe(e))
        {
            throw Closed(e);
        }
    }

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            await inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e) when (IsClosedPipe(e))
        {
            throw Closed(e);
        }
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            try
            {
                inner.Dispose();
            }
            catch (IOException e) when (IsClosedPipe(e))
            {
                // nothing more can reach a reader that has gone
            }
        }

        base.Dispose(disposing);
    }
}

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

/// <summary>What every write-only, unseekable stream of the tool says about itself; the array overloads go to the span ones.</summary>
internal abstract class WriteOnlyStream : Stream
{
    public override bool CanRead => false;

    public override bool CanSeek => false;

    public override bool CanWrite => true;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
}
