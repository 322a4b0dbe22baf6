using System.CommandLine;
using System.Globalization;

namespace HybridProtocol.Cli;

/// <summary>
/// <c>hybrid serve</c> and <c>hybrid connect</c>: an encrypted, authenticated pipe between two shells, in the manner of
/// ncat. Each stdin read is sent as one message; an empty message means "no more data from me" (the protocol's close
/// ends both directions, so the end of one direction is said in-band).
/// </summary>
internal static partial class NetCommands
{
    /// <summary>The application protocol of connect, serve and tunnel.</summary>
    internal const string AppProtocol = "hybrid";

    /// <summary>
    /// The application protocol a full server (<c>--max-clients</c>) names while it is full: a client's handshake then
    /// fails with the two names, so every client, of this tool or another implementation, is told why, before it sends
    /// any data. The text is for people; the tool recognizes it (<see cref="IsBusyRefusal"/>).
    /// </summary>
    internal const string BusyProtocol = "hybrid: busy, try again later";

    /// <summary>True for the handshake failure of a client refused by a full server (<see cref="BusyProtocol"/>).</summary>
    internal static bool IsBusyRefusal(Exception e) =>
        e is HybridProtocolException { Code: HybridErrorCode.PeerRefused } && e.Message.Contains(BusyProtocol, StringComparison.Ordinal);

    private const int ChunkSize = 64 * 1024;

    public static Command Connect()
    {
        var address = new Argument<string>("HOST:PORT") { Description = "The server ('[::1]:12345' for IPv6)." };
        var trust = new ClientTrust.Options();
        var flags = new ConnectionFlags();
        var command = new Command(
            "connect",
            "Connect standard input and output to a 'hybrid serve' server. The server's key is checked with --server-key, --pin, "
            + "or else trusted on first use and recorded in the known-hosts file; a changed key is refused (exit 4).")
        {
            address,
        };
        trust.AddTo(command);
        flags.AddTo(command);
        command.SetRun(async (parse, cancellationToken) =>
        {
            var target = HostPort.Parse(parse.GetRequiredValue(address));
            var (clientTrust, identity) = ClientTrust.Create(parse, trust, target);
            using (identity)
            {
                var options = new SecureClientOptions { ClientIdentity = identity };
                flags.Apply(parse, options);
                await using var connection = await clientTrust.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
                ReportProtocol(parse, connection);
                await PipeAsync(connection, $"The server {target}", cancellationToken).ConfigureAwait(false);
                return ExitCode.Success;
            }
        });
        return App.WithExamples(
            command,
            "hybrid connect 127.0.0.1:12345                          # trust on first use (known hosts)",
            "hybrid connect 127.0.0.1:12345 --server-key server.pub  # pinned key",
            "hybrid connect example.com:12345 --pin SHA256:...       # pinned fingerprint",
            "echo hello | hybrid connect 127.0.0.1:12345 --key client.key",
            "hybrid connect 127.0.0.1:12345 --classical --verbose    # X25519 only; prints the protocol name");
    }

