using System.Buffers;
using System.Diagnostics;
using System.IO.Pipelines;
using System.Net;
using HybridProtocol.Connections;
using HybridProtocol.Core.Wire;
using HybridProtocol.Diagnostics;
using HybridProtocol.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace HybridProtocol.AspNetCore;

/// <summary>
/// The connection middleware <see cref="HybridProtocolListenOptionsExtensions.UseHybridProtocol(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions, HybridProtocolConnectionOptions)"/>
/// installs, in the place Kestrel's HTTPS middleware takes: it runs the server handshake over the accepted
/// connection's transport, publishes <see cref="IHybridProtocolFeature"/>, and hands the rest of the pipeline (HTTP/1.1,
/// HTTP/2, a <c>ConnectionHandler</c>) a duplex pipe over the secure connection. A client whose handshake fails, times
/// out or is refused is disconnected; the others are not affected.
/// </summary>
internal sealed class HybridProtocolConnectionMiddleware
{
    // Plaintext segments of this size hold a whole HTTP/2 frame at the default frame size (16 KiB) plus its header,
    // so a flush of the output sends few, large messages rather than one per small pool block.
    private const int SegmentSize = 32 * 1024;

    private readonly ConnectionDelegate next;
    private readonly SecureServerOptions options;
    private readonly Microsoft.FSharp.Collections.FSharpList<Core.Noise.ProtocolName> accepted;
    private readonly int maxConcurrentHandshakes;
    private readonly int maxHandshakesPerAddress;
    private readonly TimeSpan firstMessageTimeout;
    private readonly HandshakeStages stages;
    private readonly ProxyProtocolOptions? proxyProtocol;
    private readonly ILogger? logger;
    private readonly FailureSummary failures;

