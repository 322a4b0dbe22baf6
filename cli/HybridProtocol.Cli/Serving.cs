using System.CommandLine;
using System.Globalization;
using System.Runtime.ExceptionServices;
using System.Text;

namespace HybridProtocol.Cli;

/// <summary>What ends a server command: its exit code, and the failure to report (null on success).</summary>
internal sealed record Outcome(ExitCode Code, Exception? Error = null);

/// <summary>
/// The server commands' handling of many clients: each authenticated connection is served in its own task, at most
/// <c>--max-clients</c> at once (a further client is told it is busy and closed at once, so the listener's queue never
/// fills with connections nobody serves), and every wait on a client is bounded by <c>--idle-timeout</c>.
/// </summary>
internal static class Serving
{
    /// <summary>The default of <c>--idle-timeout</c>, in seconds.</summary>
    public const int DefaultIdleSeconds = 60;

    /// <summary>The default of <c>--max-clients</c>.</summary>
    public const int DefaultMaxClients = 16;

    /// <summary>The --idle-timeout option.</summary>
    public static Option<int> IdleTimeoutOption(string who) => new("--idle-timeout")
    {
        Description = $"Close a connection when {who} sends nothing (or takes nothing) for this many seconds.",
        DefaultValueFactory = _ => DefaultIdleSeconds,
        HelpName = "SECONDS",
    };

    /// <summary>The --max-clients option.</summary>
    public static Option<int> MaxClientsOption() => new("--max-clients")
    {
        Description = $"Serve at most this many clients at once; a further client is told the server is busy.",
        DefaultValueFactory = _ => DefaultMaxClients,
        HelpName = "N",
    };

    /// <summary>The default of <c>--min-rate</c>, in bytes per second.</summary>
    public const int DefaultMinRate = 4096;

    /// <summary>The --max-clients-per-address option.</summary>
    public static Option<int?> MaxClientsPerAddressOption() => new("--max-clients-per-address")
    {
        Description = "Serve at most this many clients from one address (an IPv4 address, or an IPv6 /64) at once; default half of --max-clients, rounded up. A further client from that address is told the server is busy.",
        HelpName = "N",
    };

    /// <summary>The --min-rate option.</summary>
    public static Option<int> MinRateOption() => new("--min-rate")
    {
        Description = $"Drop a sender whose data arrives more slowly than this many bytes per second on average, after a grace of --idle-timeout (default {DefaultMinRate}).",
        DefaultValueFactory = _ => DefaultMinRate,
        HelpName = "BYTES_PER_SECOND",
    };

    /// <summary>The per-address client limit: the option, or half of <paramref name="maxClients"/> rounded up.</summary>
    public static int MaxClientsPerAddress(ParseResult parse, Option<int?> option, int maxClients)
    {
        var n = parse.GetValue(option) ?? (maxClients + 1) / 2;
        return n is >= 1 and <= 10_000 ? n : throw new CliException(ExitCode.Usage, $"--max-clients-per-address must be 1 to 10000, not {n}.");
    }

    /// <summary>The minimum rate given on the command line (a usage error unless 1 to 10^9 bytes per second).</summary>
    public static int MinRate(ParseResult parse, Option<int> option)
    {
        var n = parse.GetValue(option);
        return n is >= 1 and <= 1_000_000_000 ? n : throw new CliException(ExitCode.Usage, $"--min-rate must be 1 to 1000000000 bytes per second, not {n}.");
    }

    /// <summary>
    /// A transfer's pace: after <c>idle</c>, data must have arrived at <c>rate</c> bytes per second on average, so each
    /// byte received extends the deadline by 1/rate s. A sender that drips (one byte now and then, each within the idle
    /// timeout) falls behind and is dropped, instead of holding the receiver for ever.
    /// </summary>
    public sealed class Pace(TimeSpan idle, int rate)
    {
        private readonly long started = System.Diagnostics.Stopwatch.GetTimestamp();

        /// <summary>Bytes received so far.</summary>
        public long Received { get; set; }

        /// <summary>How long the next message may take: the time left before the average falls below the rate.</summary>
        public TimeSpan Left => idle + TimeSpan.FromSeconds((double)Received / rate) - System.Diagnostics.Stopwatch.GetElapsedTime(started);

        /// <summary>The failure when the sender fell behind: a network error (exit 5); <paramref name="of"/> is the size announced, if any.</summary>
        public CliException TooSlow(string peer, long? of, Exception? inner = null) =>
            new(
                ExitCode.Network,
                string.Create(CultureInfo.InvariantCulture, $"{peer} sent {Received}{(of is { } size ? $" of {size}" : "")} bytes in {System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalSeconds:0} s, slower than --min-rate {rate} bytes per second after --idle-timeout {idle.TotalSeconds:0} s; the connection was closed."),
                inner);
    }

