using HybridProtocol.Core.Wire;
using HybridProtocol.Net;

namespace HybridProtocol;

/// <summary>
/// Liveness before accept (specs/PROTOCOL.md §12a, [S6] and [S7]): in a protocol where the server writes the last
/// handshake message (NK, NX, IK and their variants), a replayed first message completes the server's handshake
/// without the sender holding any key; the server therefore waits for the client's first authenticated record. The
/// client's record is the core's decision: its connection seals a KeyUpdate as soon as such a handshake completes
/// (Connection.Step, [S7]), so the handshake driver writes it with the last handshake step's output.
/// </summary>
public sealed partial class SecureConnection
{
    /// <summary>
    /// Server: reads until the client's first record has been authenticated (any type; a message it completes is kept
    /// for the application), under the receive lock ([S6]), into the buffer the handshake read into (held until then,
    /// so no wait-before-read: the proof follows the handshake at once). Returns at once when the connection ended at the handshake.
    /// </summary>
    private async Task AwaitLivenessProofAsync(CancellationToken cancellationToken)
    {
        var adapter = new AsyncReadWriteAdapter(stream, peekSocket);
        await adapter.LockAsync(receiveLock, cancellationToken).ConfigureAwait(false);
        try
        {
            if (endedAtStart || early.Count > 0)
            {
                return;
            }

            EnsureAssembly(16);
            var filled = assemblyLength;
            while (true)
            {
                var r = ReceiveHalfModule.Receive(receive, input.Data, assembly.AsSpan(), filled);
                receive = r.Half;
                input.Consume(r.Consumed);
                filled = assemblyLength = r.Written;
                var ev = r.Event;
                if (r.Consumed > 0)
                {
                    Touch();
                }

                if (ev.IsNeedData || ev.IsNeedSpace)
                {
                    if (r.Consumed > 0)
                    {
                        return;
                    }

                    if (ev.IsNeedSpace)
                    {
                        EnsureAssembly(ev.Needed);
                        continue;
                    }

                    int n;
                    try
                    {
                        n = await input.FillAsync(adapter, cancellationToken).ConfigureAwait(false);
                    }
                    catch (Exception e) when (e is not HybridProtocolException and not OperationCanceledException)
                    {
                        throw TransportFailure(e);
                    }

                    if (n > 0)
                    {
                        continue;
                    }

                    var end = ReceiveHalfModule.EndOfInput(receive);
                    receive = end.Half;
                    ev = end.Event;
                }

                switch (ev.Tag)
                {
                    case ReceiveEvent.Tags.MessageEnd:
                        current = assembly;
                        currentStart = 0;
                        currentEnd = assemblyLength;
                        return;
                    case ReceiveEvent.Tags.KeyRetired:
                        Retire(ev.Key, sending: false);
                        return;
                    case ReceiveEvent.Tags.PeerClosed:
                        await AnswerCloseAsync(adapter, ev.Answer, cancellationToken).ConfigureAwait(false);
                        return;
                    case ReceiveEvent.Tags.Fatal:
                        throw FailAndReply(ev.Error!, ev.Reply);
                }
            }
        }
        finally
        {
            if (current is null && assemblyLength == 0)
            {
                // Nothing of a message is held: an idle connection keeps no buffer (as after any receive).
                ReturnAssembly();
            }

            input.ReleaseIfEmpty();
            ExitReceive();
        }
    }

    /// <summary>
    /// After a completed handshake: the server waits for the client's liveness proof within
    /// <paramref name="serverDeadline"/> (HandshakeTimeout when the client is silent; the connection is then disposed).
    /// </summary>
    internal async Task<SecureConnection> LivenessAsync(bool isClient, TimeSpan serverDeadline, CancellationToken cancellationToken)
    {
        if (isClient || !Connections.ProtocolChoices.LivenessProofNeeded(ProtocolName))
        {
            // The handshake's buffer goes back to the pool unless it holds bytes (an idle connection holds none).
            input.ReleaseIfEmpty();
            return this;
        }

        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (serverDeadline != Timeout.InfiniteTimeSpan)
        {
            deadline.CancelAfter(serverDeadline);
        }

        using var registration = deadline.Token.Register(static s => ((Stream)s!).Dispose(), stream);
        try
        {
            await AwaitLivenessProofAsync(deadline.Token).ConfigureAwait(false);

            if (!registration.Unregister())
            {
                throw new OperationCanceledException(deadline.Token);
            }

            return this;
        }
        catch (Exception e)
        {
            var failed = deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested
                ? new HybridProtocolException(HybridErrorCode.HandshakeTimeout, $"{Capitalized(context.Peer)} sent no authenticated record within {serverDeadline.TotalSeconds:0.###} s of the handshake: it has not shown that it holds its ephemeral key (a replayed first message looks like this); the connection was closed before the application saw it.", e)
                : e as HybridProtocolException ?? TransportFailure(e);
            Fail(failed);
            await DisposeAsync().ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            throw failed;
        }
    }

    private static string Capitalized(string text) => text.Length == 0 ? text : char.ToUpperInvariant(text[0]) + text[1..];
}