    public static Command Serve()
    {
        var key = ServerKeysOption();
        var listen = ListenOption();
        var echo = new Option<bool>("--echo") { Description = "Send each client's data back to it instead of writing it to standard output." };
        var allow = AllowClientsOption();
        var once = new Option<bool>("--once") { Description = "Exit after the first client's connection ends." };
        var flags = new ConnectionFlags();
        var idleOption = Serving.IdleTimeoutOption("a client");
        var maxClients = Serving.MaxClientsOption();
        var perAddress = Serving.MaxClientsPerAddressOption();
        var minRate = Serving.MinRateOption();
        var ready = Serving.ReadyFileOption();
        var forward = new Option<string?>("--to")
        {
            Description = "Forward each client to this plaintext backend (the server end of a tunnel, in front of e.g. redis-server): "
                + "one TCP connection per client, half-closes passed on both ways. Not with --echo.",
            HelpName = "HOST:PORT",
        };
        var proxyFrom = ProxyProtocolFromOption();
        var proxyTo = Tunnel.ProxyProtocolOption();
        var endorsementOption = new Option<string?>("--endorsement")
        {
            Description = "Send this authority endorsement of the server key to clients (from 'hybrid authority sign'); clients started with --authority require one.",
            HelpName = "FILE",
        };
        var command = new Command(
            "serve",
            "Accept encrypted connections and write each client's data to standard output (like 'ncat -l'), or echo it back with --echo. "
            + "Clients are served concurrently (their messages may interleave on stdout); a silent one is dropped after --idle-timeout.")
        {
            key,
            listen,
            echo,
            allow,
            once,
            idleOption,
            maxClients,
            perAddress,
            minRate,
            forward,
            ready,
            proxyFrom,
            proxyTo,
            endorsementOption,
        };
        flags.AddTo(command);
        command.SetRun(async (parse, cancellationToken) =>
        {
            var proxy = ProxyProtocol(parse, proxyFrom);
            var proxyVersion = Tunnel.ProxyVersionOf(parse.GetValue(proxyTo));
            var echoing = parse.GetValue(echo);
            HostPort? backend = parse.GetValue(forward) is { } to ? HostPort.Parse(to) : null;
            if (echoing && backend is not null)
            {
                throw new CliException(ExitCode.Usage, "Give either --echo or --to, not both.");
            }

            if (proxyVersion is not null && backend is null)
            {
                throw new CliException(ExitCode.Usage, "--proxy-protocol writes a header toward a backend: it needs --to HOST:PORT.");
            }

            var keyFiles = parse.GetValue(key) ?? [];
            if (keyFiles.Length is 0 or > MaxServerKeys)
            {
                throw new CliException(ExitCode.Usage, $"Give 1 to {MaxServerKeys} --key options (the first is the current key, the others are announced to clients); {keyFiles.Length} were given.");
            }

            using var serverKeys = new KeyList();
            foreach (var file in keyFiles)
            {
                serverKeys.Add(Keys.LoadConnectionKey(file));
            }

            if (serverKeys.Select(k => k.PublicKey).Distinct().Count() != serverKeys.Count)
            {
                throw new CliException(ExitCode.Usage, "The same server key is given twice with --key; give each key once.");
            }

            var serverKey = serverKeys[0];
            var options = ServerOptions(serverKey, parse.GetValue(allow));
            options.ServerKeys = serverKeys;
            if (parse.GetValue(endorsementOption) is { } endorsementFile)
            {
                options.Endorsement = ServerEndorsement.Load(endorsementFile);
                if (options.Endorsement.ServerKey != serverKey.PublicKey)
                {
                    throw new CliException(ExitCode.KeyOrFile, $"'{endorsementFile}' endorses {options.Endorsement.ServerKey.Fingerprint}, not this server's key {serverKey.PublicKey.Fingerprint}: endorse the server's key (hybrid authority sign).");
                }
            }

            flags.Apply(parse, options);
            var onlyOne = parse.GetValue(once);
            var idle = Serving.IdleTimeout(parse, idleOption);
            var limit = Serving.MaxClients(parse, maxClients);
            var limitPerAddress = Serving.MaxClientsPerAddress(parse, perAddress, limit);
            var rate = Serving.MinRate(parse, minRate);
            options.IdleTimeout = idle; // the one idle rule: the connection's own, closing with Close (IdleTimeout)
            if (backend is not null)
            {
                options.MaxMessageSize = Tunnel.MaxMessage;
            }
            else if (echoing)
            {
                // Echo holds one message per client: announcing a small largest message bounds its memory (clients
                // split larger data, cli/README.md "serve --echo").
                options.MaxMessageSize = EchoMaxMessage;
            }

            await using var stdout = Streams.StandardOutput();
            using var stdoutLock = new SemaphoreSlim(1, 1);
            await using var listener = StartListener(
                parse.GetRequiredValue(listen),
                options,
                echoing ? "echo" : backend is { } b ? $"forward to {b}" : "relay to stdout",
                proxy);
            Serving.WriteReady(parse, ready, listener.LocalEndPoint);
            return await Serving.ServeAsync(
                listener,
                limit,
                limitPerAddress,
                async (connection, token) =>
                {
                    Console.Error.WriteLine(proxy is null
                        ? $"hybrid: client connected ({Describe(connection.RemotePublicKey)})."
                        : $"hybrid: client {connection.RemoteEndPoint} connected through {connection.ProxyEndPoint?.ToString() ?? "no proxy header"} ({Describe(connection.RemotePublicKey)}).");
                    ReportProtocol(parse, connection);
                    try
                    {
                        if (backend is { } to)
                        {
                            await Tunnel.ForwardAsync(connection, to, proxyVersion, token).ConfigureAwait(false);
                            Console.Error.WriteLine("hybrid: client disconnected.");
                            return onlyOne ? new Outcome(ExitCode.Success) : null;
                        }

                        if (echoing)
                        {
                            await EchoAsync(connection, idle, new Serving.Pace(idle, rate), token).ConfigureAwait(false);
                        }
                        else
                        {
                            await RelayAsync(connection, stdout, stdoutLock, idle, new Serving.Pace(idle, rate), token).ConfigureAwait(false);
                        }

                        await connection.CloseAsync(token).ConfigureAwait(false);
                        Console.Error.WriteLine("hybrid: client disconnected.");
                        return onlyOne ? new Outcome(ExitCode.Success) : null;
                    }
                    catch (CliException e) when (e.Code == ExitCode.OutputClosed)
                    {
                        return new Outcome(e.Code, e); // nobody reads what clients send any more
                    }
                    catch (Exception e) when (onlyOne && e is IHybridProtocolError or CliException or IOException)
                    {
                        return new Outcome(ExitCodes.For(e), e);
                    }
                },
                null,
                cancellationToken,
                busy => options.ApplicationProtocol = busy ? BusyProtocol : AppProtocol).ConfigureAwait(false);
        });
        return App.WithExamples(
            command,
            "hybrid serve --key server.key --listen 127.0.0.1:12345 --once > received.txt",
            "hybrid serve --key server.key --listen 0.0.0.0:12345 --echo",
            "hybrid serve --key server.key --listen 127.0.0.1:12345 --allow-clients clients.pub",
            "hybrid serve --key server.key --listen 127.0.0.1:0      # a free port, printed on stderr",
            "hybrid serve --key server.key --listen 0.0.0.0:12345 --proxy-protocol-from 10.0.0.0/8   # behind HAProxy send-proxy-v2");
    }

