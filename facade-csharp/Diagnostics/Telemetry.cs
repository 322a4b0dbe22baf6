using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.Extensions.Logging;

namespace HybridProtocol.Diagnostics;

/// <summary>
/// The instruments, the activity source and the log messages (<see cref="HybridProtocolDiagnostics"/> documents the
/// names). Every entry point is cheap when nobody listens: instruments check <c>Enabled</c>, logs check the level.
/// </summary>
internal static class Telemetry
{
    private static readonly string? Version = typeof(Telemetry).Assembly.GetName().Version?.ToString();

    internal static readonly ActivitySource Source = new(HybridProtocolDiagnostics.ActivitySourceName, Version);

    private static readonly KeyValuePair<string, object?> Transmit = new("network.io.direction", "transmit");
    private static readonly KeyValuePair<string, object?> Receive = new("network.io.direction", "receive");

    /// <summary>
    /// The instruments of one <see cref="Meter"/>: the static one (<see cref="Default"/>), or one made by the
    /// <see cref="IMeterFactory"/> the options name (<see cref="SecureConnectionOptions.MeterFactory"/>; ASP.NET Core's
    /// AddHybridProtocol sets it from DI), made once per factory.
    /// </summary>
    internal sealed class Instruments
    {
        internal static readonly Instruments Default = new(new Meter(HybridProtocolDiagnostics.MeterName, Version));

        private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<IMeterFactory, Instruments> ByFactory = new();

        internal readonly Histogram<double> HandshakeDuration;
        internal readonly Counter<long> Handshakes;
        internal readonly UpDownCounter<long> ActiveHandshakes;
        internal readonly UpDownCounter<long> ActiveConnections;
        internal readonly Counter<long> Io;
        internal readonly Counter<long> KeyUpdates;