    /// <summary>
    /// Receives the next message within <paramref name="pace"/> (<c>receive</c> and <c>serve</c> share it:
    /// <paramref name="size"/> is the transfer's announced size, or null for a stream). The idle timeout is the
    /// connection's own (<see cref="SecureConnectionOptions.IdleTimeout"/>, set to <paramref name="idle"/>): one idle rule,
    /// which closes with the protocol's Close (IdleTimeout); this adds only the pace of <c>--min-rate</c>.
    /// </summary>
    public static async Task<byte[]?> ReceiveAtPaceAsync(SecureConnection connection, TimeSpan idle, Pace pace, long? size, string peer, CancellationToken cancellationToken)
    {
        var left = pace.Left;
        if (left <= TimeSpan.Zero)
        {
            throw pace.TooSlow(peer, size);
        }

        using var paced = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        paced.CancelAfter(left);
        try
        {
            return await connection.ReceiveAsync(paced.Token).ConfigureAwait(false);
        }
        catch (HybridProtocolException e) when (e.Code == HybridErrorCode.IdleTimeout)
        {
            throw IdleTimeoutError(peer, "sent nothing", idle, e);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            // Nothing received at all within the grace is what the idle timeout reports, whichever timer fired first.
            throw pace.Received > 0 ? pace.TooSlow(peer, size, e) : IdleTimeoutError(peer, "sent nothing", idle, e);
        }
    }

    /// <summary>The --ready-file option of the commands that listen.</summary>
    public static Option<string?> ReadyFileOption() => new("--ready-file")
    {
        Description = "Once listening, write the address and port (ADDR:PORT and a newline) to FILE, so that a script can wait for it and learn a port 0 picked.",
        HelpName = "FILE",
    };

    /// <summary>Writes the listening address to the --ready-file, if given: whole (a temporary file renamed into place), so a reader never sees a part.</summary>
    public static void WriteReady(ParseResult parse, Option<string?> option, System.Net.IPEndPoint endPoint)
    {
        if (parse.GetValue(option) is not { } path)
        {
            return;
        }

        var full = Path.GetFullPath(path);
        var temporary = TemporaryFiles.NameFor(full);
        TemporaryFiles.Add(temporary);
        try
        {
            File.WriteAllText(temporary, endPoint + "\n");
            File.Move(temporary, full, overwrite: true);
        }
        finally
        {
            TemporaryFiles.Delete(temporary);
        }
    }

    /// <summary>The idle timeout given on the command line (a usage error unless 1 to 86,400 seconds).</summary>
    public static TimeSpan IdleTimeout(ParseResult parse, Option<int> option)
    {
        var seconds = parse.GetValue(option);
        return seconds is >= 1 and <= 86_400
            ? TimeSpan.FromSeconds(seconds)
            : throw new CliException(ExitCode.Usage, $"--idle-timeout must be 1 to 86400 seconds, not {seconds}.");
    }

    /// <summary>The client limit given on the command line (a usage error unless 1 to 10,000).</summary>
    public static int MaxClients(ParseResult parse, Option<int> option)
    {
        var n = parse.GetValue(option);
        return n is >= 1 and <= 10_000 ? n : throw new CliException(ExitCode.Usage, $"--max-clients must be 1 to 10000, not {n}.");
    }

