using System.Globalization;
using System.Runtime.InteropServices;
using System.Text;

namespace HybridProtocol.Bench;

/// <summary>Whether a larger figure is better (throughput) or a smaller one (latency, memory).</summary>
internal enum Better
{
    Higher,
    Lower,
}

/// <summary>
/// One figure of the table. Rows with the same <see cref="Measure"/> and <see cref="Variant"/> are comparable:
/// the ratio columns divide by the SslStream and TCP rows of the same measure and variant.
/// </summary>
internal sealed record Row(string Measure, string Variant, string Transport, double Value, string Unit, Better Better)
{
    /// <summary>False for figures measured without a network (in-memory handshakes): no ratio to plain TCP.</summary>
    public bool OverNetwork { get; init; } = true;
}

/// <summary>Collects rows and notes, prints the table and writes it as markdown.</summary>
internal sealed class Report
{
    private readonly List<Row> rows = [];
    private readonly List<string> notes = [];

    public void Add(Row row)
    {
        rows.Add(row);
        Console.WriteLine($"  {row.Measure} | {row.Variant} | {row.Transport}: {Format(row.Value)} {row.Unit}");
    }

    public void Note(string note)
    {
        if (!notes.Contains(note))
        {
            notes.Add(note);
        }

        Console.WriteLine($"  note: {note}");
    }

    public void PrintTable()
    {
        var table = Cells();
        var widths = Enumerable.Range(0, Header.Length).Select(c => table.Max(r => r[c].Length)).ToArray();
        Console.WriteLine();
        foreach (var (cells, index) in table.Select((r, i) => (r, i)))
        {
            Console.WriteLine(string.Join("  ", cells.Select((cell, c) => c == 3 || c >= 5 ? cell.PadLeft(widths[c]) : cell.PadRight(widths[c]))).TrimEnd());
            if (index == 0)
            {
                Console.WriteLine(string.Join("  ", widths.Select(w => new string('-', w))));
            }
        }

        foreach (var note in notes)
        {
            Console.WriteLine("* " + note);
        }
    }

    public void WriteMarkdown(string path, BenchOptions options, TimeSpan elapsed)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"### Benchmark {(options.Quick ? "(--quick smoke run: small sizes, figures are rough)" : "(full run)")}");
        text.AppendLine();
        text.AppendLine(CultureInfo.InvariantCulture, $"- Date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC, run time {elapsed.TotalMinutes:F1} min");
        foreach (var line in Machine.Describe())
        {
            text.AppendLine("- " + line);
        }

        text.AppendLine();
        var table = Cells();
        text.AppendLine("| " + string.Join(" | ", table[0]) + " |");
        text.AppendLine("|" + string.Join("|", table[0].Select((_, c) => c == 3 || c >= 5 ? "---:" : "---")) + "|");
        foreach (var cells in table.Skip(1))
        {
            text.AppendLine("| " + string.Join(" | ", cells) + " |");
        }

        text.AppendLine();
        foreach (var note in notes)
        {
            text.AppendLine("- " + note);
        }

        File.WriteAllText(path, text.ToString());
        Console.WriteLine($"Markdown written to {path}");
    }

    private static readonly string[] Header = ["Measure", "Variant", "Transport", "Value", "Unit", "x SslStream", "x TCP"];

    private List<string[]> Cells()
    {
        var table = new List<string[]> { Header };
        foreach (var row in rows)
        {
            table.Add(
            [
                row.Measure,
                row.Variant,
                row.Transport,
                Format(row.Value),
                row.Unit + (row.Better == Better.Higher ? " (higher better)" : " (lower better)"),
                Ratio(row, "SslStream"),
                Ratio(row, "TCP"),
            ]);
        }

        return table;
    }

    private string Ratio(Row row, string reference)
    {
        if (row.Transport == reference || (reference == "TCP" && !row.OverNetwork))
        {
            return "";
        }

        var baseline = rows.FirstOrDefault(r => r.Transport == reference && r.Measure == row.Measure && r.Variant == row.Variant);
        return baseline is null || baseline.Value == 0 || double.IsNaN(row.Value) ? "" : (row.Value / baseline.Value).ToString("F2", CultureInfo.InvariantCulture);
    }

    private static string Format(double value) => double.IsNaN(value) ? "n/a"
        : Math.Abs(value) >= 100 ? value.ToString("N0", CultureInfo.InvariantCulture)
        : Math.Abs(value) >= 10 ? value.ToString("F1", CultureInfo.InvariantCulture)
        : value.ToString("F2", CultureInfo.InvariantCulture);
}

/// <summary>The machine a run came from.</summary>
internal static class Machine
{
    public static IEnumerable<string> Describe()
    {
        yield return $"CPU: {CpuModel()} ({Environment.ProcessorCount} logical cores visible; AES-NI: {(HasCpuFlag("aes") ? "yes" : "no")}, AVX2: {(HasCpuFlag("avx2") ? "yes" : "no")}, VAES: {(HasCpuFlag("vaes") ? "yes" : "no")})";
        yield return $"OS: {RuntimeInformation.OSDescription} ({RuntimeInformation.OSArchitecture})";
        yield return $".NET: {RuntimeInformation.FrameworkDescription}, GC: {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}";
        yield return $"Load average (1/5/15 min) at the time of writing: {LoadAverage()} (the machine is shared; a load above the core count makes every figure noisier and lower)";
    }

    private static string CpuModel()
    {
        var line = CpuInfoLines().FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
        return line is null ? RuntimeInformation.ProcessArchitecture.ToString() : line[(line.IndexOf(':', StringComparison.Ordinal) + 1)..].Trim();
    }

    private static string LoadAverage()
    {
        try
        {
            return string.Join(" ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));
        }
        catch (IOException)
        {
            return "unknown";
        }
    }

    private static bool HasCpuFlag(string flag)
    {
        var line = CpuInfoLines().FirstOrDefault(l => l.StartsWith("flags", StringComparison.Ordinal));
        return line is not null && line.Split(' ', StringSplitOptions.RemoveEmptyEntries).Contains(flag);
    }

    private static string[] CpuInfoLines()
    {
        try
        {
            return File.ReadAllLines("/proc/cpuinfo");
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }
    }
}
