using System.Runtime.InteropServices;

namespace HybridProtocol.Cli;

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