    /// <summary>
    /// Accepts clients until one of them ends the command (its handler returns an <see cref="Outcome"/>) or
    /// <paramref name="cancellationToken"/> is cancelled. A handler returning null, or failing, leaves the server
    /// running (the failure is printed). Connections still being served when the command ends are cancelled.
    /// </summary>
    public static async Task<ExitCode> ServeAsync(
        SecureListener listener,
        int maxClients,
        int maxPerAddress,
        Func<SecureConnection, CancellationToken, Task<Outcome?>> handle,
        Func<SecureConnection, CancellationToken, Task>? refuseBusy,
        CancellationToken cancellationToken,
        Action<bool>? busyChanged = null)
    {
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = new HashSet<Task>();
        var gate = new object();
        Outcome? outcome = null;
        var active = 0;
        var perShare = new Dictionary<string, int>();
        using var busyLog = new LogSummary("a further client was told the server is busy (--max-clients)", "further clients were told the server is busy (--max-clients)");

        void Count(int change)
        {
            lock (gate)
            {
                var before = active;
                active += change;
                if ((before >= maxClients) != (active >= maxClients))
                {
                    busyChanged?.Invoke(active >= maxClients);
                }
            }
        }

        async Task Serve(SecureConnection connection, bool busy)
        {
            await using (connection.ConfigureAwait(false))
            {
                try
                {
                    if (busy && refuseBusy is not null)
                    {
                        using var quick = CancellationTokenSource.CreateLinkedTokenSource(ending.Token);
                        quick.CancelAfter(TimeSpan.FromSeconds(2));
                        await refuseBusy(connection, quick.Token).ConfigureAwait(false);
                        return;
                    }

                    Count(+1);
                    Outcome? handled;
                    try
                    {
                        handled = await handle(connection, ending.Token).ConfigureAwait(false);
                    }
                    finally
                    {
                        Count(-1);
                    }

                    if (handled is { } result)
                    {
                        lock (gate)
                        {
                            outcome ??= result;
                        }

                        await ending.CancelAsync().ConfigureAwait(false);
                    }
                }
                catch (Exception) when (ending.IsCancellationRequested)
                {
                    // the command is ending: this client's connection is cut
                }
                catch (Exception e) when (!busy || refuseBusy is null)
                {
                    Console.Error.WriteLine($"hybrid: a client's connection failed: {Printable.Escape(e.Message)}");
                }
                catch (Exception)
                {
                    // a busy client that did not take its refusal
                }
            }
        }

        try
        {
            while (true)
            {
                SecureConnection connection;
                try
                {
                    connection = await listener.AcceptAsync(ending.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (ending.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
                {
                    break; // a client ended the command
                }

                // A client counts against its address's share (an IPv4 address or IPv6 /64) while it is served.
                var share = connection.RemoteEndPoint is System.Net.IPEndPoint { Address: var address }
                    ? Convert.ToHexString(HybridProtocol.Core.Wire.Admission.shareKey(address.GetAddressBytes()))
                    : "";
                lock (gate)
                {
                    running.RemoveWhere(t => t.IsCompleted);
                    // With busyChanged, the listener refuses clients in their handshake while the server is full; a client
                    // whose handshake was already under way when it filled up is served (the limit is exceeded by at most
                    // the handshakes in flight at that moment), since it was never refused.
                    var held = perShare.GetValueOrDefault(share);
                    var busy = (running.Count >= maxClients || held >= maxPerAddress) && refuseBusy is not null;
                    if (held >= maxPerAddress && refuseBusy is null)
                    {
                        // No busy answer in this protocol after the handshake: the connection is closed at once.
                        busyLog.Record();
                        running.Add(Task.Run(async () => await connection.DisposeAsync().ConfigureAwait(false), CancellationToken.None));
                    }
                    else if (busy)
                    {
                        busyLog.Record();
                        running.Add(Task.Run(() => Serve(connection, busy), CancellationToken.None));
                    }
                    else
                    {
                        perShare[share] = held + 1;
                        running.Add(Task.Run(
                            async () =>
                            {
                                try
                                {
                                    await Serve(connection, busy).ConfigureAwait(false);
                                }
                                finally
                                {
                                    lock (gate)
                                    {
                                        if (--perShare[share] == 0)
                                        {
                                            perShare.Remove(share);
                                        }
                                    }
                                }
                            },
                            CancellationToken.None));
                    }
                }
            }
        }
        finally
        {
            await ending.CancelAsync().ConfigureAwait(false);
            Task[] left;
            lock (gate)
            {
                left = [.. running];
            }

            await Task.WhenAll(left).ConfigureAwait(false);
        }

        if (outcome!.Error is { } error)
        {
            ExceptionDispatchInfo.Throw(error);
        }

        return outcome.Code;
    }

    /// <summary>
    /// Receives the next message, failing with a network error (exit 5) when the connection's idle timeout
    /// (<see cref="SecureConnectionOptions.IdleTimeout"/>, set to <paramref name="idle"/>) ends it.
    /// </summary>
    public static async Task<byte[]?> ReceiveAsync(SecureConnection connection, TimeSpan idle, string peer, CancellationToken cancellationToken)
    {
        try
        {
            return await connection.ReceiveAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (HybridProtocolException e) when (e.Code == HybridErrorCode.IdleTimeout)
        {
            throw IdleTimeoutError(peer, "sent nothing", idle, e);
        }
    }

    /// <summary>
    /// Sends a message, failing with a network error (exit 5) when the connection's idle timeout ends it (the peer
    /// takes nothing). A message longer than the peer's announced limit (<see cref="SecureConnection.RemoteMaxMessageSize"/>)
    /// goes as several, as the "hybrid" protocol's messages carry a byte stream.
    /// </summary>
    public static async Task SendAsync(SecureConnection connection, ReadOnlyMemory<byte> message, TimeSpan idle, string peer, CancellationToken cancellationToken)
    {
        try
        {
            await SendSplitAsync(connection, message, cancellationToken).ConfigureAwait(false);
        }
        catch (HybridProtocolException e) when (e.Code == HybridErrorCode.IdleTimeout)
        {
            throw IdleTimeoutError(peer, "read nothing", idle, e);
        }
    }

    /// <summary>
    /// Sends <paramref name="data"/> in messages of at most the peer's announced limit (one message when it fits, and an
    /// empty one only when <paramref name="data"/> is empty): the library refuses a larger send locally.
    /// </summary>
    public static async Task SendSplitAsync(SecureConnection connection, ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
    {
        var limit = Math.Max(1, connection.RemoteMaxMessageSize);
        do
        {
            var part = data[..Math.Min(limit, data.Length)];
            await connection.SendAsync(part, cancellationToken).ConfigureAwait(false);
            data = data[part.Length..];
        }
        while (!data.IsEmpty);
    }

    /// <summary>The idle-timeout failure: a network error (exit 5) that says who was silent and for how long.</summary>
    public static CliException IdleTimeoutError(string peer, string what, TimeSpan idle, Exception? inner = null) =>
        new(
            ExitCode.Network,
            string.Create(CultureInfo.InvariantCulture, $"{peer} {what} for {idle.TotalSeconds:0} s (--idle-timeout); the connection was closed."),
            inner);
}
