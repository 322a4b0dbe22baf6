using System.CommandLine;
using System.Security.Cryptography;
using System.Text;
using HybridProtocol.Core.Formats;

namespace HybridProtocol.Cli;

/// <summary>
/// <c>hybrid send</c> and <c>hybrid receive</c>: one file over an encrypted connection, verified end to end and
/// acknowledged only once stored. The exchange (<c>hybrid-file/1</c>, specs/FILE-TRANSFER.md) is the core's: its
/// messages are <see cref="FileTransfer"/>'s codecs, and each end's phases a state machine (<see cref="FileSender"/>,
/// <see cref="FileReceiver"/>) whose commands this class carries out: messages, the file, the hash, the storage.
/// The texts for the reason codes are the CLI's; they say nothing about the receiver's file system.
/// </summary>
internal static partial class TransferCommands
{
    /// <summary>The application protocol of a file transfer: a 'hybrid connect' to a 'hybrid receive' is refused (exit 7).</summary>
    public const string Protocol = FileTransfer.Protocol;

    private const int ChunkSize = 64 * 1024;

    /// <summary>The text sent after a reason code (for a person reading the sender's message).</summary>
    internal static string ReasonText(TransferReason reason) => reason.Tag switch
    {
        TransferReason.Tags.BadHeader => "the file header is not valid (is the sender 'hybrid send'?)",
        TransferReason.Tags.BadName => "the file name is empty, too long, or contains control characters; rename the file",
        TransferReason.Tags.HiddenName => "names that start with a dot (hidden files) are not accepted; rename the file",
        TransferReason.Tags.NameTaken => "a file of that name already exists at the receiver (the receiver can pass --force to replace it)",
        TransferReason.Tags.NotWritable => "the receiver cannot create the file where it stores files",
        TransferReason.Tags.Busy => "the receiver is receiving another file; send again later",
        TransferReason.Tags.DiskFull => "the receiver's disk is full",
        TransferReason.Tags.WriteFailed => "the receiver could not store the file",
        _ => "",
    };

