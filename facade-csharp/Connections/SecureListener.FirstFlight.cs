using System.Net;
using System.Net.Sockets;
using HybridProtocol.Connections;
using HybridProtocol.Core.Wire;
using HybridProtocol.Diagnostics;
using HybridProtocol.Net;

namespace HybridProtocol;

/// <summary>
/// The listener's first stage (specs/PROTOCOL.md §12a): a new socket waits, with a small buffer and no handshake slot,
/// until its first flight has arrived (after a trusted load balancer's PROXY header), then enters a handshake slot or
/// is refused; the refusals a client is told without waiting.
/// </summary>
public sealed partial class SecureListener
{
    /// <summary>
    /// Reads the client's first flight into a small buffer, without a handshake slot, then starts its handshake
    /// (<see cref="PreambleModule.firstFlight"/> says when it is complete; bytes that can be no first flight go to the
    /// handshake too, which refuses them with the typed error). Silent, slow and pushed-out sockets are dropped. With
    /// <see cref="ProxyProtocol"/>, a trusted proxy's header comes first (within the same deadline and buffer): it names
    /// the client, and the bytes after it are the first flight, unchanged.
    /// </summary>
    private async Task WaitForFirstFlightAsync(PendingSockets.Entry entry, bool trusted)
    {
        var client = entry.Socket!;
        var remote = client.RemoteEndPoint;
        var proxy = ProxyProtocol;
        EndPoint? balancer = null;
        var headerDone = proxy is null;
        var buffer = new byte[256];
        var filled = 0;
        var start = 0;
        var limit = MaxFirstFlight + (proxy is null ? 0 : proxy.MaxHeaderLength);
        FirstFlightVerdict? verdict = null;

        // Still on the accept loop (the listener calls this directly): true until a read waits.
        var onAcceptLoop = true;
        try
        {
            using (entry.Cancel)
            {
                while (true)
                {
                    var end = headerDone ? Math.Min(buffer.Length, start + MaxFirstFlight) : buffer.Length;
                    var receiving = client.ReceiveAsync(buffer.AsMemory(filled, end - filled), SocketFlags.None, entry.Cancel.Token);
                    onAcceptLoop &= receiving.IsCompleted;
                    var n = await receiving.ConfigureAwait(false);
                    filled += n;
                    if (!headerDone)
                    {
                        var outcome = ProxyHeaderReader.Examine(proxy!, trusted, buffer.AsSpan(0, filled), n == 0, remote);
                        if (outcome.Stage == ProxyStage.Refused)
                        {
                            pending!.Remove(entry);
                            client.Dispose();
                            Telemetry.Refused(options.Logger, remote, "ProxyProtocol" + outcome.Refusal);
                            Report(remote, outcome.Error!, outcome.Refusal);
                            return;
                        }

                        if (outcome.Stage == ProxyStage.NeedMore)
                        {
                            Grow(ref buffer, filled, limit);
                            continue;
                        }

                        headerDone = true;
                        start = outcome.Consumed;
                        if (trusted && outcome.Client is { } real)
                        {
                            // The client the balancer relays: from now on its address is the one limited, logged and reported.
                            balancer = remote;
                            remote = real;
                            pending!.Readdress(entry, real.Address);
                        }

                        if (trusted)
                        {
                            Telemetry.Accepted(options.Logger, balancer is null ? remote : $"{remote} (through {balancer})");
                        }
                    }

                    verdict = Admission.firstFlight(buffer.AsSpan(start, filled - start));
                    if (n == 0 || !verdict.IsWaiting || filled - start >= MaxFirstFlight)
                    {
                        break;
                    }

                    Grow(ref buffer, filled, limit);
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            pending!.Remove(entry);
            if (e is OperationCanceledException && !stopping.IsCancellationRequested)
            {
                // [S8]: a client dropped before its first flight (too slow, or pushed out) is told so, never left to
                // guess (a silent close would look like a server that cannot decrypt its message).
                Refuse(client, TooSlowStatus);
            }
            else
            {
                client.Dispose();
            }

            if (!stopping.IsCancellationRequested)
            {
                Report(remote, entry.PushedOut
                    ? new HybridProtocolException(HybridErrorCode.PeerRefused, $"The client was dropped before its first message: more than {MaxPendingSockets} sockets (or {MaxPendingPerAddress} from its address) waited, and it was the oldest.")
                    : e is OperationCanceledException
                        ? new HybridProtocolException(HybridErrorCode.HandshakeTimeout, $"The client sent no complete first message{(headerDone ? "" : " (nor its PROXY protocol header)")} within {FirstMessageDeadline.TotalSeconds:0.###} s; its socket was dropped.", e)
                        : new HybridProtocolException(HybridErrorCode.TransportFailed, $"The client's connection failed before its first message: {e.Message}", e));
            }

            return;
        }

        pending!.Remove(entry);
        if (verdict is FirstFlightVerdict.Oversized oversized)
        {
            // [S2]: no conforming client sends a longer first message; dropped at once, without a slot or an answer.
            client.Dispose();
            Telemetry.Refused(options.Logger, remote, "FirstMessageTooLong");
            Report(remote, new HybridProtocolException(HybridErrorCode.ProtocolViolation, $"The client's first handshake message announces {oversized.length} bytes, more than its pattern's first message can have ({oversized.limit}); its socket was dropped."));
            return;
        }

        if (onAcceptLoop)
        {
            // Every read completed at once: the handshake must not hold up the accept loop.
            await Task.Yield();
        }

        var slot = stages!.TryEnter((remote as IPEndPoint)?.Address, stopping.Token);
        if (slot is null)
        {
            Report(remote, new HybridProtocolException(HybridErrorCode.PeerRefused, $"Too many handshakes in progress ({MaxConcurrentHandshakes}, at most {MaxHandshakesPerAddress} per address); the client was refused with ServerBusy."));
            Telemetry.Refused(options.Logger, remote, "ServerBusy");
            Refuse(client, BusyStatus);
            return;
        }

        await HandshakeAsync(client, buffer.AsMemory(start, filled - start), remote, balancer, slot).ConfigureAwait(false);
    }

    /// <summary>The system's listen backlog limit (Linux: net.core.somaxconn), else 512.</summary>
    private static int SystemBacklog()
    {
        try
        {
            return int.TryParse(File.ReadAllText("/proc/sys/net/core/somaxconn").Trim(), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var n) && n > 0 ? n : 512;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException)
        {
            return 512;
        }
    }

    /// <summary>Makes room for the next read: the buffer grows fourfold while full, up to <paramref name="limit"/>.</summary>
    private static void Grow(ref byte[] buffer, int filled, int limit)
    {
        if (filled == buffer.Length && buffer.Length < limit)
        {
            Array.Resize(ref buffer, Math.Min(limit, buffer.Length * 4));
        }
    }

    /// <summary>
    /// Tells a client why it is dropped before its handshake (ServerBusy or TooSlow, specs/PROTOCOL.md §3 and [S8])
    /// without waiting: the status and the empty list fit any socket buffer, so a non-blocking send either goes out at
    /// once or is dropped, and the listener never waits on a client it refuses.
    /// </summary>
    private static void Refuse(Socket client, byte[] status)
    {
        try
        {
            client.Blocking = false;
            client.Send(status, SocketFlags.None, out _);
            client.Shutdown(SocketShutdown.Send);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The client is gone or its buffer is full: closing is all that is left.
        }
        finally
        {
            client.Dispose();
        }
    }

    internal static readonly byte[] BusyStatus = Admission.dropStatus(DropReason.Busy);

    internal static readonly byte[] TooSlowStatus = Admission.dropStatus(DropReason.TooSlow);
}
