using System.Buffers;
using System.Net.Sockets;

namespace HybridProtocol.Net;

/// <summary>
/// One implementation over synchronous and asynchronous I/O (SslStream's ReadWriteAdapter model): the connection's
/// send and receive paths are written once as async methods over a struct adapter. The synchronous adapter's
/// operations complete before they return, so the sync path never suspends and allocates nothing.
/// </summary>
internal interface IReadWriteAdapter
{
    /// <summary>Waits until the stream has data, without holding a buffer (a peek or poll on a socket, a zero-byte read otherwise).</summary>
    ValueTask WaitForDataAsync(CancellationToken cancellationToken);

    ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken);

    ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken);

    ValueTask FlushAsync(CancellationToken cancellationToken);

    ValueTask LockAsync(SemaphoreSlim gate, CancellationToken cancellationToken);
}

/// <summary>Blocking I/O. <c>PollSocket</c>, when set, is polled before each read: on Unix a blocking read on a socket an async call made non-blocking allocates when it has to wait; a poll does not.</summary>
internal readonly struct SyncReadWriteAdapter(Stream stream, Socket? pollSocket) : IReadWriteAdapter
{
    public ValueTask WaitForDataAsync(CancellationToken cancellationToken)
    {
        if (pollSocket is not null)
        {
            pollSocket.Poll(-1, SelectMode.SelectRead);
        }
        else
        {
            _ = stream.Read(Span<byte>.Empty);
        }

        return default;
    }

    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        pollSocket?.Poll(-1, SelectMode.SelectRead);
        return new(stream.Read(buffer.Span));
    }

    public ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        stream.Write(buffer.Span);
        return default;
    }

    public ValueTask FlushAsync(CancellationToken cancellationToken)
    {
        stream.Flush();
        return default;
    }

    public ValueTask LockAsync(SemaphoreSlim gate, CancellationToken cancellationToken)
    {
        gate.Wait(cancellationToken);
        return default;
    }
}

/// <summary>Asynchronous I/O. On a socket the wait for data is a one-byte peek: a zero-byte read can return at once on Linux while no data is there.</summary>
internal readonly struct AsyncReadWriteAdapter(Stream stream, Socket? peekSocket) : IReadWriteAdapter
{
    /// <summary>Where a peek puts the byte it looks at (never read; shared).</summary>
    private static readonly byte[] PeekByte = new byte[1];

    public async ValueTask WaitForDataAsync(CancellationToken cancellationToken)
    {
        if (peekSocket is not null)
        {
            await peekSocket.ReceiveAsync(PeekByte, SocketFlags.Peek, cancellationToken).ConfigureAwait(false);
        }
        else
        {
            await stream.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
        }
    }

    public ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken) => stream.ReadAsync(buffer, cancellationToken);

    public ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken) => stream.WriteAsync(buffer, cancellationToken);

    public ValueTask FlushAsync(CancellationToken cancellationToken) => new(stream.FlushAsync(cancellationToken));

    public ValueTask LockAsync(SemaphoreSlim gate, CancellationToken cancellationToken) => new(gate.WaitAsync(cancellationToken));
}

/// <summary>
/// A <see cref="Memory{T}"/> over a span the caller has pinned, so a synchronous call taking a span can run the one
/// async implementation (which completes synchronously, inside the <c>fixed</c> block). One per direction per
/// connection, reused: no allocation per call.
/// </summary>
internal sealed unsafe class PinnedMemory : MemoryManager<byte>
{
    private byte* pointer;
    private int length;

    public Memory<byte> Over(byte* start, int count)
    {
        pointer = start;
        length = count;
        return CreateMemory(count);
    }

    public void Clear()
    {
        pointer = null;
        length = 0;
    }

    public override Span<byte> GetSpan() => new(pointer, length);

    public override MemoryHandle Pin(int elementIndex = 0) => new(pointer + elementIndex);

    public override void Unpin()
    {
    }

    protected override void Dispose(bool disposing) => Clear();
}
