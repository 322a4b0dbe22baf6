using System.Net;
using HybridProtocol.Core.Wire;

namespace HybridProtocol.Connections;

/// <summary>
/// The stages a server's clients pass before the application sees them, in one place for <see cref="SecureListener"/>
/// (and so the CLI's servers) and the Kestrel middleware (specs/PROTOCOL.md §12a). (1) Waiting: a client costs a
/// socket and a small buffer until its first flight is complete (<see cref="Admission.firstFlight"/> decides); the
/// waiting queue pushes out its oldest beyond its limits (<see cref="PendingSockets"/>). (2) Handshaking, including the
/// wait for the client's liveness proof ([S6]): a slot out of <c>maxHandshakes</c>, at most <c>maxPerAddress</c> per
/// address share (an IPv4 address or an IPv6 /64). A client beyond its share pushes out its own share's oldest
/// unproven handshake; when every slot is taken, a client whose share holds fewer slots than the largest share pushes
/// out that share's oldest (unproven work of the heaviest sender is shed first), and any other client is refused
/// with ServerBusy.
/// </summary>
internal sealed class HandshakeStages(int maxWaiting, int maxWaitingPerAddress, int maxHandshakes, int maxPerAddress)
{
    private readonly Lock gate = new();
    private readonly Dictionary<string, LinkedList<Slot>> byShare = [];
    private readonly LinkedList<Slot> anonymous = new();
    private int taken;

    /// <summary>The waiting stage's queue.</summary>
    public PendingSockets Waiting { get; } = new(Math.Max(1, maxWaiting), Math.Max(1, maxWaitingPerAddress));

    /// <summary>Handshake slots in use (for tests and logs).</summary>
    public int Taken => Volatile.Read(ref taken);

    /// <summary>The key of the address share a client counts against ([S5], <see cref="Admission.shareKey"/>); null for none.</summary>
    public static string? ShareOf(IPAddress? address) =>
        address is null ? null : Convert.ToHexString(Admission.shareKey(address.GetAddressBytes()));

    /// <summary>
    /// A handshake slot for a client whose first flight is complete, or null (refuse it with ServerBusy). The slot's
    /// <see cref="Slot.Cancel"/> fires when a newer client pushes it out; dispose the slot when the handshake and the
    /// liveness proof are over.
    /// </summary>
    public Slot? TryEnter(IPAddress? address, CancellationToken stopping)
    {
        var share = ShareOf(address);
        Slot? pushedOut = null;
        Slot slot;
        lock (gate)
        {
            var mine = share is null ? anonymous : byShare.GetValueOrDefault(share);
            var held = mine?.Count ?? 0;
            if (held >= Math.Max(1, maxPerAddress))
            {
                pushedOut = mine!.First!.Value;
            }
            else if (taken >= Math.Max(1, maxHandshakes))
            {
                LinkedList<Slot>? heaviest = null;
                foreach (var list in byShare.Values)
                {
                    if (heaviest is null || list.Count > heaviest.Count)
                    {
                        heaviest = list;
                    }
                }

                if (anonymous.Count > (heaviest?.Count ?? 0))
                {
                    heaviest = anonymous;
                }

                if (heaviest is null || heaviest.Count <= held + 1)
                {
                    return null;
                }

                pushedOut = heaviest.First!.Value;
            }

            if (pushedOut is not null)
            {
                RemoveLocked(pushedOut);
            }

            if (share is not null && !byShare.TryGetValue(share, out mine))
            {
                byShare[share] = mine = new LinkedList<Slot>();
            }

            slot = new Slot(this, share, CancellationTokenSource.CreateLinkedTokenSource(stopping));
            slot.Node = (mine ?? anonymous).AddLast(slot);
            taken++;
        }

        if (pushedOut is not null)
        {
            pushedOut.PushedOut = true;
            try
            {
                pushedOut.Cancel.Cancel();
            }
            catch (ObjectDisposedException)
            {
                // Its handshake ended meanwhile.
            }
        }

        return slot;
    }

    private void RemoveLocked(Slot slot)
    {
        if (slot.Node is not { List: { } list } node)
        {
            return;
        }

        list.Remove(node);
        slot.Node = null;
        taken--;
        if (list.Count == 0 && slot.Share is not null)
        {
            byShare.Remove(slot.Share);
        }
    }

    /// <summary>A handshake slot: what cancels the handshake when it is pushed out, and its place in its share.</summary>
    internal sealed class Slot(HandshakeStages owner, string? share, CancellationTokenSource cancel) : IDisposable
    {
        public string? Share { get; } = share;

        public CancellationTokenSource Cancel { get; } = cancel;

        public LinkedListNode<Slot>? Node { get; set; }

        /// <summary>A newer client took this slot (the handshake was cancelled for it).</summary>
        public bool PushedOut { get; set; }

        public void Dispose()
        {
            lock (owner.gate)
            {
                owner.RemoveLocked(this);
            }

            Cancel.Dispose();
        }
    }
}
