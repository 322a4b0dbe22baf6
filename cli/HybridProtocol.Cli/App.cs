using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Runtime.InteropServices;

namespace HybridProtocol.Cli;

/// <summary>The command tree, parsing, and the one place where failures become messages and exit codes.</summary>
internal static class App
{
    private static readonly Dictionary<Command, string[]> ExamplesByCommand = [];

    /// <summary>How long a signalled command may take to stop by itself before the process is ended.</summary>
    private static readonly TimeSpan InterruptGrace = TimeSpan.FromSeconds(3);

    /// <summary>Shows stack traces and inner errors (on every command).</summary>
    public static readonly Option<bool> Verbose = new("--verbose")
    {
        Description = "Show the full error with its stack trace when something fails.",
        Recursive = true,
    };

    /// <summary>The root command with every subcommand.</summary>
    /// <remarks>
    /// A plain <see cref="Command"/> named <c>hybrid</c> rather than a <see cref="RootCommand"/>, whose name would be the
    /// assembly's (HybridProtocol.Cli) in every usage line; it gets the root's help and version options by hand.
    /// </remarks>
    public static Command Build()
    {
        var root = new Command(
            "hybrid",
            "hybrid: encrypted, authenticated connections, file transfer and sealed files with HybridProtocol keys (X25519).")
        {
            new HelpOption(),
            new VersionOption(),
            Verbose,
        };
        root.Subcommands.Add(KeyCommands.Keygen());
        root.Subcommands.Add(KeyCommands.Pubkey());
        root.Subcommands.Add(KeyCommands.Fingerprint());
        root.Subcommands.Add(KnownHostsCommands.Build());
        root.Subcommands.Add(AuthorityCommands.Build());
        root.Subcommands.Add(SealCommands.Seal());
        root.Subcommands.Add(SealCommands.Open());
        root.Subcommands.Add(NetCommands.Serve());
        root.Subcommands.Add(NetCommands.Connect());
        root.Subcommands.Add(Tunnel.Command());
        root.Subcommands.Add(TransferCommands.Send());
        root.Subcommands.Add(TransferCommands.Receive());
        WithExamples(
            root,
            "hybrid keygen -o server.key",
            "hybrid serve --key server.key --listen 127.0.0.1:12345 --echo",
            "hybrid connect 127.0.0.1:12345",
            "hybrid <command> --help");
        foreach (var option in root.Options)
        {
            if (option is HelpOption { Action: HelpAction help })
            {
                option.Action = new HelpWithExamples(help);
            }
        }

        return root;
    }

    /// <summary>Records examples shown at the end of the command's <c>--help</c>.</summary>
    public static T WithExamples<T>(T command, params string[] examples)
        where T : Command
    {
        ExamplesByCommand[command] = examples;
        return command;
    }

    /// <summary>The standard help, then the command's examples.</summary>
    private sealed class HelpWithExamples(HelpAction help) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            var result = help.Invoke(parseResult);
            if (ExamplesByCommand.TryGetValue(parseResult.CommandResult.Command, out var examples))
            {
                var output = parseResult.InvocationConfiguration.Output;
                output.WriteLine("Examples:");
                foreach (var example in examples)
                {
                    output.WriteLine("  " + example);
                }

                output.WriteLine();
            }