        private Instruments(Meter meter)
        {
            Meter = meter;
            HandshakeDuration = meter.CreateHistogram(
                "hybridprotocol.handshake.duration",
                "s",
                "How long handshakes take, from the first byte to the last.",
                tags: null,
                advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10] });
            Handshakes = meter.CreateCounter<long>("hybridprotocol.handshakes", "{handshake}", "Handshakes that ended, by result and error code.");
            ActiveHandshakes = meter.CreateUpDownCounter<long>("hybridprotocol.active_handshakes", "{handshake}", "Handshakes in progress, by role.");
            ActiveConnections = meter.CreateUpDownCounter<long>("hybridprotocol.active_connections", "{connection}", "Connections whose handshake completed and that are not disposed yet, by role.");
            Io = meter.CreateCounter<long>("hybridprotocol.io", "By", "Bytes sent and received on the wire (handshake and records), by direction and role.");
            KeyUpdates = meter.CreateCounter<long>("hybridprotocol.key_updates", "{key_update}", "Switches to a new key (Noise Rekey), by direction and role.");
        }

        /// <summary>The meter the instruments belong to.</summary>
        internal Meter Meter { get; }

        /// <summary>The instruments for a factory (null: the static meter).</summary>
        internal static Instruments For(IMeterFactory? factory) => factory is null
            ? Default
            : ByFactory.GetValue(factory, f => new Instruments(f.Create(new MeterOptions(HybridProtocolDiagnostics.MeterName) { Version = Version })));

        internal void Sent(int bytes, bool isServer)
        {
            if (Io.Enabled && bytes > 0)
            {
                Io.Add(bytes, Transmit, Role(isServer));
            }
        }

        internal void Received(int bytes, bool isServer)
        {
            if (Io.Enabled && bytes > 0)
            {
                Io.Add(bytes, Receive, Role(isServer));
            }
        }
    }

    /// <summary>The <c>hybridprotocol.role</c> tag.</summary>
    internal static KeyValuePair<string, object?> Role(bool isServer) => new("hybridprotocol.role", isServer ? "server" : "client");

    private static readonly Action<ILogger, string, Exception?> LogAccepted = LoggerMessage.Define<string>(
        LogLevel.Debug, HybridProtocolEvents.ConnectionAccepted, "Connection from {RemoteEndPoint} accepted; handshake starting.");

    private static readonly Action<ILogger, string, string, string, string, double, Exception?> LogCompleted = LoggerMessage.Define<string, string, string, string, double>(
        LogLevel.Debug, HybridProtocolEvents.HandshakeCompleted, "Handshake with {Peer} completed: {ProtocolName}, application protocol '{ApplicationProtocol}', peer key {PeerKeyFingerprint}, in {ElapsedMilliseconds:0.###} ms.");

    private static readonly Action<ILogger, string, HybridErrorCode, double, Exception?> LogFailed = LoggerMessage.Define<string, HybridErrorCode, double>(
        LogLevel.Debug, HybridProtocolEvents.HandshakeFailed, "Handshake with {Peer} failed with {ErrorCode} after {ElapsedMilliseconds:0.###} ms.");

    private static readonly Action<ILogger, string, string, Exception?> LogRefused = LoggerMessage.Define<string, string>(
        LogLevel.Debug, HybridProtocolEvents.ConnectionRefused, "Connection from {RemoteEndPoint} refused: {Reason}.");

    private static readonly Action<ILogger, string, string, Exception?> LogClosed = LoggerMessage.Define<string, string>(
        LogLevel.Debug, HybridProtocolEvents.ConnectionClosed, "Connection with {Peer} ended: {Reason}.");

    private static readonly Action<ILogger, string, string, Exception?> LogKeyUpdated = LoggerMessage.Define<string, string>(
        LogLevel.Debug, HybridProtocolEvents.KeyUpdated, "Connection with {Peer} switched to a new {Direction} key.");

    internal static readonly Action<ILogger, int, double, string, Exception?> LogSummary = LoggerMessage.Define<int, double, string>(
        LogLevel.Information, HybridProtocolEvents.HandshakeFailuresSummary, "{Count} handshake(s) failed or were refused in the last {Seconds:0.#} s ({ErrorCodes}); each one is logged at Debug (event 3 or 5).");

    internal static void Accepted(ILogger? logger, object? remote)
    {
        if (logger?.IsEnabled(LogLevel.Debug) == true)
        {
            LogAccepted(logger, remote?.ToString() ?? "(unknown)", null);
        }
    }

    internal static void Refused(ILogger? logger, object? remote, string reason)
    {
        if (logger?.IsEnabled(LogLevel.Debug) == true)
        {
            LogRefused(logger, remote?.ToString() ?? "(unknown)", reason, null);
        }
    }

    /// <summary>A connection ended: the gauge goes down, and the reason is logged.</summary>
    internal static void ConnectionClosed(Instruments instruments, bool isServer, ILogger? logger, string peer, string reason)
    {
        instruments.ActiveConnections.Add(-1, Role(isServer));
        if (logger?.IsEnabled(LogLevel.Debug) == true)
        {
            LogClosed(logger, peer, reason, null);
        }
    }

    internal static void KeyUpdated(Instruments instruments, bool isServer, ILogger? logger, string peer, bool sending)
    {
        if (instruments.KeyUpdates.Enabled)
        {
            instruments.KeyUpdates.Add(1, sending ? Transmit : Receive, Role(isServer));
        }

        if (logger?.IsEnabled(LogLevel.Debug) == true)
        {
            LogKeyUpdated(logger, peer, sending ? "sending" : "receiving", null);
        }
    }

    /// <summary>Starts measuring one handshake: call <see cref="HandshakeScope.Completed"/> or <see cref="HandshakeScope.Failed"/> once.</summary>
    internal static HandshakeScope StartHandshake(Instruments instruments, bool isServer, string? requestedProtocol, string peer, PeerAddresses addresses, ILogger? logger) =>
        new(instruments, isServer, requestedProtocol, peer, addresses, logger);

    /// <summary>One handshake's measurement: the duration, the activity, the result.</summary>
    internal sealed class HandshakeScope
    {
        private readonly long started = Stopwatch.GetTimestamp();
        private readonly string role;
        private readonly string? requestedProtocol;
        private readonly string peer;
        private readonly ILogger? logger;
        private readonly Activity? activity;
        private readonly Instruments instruments;
        private readonly bool isServer;

        internal HandshakeScope(Instruments instruments, bool isServer, string? requestedProtocol, string peer, PeerAddresses addresses, ILogger? logger)
        {
            this.instruments = instruments;
            this.isServer = isServer;
            role = isServer ? "server" : "client";
            this.requestedProtocol = requestedProtocol;
            this.peer = peer;
            this.logger = logger;
            instruments.ActiveHandshakes.Add(1, Role(isServer));
            activity = Source.StartActivity(HybridProtocolDiagnostics.HandshakeActivityName, isServer ? ActivityKind.Server : ActivityKind.Client);
            if (activity is { IsAllDataRequested: true })
            {
                activity.SetTag("hybridprotocol.role", role);
                addresses.Tag(activity);
                if (requestedProtocol is not null)
                {
                    activity.SetTag("hybridprotocol.protocol.name", requestedProtocol);
                }
            }
        }

        internal void Completed(SecureConnection connection, ILogger? connectionLogger)
        {
            connection.Logger = connectionLogger;
            instruments.ActiveConnections.Add(1, Role(isServer));
            var elapsed = Stopwatch.GetElapsedTime(started);
            var tags = new TagList
            {
                { "hybridprotocol.role", role },
                { "hybridprotocol.protocol.name", connection.ProtocolName },
                { "hybridprotocol.handshake.result", "success" },
            };
            End(elapsed, tags);
            var logged = logger?.IsEnabled(LogLevel.Debug) == true;

            // Only an activity or a log shows the peer's key: its fingerprint is computed for them only.
            var fingerprint = activity is not null || logged ? connection.RemotePublicKey?.Fingerprint ?? "(none)" : null;
            if (activity is not null)
            {
                activity.SetTag("hybridprotocol.protocol.name", connection.ProtocolName);
                activity.SetTag("hybridprotocol.application_protocol", connection.ApplicationProtocol);
                activity.SetTag("hybridprotocol.peer_key.fingerprint", fingerprint);
                activity.SetStatus(ActivityStatusCode.Ok);
                activity.Dispose();
            }

            if (logged)
            {
                LogCompleted(logger!, peer, connection.ProtocolName, connection.ApplicationProtocol, fingerprint!, elapsed.TotalMilliseconds, null);
            }
        }

        internal void Failed(Exception exception)
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            var code = ErrorType(exception);
            var tags = new TagList
            {
                { "hybridprotocol.role", role },
                { "hybridprotocol.handshake.result", "failure" },
                { "error.type", code },
            };
            if (requestedProtocol is not null)
            {
                tags.Add("hybridprotocol.protocol.name", requestedProtocol);
            }

            End(elapsed, tags);
            if (activity is not null)
            {
                activity.SetTag("error.type", code);
                activity.SetStatus(ActivityStatusCode.Error, code);
                activity.Dispose();
            }

            if (logger?.IsEnabled(LogLevel.Debug) == true)
            {
                LogFailed(logger, peer, (exception as IHybridProtocolError)?.Code ?? default, elapsed.TotalMilliseconds, exception);
            }
        }

        private void End(TimeSpan elapsed, in TagList tags)
        {
            instruments.ActiveHandshakes.Add(-1, Role(isServer));
            instruments.HandshakeDuration.Record(elapsed.TotalSeconds, tags);
            instruments.Handshakes.Add(1, tags);
        }
    }

    /// <summary>The <c>error.type</c> value: the error code's name, or the exception type for other failures (cancellation).</summary>
    internal static string ErrorType(Exception exception) => exception switch
    {
        IHybridProtocolError h => h.Code.ToString(),
        OperationCanceledException => "Canceled",
        _ => exception.GetType().Name,
    };
}

