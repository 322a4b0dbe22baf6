using System.CommandLine;

namespace HybridProtocol.Cli;

/// <summary><c>hybrid keygen</c>, <c>hybrid pubkey</c>, <c>hybrid fingerprint</c>.</summary>
internal static class KeyCommands
{
    public static Command Keygen()
    {
        var output = new Option<string>("--output", "-o")
        {
            Description = "Where to write the private key (PEM, owner-only permissions 0600); '-' prints it on stdout (as wg genkey and age-keygen do) and the fingerprint on stderr.",
            Required = true,
            HelpName = "FILE",
        };
        var force = new Option<bool>("--force") { Description = "Replace FILE if it exists (the default is to refuse)." };
        var type = new Option<string>("--type", "-t")
        {
            Description = "The key type: x25519 (the default; connections and sealed files), or for sealed files only "
                + "p256, p384, p521 (NIST curves) and mlkem768, xwing (post-quantum).",
            DefaultValueFactory = _ => "x25519",
            HelpName = "TYPE",
        };
        type.AcceptOnlyFromAmong("x25519", "p256", "p384", "p521", "mlkem768", "xwing");
        var command = new Command("keygen", "Generate a private key (X25519 unless --type says otherwise); print its public key's fingerprint.")
        {
            output,
            force,
            type,
        };
        command.SetRun(parse =>
        {
            var path = parse.GetRequiredValue(output);
            var overwrite = parse.GetValue(force);
            if (path == "-")
            {
                using var printed = PrivateKey.Generate(KeyTypes.Parse(parse.GetValue(type) ?? "x25519"));
                using var stdout = Streams.StandardOutput();
                stdout.Write(System.Text.Encoding.ASCII.GetBytes(printed.ToPem()));
                Console.Error.WriteLine($"Printed a private key on stdout; its public key's fingerprint is {printed.Fingerprint}.");
                return ExitCode.Success;
            }

            if (!overwrite && (File.Exists(path) || Directory.Exists(path)))
            {
                throw new CliException(ExitCode.KeyOrFile, $"'{path}' already exists; choose another name, or pass --force to replace it.");
            }

            var algorithm = KeyTypes.Parse(parse.GetValue(type) ?? "x25519");
            using var key = PrivateKey.Generate(algorithm);
            key.Save(path, overwrite);
            Console.Error.WriteLine($"Wrote a private key to {path}. Its public key (give it to peers: hybrid pubkey {path}) has the fingerprint:");
            Console.Out.WriteLine(key.Fingerprint);
            return ExitCode.Success;
        });
        return App.WithExamples(
            command,
            "hybrid keygen -o server.key                  # prints SHA256:...",
            "hybrid keygen -o server.key --force          # replace an existing key",
            "hybrid keygen --type xwing -o alice.key      # a post-quantum key for sealed files",
            "hybrid pubkey server.key > server.pub        # the public key to hand out");
    }

    public static Command Pubkey()
    {
        var file = new Argument<string>("FILE") { Description = "A private (or public) key file; '-' reads the key from stdin." };
        var command = new Command("pubkey", "Print the public key (PEM) of a key file.") { file };
        command.SetRun(parse =>
        {
            var path = parse.GetRequiredValue(file);
            var key = path == "-" ? Keys.ReadAnyPublic(Console.In.ReadToEnd()) : Keys.LoadAnyPublic(path);
            Console.Out.Write(key.ToPem());
            return ExitCode.Success;
        });
        return App.WithExamples(command, "hybrid pubkey server.key > server.pub", "hybrid keygen -o - | tee client.key | hybrid pubkey -");
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

/// <summary>The key types of <c>hybrid keygen --type</c>.</summary>
internal static class KeyTypes
{
    public static KeyAlgorithm Parse(string name) => name.ToLowerInvariant() switch
    {
        "p256" => KeyAlgorithm.P256,
        "p384" => KeyAlgorithm.P384,
        "p521" => KeyAlgorithm.P521,
        "mlkem768" => KeyAlgorithm.MlKem768,
        "xwing" => KeyAlgorithm.XWing,
        _ => KeyAlgorithm.X25519,
    };
}