    private static string Describe(PublicKey? client) => client is null ? "anonymous" : "key " + client.Fingerprint;

    /// <summary>
    /// stdin to the peer and the peer to stdout. Success only when every byte of stdin and then this end's end-of-data
    /// were sent, and the peer's close came after them: the peer's close arriving first (a server that ends before
    /// taking all the input) is a refusal (exit 7) that says how much was sent; the peer's end-of-data first (it has no
    /// more to say but may still read) lets the input finish, then this end closes and waits for the peer's close.
    /// Each message is at most the peer's announced limit.
    /// </summary>
    internal static async Task PipeAsync(SecureConnection connection, string peer, CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        long sent = 0;
        var endSending = 0; // 1 once every input byte was sent and the end-of-data is being sent
        var send = Task.Run(
            async () =>
            {
                await using var stdin = Console.OpenStandardInput();
                var buffer = new byte[Math.Min(ChunkSize, Math.Max(1, connection.RemoteMaxMessageSize))];
                int read;
                while ((read = await stdin.ReadAsync(buffer, stop.Token).ConfigureAwait(false)) > 0)
                {
                    await connection.SendAsync(buffer.AsMemory(0, read), stop.Token).ConfigureAwait(false);
                    Interlocked.Add(ref sent, read);
                }

                Volatile.Write(ref endSending, 1);
                await connection.SendAsync(ReadOnlyMemory<byte>.Empty, stop.Token).ConfigureAwait(false);
            },
            stop.Token);
        var peerDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var receive = Task.Run(
            async () =>
            {
                // Until the peer's close, even after its end-of-data: that close must come after all of our input.
                await using var stdout = Streams.StandardOutput();
                while (await connection.ReceiveAsync(cancellationToken).ConfigureAwait(false) is { } message)
                {
                    if (message.Length == 0)
                    {
                        peerDone.TrySetResult(); // the peer's end-of-data: it may still read ours
                    }
                    else
                    {
                        await stdout.WriteAsync(message, cancellationToken).ConfigureAwait(false);
                    }
                }
            },
            cancellationToken);

        if (await Task.WhenAny(send, receive).ConfigureAwait(false) == send)
        {
            if (send.IsFaulted)
            {
                // stdin could not be read, or the connection failed while sending: that failure is the one to report
                // unless the peer's close explains it (checked below).
                await Task.WhenAny(receive, Task.Delay(TimeSpan.FromMilliseconds(200), CancellationToken.None)).ConfigureAwait(false);
                if (!receive.IsCompleted)
                {
                    await send.ConfigureAwait(false);
                }
            }
            else
            {
                // All input and our end-of-data are sent. A peer that said it has no more data may wait for our close;
                // either way, success is the peer's close arriving now.
                if (await Task.WhenAny(receive, peerDone.Task).ConfigureAwait(false) != receive)
                {
                    await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
                }

                if (await Task.WhenAny(receive, Task.Delay(TimeSpan.FromSeconds(10), cancellationToken)).ConfigureAwait(false) != receive)
                {
                    throw new CliException(
                        ExitCode.Network,
                        $"All input was sent to {peer}, but its close did not arrive within 10 s, so its receipt is not confirmed.");
                }

                await receive.ConfigureAwait(false);
                return;
            }
        }

        await receive.ConfigureAwait(false);

        // The peer's close: the input counts as delivered only if it was all sent before.
        if (Volatile.Read(ref endSending) == 1)
        {
            try
            {
                await send.ConfigureAwait(false);
                return;
            }
            catch (Exception e) when (e is IHybridProtocolError or IOException or OperationCanceledException)
            {
                // the end-of-data crossed the peer's close
            }
        }

        await stop.CancelAsync().ConfigureAwait(false);
        _ = send.ContinueWith(static t => t.Exception, TaskScheduler.Default); // stdin may stay blocked; the process ends
        throw new CliException(
            ExitCode.Refused,
            string.Create(
                CultureInfo.InvariantCulture,
                $"{peer} closed the connection before all of the input was sent ({Interlocked.Read(ref sent)} bytes were sent; the rest was not delivered)."));
    }