            return result;
        }
    }

    /// <summary>Parses and runs; returns the exit code (see <see cref="ExitCode"/>).</summary>
    public static async Task<int> RunAsync(string[] args)
    {
        var root = Build();
        var parse = root.Parse(args);
        if (parse.Action is ParseErrorAction)
        {
            if (parse.CommandResult.Command == root && parse.UnmatchedTokens.Count > 0)
            {
                // Not "Required command was not provided": the first word was given, and is not a command.
                await Console.Error.WriteLineAsync(
                    $"hybrid: '{parse.UnmatchedTokens[0]}' is not a command; the commands are {string.Join(", ", root.Subcommands.Select(c => c.Name))}.").ConfigureAwait(false);
                await Console.Error.WriteLineAsync("Run 'hybrid --help' for usage.").ConfigureAwait(false);
                return (int)ExitCode.Usage;
            }

            foreach (var error in parse.Errors)
            {
                await Console.Error.WriteLineAsync("hybrid: " + error.Message).ConfigureAwait(false);
            }

            await Console.Error.WriteLineAsync($"Run '{CommandPath(parse.CommandResult.Command)} --help' for usage.").ConfigureAwait(false);
            return (int)ExitCode.Usage;
        }

        // Ctrl+C, SIGTERM, SIGHUP and SIGQUIT cancel the command, which then ends with 128 + the signal's number (130 for
        // Ctrl+C, 143 for SIGTERM, as shells report a process the signal ended) like any other failure
        // and removes its temporary files on the way out (the runtime's default would end the process at once, with no
        // message and no clean-up). A command that does not stop within a grace period (blocked in the operating system)
        // is ended here, after removing its temporary files: a signal always works.
        using var interrupted = new CancellationTokenSource();
        var signalExit = (int)ExitCode.Interrupted;
        void Interrupt(PosixSignalContext context)
        {
            context.Cancel = true;
            if (interrupted.IsCancellationRequested)
            {
                return;
            }

            signalExit = ExitCodes.ForSignal(context.Signal);
            interrupted.Cancel();
            _ = Task.Run(async () =>
            {
                await Task.Delay(InterruptGrace).ConfigureAwait(false);
                TemporaryFiles.DeleteAll();
                await Console.Error.WriteLineAsync("hybrid: interrupted.").ConfigureAwait(false);
                Environment.Exit(signalExit);
            });
        }

        AppDomain.CurrentDomain.ProcessExit += (_, _) => TemporaryFiles.DeleteAll();
        var signals = new List<PosixSignalRegistration> { PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt), PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt) };
        if (!OperatingSystem.IsWindows())
        {
            signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGHUP, Interrupt));
            signals.Add(PosixSignalRegistration.Create(PosixSignal.SIGQUIT, Interrupt));
        }

        var configuration = new InvocationConfiguration { EnableDefaultExceptionHandler = false, ProcessTerminationTimeout = null };
        try
        {
            var code = await parse.InvokeAsync(configuration, interrupted.Token).ConfigureAwait(false);
            return code == (int)ExitCode.Interrupted ? signalExit : code;
        }
        catch (Exception e)
        {
            var code = Report(e, parse.GetValue(Verbose));
            return code == (int)ExitCode.Interrupted ? signalExit : code;
        }
        finally
        {
            TemporaryFiles.DeleteAll();
            foreach (var signal in signals)
            {
                signal.Dispose();
            }
        }
    }

    /// <summary>Sets a command's action: runs <paramref name="body"/> and turns its failure into a message and exit code.</summary>
    public static void SetRun(this Command command, Func<ParseResult, CancellationToken, Task<ExitCode>> body) =>
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                return (int)await body(parse, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e)
            {
                return Report(e, parse.GetValue(Verbose));
            }
        });

    /// <summary>Sets a synchronous action (see the asynchronous overload).</summary>
    public static void SetRun(this Command command, Func<ParseResult, ExitCode> body) =>
        command.SetRun((parse, _) => Task.FromResult(body(parse)));

    /// <summary>Writes the failure to stderr (one sentence, or everything with --verbose) and returns its exit code.</summary>
    public static int Report(Exception e, bool verbose)
    {
        var code = ExitCodes.For(e);
        Console.Error.WriteLine("hybrid: " + Message(e));
        if (verbose)
        {
            Console.Error.WriteLine(e.ToString());
        }

        return (int)code;
    }

    /// <summary>The one sentence that says what failed (see <see cref="Report"/>).</summary>
    public static string Message(Exception e) =>
        ExitCodes.For(e) switch
        {
            ExitCode.Interrupted => "interrupted.",
            // The library says what is wrong with a key in API terms; the tool adds its own commands.
            _ when e is IHybridProtocolError { Code: HybridErrorCode.InvalidKey } => e.Message + Keys.KeyHint,
            _ when e is CliException or IHybridProtocolError => e.Message,
            ExitCode.Other => $"unexpected error ({e.GetType().Name}): {e.Message} Run again with --verbose for details.",
            _ => e.Message,
        };

    private static string CommandPath(Command command)
    {
        var names = new List<string>();
        for (Command? c = command; c is not null; c = c.Parents.OfType<Command>().FirstOrDefault())
        {
            names.Add(c.Name);
        }

        names.Reverse();
        return string.Join(' ', names);
    }
}
