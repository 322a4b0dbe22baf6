using System.CommandLine;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using HybridProtocol.Core.Formats;
using Microsoft.FSharp.Collections;

namespace HybridProtocol.Cli;

/// <summary>
/// The tunnel, in the shape of stunnel, ghostunnel and spiped: <c>hybrid tunnel</c> listens on a local plaintext port
/// and carries each TCP connection over its own HybridProtocol connection to a server; <c>hybrid serve --to HOST:PORT</c>
/// terminates HybridProtocol and opens a plaintext connection to a backend for each client. Both ends speak the
/// application protocol "hybrid" (so <c>hybrid connect</c> reaches a backend too): the bytes of the stream as messages
/// (each at most the peer's limit), a TCP half-close as the empty message (end of data), and once both directions
/// have ended, the close.
/// </summary>
internal static class Tunnel
{
    /// <summary>The largest message each tunnel end accepts: bounds its buffers (64 KiB per direction per connection).</summary>
    public const int MaxMessage = 64 * 1024;

    /// <summary>How long opening a plaintext connection (to a backend) may take.</summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    public static Command Command()
    {
        var listen = new Option<string>("--listen")
        {
            Description = "The local plaintext address and port to accept connections on: 127.0.0.1:6380; port 0 picks a free port.",
            Required = true,
            HelpName = "ADDR:PORT",
        };
        var to = new Option<string>("--to")
        {
            Description = "The HybridProtocol server to carry each connection to ('hybrid serve --to BACKEND' there).",
            Required = true,
            HelpName = "HOST:PORT",
        };
        var trust = new ClientTrust.Options();
        var flags = new ConnectionFlags();
        var idleOption = Serving.IdleTimeoutOption("either end");
        var maxClients = Serving.MaxClientsOption();
        var ready = Serving.ReadyFileOption();
        var command = new Command(
            "tunnel",
            "Listen on a local plaintext port and carry each connection, encrypted and authenticated, to a 'hybrid serve --to BACKEND' server "
            + "(like stunnel or spiped). The server's key is checked as 'connect' checks it.")
        {
            listen,
            to,
            idleOption,
            maxClients,
            ready,
        };
        trust.AddTo(command);
        flags.AddTo(command);
        command.SetRun(async (parse, cancellationToken) =>
        {
            var target = HostPort.Parse(parse.GetRequiredValue(to));
            var idle = Serving.IdleTimeout(parse, idleOption);
            var limit = Serving.MaxClients(parse, maxClients);
            // Check the trust options once at start (usage and key errors end the command here).
            var (_, firstIdentity) = ClientTrust.Create(parse, trust, target);
            firstIdentity?.Dispose();
            var endPoint = HostPort.Parse(parse.GetRequiredValue(listen), allowPortZero: true).ToListenEndPoint();
            using var socket = new Socket(endPoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                socket.Bind(endPoint);
                socket.Listen(512);
            }
            catch (SocketException e)
            {
                throw new CliException(ExitCode.Network, $"Cannot listen on {endPoint}: {e.Message}.", e);
            }

            var local = (IPEndPoint)socket.LocalEndPoint!;
            Console.Error.WriteLine($"hybrid: listening on {local} (tunnel to {target})");
            Serving.WriteReady(parse, ready, local);
            using var failed = new LogSummary("a tunnelled connection failed", "tunnelled connections failed");
            using var busy = new LogSummary("a connection was refused: --max-clients are open", "connections were refused: --max-clients are open");
            var active = 0;
            var running = new List<Task>();
            try
            {
                while (true)
                {
                    var client = await socket.AcceptAsync(cancellationToken).ConfigureAwait(false);
                    if (Interlocked.Increment(ref active) > limit)
                    {
                        Interlocked.Decrement(ref active);
                        busy.Record();
                        client.Dispose();
                        continue;
                    }

                    running.RemoveAll(t => t.IsCompleted);
                    running.Add(Task.Run(
                        async () =>
                        {
                            try
                            {
                                await CarryAsync(parse, trust, flags, target, idle, client, cancellationToken).ConfigureAwait(false);
                            }
                            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                            {
                                failed.Record($"a tunnelled connection failed: {Printable.Escape(App.Message(e))}", ExitCodes.For(e).ToString());
                            }
                            catch (Exception)
                            {
                                // the command is ending
                            }
                            finally
                            {
                                Interlocked.Decrement(ref active);
                            }
                        },
                        CancellationToken.None));
                }
            }
            finally
            {
                await Task.WhenAll(running).ConfigureAwait(false);
            }
        });
        return App.WithExamples(
            command,
            "hybrid tunnel --listen 127.0.0.1:6380 --to db.example.com:7000 --server-key server.pub   # redis-cli -p 6380",
            "hybrid tunnel --listen 127.0.0.1:5433 --to 10.0.0.5:7001 --pin SHA256:... --key client.key");
    }

