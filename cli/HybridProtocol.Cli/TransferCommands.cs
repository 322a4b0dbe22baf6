using System.CommandLine;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace HybridProtocol.Cli;

/// <summary>
/// <c>hybrid send</c> and <c>hybrid receive</c>: one file over an encrypted connection, verified end to end and
/// acknowledged only once stored.
/// </summary>
/// <remarks>
/// The exchange, as messages of a connection whose application protocol is <see cref="Protocol"/>:
/// <code>
/// sender   -> receiver : header  {"name": "report.pdf", "size": 1234}   (JSON, UTF-8, exactly these two fields)
/// receiver -> sender   : "ready"  |  "refused: CODE: TEXT"
/// sender   -> receiver : data messages, exactly "size" bytes in all
/// sender   -> receiver : SHA-256 of the data (32 bytes)
/// receiver -> sender   : "ok"  |  "mismatch"  |  "failed: CODE: TEXT"
/// </code>
/// "ok" is sent only after the file is written, flushed to disk (fsync) and renamed into place. "failed" may also come
/// early, while data still arrives (the disk filled up): the receiver then reads and discards the rest, and the sender
/// stops sending. The codes (<see cref="Reason"/>) and texts say nothing about the receiver's file system (no path, no
/// names that exist there). Each message is already authenticated by the connection; the hash checks the whole path
/// from the sender's file to the receiver's file (reading, writing, and the tool itself).
/// </remarks>
internal static class TransferCommands
{
    /// <summary>The application protocol of a file transfer: a 'hybrid connect' to a 'hybrid receive' is refused (exit 7).</summary>
    public const string Protocol = "hybrid-file/1";

    private const int ChunkSize = 64 * 1024;

    /// <summary>The longest file name accepted, in UTF-8 bytes (the usual file-system limit).</summary>
    private const int MaxNameBytes = 255;

    private sealed record Header(string Name, long Size);

    /// <summary>The reason codes of "refused:" and "failed:" answers, with the sender's text for each.</summary>
    internal static class Reason
    {
        public const string BadHeader = "bad-header: the file header is not valid (is the sender 'hybrid send'?)";
        public const string BadName = "bad-name: the file name is empty, too long, or contains control characters; rename the file";
        public const string HiddenName = "hidden-name: names that start with a dot (hidden files) are not accepted; rename the file";
        public const string NameTaken = "name-taken: a file of that name already exists at the receiver (the receiver can pass --force to replace it)";
        public const string NotWritable = "not-writable: the receiver cannot create the file where it stores files";
        public const string Busy = "busy: the receiver is receiving another file; send again later";
        public const string DiskFull = "disk-full: the receiver's disk is full";
        public const string WriteFailed = "write-failed: the receiver could not store the file";
    }

