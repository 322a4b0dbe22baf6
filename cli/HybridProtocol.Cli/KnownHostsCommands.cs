using System.CommandLine;

namespace HybridProtocol.Cli;

/// <summary><c>hybrid known-hosts list|remove</c>: the trust-on-first-use store that <c>hybrid connect</c> uses.</summary>
internal static class KnownHostsCommands
{
    /// <summary>The known-hosts file option (default: $HYBRID_KNOWN_HOSTS, else the user's config directory).</summary>
    public static Option<string?> FileOption() => new("--file")
    {
        Description = "The known-hosts file. Default: $HYBRID_KNOWN_HOSTS, else hybrid/known_hosts in your config directory.",
        HelpName = "FILE",
    };

    /// <summary>
    /// The tool's default known-hosts file: <c>$HYBRID_KNOWN_HOSTS</c>, else <c>hybrid/known_hosts</c> in the user's
    /// configuration directory, found even when that directory does not exist yet (fresh containers, service
    /// accounts: <see cref="Environment.SpecialFolderOption.DoNotVerify"/>, which gives <c>$XDG_CONFIG_HOME</c> or
    /// <c>$HOME/.config</c> on Linux); the file and its folder are created on first contact.
    /// </summary>
    public static string DefaultPath()
    {
        if (Environment.GetEnvironmentVariable(KnownHosts.PathEnvironmentVariable) is { Length: > 0 } overridden)
        {
            return Path.GetFullPath(overridden);
        }

        var config = Environment.GetFolderPath(Environment.SpecialFolder.ApplicationData, Environment.SpecialFolderOption.DoNotVerify);
        if (string.IsNullOrEmpty(config))
        {
            throw new CliException(
                ExitCode.KeyOrFile,
                $"There is no configuration folder for the known-hosts file (neither $XDG_CONFIG_HOME nor $HOME is set); set {KnownHosts.PathEnvironmentVariable}=FILE or pass --known-hosts FILE, or pin the server with --server-key or --pin.");
        }

        return Path.Combine(config, "hybrid", "known_hosts");
    }

    /// <summary>The file named by the option, or the default.</summary>
    public static string PathOrDefault(string? file)
    {
        var path = string.IsNullOrEmpty(file) ? DefaultPath() : file;
        if (Directory.Exists(path))
        {
            throw new CliException(ExitCode.KeyOrFile, $"The known-hosts path '{path}' is a directory; give a file path (it is created on first contact).");
        }

        return path;
    }

    public static Command Build()
    {
        var command = new Command("known-hosts", "List or remove the server keys trusted on first use by 'hybrid connect'.");
        command.Subcommands.Add(List());
        command.Subcommands.Add(Remove());
        return App.WithExamples(command, "hybrid known-hosts list", "hybrid known-hosts remove example.com:12345");
    }

    private static Command List()
    {
        var file = FileOption();
        var command = new Command("list", "Print each trusted HOST:PORT with its key's fingerprint, in file order.") { file };
        command.SetRun(parse =>
        {
            var store = KnownHosts.Load(PathOrDefault(parse.GetValue(file)));
            var entries = store.List();
            if (entries.Count == 0)
            {
                Console.Error.WriteLine($"No known hosts in {store.Path}.");
            }

            foreach (var entry in entries)
            {
                var hostPort = new HostPort(entry.Host, entry.Port).ToString();
                Console.Out.WriteLine(entry.Comment is null ? $"{hostPort} {entry.Key.Fingerprint}" : $"{hostPort} {entry.Key.Fingerprint} {entry.Comment}");
            }

            return ExitCode.Success;
        });
        return App.WithExamples(command, "hybrid known-hosts list", "hybrid known-hosts list --file ./known_hosts");
    }

    private static Command Remove()
    {
        var host = new Argument<string>("HOST[:PORT]") { Description = "The entry to remove; without a port, every port of HOST." };
        var file = FileOption();
        var command = new Command("remove", "Remove the trusted keys of HOST:PORT (or of every port of HOST), e.g. after a genuine key change.")
        {
            host,
            file,
        };
        command.SetRun(parse =>
        {
            var target = HostPort.Parse(parse.GetRequiredValue(host), requirePort: false);
            var store = KnownHosts.Load(PathOrDefault(parse.GetValue(file)));
            var removed = store.Remove(target.ToString());
            if (removed == 0)
            {
                throw new CliException(ExitCode.Other, $"No entry for {target} in {store.Path}; nothing was removed ('hybrid known-hosts list' shows the entries).");
            }

            Console.Error.WriteLine($"Removed {removed} entr{(removed == 1 ? "y" : "ies")} for {target} from {store.Path}.");
            return ExitCode.Success;
        });
        return App.WithExamples(command, "hybrid known-hosts remove example.com:12345", "hybrid known-hosts remove example.com   # every port");
    }
}
