using System.CommandLine;

namespace HybridProtocol.Cli;

/// <summary><c>hybrid keygen</c>, <c>hybrid pubkey</c>, <c>hybrid fingerprint</c>.</summary>
internal static class KeyCommands
{
    public static Command Keygen()
    {
        var output = new Option<string>("--output", "-o")
        {
            Description = "Where to write the private key (PEM, owner-only permissions 0600).",
            Required = true,
            HelpName = "FILE",
        };
        var force = new Option<bool>("--force") { Description = "Replace FILE if it exists (the default is to refuse)." };
        var command = new Command("keygen", "Generate an X25519 private key; print its public key's fingerprint.") { output, force };
        command.SetRun(parse =>
        {
            var path = parse.GetRequiredValue(output);
            var overwrite = parse.GetValue(force);
            if (!overwrite && (File.Exists(path) || Directory.Exists(path)))
            {
                throw new CliException(ExitCode.KeyOrFile, $"'{path}' already exists; choose another name, or pass --force to replace it.");
            }

            using var key = PrivateKey.Generate();
            key.Save(path, overwrite);
            Console.Error.WriteLine($"Wrote a private key to {path}. Its public key (give it to peers: hybrid pubkey {path}) has the fingerprint:");
            Console.Out.WriteLine(key.Fingerprint);
            return ExitCode.Success;
        });
        return App.WithExamples(
            command,
            "hybrid keygen -o server.key                  # prints SHA256:...",
            "hybrid keygen -o server.key --force          # replace an existing key",
            "hybrid pubkey server.key > server.pub        # the public key to hand out");
    }

    public static Command Pubkey()
    {
        var file = new Argument<string>("FILE") { Description = "A private (or public) key file." };
        var command = new Command("pubkey", "Print the public key (PEM) of a key file.") { file };
        command.SetRun(parse =>
        {
            var key = Keys.LoadAnyPublic(parse.GetRequiredValue(file));
            Console.Out.Write(key.ToPem());
            return ExitCode.Success;
        });
        return App.WithExamples(command, "hybrid pubkey server.key > server.pub");
    }

    public static Command Fingerprint()
    {
        var file = new Argument<string>("FILE") { Description = "A public or private key file (PEM)." };
        var command = new Command("fingerprint", "Print the fingerprint (SHA256:...) of a public or private key file.") { file };
        command.SetRun(parse =>
        {
            Console.Out.WriteLine(Keys.LoadAnyPublic(parse.GetRequiredValue(file)).Fingerprint);
            return ExitCode.Success;
        });
        return App.WithExamples(command, "hybrid fingerprint server.key", "hybrid fingerprint server.pub");
    }
}