    /// <summary>An answer as sent: the code's text follows a reason.</summary>
    private static byte[] Encode(TransferAnswer answer) => FileTransfer.encodeAnswer(
        answer,
        answer switch
        {
            TransferAnswer.Refused r => ReasonText(r.Item),
            TransferAnswer.Failed f => ReasonText(f.Item),
            _ => "",
        });

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
                // One idle rule, the connection's own: the longest silence is the wait for the verdict, while the
                // receiver flushes and renames the file (allowed 1 s per 16 MiB beyond --idle-timeout).
                var wait = idle + TimeSpan.FromSeconds(size / (16 * 1024 * 1024));
                var options = new SecureClientOptions { ClientIdentity = identity, ApplicationProtocol = Protocol, IdleTimeout = wait };
                flags.Apply(parse, options);
                await using var connection = await clientTrust.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
                NetCommands.ReportProtocol(parse, connection);
                var sender = new Sender(connection, input, path, wait, cancellationToken);
                var ending = await sender.Run(new FileHeader(Path.GetFileName(path), size)).ConfigureAwait(false);
                return ending switch
                {
                    _ when ending.IsReceiverStored => Delivered(path, size),
                    SenderEnding.ReceiverRefused r => throw new CliException(ExitCode.Refused, $"The receiver refused the file: {Said(r.Item1, r.text)}."),
                    SenderEnding.ReceiverFailed f => throw new CliException(ExitCode.Refused, $"The file was not delivered: the receiver could not store it ({Said(f.Item1, f.text)})."),
                    _ when ending.IsReceiverMismatch => throw new CliException(ExitCode.Integrity, "The receiver found that the file's SHA-256 does not match; it did not keep the file. Send it again."),
                    SenderEnding.ClosedWithoutAnswer => throw new CliException(ExitCode.Network, "The receiver closed the connection without an answer."),
                    SenderEnding.UnexpectedAnswer => throw new CliException(ExitCode.Refused, $"The file was not delivered: the receiver gave an unexpected answer '{Printable.Escape(sender.LastAnswer)}'."),
                    _ => throw new InvalidOperationException($"hybrid-file/1 sender: {ending}"),
                };
            }
        });
        return App.WithExamples(
            command,
            "hybrid send report.pdf 127.0.0.1:12345 --server-key server.pub",
            "hybrid send report.pdf example.com:12345                        # trust on first use");
    }

    private static ExitCode Delivered(string path, long size)
    {
        Console.Error.WriteLine($"hybrid: sent {Path.GetFileName(path)} ({Progress.Size(size)}); the receiver verified its SHA-256 and stored it.");
        return ExitCode.Success;
    }

    private static SenderEvent Arrived(byte[]? message) =>
        message is null ? SenderEvent.ReceiverClosed : SenderEvent.NewFromReceiver(message);

    /// <summary>A reason code and the receiver's text, safe to print (the receiver chose the text).</summary>
    private static string Said(TransferReason reason, string text) => Printable.Escape(FileTransfer.reasonCode(reason) + ": " + text);

    /// <summary>The sender's side: carries out <see cref="FileSender"/>'s commands until the exchange ends.</summary>
    private sealed class Sender(SecureConnection connection, FileStream input, string path, TimeSpan idle, CancellationToken cancellationToken)
    {
        private const string Peer = "The receiver";
        private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private SenderState state = null!;

        /// <summary>The last answer as text (for the message about an unexpected one).</summary>
        public string LastAnswer { get; private set; } = "";

        public async Task<SenderEnding> Run(FileHeader header)
        {
            using (hash)
            {
                var (message, start) = FileSender.start(header);
                state = start;
                await Serving.SendAsync(connection, message, idle, Peer, cancellationToken).ConfigureAwait(false);
                var commands = await Step(Arrived(await Receive().ConfigureAwait(false))).ConfigureAwait(false);
                if (state.IsSendingData || commands.Any(c => c.IsSendDigest))
                {
                    commands = await SendData(header).ConfigureAwait(false);
                }

                while (state is not SenderState.SenderEnded)
                {
                    commands = await Step(Arrived(await Receive().ConfigureAwait(false))).ConfigureAwait(false);
                }

                return ((SenderState.SenderEnded)state).Item;
            }
        }

        /// <summary>The data, then the digest; the receiver's answer may come before all data is sent (its disk is full).</summary>
        private async Task<IEnumerable<SenderCommand>> SendData(FileHeader header)
        {
            var verdict = connection.ReceiveAsync(cancellationToken).AsTask();
            var buffer = new byte[ChunkSize];
            IEnumerable<SenderCommand> commands = [];
            await Progress.Run($"sending {header.Name}", header.Size, async advance =>
            {
                while (state is SenderState.SendingData sending && !verdict.IsCompleted)
                {
                    var want = (int)Math.Min(ChunkSize, header.Size - sending.sent);
                    var read = await input.ReadAsync(buffer.AsMemory(0, want), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        throw new CliException(ExitCode.KeyOrFile, $"'{path}' became shorter while it was sent; send it again when it no longer changes.");
                    }

                    hash.AppendData(buffer, 0, read);
                    await Serving.SendAsync(connection, buffer.AsMemory(0, read), idle, Peer, cancellationToken).ConfigureAwait(false);
                    advance(read);
                    commands = await Step(SenderEvent.NewDataSent(read)).ConfigureAwait(false);
                }
            }).ConfigureAwait(false);

            byte[]? answer;
            try
            {
                answer = await verdict.ConfigureAwait(false);
            }
            catch (HybridProtocolException e) when (e.Code == HybridErrorCode.IdleTimeout)
            {
                throw Serving.IdleTimeoutError(Peer, "did not answer", idle, e);
            }

            Remember(answer);
            return await Step(Arrived(answer)).ConfigureAwait(false);
        }

        private async Task<byte[]?> Receive()
        {
            var answer = await Serving.ReceiveAsync(connection, idle, Peer, cancellationToken).ConfigureAwait(false);
            Remember(answer);
            return answer;
        }

        private void Remember(byte[]? answer) => LastAnswer = answer is null ? "" : Encoding.UTF8.GetString(answer);

        /// <summary>One event; carries out the commands that are the sender's to do at once (the digest, the close).</summary>
        private async Task<IEnumerable<SenderCommand>> Step(SenderEvent e)
        {
            var (next, commands) = FileSender.step(state, e);
            state = next;
            foreach (var command in commands)
            {
                if (command.IsSendDigest)
                {
                    await Serving.SendAsync(connection, hash.GetHashAndReset(), idle, Peer, cancellationToken).ConfigureAwait(false);
                }
                else if (command.IsCloseSending)
                {
                    await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            return commands;
        }
    }
}
