using System.Globalization;
using System.Text;

namespace HybridProtocol.Cli;

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
