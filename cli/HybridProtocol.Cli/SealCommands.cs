using System.CommandLine;

namespace HybridProtocol.Cli;

/// <summary><c>hybrid seal</c> and <c>hybrid open</c>: the sealed-file format (specs/HPKE.md), streamed in constant memory.</summary>
internal static class SealCommands
{
    private static Argument<string> Input(string what) => new("IN") { Description = $"The {what} ('-' for standard input)." };

    private static Option<string> Output(string what) => new("--output", "-o")
    {
        Description = $"Where to write the {what} ('-' for standard output). Written beside it and renamed when complete.",
        Required = true,
        HelpName = "OUT",
    };

    private static Option<bool> Force() => new("--force") { Description = "Replace OUT if it exists (the default is to refuse)." };

    public static Command Seal()
    {
        var to = new Option<string>("--to")
        {
            Description = "The recipient's public key file (hybrid pubkey writes it; a private key file works too): X25519, "
                + "P-256/384/521, ML-KEM-768 or X-Wing; the HPKE suite follows the key (specs/HPKE.md).",
            Required = true,
            HelpName = "RECIPIENT.pub",
        };
        var input = Input("file to seal");
        var output = Output("sealed file");
        var force = Force();
        var command = new Command("seal", "Encrypt a file to a public key (HPKE sealed file); only the holder of the private key can open it.")
        {
            to,
            input,
            output,
            force,
        };
        command.SetRun(async (parse, cancellationToken) =>
        {
            var recipient = Keys.LoadAnyPublic(parse.GetRequiredValue(to));
            var overwrite = parse.GetValue(force);
            await using var source = Streams.OpenInput(parse.GetRequiredValue(input));
            await using var sink = AtomicOutput.Create(parse.GetRequiredValue(output), overwrite);
            var options = new HpkeSenderOptions { Suite = HpkeSuite.DefaultFor(recipient.Algorithm) };
            await SealedFile.SealAsync(recipient, source, sink.Stream, options: options, cancellationToken: cancellationToken).ConfigureAwait(false);
            await sink.Commit(overwrite).ConfigureAwait(false);
            return ExitCode.Success;
        });
        return App.WithExamples(
            command,
            "hybrid seal --to alice.pub report.pdf -o report.pdf.sealed",
            "tar c docs | hybrid seal --to alice.pub - -o - > docs.tar.sealed");
    }

    /// <summary>
    /// Any failure to open a sealed file, once the key is loaded, is about the file (exit 6), told in user terms; the
    /// library's own message stays available with --verbose.
    /// </summary>
    private static CliException Damaged(string what, HybridProtocolException e) => new(
        ExitCode.Integrity,
        e.Code switch
        {
            HybridErrorCode.DecryptionFailed =>
                $"{what} could not be opened: it was altered or damaged, or it was sealed to another key. Nothing was kept.",
            HybridErrorCode.InvalidKey =>
                $"{what} was sealed to a key of another type than this one ({e.Message}) Nothing was kept.",
            HybridErrorCode.InvalidCiphertext =>
                $"{what} is cut off or damaged (it ends too early or its chunks do not fit together). Nothing was kept.",
            _ => $"{what} is not a sealed file this key can open (its header is damaged, or it uses a form this tool does not read). Nothing was kept.",
        },
        e);

    public static Command Open()
    {
        var key = new Option<string>("--key")
        {
            Description = "Your private key file (the one whose public key the file was sealed to).",
            Required = true,
            HelpName = "KEY",
        };
        var input = Input("sealed file");
        var output = Output("opened data");
        var force = Force();
        var command = new Command(
            "open",
            "Decrypt a sealed file with your private key; a damaged, cut-off or tampered file is refused (exit 6) and no output file is left.")
        {
            key,
            input,
            output,
            force,
        };
        command.SetRun(async (parse, cancellationToken) =>
        {
            using var privateKey = Keys.LoadPrivate(parse.GetRequiredValue(key));
            var overwrite = parse.GetValue(force);
            await using var source = Streams.OpenInput(parse.GetRequiredValue(input));
            await using var sink = AtomicOutput.Create(parse.GetRequiredValue(output), overwrite);
            var name = parse.GetRequiredValue(input);
            try
            {
                await SealedFile.OpenAsync(privateKey, source, sink.Stream, cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            catch (HybridProtocolException e)
            {
                throw Damaged(name == "-" ? "The input" : $"'{name}'", e);
            }

            await sink.Commit(overwrite).ConfigureAwait(false);
            return ExitCode.Success;
        });
        return App.WithExamples(
            command,
            "hybrid open --key alice.key report.pdf.sealed -o report.pdf",
            "hybrid open --key alice.key - -o - < docs.tar.sealed | tar x");
    }
}
