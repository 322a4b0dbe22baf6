namespace HybridProtocol.Connections;

/// <summary>
/// The <see cref="Stream"/> view of a <see cref="SecureConnection"/> (<see cref="SecureConnection.GetStream"/>):
/// reads return message bytes in order across message boundaries, each write sends one message.
/// </summary>
internal sealed class SecureConnectionStream(SecureConnection connection) : Stream
{
    public override bool CanRead => true;

    public override bool CanWrite => true;

    public override bool CanSeek => false;

    public override long Length => throw new NotSupportedException("A SecureConnection stream has no length.");

    public override long Position
    {
        get => throw new NotSupportedException("A SecureConnection stream cannot seek.");
        set => throw new NotSupportedException("A SecureConnection stream cannot seek.");
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        return connection.ReadSome(buffer.AsSpan(offset, count));
    }

    public override int Read(Span<byte> buffer) => connection.ReadSome(buffer);

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return connection.ReadSomeAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        connection.ReadSomeAsync(buffer, cancellationToken);

    public override void Write(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        connection.Send(buffer.AsSpan(offset, count));
    }

    public override void Write(ReadOnlySpan<byte> buffer) => connection.Send(buffer);

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return connection.SendAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        connection.SendAsync(buffer, cancellationToken);

    public override void Flush()
    {
    }

    public override Task FlushAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("A SecureConnection stream cannot seek.");

    public override void SetLength(long value) => throw new NotSupportedException("A SecureConnection stream has no length.");

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            connection.Dispose();
        }

        base.Dispose(disposing);
    }

    public override async ValueTask DisposeAsync()
    {
        await connection.DisposeAsync().ConfigureAwait(false);
        await base.DisposeAsync().ConfigureAwait(false);
    }
}