/// <summary>
/// The addresses of one connection as OpenTelemetry's semantic conventions name them (server.address, server.port,
/// client.address, client.port, network.peer.address, network.peer.port). A client knows the server as it was asked
/// for (<paramref name="ServerHost"/>, e.g. a host name) and the address its socket reached; a server knows its own
/// address, the client's (from a PROXY header when a balancer sent one) and the socket's peer (the balancer then).
/// </summary>
internal readonly record struct PeerAddresses(bool IsServer, string? ServerHost, int ServerPort, EndPoint? Remote, EndPoint? Local, EndPoint? Balancer)
{
    internal void Tag(Activity activity)
    {
        var remote = Remote as IPEndPoint;
        var local = Local as IPEndPoint;
        var peer = (Balancer ?? Remote) as IPEndPoint;
        if (IsServer)
        {
            if (local is not null)
            {
                activity.SetTag("server.address", local.Address.ToString());
                activity.SetTag("server.port", local.Port);
            }

            if (remote is not null)
            {
                activity.SetTag("client.address", remote.Address.ToString());
                activity.SetTag("client.port", remote.Port);
            }
        }
        else
        {
            if (ServerHost is not null)
            {
                activity.SetTag("server.address", ServerHost);
                activity.SetTag("server.port", ServerPort);
            }
            else if (remote is not null)
            {
                activity.SetTag("server.address", remote.Address.ToString());
                activity.SetTag("server.port", remote.Port);
            }
        }

        if (peer is not null)
        {
            activity.SetTag("network.peer.address", peer.Address.ToString());
            activity.SetTag("network.peer.port", peer.Port);
            activity.SetTag("network.transport", "tcp");
            activity.SetTag("network.type", peer.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? "ipv6" : "ipv4");
        }
    }
}

/// <summary>
/// Aggregates failed and refused handshakes into at most one Information line per interval, so a flood of bad
/// clients yields a count, not a line each (each one is also logged at Debug where it happens). The first failure
/// after a quiet interval is reported at once.
/// </summary>
internal sealed class FailureSummary(ILogger? logger, TimeSpan interval)
{
    private readonly Lock gate = new();
    private readonly SortedDictionary<string, int> counts = new(StringComparer.Ordinal);
    private long windowStart;
    private long windowEnd;
    private int total;

    internal void Record(string errorType)
    {
        if (logger?.IsEnabled(LogLevel.Information) != true)
        {
            return;
        }

        lock (gate)
        {
            counts[errorType] = counts.GetValueOrDefault(errorType) + 1;
            total++;
            var now = Stopwatch.GetTimestamp();
            if (now >= windowEnd)
            {
                Emit(now);
                windowEnd = now + (long)(interval.TotalSeconds * Stopwatch.Frequency);
            }
        }
    }

    /// <summary>Logs what was counted since the last line (when the listener or endpoint stops).</summary>
    internal void Flush()
    {
        lock (gate)
        {
            if (total > 0)
            {
                Emit(Stopwatch.GetTimestamp());
            }
        }
    }

    private void Emit(long now)
    {
        var seconds = windowStart == 0 ? 0 : (now - windowStart) / (double)Stopwatch.Frequency;
        Telemetry.LogSummary(logger!, total, seconds, string.Join(", ", counts.Select(kv => $"{kv.Key} {kv.Value}")), null);
        counts.Clear();
        total = 0;
        windowStart = now;
    }
}
