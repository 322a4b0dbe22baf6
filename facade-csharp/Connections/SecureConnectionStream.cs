namespace HybridProtocol.Connections;

/// <summary>
/// The <see cref="Stream"/> view of a <see cref="SecureConnection"/> (<see cref="SecureConnection.GetStream"/>):
/// reads return message bytes in order across message boundaries; each write sends one message, or, when it is longer
/// than the peer accepts in one (<see cref="SecureConnection.RemoteMaxMessageSize"/>), consecutive messages of at most
/// that size: a stream has no message boundaries, so the reader sees the same bytes either way.
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
        Write(buffer.AsSpan(offset, count));
    }

    public override void Write(ReadOnlySpan<byte> buffer)
    {
        var most = connection.RemoteMaxMessageSize;
        do
        {
            var part = buffer[..Math.Min(buffer.Length, most)];
            connection.Send(part);
            buffer = buffer[part.Length..];
        }
        while (!buffer.IsEmpty);
    }

    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) =>
        buffer.Length <= connection.RemoteMaxMessageSize ? connection.SendAsync(buffer, cancellationToken) : WriteInPartsAsync(buffer, cancellationToken);

    private async ValueTask WriteInPartsAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        var most = connection.RemoteMaxMessageSize;
        while (!buffer.IsEmpty)
        {
            var part = buffer[..Math.Min(buffer.Length, most)];
            await connection.SendAsync(part, cancellationToken).ConfigureAwait(false);
            buffer = buffer[part.Length..];
        }
    }

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
