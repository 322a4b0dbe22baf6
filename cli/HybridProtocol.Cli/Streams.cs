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
