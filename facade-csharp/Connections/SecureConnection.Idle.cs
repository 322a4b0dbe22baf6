using HybridProtocol.Core.Wire;

namespace HybridProtocol;

/// <summary>The idle watch: the connection's last activity, checked against the core's idle rule.</summary>
public sealed partial class SecureConnection
{
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
                connection.send.TrySendCloseNow(verdict.Reason);
                connection.stream.Dispose();
            }
        }

        public void Dispose() => timer.Dispose();
    }
}
