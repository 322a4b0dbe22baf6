using System.Net.Sockets;

namespace HybridProtocol.Net;

/// <summary>
/// A socket's stream that first returns the bytes the listener read while waiting for the first flight. A
/// <see cref="NetworkStream"/> still, so the connection's socket-level waiting applies; the handshake's first read
/// takes the whole prefix (it is at most <see cref="SecureListener.MaxFirstFlight"/>, the handshake's read size).
/// </summary>
internal sealed class PrefixedNetworkStream(Socket socket, ReadOnlyMemory<byte> prefix) : NetworkStream(socket, ownsSocket: true)
{
    private ReadOnlyMemory<byte> prefix = prefix;

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer) => TakePrefix(buffer) is var n and > 0 ? n : base.Read(buffer);

    public override int ReadByte()
    {
        Span<byte> one = stackalloc byte[1];
        return Read(one) == 1 ? one[0] : -1;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        TakePrefix(buffer.Span) is var n and > 0 ? new(n) : base.ReadAsync(buffer, cancellationToken);

    private int TakePrefix(Span<byte> buffer)
    {
        if (prefix.IsEmpty || buffer.IsEmpty)
        {
            return 0;
        }

        var n = Math.Min(prefix.Length, buffer.Length);
        prefix.Span[..n].CopyTo(buffer);
        prefix = prefix[n..];
        return n;
    }
}
