using System.CommandLine;
using System.Security.Cryptography;
using HybridProtocol.Core.Formats;

namespace HybridProtocol.Cli;

/// <summary><c>hybrid receive</c>: the receiving end of <c>hybrid-file/1</c> (see <see cref="TransferCommands"/>).</summary>
internal static partial class TransferCommands
{
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
            var settings = new ReceiveSettings(parse.GetRequiredValue(output), parse.GetValue(force), Serving.IdleTimeout(parse, idleOption), Serving.MinRate(parse, minRate));
            options.IdleTimeout = settings.Idle; // the one idle rule: the connection's own, closing with Close (IdleTimeout)
            var limit = Serving.MaxClients(parse, maxClients);
            var limitPerAddress = Serving.MaxClientsPerAddress(parse, perAddress, limit);
            if (Path.EndsInDirectorySeparator(settings.Destination))
            {
                Directory.CreateDirectory(settings.Destination);
            }

            await using var listener = NetCommands.StartListener(parse.GetRequiredValue(listen), options, "receive one file");
            Serving.WriteReady(parse, ready, listener.LocalEndPoint);
            return await Serving.ServeAsync(
                listener,
                limit,
                limitPerAddress,
                async (connection, token) =>
                {
                    NetCommands.ReportProtocol(parse, connection);
                    var receiver = new Receiver(connection, settings, token);
                    return receiver.Outcome(await receiver.Run().ConfigureAwait(false));
                },
                async (connection, token) =>
                {
                    await Serving.SendAsync(connection, Encode(TransferAnswer.NewRefused(TransferReason.Busy)), settings.Idle, "The sender", token).ConfigureAwait(false);
                    await connection.CloseAsync(token).ConfigureAwait(false);
                },
                cancellationToken).ConfigureAwait(false);
        });
        return App.WithExamples(
            command,
            "hybrid receive --key server.key --listen 0.0.0.0:12345 -o ./incoming/",
            "hybrid receive --key server.key --listen 127.0.0.1:12345 -o report.pdf --force");
    }

    /// <summary>The receiver's options, and the one transfer at a time.</summary>
    private sealed class ReceiveSettings(string destination, bool overwrite, TimeSpan idle, int rate)
    {
        private int transferring;

        public string Destination => destination;

        public bool Overwrite => overwrite;

        public TimeSpan Idle => idle;

        public int Rate => rate;

        /// <summary>Takes the one transfer slot; false while another sender's file is being received.</summary>
        public bool TryStart() => Interlocked.CompareExchange(ref transferring, 1, 0) == 0;

        public void Finish() => Volatile.Write(ref transferring, 0);
    }

    /// <summary>
    /// One sender's connection: carries out <see cref="FileReceiver"/>'s commands (open a temporary file, write and hash
    /// the data, compare, flush and rename, answer, close) and reports each result back as the next event.
    /// </summary>
    private sealed class Receiver(SecureConnection connection, ReceiveSettings settings, CancellationToken cancellationToken)
    {
        private const string Peer = "The sender";
        private readonly IncrementalHash hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        private readonly Queue<ReceiverEvent> events = new();
        private ReceiverState state = FileReceiver.start;
        private AtomicOutput? sink;
        private bool started;
        private string target = "";
        private Exception? storeError;
        private byte[] digest = [];
        private Serving.Pace? pace;
        private Action<long> advance = _ => { };

        /// <summary>Runs the exchange to its end.</summary>
        public async Task<ReceiverEnding> Run()
        {
            try
            {
                // The header and the storage decision; then the data under a progress display.
                await Drive(untilData: true).ConfigureAwait(false);
                if (state is ReceiverState.Receiving or ReceiverState.AwaitingDigest)
                {
                    var header = state is ReceiverState.Receiving r ? r.Item1 : ((ReceiverState.AwaitingDigest)state).Item;
                    pace = new Serving.Pace(settings.Idle, settings.Rate);
                    await Progress.Run($"receiving {header.Name}", header.Size, async progress =>
                    {
                        advance = progress;
                        await Drive(untilData: false).ConfigureAwait(false);
                    }).ConfigureAwait(false);
                }

                return ((ReceiverState.ReceiverEnded)state).Item;
            }
            finally
            {
                if (sink is not null)
                {
                    await sink.DisposeAsync().ConfigureAwait(false); // removes the temporary file unless committed
                }

                if (started)
                {
                    settings.Finish();
                }

                hash.Dispose();
            }
        }

        /// <summary>Steps the machine until it ends (or, with <paramref name="untilData"/>, until it has answered the header).</summary>
        private async Task Drive(bool untilData)
        {
            while (state is not ReceiverState.ReceiverEnded && !(untilData && state is ReceiverState.Receiving or ReceiverState.AwaitingDigest))
            {
                var next = events.Count > 0 ? events.Dequeue() : await NextMessage().ConfigureAwait(false);
                var (after, commands) = FileReceiver.step(state, next);
                state = after;
                foreach (var command in commands)
                {
                    await Carry(command).ConfigureAwait(false);
                }
            }
        }

        /// <summary>The sender's next message (null: its close), within the pace of --min-rate while data arrives.</summary>
        private async Task<ReceiverEvent> NextMessage()
        {
            byte[]? message;
            switch (state)
            {
                case ReceiverState.Receiving r when pace is not null:
                    pace.Received = r.received;
                    message = await Serving.ReceiveAtPaceAsync(connection, settings.Idle, pace, r.Item1.Size, Peer, cancellationToken).ConfigureAwait(false);
                    break;
                case ReceiverState.Discarding d when pace is not null:
                    pace.Received = d.received;
                    message = await Serving.ReceiveAtPaceAsync(connection, settings.Idle, pace, d.Item1.Size, Peer, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    message = await Serving.ReceiveAsync(connection, settings.Idle, Peer, cancellationToken).ConfigureAwait(false);
                    break;
            }

            if (message is not null && state is ReceiverState.Discarding)
            {
                advance(message.Length);
            }

            return message is null ? ReceiverEvent.SenderClosed : ReceiverEvent.NewFromSender(message);
        }

        private async Task Carry(ReceiverCommand command)
        {
            switch (command)
            {
                case ReceiverCommand.OpenStorage open:
                    events.Enqueue(Open(open.Item));
                    break;
                case ReceiverCommand.Answer answer:
                    await Serving.SendAsync(connection, Encode(answer.Item), settings.Idle, Peer, cancellationToken).ConfigureAwait(false);
                    break;
                case ReceiverCommand.Write write:
                    events.Enqueue(await Write(write.Item).ConfigureAwait(false));
                    break;
                case var _ when command.IsComputeDigest:
                    digest = hash.GetHashAndReset();
                    events.Enqueue(ReceiverEvent.NewDigestComputed(digest));
                    break;
                case var _ when command.IsCommit:
                    events.Enqueue(await Commit().ConfigureAwait(false));
                    break;
                case var _ when command.IsCloseExchange:
                    await connection.CloseAsync(cancellationToken).ConfigureAwait(false);
                    break;
            }
        }

        /// <summary>The storage for a valid header: the one transfer slot, then a temporary file beside the target.</summary>
        private ReceiverEvent Open(FileHeader header)
        {
            if (!settings.TryStart())
            {
                return ReceiverEvent.NewStorageFailed(TransferReason.Busy);
            }

            started = true;
            target = Directory.Exists(settings.Destination) ? Path.Combine(settings.Destination, header.Name) : settings.Destination;
            try
            {
                if (File.Exists(target) && !settings.Overwrite)
                {
                    return ReceiverEvent.NewStorageFailed(TransferReason.NameTaken);
                }

                sink = AtomicOutput.Create(target, settings.Overwrite);
                return ReceiverEvent.StorageOpened;
            }
            catch (Exception e) when (e is CliException or IOException or UnauthorizedAccessException)
            {
                storeError = e;
                return ReceiverEvent.NewStorageFailed(TransferReason.NotWritable);
            }
        }

        private async Task<ReceiverEvent> Write(byte[] data)
        {
            hash.AppendData(data);
            advance(data.Length);
            try
            {
                await sink!.Stream.WriteAsync(data, cancellationToken).ConfigureAwait(false);
                return ReceiverEvent.Written;
            }
            catch (IOException e)
            {
                storeError = e;
                return ReceiverEvent.NewWritingFailed(StoreFailure(e, target));
            }
        }

        private async Task<ReceiverEvent> Commit()
        {
            try
            {
                await sink!.Commit(settings.Overwrite).ConfigureAwait(false);
                return ReceiverEvent.Committed;
            }
            catch (IOException e)
            {
                storeError = e;
                return ReceiverEvent.NewCommitFailed(StoreFailure(e, target));
            }
        }

        /// <summary>The reason code for a failure to store the file (what the sender is told).</summary>
        private static TransferReason StoreFailure(IOException e, string target) =>
            (e.HResult & 0xFFFF) is 28 or 122 or 0x70 or 0x27 ? TransferReason.DiskFull // ENOSPC, EDQUOT; ERROR_DISK_FULL, ERROR_HANDLE_DISK_FULL
            : File.Exists(target) ? TransferReason.NameTaken
            : TransferReason.WriteFailed;

        /// <summary>
        /// What the ending means for the command: null goes on waiting for a sender (a refused header, busy); an
        /// outcome ends the command; a broken exchange is a failure of this client only (logged, the wait goes on).
        /// </summary>
        public Outcome? Outcome(ReceiverEnding ending)
        {
            switch (ending)
            {
                case ReceiverEnding.Delivered delivered:
                    Console.Error.WriteLine(
                        $"hybrid: received {Path.GetFullPath(target)} ({Progress.Size(delivered.Item.Size)}), SHA-256 {Convert.ToHexStringLower(digest)} verified and stored.");
                    return new Outcome(ExitCode.Success);
                case ReceiverEnding.HeaderRefused refused:
                    Console.Error.WriteLine($"hybrid: refused a sender: {FileTransfer.reasonCode(FileTransfer.headerReason(refused.Item))}.");
                    return null;
                case ReceiverEnding.StorageRefused { Item2.IsBusy: true }:
                    return null;
                case ReceiverEnding.StorageRefused { Item2.IsNameTaken: true } taken:
                    return new Outcome(
                        ExitCode.KeyOrFile,
                        new CliException(ExitCode.KeyOrFile, $"Refused the file {taken.Item1.Name}: '{target}' already exists; pass --force to replace it."));
                case ReceiverEnding.StorageRefused:
                    return new Outcome(ExitCode.KeyOrFile, storeError);
                case ReceiverEnding.DigestMismatch:
                    return new Outcome(
                        ExitCode.Integrity,
                        new CliException(ExitCode.Integrity, "The SHA-256 of the received data does not match the sender's; the file was not kept. Ask for it again."));
                case ReceiverEnding.NotStored notStored:
                    return new Outcome(
                        ExitCode.KeyOrFile,
                        new CliException(
                            ExitCode.KeyOrFile,
                            $"Could not store {notStored.Item1.Name} as '{target}': {storeError?.Message} The sender was told; no file was kept.",
                            storeError));
                case ReceiverEnding.SenderViolation { Item2: DataError.MoreThanAnnounced }:
                    throw new CliException(ExitCode.Integrity, "The sender sent more data than it announced; no file was kept.");
                case ReceiverEnding.SenderViolation:
                    throw new CliException(ExitCode.Integrity, "The sender sent an empty data message (not hybrid-file/1); no file was kept.");
                case ReceiverEnding.SenderCut cut:
                    throw new CliException(ExitCode.Integrity, $"The sender closed the connection after {cut.received} of {cut.Item1.Size} bytes; no file was kept.");
                case var _ when ending.IsClosedBeforeHeader:
                    throw new CliException(ExitCode.Network, "The sender closed the connection before saying which file it sends.");
                default:
                    throw new InvalidOperationException($"hybrid-file/1 receiver: {ending}");
            }
        }
    }
}
