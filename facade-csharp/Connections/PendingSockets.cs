using System.Net;
using System.Net.Sockets;

namespace HybridProtocol.Connections;

/// <summary>
/// The listener's sockets waiting for their first flight, oldest first: at most <paramref name="maxTotal"/> in all and
/// <paramref name="maxPerAddress"/> from one remote address (one share: an IPv4 address or an IPv6 /64, <see cref="HandshakeStages.ShareOf"/>). A new socket beyond either limit pushes out the oldest
/// waiting one (of its address, when that limit is reached): a slow or silent peer is older than a prompt one.
/// </summary>
internal sealed class PendingSockets(int maxTotal, int maxPerAddress)
{
    private readonly Lock gate = new();
    private readonly LinkedList<Entry> all = new();
    private readonly Dictionary<string, LinkedList<Entry>> byAddress = [];

    /// <summary>The sockets waiting now (tests: the memory cost of a waiting socket).</summary>
    public int Count
    {
        get
        {
            lock (gate)
            {
                return all.Count;
            }
        }
    }

    /// <summary>
    /// Queues a new socket (its wait ends when <paramref name="cancel"/> fires), counted against
    /// <paramref name="client"/> (null: counted in the total only, as a trusted proxy's socket is until its PROXY
    /// header names the client); may push out the oldest.
    /// </summary>
    public Entry Admit(Socket? socket, IPAddress? client, CancellationTokenSource cancel)
    {
        var address = HandshakeStages.ShareOf(client);
        var entry = new Entry(socket, cancel);
        Entry? pushedOut;
        lock (gate)
        {
            pushedOut = address is not null && byAddress.TryGetValue(address, out var sameAddress) && sameAddress.Count >= maxPerAddress ? sameAddress.First!.Value
                : all.Count >= maxTotal ? all.First!.Value
                : null;
            if (pushedOut is not null)
            {
                RemoveLocked(pushedOut);
                pushedOut.PushedOut = true;
            }

            entry.Node = all.AddLast(entry);
            AddToAddressLocked(entry, address);
        }

        PushOut(pushedOut);
        return entry;
    }

    /// <summary>
    /// Counts a waiting socket against <paramref name="client"/> from now on (the client a PROXY header named); may
    /// push out that address's oldest. Harmless when the socket is out of the queues already.
    /// </summary>
    public void Readdress(Entry entry, IPAddress client)
    {
        var address = HandshakeStages.ShareOf(client)!;
        Entry? pushedOut = null;
        lock (gate)
        {
            if (entry.Node is not null)
            {
                RemoveFromAddressLocked(entry);
                pushedOut = AddToAddressLocked(entry, address);
            }
        }

        PushOut(pushedOut);
    }

    /// <summary>Adds an entry to its address's queue; returns that address's oldest when it was pushed out to make room.</summary>
    private Entry? AddToAddressLocked(Entry entry, string? address)
    {
        if (address is null)
        {
            return null;
        }

        if (!byAddress.TryGetValue(address, out var sameAddress))
        {
            byAddress[address] = sameAddress = new LinkedList<Entry>();
        }

        var pushedOut = sameAddress.Count >= maxPerAddress ? sameAddress.First!.Value : null;
        if (pushedOut is not null)
        {
            RemoveLocked(pushedOut);
            pushedOut.PushedOut = true;
        }

        // The list may have been emptied (and dropped) by the push-out: take it again.
        if (!byAddress.TryGetValue(address, out sameAddress))
        {
            byAddress[address] = sameAddress = new LinkedList<Entry>();
        }

        entry.Address = address;
        entry.AddressNode = sameAddress.AddLast(entry);
        return pushedOut;
    }

    /// <summary>Ends a pushed-out socket's wait; harmless when its wait ended meanwhile (and its token was disposed).</summary>
    private static void PushOut(Entry? entry)
    {
        try
        {
            entry?.Cancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Its wait ended between the choice and the cancellation.
        }
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

        RemoveFromAddressLocked(entry);
        entry.Node = null;
    }

    private void RemoveFromAddressLocked(Entry entry)
    {
        if (entry.AddressNode is { List: { } list } addressNode)
        {
            list.Remove(addressNode);
            if (list.Count == 0)
            {
                byAddress.Remove(entry.Address!);
            }
        }

        entry.AddressNode = null;
    }

    /// <summary>A waiting socket: its place in the queues, what cancels its wait, whether it was pushed out.</summary>
    internal sealed class Entry(Socket? socket, CancellationTokenSource cancel)
    {
        public Socket? Socket { get; } = socket;

        public string? Address { get; set; }

        public CancellationTokenSource Cancel { get; } = cancel;

        public LinkedListNode<Entry>? Node { get; set; }

        public LinkedListNode<Entry>? AddressNode { get; set; }

        public bool PushedOut { get; set; }
    }
}
