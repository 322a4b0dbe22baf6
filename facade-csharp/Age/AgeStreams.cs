using System.Text;
using HybridProtocol.Core.Age;
using HybridProtocol.Net;

namespace HybridProtocol;

/// <summary>
/// The input of the age reader: a peek at the first bytes (for <see cref="AgeFile.Detect"/>), bytes put back in front
/// (what followed the header, the chunk reader's one-byte look-ahead), and, for armored input, the lines handed one by one to
/// the core's armor reader (<see cref="Armor.feedLine"/>), which decides everything about them. Memory is bounded: an 8 KiB
/// raw buffer (a line is at most <see cref="Armor.MaxLineLength"/>) and one decoded line.
/// </summary>
internal sealed class AgeSource(Stream inner)
{
    private readonly byte[] _raw = new byte[8192];
    private int _rawStart;
    private int _rawEnd;
    private bool _rawEof;
    private bool _armored;
    private Armor.ArmorReader _armor = Armor.start;
    private byte[] _pending = [];
    private int _pendingStart;

    /// <summary>Reads until <paramref name="count"/> bytes are buffered (or the input ends) and returns a copy of them.</summary>
    public async ValueTask<byte[]> PeekAsync<TIo>(TIo io, int count, CancellationToken cancellationToken)
        where TIo : struct, IStreamIo
    {
        while (_rawEnd - _rawStart < count && !_rawEof)
        {
            await FillRawAsync(io, cancellationToken).ConfigureAwait(false);
        }

        return _raw.AsSpan(_rawStart, Math.Min(count, _rawEnd - _rawStart)).ToArray();
    }

    /// <summary>From now on the input is ASCII armor: reads return the decoded bytes.</summary>
    public void StartArmor() => _armored = true;

    /// <summary>Puts bytes back in front of what is still to be read.</summary>
    public void Prepend(byte[] data, int offset, int count)
    {
        var rest = _pending.AsSpan(_pendingStart);
        var joined = new byte[count + rest.Length];
        data.AsSpan(offset, count).CopyTo(joined);
        rest.CopyTo(joined.AsSpan(count));
        _pending = joined;
        _pendingStart = 0;
    }

    /// <summary>Reads at least one byte, or 0 at the end of the input (of the armor's end line, when armored).</summary>
    public async ValueTask<int> ReadAsync<TIo>(TIo io, Memory<byte> destination, CancellationToken cancellationToken)
        where TIo : struct, IStreamIo
    {
        while (true)
        {
            if (_pendingStart < _pending.Length)
            {
                var n = Math.Min(destination.Length, _pending.Length - _pendingStart);
                _pending.AsSpan(_pendingStart, n).CopyTo(destination.Span);
                _pendingStart += n;
                return n;
            }

            if (!_armored)
            {
                if (_rawStart < _rawEnd)
                {
                    var n = Math.Min(destination.Length, _rawEnd - _rawStart);
                    _raw.AsSpan(_rawStart, n).CopyTo(destination.Span);
                    _rawStart += n;
                    return n;
                }

                return _rawEof ? 0 : await io.ReadAsync(inner, destination, cancellationToken).ConfigureAwait(false);
            }

            switch (TakeLine())
            {
                case LineResult.Fed:
                    continue;
                case LineResult.Ended:
                    AgeErrors.Check(Armor.finish(_armor));
                    return 0;
                default:
                    await FillRawAsync(io, cancellationToken).ConfigureAwait(false);
                    continue;
            }
        }
    }

    /// <summary>Reads until <paramref name="buffer"/> is full or the input ends; returns the bytes read.</summary>
    public async ValueTask<int> ReadFullAsync<TIo>(TIo io, Memory<byte> buffer, CancellationToken cancellationToken)
        where TIo : struct, IStreamIo
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await ReadAsync(io, buffer[total..], cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    /// <summary>
    /// Reads one chunk of <c>buffer.Length</c> bytes (fewer at the end) and says whether it is the last: after a full chunk it
    /// reads one byte ahead and puts it back (the STREAM final flag needs to know).
    /// </summary>
    public async ValueTask<(int Length, bool IsFinal)> ReadChunkAsync<TIo>(TIo io, Memory<byte> buffer, CancellationToken cancellationToken)
        where TIo : struct, IStreamIo
    {
        var length = await ReadFullAsync(io, buffer, cancellationToken).ConfigureAwait(false);
        if (length < buffer.Length)
        {
            return (length, true);
        }

        var next = new byte[1];
        var more = await ReadAsync(io, next, cancellationToken).ConfigureAwait(false);
        if (more > 0)
        {
            Prepend(next, 0, 1);
        }

        return (length, more == 0);
    }

    private enum LineResult
    {
        Fed,
        NeedMore,
        Ended,
    }

    /// <summary>Hands the next whole line (or the last one, without its LF, at the end) to the armor reader.</summary>
    private LineResult TakeLine()
    {
        var span = _raw.AsSpan(_rawStart, _rawEnd - _rawStart);
        var lf = span.IndexOf((byte)'\n');
        ReadOnlySpan<byte> line;
        if (lf >= 0)
        {
            line = span[..lf];
            _rawStart += lf + 1;
        }
        else if (span.Length > Armor.MaxLineLength)
        {
            line = span[..(Armor.MaxLineLength + 1)];
            _rawStart = _rawEnd;
        }
        else if (_rawEof)
        {
            if (span.IsEmpty)
            {
                return LineResult.Ended;
            }

            line = span;
            _rawStart = _rawEnd;
        }
        else
        {
            return LineResult.NeedMore;
        }

        var (next, bytes) = AgeErrors.Check(Armor.feedLine(_armor, line));
        _armor = next;
        _pending = bytes;
        _pendingStart = 0;
        return LineResult.Fed;
    }

    private async ValueTask FillRawAsync<TIo>(TIo io, CancellationToken cancellationToken)
        where TIo : struct, IStreamIo
    {
        if (_rawStart > 0)
        {
            _raw.AsSpan(_rawStart, _rawEnd - _rawStart).CopyTo(_raw);
            _rawEnd -= _rawStart;
            _rawStart = 0;
        }

        var read = await io.ReadAsync(inner, _raw.AsMemory(_rawEnd), cancellationToken).ConfigureAwait(false);
        _rawEnd += read;
        _rawEof = read == 0;
    }
}

/// <summary>Writes ASCII armor: the begin line, 64-column lines (48 bytes each, encoded by <see cref="Armor.encodeLine"/>), the end line.</summary>
internal sealed class ArmorWriter
{
    private readonly byte[] _partial = new byte[Armor.BytesPerLine];
    private int _count;

    public byte[] Begin() => Encoding.ASCII.GetBytes(Armor.BeginLine + "\n");

    public byte[] Push(ReadOnlySpan<byte> data)
    {
        var text = new StringBuilder(((data.Length / Armor.BytesPerLine) + 1) * 65);
        while (!data.IsEmpty)
        {
            var n = Math.Min(data.Length, _partial.Length - _count);
            data[..n].CopyTo(_partial.AsSpan(_count));
            _count += n;
            data = data[n..];
            if (_count == _partial.Length)
            {
                text.Append(Armor.encodeLine(_partial)).Append('\n');
                _count = 0;
            }
        }

        return Encoding.ASCII.GetBytes(text.ToString());
    }

    public byte[] End()
    {
        var last = _count > 0 ? Armor.encodeLine(_partial.AsSpan(0, _count)) + "\n" : string.Empty;
        return Encoding.ASCII.GetBytes(last + Armor.EndLine + "\n");
    }
}