    /// <summary>One plaintext connection of the client end: connect to the server, then splice.</summary>
    private static async Task CarryAsync(
        ParseResult parse, ClientTrust.Options trust, ConnectionFlags flags, HostPort target, TimeSpan idle, Socket client, CancellationToken cancellationToken)
    {
        using (client)
        {
            var (clientTrust, identity) = ClientTrust.Create(parse, trust, target);
            using (identity)
            {
                var options = new SecureClientOptions { ClientIdentity = identity, MaxMessageSize = MaxMessage, IdleTimeout = idle };
                flags.Apply(parse, options);
                await using var connection = await clientTrust.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
                NetCommands.ReportProtocol(parse, connection);
                await SpliceAsync(connection, client, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// The server end (<c>serve --to</c>) for one authenticated client: opens the backend connection and splices. A
    /// backend that cannot be reached ends the client's connection with the close (it learns nothing more).
    /// </summary>
    public static async Task ForwardAsync(SecureConnection connection, HostPort backend, ProxyVersion? proxy, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        using (socket)
        {
            using (var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                timer.CancelAfter(ConnectTimeout);
                try
                {
                    await socket.ConnectAsync(backend.Host, backend.Port!.Value, timer.Token).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
                {
                    await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
                    throw new CliException(
                        ExitCode.Network,
                        string.Create(CultureInfo.InvariantCulture, $"the backend {backend} could not be reached ({(e is SocketException s ? s.Message : "no answer within 10 s")}); the client's connection was closed."),
                        e);
                }
            }

            if (proxy is not null)
            {
                await socket.SendAsync(ProxyHeaderFor(connection, proxy), SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }

            await SpliceAsync(connection, socket, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>The --proxy-protocol option of <c>serve --to</c>.</summary>
    public static Option<string?> ProxyProtocolOption() => new("--proxy-protocol")
    {
        Description = "With --to: start each backend connection with a PROXY protocol header (v1 or v2, as HAProxy's send-proxy/send-proxy-v2), "
            + "so the backend sees the client's address and port.",
        HelpName = "v1|v2",
    };

    /// <summary>The PROXY protocol version --proxy-protocol names, or null when not given (a usage error for anything but v1 and v2).</summary>
    public static ProxyVersion? ProxyVersionOf(string? text) => text switch
    {
        null => null,
        "v1" or "1" => ProxyVersion.Version1,
        "v2" or "2" => ProxyVersion.Version2,
        _ => throw new CliException(ExitCode.Usage, $"--proxy-protocol takes v1 or v2, not '{text}'."),
    };

    /// <summary>
    /// The PROXY header (core codec, HAProxy proxy-protocol.txt) naming the client (source) and this server's address
    /// (destination); an IPv4 and an IPv6 address together are both written as IPv6; without both addresses, LOCAL.
    /// </summary>
    private static byte[] ProxyHeaderFor(SecureConnection connection, ProxyVersion version)
    {
        var command = ProxyCommand.Local;
        if (connection.RemoteEndPoint is IPEndPoint source && connection.LocalEndPoint is IPEndPoint destination)
        {
            var (s, d) = source.AddressFamily == destination.AddressFamily
                ? (source.Address, destination.Address)
                : (source.Address.MapToIPv6(), destination.Address.MapToIPv6());
            command = ProxyCommand.NewProxy(ProxyAddresses.NewIp(
                ProxyTransport.Stream,
                new ProxyEndPoint(s, (ushort)source.Port),
                new ProxyEndPoint(d, (ushort)destination.Port)));
        }

        var encoded = ProxyProtocol.encode(new ProxyHeader(version, command, FSharpList<ProxyTlv>.Empty));
        return encoded.IsOk
            ? encoded.ResultValue
            : ProxyProtocol.encode(new ProxyHeader(version, ProxyCommand.Local, FSharpList<ProxyTlv>.Empty)).ResultValue;
    }

    /// <summary>
    /// Carries bytes both ways between a plaintext socket and a secure connection until both directions have ended:
    /// the socket's end of data (FIN) becomes the empty message, the peer's empty message a shutdown of the socket's
    /// sending side; then the close. The peer's close before its end of data, a reset, a failure or the idle timeout
    /// (the connection's own, <see cref="SecureConnectionOptions.IdleTimeout"/>) ends both at once.
    /// </summary>
    public static async Task SpliceAsync(SecureConnection connection, Socket plain, CancellationToken cancellationToken)
    {
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var up = Task.Run(
            async () =>
            {
                var buffer = new byte[Math.Min(MaxMessage, Math.Max(1, connection.RemoteMaxMessageSize))];
                int n;
                while ((n = await plain.ReceiveAsync(buffer, SocketFlags.None, failed.Token).ConfigureAwait(false)) > 0)
                {
                    await connection.SendAsync(buffer.AsMemory(0, n), failed.Token).ConfigureAwait(false);
                }

                await connection.SendAsync(ReadOnlyMemory<byte>.Empty, failed.Token).ConfigureAwait(false);
            },
            CancellationToken.None);
        var down = Task.Run(
            async () =>
            {
                var buffer = new byte[connection.LocalMaxMessageSize];
                int n;
                while ((n = await connection.ReceiveAsync(buffer, failed.Token).ConfigureAwait(false)) > 0)
                {
                    await plain.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, failed.Token).ConfigureAwait(false);
                }

                if (n == 0)
                {
                    plain.Shutdown(SocketShutdown.Send); // the peer's end of data: half-close, the other way goes on
                    return true;
                }

                return false; // the peer's close came before its end of data: nothing more either way
            },
            CancellationToken.None);

        try
        {
            var first = await Task.WhenAny(up, down).ConfigureAwait(false);
            await first.ConfigureAwait(false); // a failure ends both (below)
            if (first == down && !down.Result)
            {
                await failed.CancelAsync().ConfigureAwait(false);
                return;
            }

            await Task.WhenAll(up, down).ConfigureAwait(false);
            if (!down.Result)
            {
                return;
            }

            // Both ends of data have crossed: close (both ends do; the closes cross).
            await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception)
        {
            await failed.CancelAsync().ConfigureAwait(false);
            plain.Close(0); // a reset toward the plaintext side: it must not take a cut-off stream for a complete one
            throw;
        }
    }
}
