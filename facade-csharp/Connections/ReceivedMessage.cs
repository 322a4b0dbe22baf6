namespace HybridProtocol.Connections;

/// <summary>
/// A received message that is ready but not taken yet: kept after InvalidArgument (the caller's buffer was too small),
/// or read in parts by the stream view. Its bytes are either
/// the receive pipe's reassembly buffer (given back when the message is taken) or an array of their own. Used under
/// the receive lock.
/// </summary>
internal sealed class ReceivedMessage
{
    private readonly ReceivePipe reassembly;

    // The ready message (null when none is) and the part of it not taken yet (the stream view takes it in parts).
    private byte[]? bytes;
    private int start;
    private int end;

    /// <summary>One per connection, made with its receive pipe.</summary>
    /// <param name="reassembly">The pipe whose reassembly buffer a message may be.</param>
    internal ReceivedMessage(ReceivePipe reassembly) => this.reassembly = reassembly;

    /// <summary>True when a message is ready (it is the first thing a receive delivers).</summary>
    internal bool IsReady => bytes is not null;

    /// <summary>The message reassembled in <paramref name="assembly"/> (the pipe's buffer) is ready.</summary>
    internal void Assembled(byte[] assembly, int length)
    {
        bytes = assembly;
        start = 0;
        end = length;
    }

    /// <summary>Takes the ready message as an array: its own array when it is one whole, else a copy.</summary>
    internal byte[] TakeArray()
    {
        var message = bytes!;
        var result = !reassembly.Holds(message) && start == 0 && end == message.Length
            ? message
            : message.AsSpan(start, end - start).ToArray();
        Discard();
        return result;
    }

    /// <summary>Takes the ready message into <paramref name="destination"/>; when it does not fit, throws InvalidArgument and keeps it.</summary>
    internal int TakeInto(Span<byte> destination)
    {
        var length = end - start;
        if (length > destination.Length)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"The next message is {length} bytes but the buffer holds {destination.Length}; the message is kept. Call again with a buffer of at least {length} bytes (or LocalMaxMessageSize), or use ReceiveAsync() without a buffer.");
        }

        bytes.AsSpan(start, length).CopyTo(destination);
        Discard();
        return length;
    }

    /// <summary>For the stream view: copies up to <paramref name="destination"/>'s length of the ready message; the message is taken when all of it has been read.</summary>
    internal int TakePart(Span<byte> destination)
    {
        var n = Math.Min(destination.Length, end - start);
        bytes.AsSpan(start, n).CopyTo(destination);
        start += n;
        if (start == end)
        {
            Discard();
        }

        return n;
    }

    /// <summary>Drops the ready message, giving the reassembly buffer back when the message was in it.</summary>
    internal void Discard()
    {
        reassembly.GiveBack(bytes);
        bytes = null;
    }
}
