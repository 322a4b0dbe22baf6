using System.Buffers;
using HybridProtocol.Net;

namespace HybridProtocol.Connections;

/// <summary>
/// The bytes read from the stream and not yet consumed by the engine's receive half: one per connection, from its first
/// byte (the handshake reads into it, the liveness wait and the transport phase go on with the same buffer). Between
/// messages the buffer is rented from the shared pool only after data has arrived (rent after waiting) and returned as
/// soon as it holds no bytes, so an idle connection holds none, on the sync and the async path alike (SslStream's
/// model). 128 KiB, a pool bucket size, holds a whole record (2 + 65535 bytes) and the start of the next; the handshake
/// starts with 16 KiB (its messages are a few KB), which grows to 128 KiB when it holds bytes and more must be read.
/// Used under the connection's receive lock (during the handshake, by the handshake alone).
/// </summary>
internal sealed class PooledReceiveBuffer
{
    /// <summary>Where the bytes read are counted (the connection's meter).</summary>
    internal Diagnostics.Telemetry.Instruments Instruments { get; set; } = Diagnostics.Telemetry.Instruments.Default;

    /// <summary>The role tag of the bytes it counts.</summary>
    internal bool IsServer { get; set; }

    private const int Size = 128 * 1024;
    private const int HandshakeSize = 16 * 1024;
    private const int MaxRecord = 2 + 65535;
    private byte[]? buffer;
    private int start;
    private int end;

    /// <summary>Bytes of pooled memory held now.</summary>
    public int HeldBytes => buffer?.Length ?? 0;

    /// <summary>The bytes not consumed yet (the engine may decrypt in place in them).</summary>
    public Span<byte> Data => buffer is null ? Span<byte>.Empty : buffer.AsSpan(start, end - start);

    /// <summary>The bytes not consumed yet, as a segment (the handshake's input to the core, read in place).</summary>
    public ArraySegment<byte> Segment => buffer is null ? ArraySegment<byte>.Empty : new ArraySegment<byte>(buffer, start, end - start);

    public void Consume(int count) => start += count;

    /// <summary>
    /// During the handshake: reads more bytes at once (0 at the end of the stream), into a buffer rented now; the
    /// handshake waits for its peer's next message with the buffer held, as it did with its own.
    /// </summary>
    public ValueTask<int> ReadNowAsync<TAdapter>(TAdapter adapter, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        if (buffer is null)
        {
            buffer = ArrayPool<byte>.Shared.Rent(HandshakeSize);
            start = end = 0;
        }

        return FillAsync(adapter, cancellationToken);
    }

    /// <summary>Takes the bytes of the listener's first flight that the handshake did not consume.</summary>
    public void Load(ReadOnlySpan<byte> bytes)
    {
        if (bytes.IsEmpty)
        {
            return;
        }

        if (buffer is not null && start == end)
        {
            start = end = 0;
        }

        if (buffer is null || buffer.Length < Size)
        {
            var larger = ArrayPool<byte>.Shared.Rent(Size);
            if (buffer is not null)
            {
                Buffer.BlockCopy(buffer, start, larger, 0, end - start);
                ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
            }

            (buffer, end, start) = (larger, end - start, 0);
        }

        bytes.CopyTo(buffer.AsSpan(end));
        end += bytes.Length;
    }

    /// <summary>Reads more bytes (0 at the end of the stream). When none are held, waits for data before renting.</summary>
    [System.Runtime.CompilerServices.AsyncMethodBuilder(typeof(System.Runtime.CompilerServices.PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> FillAsync<TAdapter>(TAdapter adapter, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        if (buffer is null)
        {
            await adapter.WaitForDataAsync(cancellationToken).ConfigureAwait(false);
            buffer = ArrayPool<byte>.Shared.Rent(Size);
            start = end = 0;
        }
        else if (start == end)
        {
            start = end = 0;
        }
        else if (buffer.Length < Size)
        {
            // The handshake's smaller buffer holds part of a record: move to one that holds any record.
            var larger = ArrayPool<byte>.Shared.Rent(Size);
            Buffer.BlockCopy(buffer, start, larger, 0, end - start);
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
            (buffer, end, start) = (larger, end - start, 0);
        }
        else if (buffer.Length - start < MaxRecord)
        {
            Buffer.BlockCopy(buffer, start, buffer, 0, end - start);
            end -= start;
            start = 0;
        }

        var n = await adapter.ReadAsync(buffer.AsMemory(end), cancellationToken).ConfigureAwait(false);
        Instruments.Received(n, IsServer);
        end += n;
        return n;
    }

    /// <summary>Returns the buffer when it holds no bytes (the engine cleared any plaintext it decrypted in it).</summary>
    public void ReleaseIfEmpty()
    {
        if (buffer is not null && start == end)
        {
            ArrayPool<byte>.Shared.Return(buffer);
            buffer = null;
            start = end = 0;
        }
    }

    /// <summary>Returns the buffer, cleared, whatever it holds.</summary>
    public void Release()
    {
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: true);
            buffer = null;
            start = end = 0;
        }
    }
}
