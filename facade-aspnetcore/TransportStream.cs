using System.Buffers;
using System.IO.Pipelines;

namespace HybridProtocol.AspNetCore;

/// <summary>
/// A <see cref="Stream"/> over a Kestrel transport's pipes, for the facade's stream-based connection: reads copy from
/// the input pipe's buffers (the ciphertext lands in the connection's receive buffer, where it is decrypted in place),
/// writes go into the output pipe and are flushed. Disposing it leaves the transport to Kestrel, and only ends a read
/// that waits (the handshake's timeout closes the stream to stop it).
/// </summary>
internal sealed class TransportStream(IDuplexPipe transport) : UnseekableStream
{
    private int disposed;

    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        while (true)
        {
            var result = await transport.Input.ReadAsync(cancellationToken).ConfigureAwait(false);
            if (result.IsCanceled)
            {
                throw new ObjectDisposedException(nameof(TransportStream), "The stream was closed while a read was waiting.");
            }

            var available = result.Buffer;
            if (available.IsEmpty)
            {
                transport.Input.AdvanceTo(available.End);
                if (result.IsCompleted)
                {
                    return 0;
                }

                continue;
            }

            if (buffer.IsEmpty)
            {
                // A zero-byte read waits until data is there, and consumes nothing.
                transport.Input.AdvanceTo(available.Start);
                return 0;
            }

            var n = (int)Math.Min(buffer.Length, available.Length);
            available.Slice(0, n).CopyTo(buffer.Span);
            transport.Input.AdvanceTo(available.GetPosition(n));
            return n;
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref disposed) != 0, this);
        var result = await transport.Output.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
        if (result.IsCanceled || result.IsCompleted)
        {
            throw new IOException("The client's connection is closed.");
        }
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    protected override void Dispose(bool disposing)
    {
        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            transport.Input.CancelPendingRead();
        }

        base.Dispose(disposing);
    }
}
