using System.CommandLine;
using System.Globalization;

namespace HybridProtocol.Cli;

/// <summary>
/// <c>hybrid authority keygen</c>, <c>sign</c> and <c>show</c>: a fleet authority that endorses server keys
/// (specs/KEYS.md, "Endorsements").
/// </summary>
internal static class AuthorityCommands
{
    public static Command Build()
    {
        var command = new Command("authority", "A fleet authority: endorse server keys so that clients trusting the authority accept them (hybrid connect --authority).");
        command.Subcommands.Add(Keygen());
        command.Subcommands.Add(Sign());
        command.Subcommands.Add(Show());
        return App.WithExamples(
            command,
            "hybrid authority keygen -o fleet.authority       # also writes fleet.authority.pub",
            "hybrid authority sign --authority fleet.authority --host '*.fleet.example' --valid-for 30d server.pub -o server.endorsement",
            "hybrid authority show server.endorsement");
    }

    private static Command Keygen()
    {
        var output = new Option<string>("--output", "-o")
        {
            Description = "Where to write the authority's private key (PEM, owner-only 0600); its public key goes to FILE.pub.",
            Required = true,
            HelpName = "FILE",
        };
        var force = new Option<bool>("--force") { Description = "Replace FILE and FILE.pub if they exist." };
        var command = new Command("keygen", "Generate an authority key (Ed25519): FILE (keep it offline) and FILE.pub (give it to clients).") { output, force };
        command.SetRun(parse =>
        {
            var path = parse.GetRequiredValue(output);
            var overwrite = parse.GetValue(force);
            foreach (var p in new[] { path, path + ".pub" })
            {
                if (!overwrite && (File.Exists(p) || Directory.Exists(p)))
                {
                    throw new CliException(ExitCode.KeyOrFile, $"'{p}' already exists; choose another name, or pass --force to replace it.");
                }
            }

            using var key = AuthoritySigningKey.Generate();
            key.Save(path, overwrite);
            key.PublicKey.Save(path + ".pub", overwrite);
            Console.Error.WriteLine($"Wrote an authority private key to {path} and its public key to {path}.pub (clients: hybrid connect --authority {path}.pub). The public key:");
            Console.Out.WriteLine(key.PublicKey.ToString());
            return ExitCode.Success;
        });
        return App.WithExamples(command, "hybrid authority keygen -o fleet.authority");
    }

    private static Command Sign()
    {
        var serverKey = new Argument<string>("SERVER_PUBKEY") { Description = "The server's public key file (or its private key file)." };
        var authority = new Option<string>("--authority") { Description = "The authority's private key file.", Required = true, HelpName = "FILE" };
        var hosts = new Option<string>("--host")
        {
            Description = "The hosts the server may serve, comma-separated: HOST, HOST:PORT, *.DOMAIN or *.DOMAIN:PORT (a '*.' covers one label).",
            Required = true,
            HelpName = "PATTERN[,...]",
        };
        var validFor = new Option<string?>("--valid-for") { Description = "How long from --not-before: a number and s, m, h or d (e.g. 30d).", HelpName = "DURATION" };
        var notBefore = new Option<string?>("--not-before") { Description = "The first valid time, ISO 8601 (UTC unless an offset is given); default now.", HelpName = "TIME" };
        var notAfter = new Option<string?>("--not-after") { Description = "The last valid time, ISO 8601 (UTC unless an offset is given).", HelpName = "TIME" };
        var output = new Option<string>("--output", "-o") { Description = "Where to write the endorsement (PEM).", Required = true, HelpName = "FILE" };
        var force = new Option<bool>("--force") { Description = "Replace FILE if it exists." };
        var command = new Command("sign", "Endorse a server key for hosts and a validity window; the server sends the endorsement (hybrid serve --endorsement FILE).")
        {
            serverKey, authority, hosts, validFor, notBefore, notAfter, output, force,
        };
        command.SetRun(parse =>
        {
            var from = parse.GetValue(notBefore) is { } nb ? Time(nb, "--not-before") : DateTimeOffset.UtcNow;
            var duration = parse.GetValue(validFor);
            var until = parse.GetValue(notAfter);
            if ((duration is null) == (until is null))
            {
                throw new CliException(ExitCode.Usage, "Give exactly one of --valid-for DURATION and --not-after TIME.");
            }

            var to = until is not null ? Time(until, "--not-after") : from + Duration(duration!);
            var path = parse.GetRequiredValue(output);
            if (!parse.GetValue(force) && (File.Exists(path) || Directory.Exists(path)))
            {
                throw new CliException(ExitCode.KeyOrFile, $"'{path}' already exists; choose another name, or pass --force to replace it.");
            }

            var server = Keys.LoadAnyPublic(parse.GetRequiredValue(serverKey));
            using var signer = AuthoritySigningKey.Load(parse.GetRequiredValue(authority));
            var endorsement = signer.Endorse(server, parse.GetRequiredValue(hosts).Split(','), from, to);
            endorsement.Save(path, parse.GetValue(force));
            Console.Error.WriteLine($"Wrote an endorsement to {path}: {endorsement}.");
            return ExitCode.Success;
        });
        return App.WithExamples(
            command,
            "hybrid authority sign --authority fleet.authority --host '*.fleet.example' --valid-for 30d server.pub -o server.endorsement",
            "hybrid authority sign --authority fleet.authority --host 10.0.0.5:443 --not-after 2027-01-01T00:00:00Z server.pub -o server.endorsement");
    }

    private static Command Show()
    {
        var file = new Argument<string>("ENDORSEMENT") { Description = "An endorsement file." };
        var command = new Command("show", "Print what an endorsement says: the server key, hosts, validity window and authority.") { file };
        command.SetRun(parse =>
        {
            var endorsement = ServerEndorsement.Load(parse.GetRequiredValue(file));
            Console.Out.WriteLine($"server key:  {endorsement.ServerKey.Fingerprint}");
            Console.Out.WriteLine($"hosts:       {string.Join(",", endorsement.Hosts)}");
            Console.Out.WriteLine($"not before:  {endorsement.NotBefore.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)}");
            Console.Out.WriteLine($"not after:   {endorsement.NotAfter.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ", CultureInfo.InvariantCulture)}");
            Console.Out.WriteLine($"authority:   {endorsement.Authority}");
            return ExitCode.Success;
        });
        return App.WithExamples(command, "hybrid authority show server.endorsement");
    }

    private static DateTimeOffset Time(string text, string option) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time)
            ? time
            : throw new CliException(ExitCode.Usage, $"{option} '{text}' is not a time: write it as ISO 8601, e.g. 2027-01-01T00:00:00Z.");

    private static TimeSpan Duration(string text)
    {
        var unit = text.Length > 0 ? text[^1] : ' ';
        if (long.TryParse(text.AsSpan(0, Math.Max(0, text.Length - 1)), NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n is > 0 and <= 36_500L * 86_400)
        {
            long? seconds = unit switch { 's' => n, 'm' => n * 60, 'h' => n * 3600, 'd' => n * 86_400, _ => null };
            if (seconds is { } s && s <= 36_500L * 86_400)
            {
                return TimeSpan.FromSeconds(s);
            }
        }

        throw new CliException(ExitCode.Usage, $"--valid-for '{text}' is not a duration: a number and s, m, h or d, at most 100 years (e.g. 30d).");
    }
}
