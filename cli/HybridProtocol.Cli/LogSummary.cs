using System.Globalization;

namespace HybridProtocol.Cli;

/// <summary>
/// Log lines that can come in floods (a failed handshake, a busy refusal) summarized: the first few are printed as they
/// come, then one line per period says how many more there were, by kind (as the library's own log summary does).
/// </summary>
internal sealed class LogSummary : IDisposable
{
    private const int Shown = 3;
    private static readonly TimeSpan Period = TimeSpan.FromSeconds(10);
    private readonly string _one;
    private readonly string _many;
    private readonly Timer _timer;
    private readonly Dictionary<string, int> _held = new(StringComparer.Ordinal);
    private int _shownThisPeriod;

    /// <summary>A summary whose lines say "<paramref name="one"/>" for one event and "N <paramref name="many"/>" for several.</summary>
    public LogSummary(string one, string many)
    {
        _one = one;
        _many = many;
        _timer = new Timer(_ => Flush(), null, Period, Period);
    }

    /// <summary>Records one event of <paramref name="kind"/>; <paramref name="line"/> (default: the summary's own) is printed while few come.</summary>
    public void Record(string? line = null, string kind = "")
    {
        lock (_held)
        {
            if (_shownThisPeriod < Shown)
            {
                _shownThisPeriod++;
                Console.Error.WriteLine("hybrid: " + (line ?? _one) + ".");
                return;
            }

            _held[kind] = _held.GetValueOrDefault(kind) + 1;
        }
    }

    /// <summary>Prints the events held back (one line), and starts a new period.</summary>
    public void Flush()
    {
        lock (_held)
        {
            _shownThisPeriod = 0;
            var total = _held.Values.Sum();
            if (total == 0)
            {
                return;
            }

            var kinds = _held.Count == 1 && _held.ContainsKey("") ? "" : " (" + string.Join(", ", _held.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}")) + ")";
            Console.Error.WriteLine($"hybrid: {total} more: {(total == 1 ? _one : total.ToString(CultureInfo.InvariantCulture) + " " + _many)}{kinds}.");
            _held.Clear();
        }
    }

    public void Dispose()
    {
        _timer.Dispose();
        Flush();
    }
}
