using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using HybridProtocol.Connections;
using HybridProtocol.Core;
using HybridProtocol.Core.Formats;
using HybridProtocol.Core.Noise;
using HybridProtocol.Core.Wire;
using HybridProtocol.Crypto;
using HybridProtocol.Diagnostics;
using HybridProtocol.Net;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace HybridProtocol;

/// <summary>
/// The handshake driver: runs the core's Connection from the first byte to the transport phase, reading into the
/// connection's one receive buffer, within the handshake's deadlines; the entry points (SecureConnection.Handshake.cs)
/// configure it.
/// </summary>
public sealed partial class SecureConnection
{
    /// <summary>
    /// One handshake, client or server: <paramref name="start"/> makes the core's configuration from the options (with
    /// the party's fresh secrets) and starts the core's Connection; the handshake then runs, and on any failure the
    /// keys are disposed and the stream closed. The party's secrets are erased either way.
    /// </summary>
    private static async Task<SecureConnection> RunHandshakeAsync(
        Stream stream,
        SecureConnectionOptions options,
        WireErrorContext context,
        string? requestedProtocol,
        string? targetHost,
        (EndPoint? Client, EndPoint? Balancer)? proxied,
        ReadOnlyMemory<byte> firstFlight,
        Func<HandshakeParty, FSharpResult<(Connection, FSharpList<Output>), WireError>> start,
        CancellationToken cancellationToken)
    {
        var endPoints = Prepare(stream, options);
        endPoints.Remote = proxied?.Client ?? endPoints.Remote;
        var instruments = Telemetry.Instruments.For(options.MeterFactory);
        string? serverHost = null;
        var serverPort = 0;
        if (targetHost is not null && HostPortModule.parse(HostPortRule.PortRequired, targetHost) is { IsOk: true } target)
        {
            (serverHost, serverPort) = (target.ResultValue.Host, target.ResultValue.Port!.Value);
        }

        var addresses = new PeerAddresses(!context.IsClient, serverHost, serverPort, endPoints.Remote, endPoints.Local, proxied?.Balancer);
        var telemetry = Telemetry.StartHandshake(instruments, !context.IsClient, requestedProtocol, context.Peer, addresses, options.Logger);
        using var party = new HandshakeParty(options.FixedSecretsForTestVectorsOnly?.Ephemeral);
        try
        {
            var started = start(party);
            if (started.IsError)
            {
                throw WireErrors.ToException(started.ErrorValue, context, inHandshake: true);
            }

            var messageDeadline = options is SecureServerOptions server ? server.HandshakeMessageTimeout : Timeout.InfiniteTimeSpan;
            var connection = await HandshakeAsync(stream, started.ResultValue, firstFlight, party, context, options, messageDeadline, cancellationToken).ConfigureAwait(false);
            connection = await connection.LivenessAsync(context.IsClient, messageDeadline != Timeout.InfiniteTimeSpan ? messageDeadline : options.HandshakeTimeout, cancellationToken).ConfigureAwait(false);
            telemetry.Completed(connection, options.Logger);
            return connection.WithEndPoints(endPoints, proxied?.Balancer);
        }
        catch (Exception e)
        {
            telemetry.Failed(e);
            party.Scope?.Dispose();
            await stream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>
    /// One handshake's secrets (the ephemeral key pair, the HFS KEM key pair or encapsulation randomness), erased when
    /// it ends; the keys it makes (<see cref="Scope"/>, kept by the connection on success); how the peer's key is checked.
    /// </summary>
    private sealed class HandshakeParty : IDisposable
    {
        public HandshakeParty(byte[]? fixedEphemeral) =>
            Ephemeral = fixedEphemeral is null ? SodiumSuite.GenerateEphemeral() : PrivateKey.FromRawBytes(fixedEphemeral).ToKeyPair();

        public DhKeyPair Ephemeral { get; }

        public KeyScope? Scope { get; set; }

        public KemKeyPair? KemKeyPair { get; set; }

        public byte[]? Randomness { get; set; }

        public Func<PublicKey, CancellationToken, ValueTask<HybridAuthenticationException?>> Verify { get; set; } = (_, _) => ValueTask.FromResult<HybridAuthenticationException?>(null);

        public void Dispose()
        {
            Ephemeral.Private.Dispose();
            KemKeyPair?.Private.Dispose();
            CryptographicOperations.ZeroMemory(Randomness);
        }
    }


    /// <summary>
    /// Drives the core's Connection state machine through the handshake: writes what it transmits, feeds it what
    /// arrives, answers VerifyPeerKey, until HandshakeCompleted; then takes over the transport phase.
    /// </summary>
    private static async Task<SecureConnection> HandshakeAsync(
        Stream stream,
        (Connection, FSharpList<Output>) started,
        ReadOnlyMemory<byte> firstFlight,
        HandshakeParty party,
        WireErrorContext context,
        SecureConnectionOptions options,
        TimeSpan messageDeadline,
        CancellationToken cancellationToken)
    {
        var instruments = Telemetry.Instruments.For(options.MeterFactory);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var whole = options.HandshakeTimeout;
        var overallEnd = whole == Timeout.InfiniteTimeSpan ? long.MaxValue : Environment.TickCount64 + (long)whole.TotalMilliseconds;
        if (whole != Timeout.InfiniteTimeSpan)
        {
            timeout.CancelAfter(whole);
        }

        // [S4]: after each message this end writes, the peer's next one has its own short deadline (a server's
        // HandshakeMessageTimeout), within the whole handshake's.
        TimeSpan? stage = null;

        // Streams that ignore cancellation (some pipes) are unblocked by closing them.
        using var registration = timeout.Token.Register(static s => ((Stream)s!).Dispose(), stream);
        // The connection's one receive buffer, from its first byte (PooledReceiveBuffer); returned cleared if the
        // handshake fails.
        var input = new PooledReceiveBuffer { Instruments = instruments, IsServer = !context.IsClient };
        var reader = new AsyncReadWriteAdapter(stream, null);
        var handedOver = false;
        var (state, outputs) = started;
        HandshakeInfo? info = null;
        Exception? refusal = null;

        // Whether the core has read what the buffer holds and waits for more (ReceiveHandshake consumes every whole
        // unit it can act on; only a verdict lets it go on with bytes it already saw).
        var stalled = true;
        try
        {
            while (true)
            {
                Input? next = null;
                var wrote = false;

                // Walked by hand: an F# list's enumerator is an allocation per step.
                for (var rest = outputs; !rest.IsEmpty; rest = rest.Tail)
                {
                    switch (rest.Head)
                    {
                        case Output.Transmit t:
                            await stream.WriteAsync(t.Bytes, timeout.Token).ConfigureAwait(false);
                            instruments.Sent(t.Bytes.Length, !context.IsClient);
                            wrote = true;
                            break;
                        case Output.VerifyPeerKey v:
                            refusal = await party.Verify(PublicKey.FromCore(v.PeerKey), timeout.Token).ConfigureAwait(false);
                            next = Input.NewPeerKeyVerdict(refusal is null);
                            break;
                        case Output.HandshakeCompleted c:
                            info = c.Info;
                            break;
                        case Output.KeyRetired k:
                            RetireKey(party.Scope, k.Key);
                            break;
                        case Output.Failed f:
                            throw refusal ?? WireErrors.ToException(f.Error, context, inHandshake: true);
                        case Output.Rejected r:
                            throw WireErrors.ToException(r.Error, context, inHandshake: true);
                    }
                }

                await stream.FlushAsync(timeout.Token).ConfigureAwait(false);
                if (messageDeadline != Timeout.InfiniteTimeSpan && wrote && info is null)
                {
                    var left = overallEnd - Environment.TickCount64;
                    if (left > (long)messageDeadline.TotalMilliseconds)
                    {
                        stage = messageDeadline;
                        timeout.CancelAfter(messageDeadline);
                    }
                }

                if (next is not null)
                {
                    (state, outputs) = Connection.Step(state, next);
                    stalled = false;
                    continue;
                }

                if (info is not null)
                {
                    // The core stopped at the handshake's last frame: what follows is in the buffer, for the engine.
                    break;
                }

                int consumed;
                if (!firstFlight.IsEmpty)
                {
                    // What a listener read before the handshake started: the first input, read in place; the rest (if
                    // any) joins the connection's buffer.
                    var flight = MemoryMarshal.TryGetArray(firstFlight, out var segment) ? segment : new ArraySegment<byte>(firstFlight.ToArray());
                    instruments.Received(flight.Count, !context.IsClient);
                    (state, consumed, outputs) = Connection.ReceiveHandshake(state, flight);
                    input.Load(flight.AsSpan(consumed));
                    firstFlight = default;
                    continue;
                }

                if (stalled && await input.ReadNowAsync(reader, timeout.Token).ConfigureAwait(false) == 0)
                {
                    // What an end of input means here (which phase, which role, whether a key was pinned) is the core's.
                    (state, outputs) = Connection.Step(state, Input.EndOfInput);
                    continue;
                }

                (state, consumed, outputs) = Connection.ReceiveHandshake(state, input.Segment);
                input.Consume(consumed);
                stalled = true;
            }
        }
        catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or IOException or IHybridProtocolError && timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            input.Release();
            throw stage is { } late ? TimedOutStage(late, context.Peer, e) : TimedOut(options.HandshakeTimeout, context.Peer, e);
        }
        catch (Exception e) when (e is (IOException or SocketException or ObjectDisposedException) and not IHybridProtocolError && !cancellationToken.IsCancellationRequested)
        {
            input.Release();
            throw new HybridProtocolException(HybridErrorCode.TransportFailed, $"The connection to {context.Peer} failed during the handshake: {e.Message}", e);
        }
        catch
        {
            input.Release();
            throw;
        }

        // The timeout may fire just as the handshake completes, and its callback then closes the stream: the
        // handshake counts as timed out (or cancelled), never as a connection over a closed stream.
        if (!registration.Unregister())
        {
            input.Release();
            registration.Dispose(); // waits for the callback to finish closing the stream
            cancellationToken.ThrowIfCancellationRequested();
            throw stage is { } late ? TimedOutStage(late, context.Peer, null) : TimedOut(options.HandshakeTimeout, context.Peer, null);
        }

        try
        {
            var keys = party.Scope ?? throw new InvalidOperationException("The handshake completed without a crypto suite.");
            var traffic = Connection.Traffic(state);
            var engine = traffic.IsOk ? traffic.ResultValue : throw WireErrors.ToException(traffic.ErrorValue, context, inHandshake: false);
            keys.DisposeAllExcept(TrafficModule.Keys(engine.Send, engine.Receive).ToArray());
            var connection = new SecureConnection(stream, keys, engine, context, options, input);
            handedOver = true;
            return connection;
        }
        finally
        {
            if (!handedOver)
            {
                input.Release();
            }
        }
    }

    private static HybridProtocolException TimedOut(TimeSpan timeout, string peer, Exception? inner) =>
        new(HybridErrorCode.HandshakeTimeout, $"The handshake with {peer} did not complete within {timeout.TotalSeconds:0.###} s; the connection was closed. The peer is silent, slow, or not a HybridProtocol endpoint.", inner);

    private static HybridProtocolException TimedOutStage(TimeSpan deadline, string peer, Exception? inner) =>
        new(HybridErrorCode.HandshakeTimeout, $"{char.ToUpperInvariant(peer[0])}{peer[1..]} did not send its next handshake message within {deadline.TotalSeconds:0.###} s (SecureServerOptions.HandshakeMessageTimeout); the connection was closed.", inner);

    private static void RetireKey(KeyScope? scope, IAeadKey key)
    {
        if (scope is null)
        {
            key.Dispose();
        }
        else
        {
            scope.Retire(key);
        }
    }
}
