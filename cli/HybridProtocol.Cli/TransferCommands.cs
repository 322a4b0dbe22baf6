using System.CommandLine;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace HybridProtocol.Cli;

/// <summary>
/// <c>hybrid send</c> and <c>hybrid receive</c>: one file over an encrypted connection, verified end to end.
/// </summary>
/// <remarks>
/// The exchange, as messages of a connection whose application protocol is <see cref="Protocol"/>:
/// <code>
/// sender   -> receiver : header  {"name": "report.pdf", "size": 1234}   (JSON, UTF-8)
/// receiver -> sender   : "ready"  |  "refused: REASON"
/// sender   -> receiver : data messages, exactly "size" bytes in all
/// sender   -> receiver : SHA-256 of the data (32 bytes)
/// receiver -> sender   : "ok"  |  "mismatch"       (the receiver keeps the file only when the hashes agree)
/// </code>
/// Each message is already authenticated by the connection; the hash checks the whole path from the sender's file to
/// the receiver's file (reading, writing, and the tool itself).
/// </remarks>
internal static class TransferCommands
{
    /// <summary>The application protocol of a file transfer: a 'hybrid connect' to a 'hybrid receive' is refused (exit 7).</summary>
    public const string Protocol = "hybrid-file/1";

    private const int ChunkSize = 64 * 1024;

