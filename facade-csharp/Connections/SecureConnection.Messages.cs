using System.Buffers;
using HybridProtocol.Core.Wire;

namespace HybridProtocol;

/// <summary>Where received messages wait for the caller: the handshake's early messages, the pooled assembly buffer, the current message.</summary>
public sealed partial class SecureConnection
{
    private bool TryEarly()
    {
        if (early.Count == 0)
        {
            return false;
        }

        current = early.Dequeue();
        currentStart = 0;
        currentEnd = current.Length;
        return true;
    }

    /// <summary>Makes sure the assembly buffer holds at least <paramref name="needed"/> bytes (rented, or grown keeping what it holds).</summary>
    private void EnsureAssembly(int needed)
    {
        if (assembly is null)
        {
            assembly = ArrayPool<byte>.Shared.Rent(Math.Max(needed, assemblyLength > 0 ? SmallAssembly : 16));
        }
        else if (needed > assembly.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(Array.MaxLength, Math.Max(2L * assembly.Length, needed)));
            assembly.AsSpan(0, assemblyLength).CopyTo(bigger);
            assembly.AsSpan(0, assemblyLength).Clear();
            ArrayPool<byte>.Shared.Return(assembly);
            assembly = bigger;
        }
    }

    /// <summary>Appends a part of the message being received to the assembly buffer.</summary>
    private void Append(ReadOnlySpan<byte> data)
    {
        EnsureAssembly(Math.Max(assemblyLength + data.Length, SmallAssembly));
        data.CopyTo(assembly.AsSpan(assemblyLength));
        assemblyLength += data.Length;
    }

    /// <summary>Clears the assembled bytes and returns the assembly buffer to the pool.</summary>
    private void ReturnAssembly()
    {
        if (assembly is not null)
        {
            assembly.AsSpan(0, assemblyLength).Clear();
            ArrayPool<byte>.Shared.Return(assembly);
            assembly = null;
        }

        assemblyLength = 0;
    }

    private byte[] TakeCurrent()
    {
        var message = current!;
        var result = !ReferenceEquals(message, assembly) && currentStart == 0 && currentEnd == message.Length
            ? message
            : message.AsSpan(currentStart, currentEnd - currentStart).ToArray();
        Consumed();
        return result;
    }

    private int CopyCurrent(Span<byte> destination)
    {
        var length = currentEnd - currentStart;
        if (length > destination.Length)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"The next message is {length} bytes but the buffer holds {destination.Length}; the message is kept. Call again with a buffer of at least {length} bytes (or LocalMaxMessageSize), or use ReceiveAsync() without a buffer.");
        }

        current.AsSpan(currentStart, length).CopyTo(destination);
        Consumed();
        return length;
    }

    private void Consumed()
    {
        if (ReferenceEquals(current, assembly))
        {
            ReturnAssembly();
        }

        current = null;
    }

    /// <summary>
    /// The idle timeout: a timer asks the core's idle rule (<c>Traffic.Idle</c>, given the last activity and the time
    /// now) whether the connection has been idle too long; when it has, the connection fails with the error and sends
    /// the Close reason the core chose, then closes the stream (which ends a waiting receive with that error).
    /// </summary>
    private sealed class IdleWatch : IDisposable
    {
        private readonly SecureConnection connection;
        private readonly long timeout;
        private readonly Timer timer;

        public IdleWatch(SecureConnection connection, long timeout)
        {
            this.connection = connection;
            this.timeout = timeout;
            timer = new Timer(static s => ((IdleWatch)s!).Check(), this, timeout, Timeout.Infinite);
        }

        private void Check()
        {
            var verdict = TrafficModule.Idle(Volatile.Read(ref connection.lastActivity), Environment.TickCount64, timeout);
            if (verdict.IsActive)
            {
                timer.Change(Math.Max(1, Math.Min(verdict.Remaining, int.MaxValue)), Timeout.Infinite);
                return;
            }

            if (connection.failure is null && Volatile.Read(ref connection.disposed) == 0)
            {
                connection.Fail(verdict.IdleError!);
                connection.TrySendCloseNow(verdict.Reason);
                connection.stream.Dispose();
            }
        }

        public void Dispose() => timer.Dispose();
    }
}

/// <summary>What <see cref="SecureConnection.CloseAsync"/> achieved within <see cref="SecureConnectionOptions.CloseTimeout"/>.</summary>
public enum CloseResult
{
    /// <summary>Both authenticated closes crossed: the peer received everything sent, and this end everything the peer sent.</summary>
    Closed = 0,

    /// <summary>This end's close was sent, but the peer's did not arrive in time (or a receive in progress will see it).</summary>
    CloseSent = 1,

    /// <summary>This end's close could not be written in time (the peer does not read); the stream was closed and the connection failed.</summary>
    CloseNotSent = 2,
}