    /// <summary>
    /// Writes a client's messages to stdout until its end-of-data message or its close; each message is written whole
    /// under <paramref name="stdoutLock"/>, so concurrent clients interleave by message, never inside one. The client's
    /// data must keep <paramref name="pace"/> (<c>--min-rate</c> after <c>--idle-timeout</c>, as for <c>receive</c>).
    /// </summary>
    private static async Task RelayAsync(SecureConnection connection, Stream stdout, SemaphoreSlim stdoutLock, TimeSpan idle, Serving.Pace pace, CancellationToken cancellationToken)
    {
        while (await Serving.ReceiveAtPaceAsync(connection, idle, pace, null, "The client", cancellationToken).ConfigureAwait(false) is { Length: > 0 } message)
        {
            pace.Received += message.Length;
            await stdoutLock.WaitAsync(cancellationToken).ConfigureAwait(false);
            try
            {
                await stdout.WriteAsync(message, cancellationToken).ConfigureAwait(false);
                await stdout.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                stdoutLock.Release();
            }
        }
    }

    /// <summary>
    /// The largest message <c>serve --echo</c> announces (64 KiB): a client costs at most one such message received and
    /// one being sent back, plus the connection's own buffers, whatever it sends.
    /// </summary>
    internal const int EchoMaxMessage = 64 * 1024;

    /// <summary>Sends each message back until the peer's end-of-data message or its close; the client's data must keep <paramref name="pace"/>.</summary>
    private static async Task EchoAsync(SecureConnection connection, TimeSpan idle, Serving.Pace pace, CancellationToken cancellationToken)
    {
        while (await Serving.ReceiveAtPaceAsync(connection, idle, pace, null, "The client", cancellationToken).ConfigureAwait(false) is { Length: > 0 } message)
        {
            pace.Received += message.Length;
            await Serving.SendAsync(connection, message, idle, "The client", cancellationToken).ConfigureAwait(false);
        }
    }
}
