using System.Diagnostics;
using System.Globalization;
using Spectre.Console;

namespace HybridProtocol.Cli;

/// <summary>
/// Progress of a file transfer on stderr: a Spectre.Console progress bar (bytes, rate, time left) when stderr is a
/// terminal, otherwise a plain line about once a second and one at the end, so logs stay readable.
/// </summary>
internal static class Progress
{
    /// <summary>Runs <paramref name="work"/>, which reports each chunk's byte count to the callback it is given.</summary>
    public static async Task Run(string description, long total, Func<Action<long>, Task> work)
    {
        if (!Console.IsErrorRedirected)
        {
            var console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(Console.Error) });
            await console.Progress()
                .AutoClear(false)
                .Columns(
                    new TaskDescriptionColumn(),
                    new ProgressBarColumn(),
                    new PercentageColumn(),
                    new DownloadedColumn(),
                    new TransferSpeedColumn(),
                    new RemainingTimeColumn())
                .StartAsync(async context =>
                {
                    var task = context.AddTask(Markup.Escape(description), maxValue: Math.Max(total, 1));
                    await work(bytes => task.Increment(bytes)).ConfigureAwait(false);
                    task.Value = task.MaxValue;
                })
                .ConfigureAwait(false);
            return;
        }

        var clock = Stopwatch.StartNew();
        var done = 0L;
        var lastLine = TimeSpan.Zero;
        await work(bytes =>
        {
            done += bytes;
            if (clock.Elapsed - lastLine >= TimeSpan.FromSeconds(1) && done < total)
            {
                lastLine = clock.Elapsed;
                Console.Error.WriteLine(Line(description, done, total, clock.Elapsed));
            }
        }).ConfigureAwait(false);
        Console.Error.WriteLine(Line(description, done, total, clock.Elapsed));
    }

    private static string Line(string description, long done, long total, TimeSpan elapsed)
    {
        var rate = elapsed.TotalSeconds > 0 ? done / elapsed.TotalSeconds : 0;
        var percent = total > 0 ? 100.0 * done / total : 100.0;
        var line = string.Create(
            CultureInfo.InvariantCulture,
            $"hybrid: {description}: {Size(done)} of {Size(total)} ({percent:0}%), {Size((long)rate)}/s");
        if (done < total && rate > 0)
        {
            line += string.Create(CultureInfo.InvariantCulture, $", {(total - done) / rate:0}s left");
        }

        return line;
    }

    /// <summary>A byte count for people: B, KiB, MiB, GiB.</summary>
    public static string Size(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:0.0} {units[unit]}");
    }
}
