using System.IO.Pipelines;
using System.Runtime.CompilerServices;

namespace HybridProtocol.AspNetCore;

/// <summary>
/// The output pipe the middleware hands Kestrel: <c>PipeWriter.Create</c> over the secure connection's stream, keeping
/// Kestrel's transport contract: a flush never throws because the peer is gone (Kestrel logs any exception from a flush
/// at Error), it reports <see cref="FlushResult.IsCompleted"/>, as the socket transport does after the socket closed.
/// The secure connection stops sending when the peer's close arrives (it answers with its own), when it failed, or when
/// it is disposed; Kestrel may still write then (HTTP/2's GOAWAY on a connection whose input ended). From the first
/// write that fails, nothing more is sent (no data after a gap) and every flush reports completion.
/// </summary>
internal sealed class SecureOutput : PipeWriter
{
    private readonly OutputStream stream;
    private readonly PipeWriter inner;

    internal SecureOutput(Stream secure, StreamPipeWriterOptions options)
    {
        stream = new OutputStream(secure);
        inner = Create(stream, options);
    }

    public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

    public override long UnflushedBytes => inner.UnflushedBytes;

    public override void Advance(int bytes) => inner.Advance(bytes);

    public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

    public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

    public override void CancelPendingFlush() => inner.CancelPendingFlush();

    public override void Complete(Exception? exception = null) => inner.Complete(exception);

    public override ValueTask CompleteAsync(Exception? exception = null) => inner.CompleteAsync(exception);

    public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) =>
        Completed(inner.FlushAsync(cancellationToken));

    public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) =>
        Completed(inner.WriteAsync(source, cancellationToken));

    private ValueTask<FlushResult> Completed(ValueTask<FlushResult> pending) =>
        pending.IsCompletedSuccessfully ? new(WithEnd(pending.Result)) : CompletedAsync(pending);

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<FlushResult> CompletedAsync(ValueTask<FlushResult> pending) =>
        WithEnd(await pending.ConfigureAwait(false));

    /// <summary>The result Kestrel sees: completed once the secure connection stopped sending.</summary>
    private FlushResult WithEnd(FlushResult result) => stream.Ended ? new FlushResult(result.IsCanceled, isCompleted: true) : result;

    /// <summary>Forwards writes to the secure connection's stream until one fails; drops them from then on.</summary>
    private sealed class OutputStream(Stream secure) : UnseekableStream
    {
        private volatile bool ended;

        internal bool Ended => ended;

        public override bool CanRead => false;

        public override bool CanWrite => true;

        [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (ended)
            {
                return;
            }

            try
            {
                await secure.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IHybridProtocolError or IOException or ObjectDisposedException)
            {
                // Closed by the peer's close, failed or disposed: the connection's own close line says which.
                ended = true;
            }
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Write(byte[] buffer, int offset, int count) => WriteAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

        public override void Flush()
        {
        }

        public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
