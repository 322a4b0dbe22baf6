namespace HybridProtocol.Net;

/// <summary>How one implementation of a stream reader or writer (sealed files, age files) runs over synchronous and asynchronous
/// streams: generic over a struct of this interface, as SslStream's adapters are, so the blocking path never allocates a task.</summary>
internal interface IStreamIo
{
    ValueTask<int> ReadAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken);

    ValueTask WriteAsync(Stream stream, ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken);

    ValueTask FlushAsync(Stream stream, CancellationToken cancellationToken);
}

/// <summary>Blocking I/O: every operation completes before it returns.</summary>
internal readonly struct SyncStreamIo : IStreamIo
{
    public ValueTask<int> ReadAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken) => new(stream.Read(buffer.Span));

    public ValueTask WriteAsync(Stream stream, ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        stream.Write(buffer.Span);
        return default;
    }

    public ValueTask FlushAsync(Stream stream, CancellationToken cancellationToken)
    {
        stream.Flush();
        return default;
    }
}

/// <summary>Asynchronous I/O.</summary>
internal readonly struct AsyncStreamIo : IStreamIo
{
    public ValueTask<int> ReadAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken) => stream.ReadAsync(buffer, cancellationToken);

    public ValueTask WriteAsync(Stream stream, ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken) => stream.WriteAsync(buffer, cancellationToken);

    public ValueTask FlushAsync(Stream stream, CancellationToken cancellationToken) => new(stream.FlushAsync(cancellationToken));
}
