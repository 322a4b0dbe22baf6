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
/// An output that appears only when complete: a temporary file beside the target, renamed over it by
/// <see cref="Commit"/> and deleted if not committed. Standard output (<c>-</c>) is written directly.
/// </summary>
internal sealed class AtomicOutput : IAsyncDisposable
{
    private readonly string? _target;
    private readonly string? _temporary;
    private bool _committed;

    private AtomicOutput(Stream stream, string? target, string? temporary)
    {
        Stream = stream;
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
            return new AtomicOutput(Console.OpenStandardOutput(), null, null);
        }

        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full) ?? ".";
        if (!Directory.Exists(directory))
        {
            throw new CliException(ExitCode.KeyOrFile, $"The folder '{directory}' for the output does not exist; create it or choose another path.");
        }

        var temporary = Path.Combine(directory, $".{Path.GetFileName(full)}.{Guid.NewGuid():N}.partial");
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

        return new AtomicOutput(new FileStream(temporary, options), full, temporary);
    }

    /// <summary>Flushes and puts the output in place.</summary>
    public async Task Commit(bool force)
    {
        await Stream.FlushAsync().ConfigureAwait(false);
        if (_temporary is not null && _target is not null)
        {
            await Stream.DisposeAsync().ConfigureAwait(false);
            File.Move(_temporary, _target, force);
        }

        _committed = true;
    }

    /// <summary>Closes the output; deletes the temporary file unless committed.</summary>
    public async ValueTask DisposeAsync()
    {
        await Stream.DisposeAsync().ConfigureAwait(false);
        if (!_committed && _temporary is not null)
        {
            File.Delete(_temporary);
        }
    }
}