    public static Command Send()
    {
        var file = new Argument<string>("FILE") { Description = "The file to send." };
        var address = new Argument<string>("HOST:PORT") { Description = "Where 'hybrid receive' listens." };
        var trust = new ClientTrust.Options();
        var idleOption = Serving.IdleTimeoutOption("the receiver");
        var flags = new ConnectionFlags();
        var command = new Command(
            "send",
            "Send a file to 'hybrid receive', with a progress display; success (exit 0) means the receiver checked its SHA-256 and stored it.")
        {
            file,
            address,
            idleOption,
        };
        trust.AddTo(command);
        flags.AddTo(command);
        command.SetRun(async (parse, cancellationToken) =>
        {
            var path = parse.GetRequiredValue(file);
            var target = HostPort.Parse(parse.GetRequiredValue(address));
            var idle = Serving.IdleTimeout(parse, idleOption);
            Keys.RequireFile(path, "input");
            await using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, ChunkSize, FileOptions.Asynchronous | FileOptions.SequentialScan);
            if (!input.CanSeek)
            {
                // The header announces the size before the data, so the size must be known: a pipe's is not.
                throw new CliException(
                    ExitCode.KeyOrFile,
                    $"'{path}' is not a regular file (a pipe, FIFO or device), so its size is not known before it is read; "
                    + "'hybrid send' sends regular files. Save the data to a file first (COMMAND > FILE), then send that file.");
            }

            var size = input.Length;
            var (clientTrust, identity) = ClientTrust.Create(parse, trust, target);
            using (identity)
            {
                var options = new SecureClientOptions { ClientIdentity = identity, ApplicationProtocol = Protocol };
                flags.Apply(parse, options);
                await using var connection = await clientTrust.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
                NetCommands.ReportProtocol(parse, connection);
                const string Peer = "The receiver";
                var header = JsonSerializer.SerializeToUtf8Bytes(new { name = Path.GetFileName(path), size });
                await Serving.SendAsync(connection, header, idle, Peer, cancellationToken).ConfigureAwait(false);
                var answer = await ReceiveText(connection, idle, cancellationToken).ConfigureAwait(false);
                if (answer != "ready")
                {
                    throw new CliException(ExitCode.Refused, $"The receiver refused the file: {ReasonText(answer, "refused: ")}.");
                }

                // The receiver's answer may come before all data is sent (its disk is full): wait for it meanwhile.
                using var stopSending = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                var verdictTask = ReceiveText(connection, TimeSpan.FromDays(1), stopSending.Token);
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[ChunkSize];
                await Progress.Run($"sending {Path.GetFileName(path)}", size, async advance =>
                {
                    long sent = 0;
                    while (sent < size && !verdictTask.IsCompleted)
                    {
                        var read = await input.ReadAsync(buffer.AsMemory(0, (int)Math.Min(ChunkSize, size - sent)), cancellationToken).ConfigureAwait(false);
                        if (read == 0)
                        {
                            throw new CliException(ExitCode.KeyOrFile, $"'{path}' became shorter while it was sent; send it again when it no longer changes.");
                        }

                        hash.AppendData(buffer, 0, read);
                        await Serving.SendAsync(connection, buffer.AsMemory(0, read), idle, Peer, cancellationToken).ConfigureAwait(false);
                        sent += read;
                        advance(read);
                    }
                }).ConfigureAwait(false);
                if (!verdictTask.IsCompleted)
                {
                    await Serving.SendAsync(connection, hash.GetHashAndReset(), idle, Peer, cancellationToken).ConfigureAwait(false);
                }

                // The receiver answers after storing the file (fsync and rename), which may take a while for a big one.
                var wait = idle + TimeSpan.FromSeconds(size / (16 * 1024 * 1024));
                string verdict;
                try
                {
                    verdict = await verdictTask.WaitAsync(wait, cancellationToken).ConfigureAwait(false);
                }
                catch (TimeoutException e)
                {
                    throw Serving.IdleTimeoutError(Peer, "did not answer", wait, e);
                }
                await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
                switch (verdict)
                {
                    case "ok":
                        Console.Error.WriteLine($"hybrid: sent {Path.GetFileName(path)} ({Progress.Size(size)}); the receiver verified its SHA-256 and stored it.");
                        return ExitCode.Success;
                    case "mismatch":
                        throw new CliException(ExitCode.Integrity, "The receiver found that the file's SHA-256 does not match; it did not keep the file. Send it again.");
                    default:
                        throw new CliException(ExitCode.Refused, $"The file was not delivered: the receiver could not store it ({ReasonText(verdict, "failed: ")}).");
                }
            }
        });
        return App.WithExamples(
            command,
            "hybrid send report.pdf 127.0.0.1:12345 --server-key server.pub",
            "hybrid send report.pdf example.com:12345                        # trust on first use");
    }

    public static Command Receive()
    {
        var key = NetCommands.KeyOption();
        var listen = NetCommands.ListenOption();
        var output = new Option<string>("--output", "-o")
        {
            Description = "Where to put the file: a directory (the sender's file name is used; 'DIR/' is created if missing) or a file path.",
            Required = true,
            HelpName = "DIR_or_FILE",
        };
        var allow = NetCommands.AllowClientsOption();
        var force = new Option<bool>("--force") { Description = "Replace an existing file (the default is to refuse the transfer)." };
        var idleOption = Serving.IdleTimeoutOption("a sender");
        var flags = new ConnectionFlags();
        var maxClients = Serving.MaxClientsOption();
        var perAddress = Serving.MaxClientsPerAddressOption();
        var minRate = Serving.MinRateOption();
        var ready = Serving.ReadyFileOption();
        var command = new Command(
            "receive",
            "Wait for one file from 'hybrid send', verify its SHA-256, store it, and only then tell the sender (exit 6 on a mismatch). "
            + "Clients are served concurrently; one that sends no valid header is dropped and the wait goes on.")
        {
            key,
            listen,
            output,
            allow,
            force,
            idleOption,
            minRate,
            maxClients,
            perAddress,
            ready,
        };
        flags.AddTo(command);
        command.SetRun(async (parse, cancellationToken) =>
        {
            using var serverKey = Keys.LoadConnectionKey(parse.GetRequiredValue(key));
            var options = NetCommands.ServerOptions(serverKey, parse.GetValue(allow));
            options.ApplicationProtocol = Protocol;
            flags.Apply(parse, options);
            var destination = parse.GetRequiredValue(output);
            var overwrite = parse.GetValue(force);
            var idle = Serving.IdleTimeout(parse, idleOption);
            var limit = Serving.MaxClients(parse, maxClients);
            var limitPerAddress = Serving.MaxClientsPerAddress(parse, perAddress, limit);
            var rate = Serving.MinRate(parse, minRate);
            if (Path.EndsInDirectorySeparator(destination))
            {
                Directory.CreateDirectory(destination);
            }

            var transferring = 0;
            await using var listener = NetCommands.StartListener(parse.GetRequiredValue(listen), options, "receive one file");
            Serving.WriteReady(parse, ready, listener.LocalEndPoint);
            return await Serving.ServeAsync(
                listener,
                limit,
                limitPerAddress,
                async (connection, token) =>
                {
                    NetCommands.ReportProtocol(parse, connection);
                    var header = await ReceiveHeader(connection, idle, token).ConfigureAwait(false);
                    if (header is null)
                    {
                        return null; // refused and logged: wait for a real sender
                    }

                    if (Interlocked.CompareExchange(ref transferring, 1, 0) != 0)
                    {
                        await Refuse(connection, Reason.Busy, idle, token).ConfigureAwait(false);
                        return null;
                    }

                    try
                    {
                        return await ReceiveFile(connection, header, destination, overwrite, idle, rate, token).ConfigureAwait(false);
                    }
                    finally
                    {
                        Volatile.Write(ref transferring, 0);
                    }
                },
                (connection, token) => Refuse(connection, Reason.Busy, idle, token),
                cancellationToken).ConfigureAwait(false);
        });
        return App.WithExamples(
            command,
            "hybrid receive --key server.key --listen 0.0.0.0:12345 -o ./incoming/",
            "hybrid receive --key server.key --listen 127.0.0.1:12345 -o report.pdf --force");
    }

    /// <summary>One transfer after a valid header: the outcome that ends the command.</summary>
    private static async Task<Outcome> ReceiveFile(
        SecureConnection connection, Header header, string destination, bool overwrite, TimeSpan idle, int rate, CancellationToken cancellationToken)
    {
        const string Peer = "The sender";
        var target = Directory.Exists(destination) ? Path.Combine(destination, header.Name) : destination;
        AtomicOutput sink;
        try
        {
            if (File.Exists(target) && !overwrite)
            {
                await Refuse(connection, Reason.NameTaken, idle, cancellationToken).ConfigureAwait(false);
                return new Outcome(
                    ExitCode.KeyOrFile,
                    new CliException(ExitCode.KeyOrFile, $"Refused the file {header.Name}: '{target}' already exists; pass --force to replace it."));
            }

            sink = AtomicOutput.Create(target, overwrite);
        }
        catch (Exception e) when (e is CliException or IOException or UnauthorizedAccessException)
        {
            await Refuse(connection, Reason.NotWritable, idle, cancellationToken).ConfigureAwait(false);
            return new Outcome(ExitCode.KeyOrFile, e);
        }

        await using (sink.ConfigureAwait(false))
        {
            await Serving.SendAsync(connection, "ready"u8.ToArray(), idle, Peer, cancellationToken).ConfigureAwait(false);
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            Exception? storeError = null;
            await Progress.Run($"receiving {header.Name}", header.Size, async advance =>
            {
                long received = 0;
                var pace = new Serving.Pace(idle, rate);
                while (received < header.Size)
                {
                    pace.Received = received;
                    var message = await Serving.ReceiveAtPaceAsync(connection, idle, pace, header.Size, Peer, cancellationToken).ConfigureAwait(false);
                    if (message is null)
                    {
                        if (storeError is not null)
                        {
                            return; // the sender stopped after our early answer
                        }

                        throw new CliException(ExitCode.Integrity, $"The sender closed the connection after {received} of {header.Size} bytes; no file was kept.");
                    }

                    if (message.Length > header.Size - received)
                    {
                        throw new CliException(ExitCode.Integrity, "The sender sent more data than it announced; no file was kept.");
                    }

                    received += message.Length;
                    advance(message.Length);
                    if (storeError is not null)
                    {
                        continue; // discarding the rest after an early answer
                    }

                    hash.AppendData(message);
                    try
                    {
                        await sink.Stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
                    }
                    catch (IOException e)
                    {
                        storeError = e;
                        await Serving.SendAsync(connection, Encoding.UTF8.GetBytes("failed: " + StoreFailure(e, target)), idle, Peer, cancellationToken)
                            .ConfigureAwait(false);
                    }
                }
            }).ConfigureAwait(false);

            if (storeError is null)
            {
                var expected = await Serving.ReceiveAsync(connection, idle, Peer, cancellationToken).ConfigureAwait(false);
                var actual = hash.GetHashAndReset();
                if (!(expected is { Length: 32 } && CryptographicOperations.FixedTimeEquals(expected, actual)))
                {
                    await Serving.SendAsync(connection, "mismatch"u8.ToArray(), idle, Peer, cancellationToken).ConfigureAwait(false);
                    await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
                    return new Outcome(
                        ExitCode.Integrity,
                        new CliException(ExitCode.Integrity, "The SHA-256 of the received data does not match the sender's; the file was not kept. Ask for it again."));
                }

                try
                {
                    await sink.Commit(overwrite).ConfigureAwait(false);
                }
                catch (IOException e)
                {
                    storeError = e;
                    await Serving.SendAsync(connection, Encoding.UTF8.GetBytes("failed: " + StoreFailure(e, target)), idle, Peer, cancellationToken)
                        .ConfigureAwait(false);
                }

                if (storeError is null)
                {
                    await Serving.SendAsync(connection, "ok"u8.ToArray(), idle, Peer, cancellationToken).ConfigureAwait(false);
                    await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
                    Console.Error.WriteLine(
                        $"hybrid: received {Path.GetFullPath(target)} ({Progress.Size(header.Size)}), SHA-256 {Convert.ToHexStringLower(actual)} verified and stored.");
                    return new Outcome(ExitCode.Success);
                }
            }

            await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
            return new Outcome(
                ExitCode.KeyOrFile,
                new CliException(ExitCode.KeyOrFile, $"Could not store {header.Name} as '{target}': {storeError.Message} The sender was told; no file was kept.", storeError));
        }
    }

    /// <summary>The reason code for a failure to store the file (what the sender is told).</summary>
    private static string StoreFailure(IOException e, string target) =>
        (e.HResult & 0xFFFF) is 28 or 122 or 0x70 or 0x27 ? Reason.DiskFull // ENOSPC, EDQUOT; ERROR_DISK_FULL, ERROR_HANDLE_DISK_FULL
        : File.Exists(target) ? Reason.NameTaken
        : Reason.WriteFailed;

    /// <summary>Tells the sender why the file is refused, and closes.</summary>
    private static async Task Refuse(SecureConnection connection, string reason, TimeSpan idle, CancellationToken cancellationToken)
    {
        await Serving.SendAsync(connection, Encoding.UTF8.GetBytes("refused: " + reason), idle, "The sender", cancellationToken).ConfigureAwait(false);
        await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>The text after a "refused: " or "failed: " answer, safe to print (the receiver chose it).</summary>
    private static string ReasonText(string answer, string prefix) =>
        Printable.Escape(answer.StartsWith(prefix, StringComparison.Ordinal) ? answer[prefix.Length..] : "unexpected answer '" + answer + "'");

    /// <summary>
    /// The sender's header, or null when it is refused (the sender is told why; this receiver goes on waiting): an
    /// object with exactly a string "name" and a whole number "size" of zero or more, no other field, names matched
    /// exactly (no other casing); a name that is not valid text (a lone surrogate) is bad-name. The name must be free of control characters (<see cref="Printable.IsUnsafe"/>); its last
    /// path component is used, which must be non-empty, at most <see cref="MaxNameBytes"/> bytes of UTF-8, and not start
    /// with a dot (hidden-name: a sender cannot plant .profile or .ssh-like files).
    /// </summary>
    private static async Task<Header?> ReceiveHeader(SecureConnection connection, TimeSpan idle, CancellationToken cancellationToken)
    {
        var message = await Serving.ReceiveAsync(connection, idle, "The sender", cancellationToken).ConfigureAwait(false)
            ?? throw new CliException(ExitCode.Network, "The sender closed the connection before saying which file it sends.");
        var header = ParseHeader(message, out var reason);
        if (header is null)
        {
            Console.Error.WriteLine($"hybrid: refused a sender: {reason[..reason.IndexOf(':', StringComparison.Ordinal)]}.");
            await Refuse(connection, reason, idle, cancellationToken).ConfigureAwait(false);
        }

        return header;
    }

    /// <summary>The header in <paramref name="message"/>, or null and the reason code (see <see cref="ReceiveHeader"/>).</summary>
    private static Header? ParseHeader(byte[] message, out string reason)
    {
        reason = Reason.BadHeader;
        string? name = null;
        long? size = null;
        try
        {
            using var document = JsonDocument.Parse(message);
            if (document.RootElement.ValueKind != JsonValueKind.Object)
            {
                return null;
            }

            foreach (var property in document.RootElement.EnumerateObject())
            {
                switch (property.Name)
                {
                    case "name" when name is null && property.Value.ValueKind == JsonValueKind.String:
                        try
                        {
                            name = property.Value.GetString();
                        }
                        catch (InvalidOperationException)
                        {
                            // a lone surrogate (\ud800): no file name can hold it
                            reason = Reason.BadName;
                            return null;
                        }

                        break;
                    case "size" when size is null && property.Value.ValueKind == JsonValueKind.Number && property.Value.TryGetInt64(out var n) && n >= 0:
                        size = n;
                        break;
                    default:
                        return null;
                }
            }
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            return null; // not JSON, not UTF-8, or a property name that is not valid text
        }

        if (name is null || size is null)
        {
            return null;
        }

        var file = Path.GetFileName(name.Replace('\\', '/'));
        if (name.Any(Printable.IsUnsafe) || file.Length == 0 || file is "." or ".." || Encoding.UTF8.GetByteCount(file) > MaxNameBytes)
        {
            reason = Reason.BadName;
            return null;
        }

        if (file.StartsWith('.'))
        {
            reason = Reason.HiddenName;
            return null;
        }

        reason = "";
        return new Header(file, size.Value);
    }

    private static async Task<string> ReceiveText(SecureConnection connection, TimeSpan idle, CancellationToken cancellationToken)
    {
        var message = await Serving.ReceiveAsync(connection, idle, "The receiver", cancellationToken).ConfigureAwait(false)
            ?? throw new CliException(ExitCode.Network, "The receiver closed the connection without an answer.");
        return Encoding.UTF8.GetString(message);
    }
}
