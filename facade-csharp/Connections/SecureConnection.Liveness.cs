using HybridProtocol.Net;

namespace HybridProtocol;

/// <summary>
/// Liveness before accept (specs/PROTOCOL.md §12a, [S6] and [S7]): in a protocol where the server writes the last
/// handshake message (NK, NX, IK and their variants), a replayed first message completes the server's handshake
/// without the sender holding any key; the server therefore waits for the client's first authenticated record. The
/// client's record is the core's decision: its connection seals a KeyUpdate as soon as such a handshake completes
/// ([S7]; in the output of the step that completes it, `Connection.ReceiveHandshake` or `Step`), so the handshake
/// driver writes it with that step's output.
/// </summary>
public sealed partial class SecureConnection
{
    /// <summary>
    /// After a completed handshake: the server waits for the client's liveness proof within
    /// <paramref name="serverDeadline"/> (HandshakeTimeout when the client is silent; the connection is then disposed).
    /// </summary>
    internal async Task<SecureConnection> LivenessAsync(bool isClient, TimeSpan serverDeadline, CancellationToken cancellationToken)
    {
        if (isClient || !Connections.ProtocolChoices.LivenessProofNeeded(ProtocolName))
        {
            // The handshake's buffer goes back to the pool unless it holds bytes (an idle connection holds none).
            receive.ReleaseInputIfEmpty();
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
            await receive.AwaitFirstRecordAsync(new AsyncReadWriteAdapter(stream, peekSocket), deadline.Token).ConfigureAwait(false);

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
