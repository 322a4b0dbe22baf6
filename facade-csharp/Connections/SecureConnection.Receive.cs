using System.Runtime.CompilerServices;
using HybridProtocol.Connections;
using HybridProtocol.Net;

namespace HybridProtocol;

/// <summary>
/// The receive calls, one implementation for sync and async (over <see cref="IReadWriteAdapter"/>): under the receive
/// lock, each delivers the message that is ready (<see cref="ReceivedMessage"/>) or has the receive direction
/// (<see cref="ReceivePipe"/>) receive the next one. The send calls go straight to the send direction (<see cref="SendPipe"/>).
/// </summary>
public sealed partial class SecureConnection
{
    /// <summary>Makes the next message ready (one kept, or received); false at the peer's close.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> NextMessageAsync<TAdapter>(TAdapter adapter, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        // A message that was complete before a failure is delivered first, as the engine delivered it.
        if (ready.IsReady)
        {
            return true;
        }

        ThrowIfExceptional();

        return await receive.ReceiveAsync(adapter, Memory<byte>.Empty, cancellationToken).ConfigureAwait(false) == ReceivePipe.Assembled;
    }

    /// <summary>The next message into <paramref name="buffer"/>: its length, or -1 at the peer's close.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReceiveIntoAsync<TAdapter>(TAdapter adapter, Memory<byte> buffer, bool lockHeld, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        if (!lockHeld)
        {
            await adapter.LockAsync(receive.Lock, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            if (ready.IsReady)
            {
                return ready.TakeInto(buffer.Span);
            }

            ThrowIfExceptional();

            var n = await receive.ReceiveAsync(adapter, buffer, cancellationToken).ConfigureAwait(false);
            return n == ReceivePipe.Assembled ? ready.TakeInto(buffer.Span) : n;
        }
        finally
        {
            if (!lockHeld)
            {
                receive.Exit();
            }
        }
    }

    /// <summary>The next message as a new array, or null at the peer's close.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<byte[]?> ReceiveArrayAsync<TAdapter>(TAdapter adapter, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        await adapter.LockAsync(receive.Lock, cancellationToken).ConfigureAwait(false);
        try
        {
            return await NextMessageAsync(adapter, cancellationToken).ConfigureAwait(false) ? ready.TakeArray() : null;
        }
        finally
        {
            receive.Exit();
        }
    }

    /// <summary>Up to <paramref name="destination"/>'s length of the ready message, for the stream view; 0 at the peer's close.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> ReadSomeAsync<TAdapter>(TAdapter adapter, Memory<byte> destination, bool lockHeld, CancellationToken cancellationToken)
        where TAdapter : IReadWriteAdapter
    {
        if (!lockHeld)
        {
            await adapter.LockAsync(receive.Lock, cancellationToken).ConfigureAwait(false);
        }

        try
        {
            while (await NextMessageAsync(adapter, cancellationToken).ConfigureAwait(false))
            {
                var n = ready.TakePart(destination.Span);
                if (n > 0 || destination.IsEmpty)
                {
                    return n;
                }
            }

            return 0;
        }
        finally
        {
            if (!lockHeld)
            {
                receive.Exit();
            }
        }
    }

    /// <summary>Reads and discards messages until the peer's close (true); false at once when a receive is in progress.</summary>
    private async ValueTask<bool> DrainAsync(AsyncReadWriteAdapter adapter, CancellationToken cancellationToken)
    {
        if (!receive.Lock.Wait(0))
        {
            return false;
        }

        try
        {
            while (await NextMessageAsync(adapter, cancellationToken).ConfigureAwait(false))
            {
                ready.Discard();
            }

            return true;
        }
        finally
        {
            receive.Exit();
        }
    }
}
