using HybridProtocol.Net;

namespace HybridProtocol.Connections;

/// <summary>
/// What the two directions of a <see cref="SecureConnection"/> (<see cref="SendPipe"/>, <see cref="ReceivePipe"/>)
/// share: the lock that serializes the direction's operations, the view of the span a synchronous call pinned, and the
/// direction's release after Dispose. Dispose never waits for an operation in progress (waiting blocked the disposing
/// thread on a continuation that needs a thread-pool thread, and disposing many connections at once starved the pool):
/// the last operation out of a direction releases it (<see cref="Exit"/>), and the connection erases the keys once
/// both directions are released.
/// </summary>
internal abstract class Direction
{
    private readonly SecureConnection owner;

    // Set once, when the direction is released after Dispose.
    private int released;

    /// <param name="owner">The connection: its disposal state, and the key erasure when both directions are released.</param>
    protected Direction(SecureConnection owner) => this.owner = owner;

    /// <summary>Serializes the direction's operations: everything the direction holds is used under it.</summary>
    internal SemaphoreSlim Lock { get; } = new(1, 1);

    /// <summary>A reusable view of the span a synchronous call pinned (used under <see cref="Lock"/>).</summary>
    internal PinnedMemory Pinned { get; } = new();

    /// <summary>Leaves the lock; after Dispose, the last operation out releases the direction.</summary>
    internal void Exit()
    {
        Lock.Release();
        if (owner.IsDisposed)
        {
            Release();
        }
    }

    /// <summary>
    /// After Dispose, once no operation holds the lock: gives back what the direction holds (<see cref="ReleaseHeld"/>),
    /// once; the connection erases the keys when both directions are released.
    /// </summary>
    internal void Release()
    {
        if (Volatile.Read(ref released) != 0 || !Lock.Wait(0))
        {
            return;
        }

        try
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                ReleaseHeld();
                owner.HalfReleased();
            }
        }
        finally
        {
            Lock.Release();
        }
    }

    /// <summary>Gives back the buffers the direction holds between operations, cleared (under the lock, once).</summary>
    protected abstract void ReleaseHeld();
}