    private sealed record Header(string Name, long Size);

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    public static Command Send()
    {
        var file = new Argument<string>("FILE") { Description = "The file to send." };
        var address = new Argument<string>("HOST:PORT") { Description = "Where 'hybrid receive' listens." };
        var trust = new ClientTrust.Options();
        var classical = NetCommands.ClassicalOption();
        var command = new Command(
            "send",
            "Send a file to 'hybrid receive', with a progress display; the receiver checks its SHA-256 and keeps it only if it matches.")
        {
            file,
            address,
            classical,
        };
        trust.AddTo(command);
        command.SetRun(async (parse, cancellationToken) =>
        {
            var path = parse.GetRequiredValue(file);
            var target = HostPort.Parse(parse.GetRequiredValue(address));
            Keys.RequireFile(path, "input");
            await using var input = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, ChunkSize, FileOptions.Asynchronous | FileOptions.SequentialScan);
            var size = input.Length;
            var (clientTrust, identity) = ClientTrust.Create(parse, trust, target);
            using (identity)
            {
                var options = new SecureClientOptions { ClientIdentity = identity, ApplicationProtocol = Protocol, PostQuantum = NetCommands.PostQuantum(parse, classical) };
                await using var connection = await clientTrust.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
                NetCommands.ReportProtocol(parse, connection);
                var header = JsonSerializer.SerializeToUtf8Bytes(new Header(Path.GetFileName(path), size), Json);
                await connection.SendAsync(header, cancellationToken).ConfigureAwait(false);
                var answer = await ReceiveText(connection, cancellationToken).ConfigureAwait(false);
                if (answer != "ready")
                {
                    throw new CliException(ExitCode.Refused, $"The receiver refused the file: {answer.Replace("refused: ", "", StringComparison.Ordinal)}");
                }

                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                var buffer = new byte[ChunkSize];
                await Progress.Run($"sending {Path.GetFileName(path)}", size, async advance =>
                {
                    long sent = 0;
                    while (sent < size)
                    {
                        var read = await input.ReadAsync(buffer.AsMemory(0, (int)Math.Min(ChunkSize, size - sent)), cancellationToken).ConfigureAwait(false);
                        if (read == 0)
                        {
                            throw new CliException(ExitCode.KeyOrFile, $"'{path}' became shorter while it was sent; send it again when it no longer changes.");
                        }

                        hash.AppendData(buffer, 0, read);
                        await connection.SendAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                        sent += read;
                        advance(read);
                    }
                }).ConfigureAwait(false);
                await connection.SendAsync(hash.GetHashAndReset(), cancellationToken).ConfigureAwait(false);
                var verdict = await ReceiveText(connection, cancellationToken).ConfigureAwait(false);
                await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
                if (verdict != "ok")
                {
                    throw new CliException(ExitCode.Integrity, "The receiver found that the file's SHA-256 does not match; it did not keep the file. Send it again.");
                }

                Console.Error.WriteLine($"hybrid: sent {Path.GetFileName(path)} ({Progress.Size(size)}); the receiver verified its SHA-256.");
                return ExitCode.Success;
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
        var classical = NetCommands.ClassicalOption();
        var command = new Command(
            "receive",
            "Wait for one file from 'hybrid send', verify its SHA-256, and keep it only if it matches (exit 6 otherwise).")
        {
            key,
            listen,
            output,
            allow,
            force,
            classical,
        };
        command.SetRun(async (parse, cancellationToken) =>
        {
            using var serverKey = Keys.LoadPrivate(parse.GetRequiredValue(key));
            var options = NetCommands.ServerOptions(serverKey, parse.GetValue(allow));
            options.ApplicationProtocol = Protocol;
            options.PostQuantum = NetCommands.PostQuantum(parse, classical);
            var destination = parse.GetRequiredValue(output);
            var overwrite = parse.GetValue(force);
            if (Path.EndsInDirectorySeparator(destination))
            {
                Directory.CreateDirectory(destination);
            }

            await using var listener = NetCommands.StartListener(parse.GetRequiredValue(listen), options, "receive one file");
            await using var connection = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
            NetCommands.ReportProtocol(parse, connection);
            var header = await ReceiveHeader(connection, cancellationToken).ConfigureAwait(false);
            var target = Directory.Exists(destination) ? Path.Combine(destination, header.Name) : destination;
            AtomicOutput sink;
            try
            {
                sink = AtomicOutput.Create(target, overwrite);
            }
            catch (CliException e)
            {
                await connection.SendAsync(Encoding.UTF8.GetBytes("refused: " + e.Message), cancellationToken).ConfigureAwait(false);
                await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
                throw;
            }

            await using (sink.ConfigureAwait(false))
            {
                await connection.SendAsync("ready"u8.ToArray(), cancellationToken).ConfigureAwait(false);
                using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
                await Progress.Run($"receiving {header.Name}", header.Size, async advance =>
                {
                    long received = 0;
                    while (received < header.Size)
                    {
                        var message = await connection.ReceiveAsync(cancellationToken).ConfigureAwait(false)
                            ?? throw new CliException(ExitCode.Integrity, $"The sender closed the connection after {received} of {header.Size} bytes; no file was kept.");
                        if (message.Length > header.Size - received)
                        {
                            throw new CliException(ExitCode.Integrity, "The sender sent more data than it announced; no file was kept.");
                        }

                        hash.AppendData(message);
                        await sink.Stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
                        received += message.Length;
                        advance(message.Length);
                    }
                }).ConfigureAwait(false);
                var expected = await connection.ReceiveAsync(cancellationToken).ConfigureAwait(false);
                var actual = hash.GetHashAndReset();
                var matches = expected is { Length: 32 } && CryptographicOperations.FixedTimeEquals(expected, actual);
                await connection.SendAsync(matches ? "ok"u8.ToArray() : "mismatch"u8.ToArray(), cancellationToken).ConfigureAwait(false);
                await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
                if (!matches)
                {
                    throw new CliException(ExitCode.Integrity, $"The SHA-256 of the received data does not match the sender's; the file was not kept. Ask for it again.");
                }

                await sink.Commit(overwrite).ConfigureAwait(false);
                Console.Error.WriteLine($"hybrid: received {Path.GetFullPath(target)} ({Progress.Size(header.Size)}), SHA-256 {Convert.ToHexStringLower(actual)} verified.");
                return ExitCode.Success;
            }
        });
        return App.WithExamples(
            command,
            "hybrid receive --key server.key --listen 0.0.0.0:12345 -o ./incoming/",
            "hybrid receive --key server.key --listen 127.0.0.1:12345 -o report.pdf --force");
    }

    private static async Task<Header> ReceiveHeader(SecureConnection connection, CancellationToken cancellationToken)
    {
        var message = await connection.ReceiveAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new CliException(ExitCode.Network, "The sender closed the connection before saying which file it sends.");
        Header? header;
        try
        {
            header = JsonSerializer.Deserialize<Header>(message, Json);
        }
        catch (JsonException e)
        {
            throw new CliException(ExitCode.Network, "The sender's file header is not valid (is it 'hybrid send'?).", e);
        }

        var name = header is null ? "" : Path.GetFileName(header.Name);
        if (header is null || header.Size < 0 || name.Length == 0 || name is "." or "..")
        {
            throw new CliException(ExitCode.Network, "The sender's file header has no usable file name or size (is it 'hybrid send'?).");
        }

        return header with { Name = name };
    }

    private static async Task<string> ReceiveText(SecureConnection connection, CancellationToken cancellationToken)
    {
        var message = await connection.ReceiveAsync(cancellationToken).ConfigureAwait(false)
            ?? throw new CliException(ExitCode.Network, "The receiver closed the connection without an answer.");
        return Encoding.UTF8.GetString(message);
    }
}
