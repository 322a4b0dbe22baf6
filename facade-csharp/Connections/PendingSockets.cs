using System.Net;
using System.Net.Sockets;

namespace HybridProtocol.Connections;

/// <summary>
/// The listener's sockets waiting for their first flight, oldest first: at most <paramref name="maxTotal"/> in all and
/// <paramref name="maxPerAddress"/> from one remote address. A new socket beyond either limit pushes out the oldest
/// waiting one (of its address, when that limit is reached): a slow or silent peer is older than a prompt one.
/// </summary>
internal sealed class PendingSockets(int maxTotal, int maxPerAddress)
{
    private readonly Lock gate = new();
    private readonly LinkedList<Entry> all = new();
    private readonly Dictionary<IPAddress, LinkedList<Entry>> byAddress = [];

    /// <summary>Queues a new socket (its wait ends when <paramref name="cancel"/> fires); may push out the oldest.</summary>
    public Entry Admit(Socket socket, CancellationTokenSource cancel)
    {
        var entry = new Entry(socket, (socket.RemoteEndPoint as IPEndPoint)?.Address, cancel);
        Entry? pushedOut = null;
        lock (gate)
        {
            LinkedList<Entry>? sameAddress = null;
            if (entry.Address is { } address && !byAddress.TryGetValue(address, out sameAddress))
            {
                byAddress[address] = sameAddress = new LinkedList<Entry>();
            }

            pushedOut = sameAddress is { Count: > 0 } && sameAddress.Count >= maxPerAddress ? sameAddress.First!.Value
                : all.Count >= maxTotal ? all.First!.Value
                : null;
            if (pushedOut is not null)
            {
                RemoveLocked(pushedOut);
                pushedOut.PushedOut = true;
            }

            entry.Node = all.AddLast(entry);
            entry.AddressNode = sameAddress?.AddLast(entry);
        }

        pushedOut?.Cancel.Cancel();
        return entry;
    }

    /// <summary>Takes a socket out of the queues (its first flight arrived, or its wait ended); harmless when out already.</summary>
    public void Remove(Entry entry)
    {
        lock (gate)
        {
            RemoveLocked(entry);
        }
    }

    private void RemoveLocked(Entry entry)
    {
        if (entry.Node is { } node)
        {
            all.Remove(node);
        }

        if (entry.AddressNode is { List: { } list } addressNode)
        {
            list.Remove(addressNode);
            if (list.Count == 0)
            {
                byAddress.Remove(entry.Address!);
            }
        }

        entry.Node = entry.AddressNode = null;
    }

    /// <summary>A waiting socket: its place in the queues, what cancels its wait, whether it was pushed out.</summary>
    internal sealed class Entry(Socket socket, IPAddress? address, CancellationTokenSource cancel)
    {
        public Socket Socket { get; } = socket;

        public IPAddress? Address { get; } = address;

        public CancellationTokenSource Cancel { get; } = cancel;

        public LinkedListNode<Entry>? Node { get; set; }

        public LinkedListNode<Entry>? AddressNode { get; set; }

        public bool PushedOut { get; set; }
    }
}
