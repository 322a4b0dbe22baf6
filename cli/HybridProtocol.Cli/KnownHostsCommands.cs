using System.CommandLine;

namespace HybridProtocol.Cli;

/// <summary><c>hybrid known-hosts list|add|remove|revoke</c>: the trust-on-first-use store that <c>hybrid connect</c> uses.</summary>
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
        var command = new Command("known-hosts", "List, add, remove or revoke the server keys trusted by 'hybrid connect' (trust on first use).");
        command.Subcommands.Add(List());
        command.Subcommands.Add(Add());
        command.Subcommands.Add(Remove());
        command.Subcommands.Add(Revoke());
        return App.WithExamples(
            command,
            "hybrid known-hosts list",
            "hybrid known-hosts add example.com:12345 server.pub",
            "hybrid known-hosts remove example.com:12345",
            "hybrid known-hosts revoke leaked.pub");
    }

    private static Command Add()
    {
        var host = new Argument<string>("HOST:PORT") { Description = "The server the key is trusted for." };
        var keyFile = new Argument<string>("KEYFILE") { Description = "The server's public key file (or its private key file)." };
        var file = FileOption();
        var command = new Command("add", "Trust a server key for HOST:PORT, beside any key already recorded there (a key learned out of band, before a rotation).")
        {
            host,
            keyFile,
            file,
        };
        command.SetRun(parse =>
        {
            var target = HostPort.Parse(parse.GetRequiredValue(host));
            var key = Keys.LoadAnyPublic(parse.GetRequiredValue(keyFile));
            var store = KnownHosts.Load(PathOrDefault(parse.GetValue(file)));
            var added = store.Add(target.Host, target.Port!.Value, key);
            Console.Error.WriteLine(added
                ? $"Trusted {key.Fingerprint} for {target} in {store.Path}."
                : $"{key.Fingerprint} is already trusted for {target} in {store.Path}; nothing was changed.");
            return ExitCode.Success;
        });
        return App.WithExamples(command, "hybrid known-hosts add example.com:12345 server.pub", "hybrid known-hosts add 127.0.0.1:12345 next.pub --file ./known_hosts");
    }

    private static Command Revoke()
    {
        var keyFile = new Argument<string>("KEYFILE") { Description = "The revoked server key's public key file (or its private key file)." };
        var host = new Option<string?>("--host")
        {
            Description = "Revoke the key for this server only; without it, for every server (@revoked *).",
            HelpName = "HOST:PORT",
        };
        var file = FileOption();
        var command = new Command("revoke", "Refuse a server key from now on (an @revoked line), even where another line trusts it: after a leak or a finished rotation.")
        {
            keyFile,
            host,
            file,
        };
        command.SetRun(parse =>
        {
            var key = Keys.LoadAnyPublic(parse.GetRequiredValue(keyFile));
            HostPort? target = parse.GetValue(host) is { } h ? HostPort.Parse(h) : null;
            var store = KnownHosts.Load(PathOrDefault(parse.GetValue(file)));
            var revoked = target is { } t ? store.Revoke(key, t.Host, t.Port!.Value) : store.Revoke(key);
            var scope = target is { } s ? $"for {s}" : "for every server";
            Console.Error.WriteLine(revoked
                ? $"Revoked {key.Fingerprint} {scope} in {store.Path}: connections that present it are refused (exit 4)."
                : $"{key.Fingerprint} is already revoked {scope} in {store.Path}; nothing was changed.");
            return ExitCode.Success;
        });
        return App.WithExamples(command, "hybrid known-hosts revoke leaked.pub", "hybrid known-hosts revoke old.pub --host example.com:12345");
    }

    private static Command List()
    {
        var file = FileOption();
        var command = new Command(
            "list",
            "Print each trusted HOST:PORT with its key's fingerprint, each revoked key as '@revoked HOST:PORT|* FINGERPRINT' and each "
            + "trusted authority as '@authority PATTERNS ed25519 KEY', in file order.") { file };
        command.SetRun(parse =>
        {
            var store = KnownHosts.Load(PathOrDefault(parse.GetValue(file)));
            var lines = store.List().Select(e => (e.LineNumber, Text: $"{new HostPort(e.Host, e.Port)} {e.Key.Fingerprint}", e.Comment))
                .Concat(store.ListRevoked().Select(r => (r.LineNumber, Text: $"@revoked {(r.Host is null ? "*" : new HostPort(r.Host, r.Port).ToString())} {r.Key.Fingerprint}", r.Comment)))
                .Concat(store.ListAuthorities().Select(a => (a.LineNumber, Text: $"@authority {string.Join(',', a.HostPatterns)} {a.Key}", a.Comment)))
                .OrderBy(l => l.LineNumber)
                .ToList();
            if (lines.Count == 0)
            {
                Console.Error.WriteLine($"No known hosts in {store.Path}.");
            }

            foreach (var (_, text, comment) in lines)
            {
                Console.Out.WriteLine(comment is null ? text : $"{text} {comment}");
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