    internal HybridProtocolConnectionMiddleware(ConnectionDelegate next, HybridProtocolConnectionOptions settings, ILogger? logger)
    {
        this.next = next;
        options = settings.ServerOptions ?? throw new HybridArgumentException(HybridErrorCode.InvalidArgument, "HybridProtocolConnectionOptions.ServerOptions is required.");
        if (options.ServerKey is null)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, "SecureServerOptions.ServerKey is required.");
        }

        options.Logger ??= logger;
        accepted = SecureConnection.AcceptedProtocols(options);
        maxConcurrentHandshakes = settings.MaxConcurrentHandshakes;
        maxHandshakesPerAddress = settings.MaxHandshakesPerAddress;
        firstMessageTimeout = settings.FirstMessageTimeout;
        stages = new HandshakeStages(settings.MaxPendingSockets, settings.MaxPendingPerAddress, maxConcurrentHandshakes, maxHandshakesPerAddress);
        proxyProtocol = settings.ProxyProtocol;
        this.logger = options.Logger;
        failures = new FailureSummary(this.logger, TimeSpan.FromSeconds(10));
    }

    internal async Task OnConnectionAsync(ConnectionContext context)
    {
        var remote = context.RemoteEndPoint;
        EndPoint? balancer = null;
        if (proxyProtocol is not null)
        {
            var (accepted, client) = await ReadProxyHeaderAsync(context, proxyProtocol).ConfigureAwait(false);
            if (!accepted)
            {
                return;
            }

            if (client is not null)
            {
                // The client the balancer relays: Kestrel's HTTP layer reads RemoteEndPoint from here on.
                (balancer, remote) = (remote, client);
                context.RemoteEndPoint = client;
            }
        }

        // The waiting stage ([S1]), as on SecureListener: no handshake slot until the whole first flight is here.
        var verdict = await WaitForFirstFlightAsync(context, remote).ConfigureAwait(false);
        if (verdict is null)
        {
            return;
        }

        // Not ConnectionClosed: Kestrel signals it at the client's FIN, and a client may send its liveness record, a
        // message and its Close and leave at once; those bytes are still read. The handshake is bounded by its own
        // deadlines, and a reset or the server's stop ends it through the transport.
        using var slot = stages.TryEnter((remote as IPEndPoint)?.Address, CancellationToken.None);
        if (slot is null)
        {
            Telemetry.Refused(logger, remote, "ServerBusy");
            failures.Record("ServerBusy");
            await RefuseAsync(context, SecureListener.BusyStatus).ConfigureAwait(false);
            return;
        }

        Telemetry.Accepted(logger, balancer is null ? remote : $"{remote} (through {balancer})");
        SecureConnection secure;
        var started = Stopwatch.GetTimestamp();
        try
        {
            // The facade's handshake bounds itself by SecureServerOptions.HandshakeTimeout and its message deadlines; a
            // newer client pushing this one out cancels it (the slot's token).
            var peer = balancer is null ? "the client " + remote : $"the client {remote} (through {balancer})";
            secure = await SecureConnection.AuthenticateAsServerCoreAsync(new TransportStream(context.Transport), options, accepted, peer, slot.Cancel.Token, balancer is null ? null : (remote, balancer)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // Whatever a client did, its failed handshake is its own: logged at Debug by the handshake (event
            // HandshakeFailed) and counted in the summary here, never one Error line per client in Kestrel's log.
            // Kestrel closes the connection when this middleware returns.
            failures.Record(Telemetry.ErrorType(e));
            return;
        }
        finally
        {
            slot.Dispose();
        }

        var duration = Stopwatch.GetElapsedTime(started);
        var transport = context.Transport;
        var stream = secure.GetStream();
        var input = PipeReader.Create(new SecureInput(stream), new StreamPipeReaderOptions(MemoryPool<byte>.Shared, SegmentSize, SegmentSize / 4, leaveOpen: true));
        var output = new SecureOutput(stream, new StreamPipeWriterOptions(MemoryPool<byte>.Shared, SegmentSize, leaveOpen: true));
        context.Features.Set<IHybridProtocolFeature>(new HybridProtocolFeature(secure, duration));
        context.Transport = new DuplexPipe(input, output);
        try
        {
            await next(context).ConfigureAwait(false);
        }
        finally
        {
            // The connection is disposed (its close sent, its keys erased, its ConnectionClosed line logged) whatever
            // completing the pipes does: the output's last flush does not throw (SecureOutput), the input's might.
            try
            {
                await input.CompleteAsync().ConfigureAwait(false);
                await output.CompleteAsync().ConfigureAwait(false);
                if (context.ConnectionClosed.IsCancellationRequested)
                {
                    // Kestrel saw the client's transport end and cancelled the application's read: the engine reads
                    // the rest, so that the connection ends as closed by the client or truncated, as it was.
                    await secure.ReadToTransportEndAsync().ConfigureAwait(false);
                }
            }
            finally
            {
                await secure.DisposeAsync().ConfigureAwait(false);
                context.Transport = transport;
            }
        }
    }

    /// <summary>
    /// Reads the PROXY header a trusted balancer puts before the preamble, and refuses one from anywhere else, as
    /// <see cref="SecureListener"/> does; the bytes after the header stay in the transport's pipe for the handshake.
    /// Bounded by the handshake timeout (5 s when that is infinite) and by the header's own bound. Returns whether the
    /// connection goes on, and the client the header named (null: the connection's own address applies).
    /// </summary>
    private async Task<(bool Accepted, IPEndPoint? Client)> ReadProxyHeaderAsync(ConnectionContext context, ProxyProtocolOptions proxy)
    {
        var remote = context.RemoteEndPoint;
        var trusted = proxy.Trusts(remote);
        var input = context.Transport.Input;
        var timeout = options.HandshakeTimeout == Timeout.InfiniteTimeSpan ? TimeSpan.FromSeconds(5) : options.HandshakeTimeout;
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.ConnectionClosed);
        deadline.CancelAfter(timeout);
        while (true)
        {
            ReadResult result;
            try
            {
                result = await input.ReadAsync(deadline.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or ConnectionResetException)
            {
                Telemetry.Refused(logger, remote, "ProxyProtocolHeaderTimeout");
                failures.Record("HandshakeTimeout");
                return (false, null);
            }

            var buffer = result.Buffer;
            var look = buffer.Slice(0, Math.Min(buffer.Length, proxy.MaxHeaderLength));
            var outcome = ProxyHeaderReader.Examine(proxy, trusted, look.IsSingleSegment ? look.FirstSpan : look.ToArray(), result.IsCompleted || result.IsCanceled, remote);
            switch (outcome.Stage)
            {
                case ProxyStage.NeedMore:
                    input.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                case ProxyStage.Refused:
                    input.AdvanceTo(buffer.Start);
                    Telemetry.Refused(logger, remote, "ProxyProtocol" + outcome.Refusal);
                    failures.Record(Telemetry.ErrorType(outcome.Error!));
                    return (false, null);
                default:
                    input.AdvanceTo(buffer.GetPosition(outcome.Consumed));
                    return (true, outcome.Client);
            }
        }
    }

    /// <summary>
    /// Waits, without a handshake slot, until the client's whole first flight is in the transport's pipe (nothing is
    /// consumed: the handshake reads it), within <see cref="HybridProtocolConnectionOptions.FirstMessageTimeout"/>, in
    /// the shared waiting queue (a newer client may push it out). Returns the verdict, or null when the client was
    /// dropped (told TooSlow when it was too slow or pushed out, [S8]).
    /// </summary>
    private async Task<FirstFlightVerdict?> WaitForFirstFlightAsync(ConnectionContext context, EndPoint? remote)
    {
        var input = context.Transport.Input;
        var cancel = CancellationTokenSource.CreateLinkedTokenSource(context.ConnectionClosed);
        cancel.CancelAfter(firstMessageTimeout);
        var entry = stages.Waiting.Admit(null, (remote as IPEndPoint)?.Address, cancel);
        try
        {
            while (true)
            {
                var result = await input.ReadAsync(cancel.Token).ConfigureAwait(false);
                var buffer = result.Buffer;
                var look = buffer.Slice(0, Math.Min(buffer.Length, SecureListener.MaxFirstFlight));
                var verdict = Admission.firstFlight(look.IsSingleSegment ? look.FirstSpan : look.ToArray());
                if (verdict.IsWaiting && !result.IsCompleted && !result.IsCanceled && look.Length < SecureListener.MaxFirstFlight)
                {
                    input.AdvanceTo(buffer.Start, buffer.End);
                    continue;
                }

                input.AdvanceTo(buffer.Start);
                if (verdict is FirstFlightVerdict.Oversized)
                {
                    Telemetry.Refused(logger, remote, "FirstMessageTooLong");
                    failures.Record("ProtocolViolation");
                    return null;
                }

                return verdict;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ConnectionResetException)
        {
            if (!context.ConnectionClosed.IsCancellationRequested)
            {
                Telemetry.Refused(logger, remote, entry.PushedOut ? "PushedOut" : "FirstMessageTimeout");
                failures.Record("HandshakeTimeout");
                await RefuseAsync(context, SecureListener.TooSlowStatus).ConfigureAwait(false);
            }

            return null;
        }
        finally
        {
            stages.Waiting.Remove(entry);
            cancel.Dispose();
        }
    }

    /// <summary>The protocol's ServerBusy or TooSlow refusal (specs/PROTOCOL.md §3, [S8]), as <see cref="SecureListener"/> sends it.</summary>
    private static async Task RefuseAsync(ConnectionContext context, byte[] status)
    {
        try
        {
            using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(1));
            await context.Transport.Output.WriteAsync(status, bounded.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException)
        {
            // The client is gone or does not read: closing is all that is left.
        }
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}
