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
        Description = $"Close a connection when {who} sends nothing (or takes nothing) for this many seconds (default {DefaultIdleSeconds}).",
        DefaultValueFactory = _ => DefaultIdleSeconds,
        HelpName = "SECONDS",
    };

    /// <summary>The --max-clients option.</summary>
    public static Option<int> MaxClientsOption() => new("--max-clients")
    {
        Description = $"Serve at most this many clients at once; a further client is told the server is busy (default {DefaultMaxClients}).",
        DefaultValueFactory = _ => DefaultMaxClients,
        HelpName = "N",
    };

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
        Func<SecureConnection, CancellationToken, Task<Outcome?>> handle,
        Func<SecureConnection, CancellationToken, Task> refuseBusy,
        CancellationToken cancellationToken)
    {
        using var ending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var running = new HashSet<Task>();
        var gate = new object();
        Outcome? outcome = null;

        async Task Serve(SecureConnection connection, bool busy)
        {
            await using (connection.ConfigureAwait(false))
            {
                try
                {
                    if (busy)
                    {
                        using var quick = CancellationTokenSource.CreateLinkedTokenSource(ending.Token);
                        quick.CancelAfter(TimeSpan.FromSeconds(2));
                        await refuseBusy(connection, quick.Token).ConfigureAwait(false);
                        return;
                    }

                    if (await handle(connection, ending.Token).ConfigureAwait(false) is { } result)
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
                catch (Exception e) when (!busy)
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

                lock (gate)
                {
                    running.RemoveWhere(t => t.IsCompleted);
                    var busy = running.Count >= maxClients;
                    if (busy)
                    {
                        Console.Error.WriteLine($"hybrid: {maxClients} clients are being served (--max-clients); a further client was told to try later.");
                    }

                    running.Add(Task.Run(() => Serve(connection, busy), CancellationToken.None));
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

    /// <summary>Receives the next message, failing with a network error (exit 5) when the peer sends nothing for <paramref name="idle"/>.</summary>
    public static async Task<byte[]?> ReceiveAsync(SecureConnection connection, TimeSpan idle, string peer, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(idle);
        try
        {
            return await connection.ReceiveAsync(timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw IdleTimeoutError(peer, "sent nothing", idle, e);
        }
    }

    /// <summary>Sends a message, failing with a network error (exit 5) when the peer takes nothing for <paramref name="idle"/>.</summary>
    public static async Task SendAsync(SecureConnection connection, ReadOnlyMemory<byte> message, TimeSpan idle, string peer, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timer.CancelAfter(idle);
        try
        {
            await connection.SendAsync(message, timer.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException e) when (!cancellationToken.IsCancellationRequested)
        {
            throw IdleTimeoutError(peer, "read nothing", idle, e);
        }
    }

    /// <summary>The idle-timeout failure: a network error (exit 5) that says who was silent and for how long.</summary>
    public static CliException IdleTimeoutError(string peer, string what, TimeSpan idle, Exception? inner = null) =>
        new(
            ExitCode.Network,
            string.Create(CultureInfo.InvariantCulture, $"{peer} {what} for {idle.TotalSeconds:0} s (--idle-timeout); the connection was closed."),
            inner);
}

/// <summary>Text from a peer (file names, reasons) made safe to print: no terminal control, no forged lines.</summary>
internal static class Printable
{
    /// <summary>
    /// True for characters that must not reach a terminal from a peer: C0 and C1 controls (escape sequences, line
    /// breaks), DEL, Unicode format characters (bidirectional overrides, zero-width) and line or paragraph separators.
    /// </summary>
    public static bool IsUnsafe(char c) =>
        char.IsControl(c)
        || char.GetUnicodeCategory(c) is UnicodeCategory.Format or UnicodeCategory.LineSeparator or UnicodeCategory.ParagraphSeparator;

    /// <summary><paramref name="text"/> with every unsafe character written as <c>\u{XXXX}</c>.</summary>
    public static string Escape(string text)
    {
        if (!text.Any(IsUnsafe))
        {
            return text;
        }

        var builder = new StringBuilder(text.Length + 16);
        foreach (var c in text)
        {
            if (IsUnsafe(c))
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{{{(int)c:X4}}}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }
}
