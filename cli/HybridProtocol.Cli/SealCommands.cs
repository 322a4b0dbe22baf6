using System.CommandLine;
using System.Text;

namespace HybridProtocol.Cli;

/// <summary>
/// <c>hybrid seal</c> and <c>hybrid open</c>: age v1 files (specs/AGE.md, readable by the <c>age</c> tool) and the project's own
/// HPSEAL sealed files (specs/HPKE.md), streamed in constant memory. <c>open</c> tells the two apart by their first bytes.
/// </summary>
internal static class SealCommands
{
    private static Argument<string> Input(string what) => new("IN")
    {
        Description = $"The {what} ('-' for standard input; the default).",
        DefaultValueFactory = _ => "-",
    };

    private static Option<string> Output(string what) => new("--output", "-o")
    {
        Description = $"Where to write the {what} ('-' or absent: standard output). A file is written beside it and renamed when complete.",
        DefaultValueFactory = _ => "-",
        HelpName = "OUT",
    };

    private static Option<bool> Force() => new("--force") { Description = "Replace OUT if it exists (the default is to refuse)." };

    public static Command Seal()
    {
        var to = new Option<string[]>("--to")
        {
            Description = "A recipient's public key file (hybrid pubkey writes it; a private key file works too). Repeatable for age files. "
                + "HPSEAL takes any keygen type; age takes X25519 and X-Wing keys.",
            HelpName = "RECIPIENT.pub",
            AllowMultipleArgumentsPerToken = false,
        };
        var recipient = new Option<string[]>("--recipient", "-r")
        {
            Description = "An age recipient: age1… (X25519) or age1pq1… (post-quantum X-Wing). Repeatable. Implies --format age.",
            HelpName = "AGE1…",
        };
        var recipientsFile = new Option<string[]>("--recipients-file", "-R")
        {
            Description = "A file of age recipients, one per line ('#' comments). Repeatable. Implies --format age.",
            HelpName = "FILE",
        };
        var format = new Option<string?>("--format")
        {
            Description = "age (an age v1 file any age tool opens) or hpseal (HPSEAL, specs/HPKE.md). Default: age when -r, -R, -a "
                + "or several --to are given, hpseal for one --to key file.",
            HelpName = "FORMAT",
        };
        format.AcceptOnlyFromAmong("age", "hpseal");
        var armor = new Option<bool>("--armor", "-a") { Description = "Write age's ASCII armor (PEM, 7-bit text). Implies --format age." };
        var input = Input("file to seal");
        var output = Output("sealed file");
        var force = Force();
        var command = new Command("seal", "Encrypt a file to public keys (an age file, or an HPKE sealed file); only the holders of the private keys can open it.")
        {
            to,
            recipient,
            recipientsFile,
            format,
            armor,
            input,
            output,
            force,
        };
        command.SetRun(async (parse, cancellationToken) =>
        {
            var toFiles = parse.GetValue(to) ?? [];
            var ageStrings = parse.GetValue(recipient) ?? [];
            var ageFiles = parse.GetValue(recipientsFile) ?? [];
            var armored = parse.GetValue(armor);
            if (toFiles.Length + ageStrings.Length + ageFiles.Length == 0)
            {
                throw new CliException(ExitCode.Usage, "Give at least one recipient: --to KEY.pub, -r age1… or -R FILE.");
            }

            var useAge = parse.GetValue(format) switch
            {
                "age" => true,
                "hpseal" => false,
                _ => ageStrings.Length + ageFiles.Length > 0 || armored || toFiles.Length > 1,
            };
            if (!useAge && (ageStrings.Length + ageFiles.Length > 0 || armored || toFiles.Length != 1))
            {
                throw new CliException(ExitCode.Usage, "--format hpseal takes exactly one --to key file, and no -r, -R or -a (those are age's).");
            }

            var outputPath = parse.GetValue(output) ?? "-";
            if (outputPath == "-" && !armored && !Console.IsOutputRedirected)
            {
                throw new CliException(
                    ExitCode.Usage,
                    "Refusing to write a binary encrypted file to the terminal: give -o FILE, redirect standard output, or use -a for armored text.");
            }

            var recipients = new List<PublicKey>();
            recipients.AddRange(toFiles.Select(Keys.LoadAnyPublic));
            recipients.AddRange(ageStrings.Select(AgeRecipient));
            foreach (var file in ageFiles)
            {
                Keys.RequireFile(file, "recipients file");
                recipients.AddRange(Checked(file, () => PublicKey.FromAgeRecipientFile(File.ReadAllText(file))));
            }

            var overwrite = parse.GetValue(force);
            await using var source = Streams.OpenInput(parse.GetValue(input) ?? "-");
            await using var sink = AtomicOutput.Create(outputPath, overwrite);
            if (useAge)
            {
                await AgeFile.EncryptAsync(recipients, source, sink.Stream, armored, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                var options = new HpkeSenderOptions { Suite = HpkeSuite.DefaultFor(recipients[0].Algorithm) };
                await SealedFile.SealAsync(recipients[0], source, sink.Stream, options: options, cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            await sink.Commit(overwrite).ConfigureAwait(false);
            return ExitCode.Success;
        });
        return App.WithExamples(
            command,
            "hybrid seal --to alice.pub report.pdf -o report.pdf.sealed",
            "hybrid seal -r age1… -r age1… -a notes.txt > notes.txt.age",
            "tar c docs | hybrid seal --to alice.pub -o - > docs.tar.sealed");
    }

    private static PublicKey AgeRecipient(string text) => Checked($"the recipient '{text}'", () => PublicKey.FromAgeRecipient(text));

    private static T Checked<T>(string what, Func<T> read)
    {
        try
        {
            return read();
        }
        catch (HybridArgumentException e) when (e.Code == HybridErrorCode.InvalidKey)
        {
            throw new CliException(ExitCode.KeyOrFile, $"{what}: {e.Message}", e);
        }
    }

    /// <summary>
    /// Any failure to open a sealed file, once the key is loaded, is about the file (exit 6), told in user terms; the
    /// library's own message stays available with --verbose.
    /// </summary>
    private static CliException Damaged<T>(string what, T e) where T : Exception, IHybridProtocolError => new(
        ExitCode.Integrity,
        e.Code switch
        {
            HybridErrorCode.DecryptionFailed =>
                $"{what} could not be opened: it was altered or damaged, or it was sealed to another key. Nothing was kept.",
            HybridErrorCode.InvalidKey =>
                $"{what} was sealed to a key of another type than this one ({e.Message}) Nothing was kept.",
            HybridErrorCode.InvalidCiphertext =>
                $"{what} is cut off or damaged (it ends too early, or its header, armor or chunks do not fit together). Nothing was kept.",
            _ => $"{what} is not a sealed or age file this key can open (its header is damaged, or it uses a form this tool does not read). Nothing was kept.",
        },
        e);

    /// <summary>Loads --key files: an age identity file (AGE-SECRET-KEY-… lines) or a PEM private key.</summary>
    private static List<PrivateKey> LoadIdentities(IEnumerable<string> paths)
    {
        var keys = new List<PrivateKey>();
        try
        {
            foreach (var path in paths)
            {
                Keys.RequireKeyFile(path, "key");
                var head = new byte[Math.Min(4096, new FileInfo(path).Length)];
                using (var file = File.OpenRead(path))
                {
                    file.ReadExactly(head);
                }

                if (Encoding.ASCII.GetString(head).Contains("AGE-SECRET-KEY-", StringComparison.Ordinal))
                {
                    keys.AddRange(Checked($"'{path}'", () => PrivateKey.FromAgeIdentityFile(File.ReadAllText(path))));
                }
                else
                {
                    keys.Add(Keys.LoadPrivate(path));
                }
            }

            return keys;
        }
        catch
        {
            keys.ForEach(k => k.Dispose());
            throw;
        }
    }

    public static Command Open()
    {
        var key = new Option<string[]>("--key", "-i")
        {
            Description = "Your private key file: a PEM key (hybrid keygen) or an age identity file (age-keygen). Repeatable for age files.",
            Required = true,
            HelpName = "KEY",
        };
        var input = Input("sealed or age file");
        var output = Output("opened data");
        var force = Force();
        var command = new Command(
            "open",
            "Decrypt an age file (binary or armored) or a sealed file with your private key; the format is read from the file. A damaged, "
            + "cut-off or tampered file is refused (exit 6) and no output file is left.")
        {
            key,
            input,
            output,
            force,
        };
        command.SetRun(async (parse, cancellationToken) =>
        {
            var identities = LoadIdentities(parse.GetRequiredValue(key));
            try
            {
                var overwrite = parse.GetValue(force);
                var name = parse.GetValue(input) ?? "-";
                await using var source = Streams.OpenInput(name);
                await using var sink = AtomicOutput.Create(parse.GetValue(output) ?? "-", overwrite);

                // The format from the first bytes; they are read once and put back in front of the rest.
                var head = new byte[1024];
                var length = 0;
                int read;
                while (length < head.Length && (read = await source.ReadAsync(head.AsMemory(length), cancellationToken).ConfigureAwait(false)) > 0)
                {
                    length += read;
                }

                var format = AgeFile.Detect(head.AsSpan(0, length));
                using var whole = new PrefixedStream(head, length, source);
                try
                {
                    if (format != AgeFormat.NotAge)
                    {
                        await AgeFile.DecryptAsync(identities, whole, sink.Stream, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        await SealedFile.OpenAsync(identities[0], whole, sink.Stream, cancellationToken: cancellationToken).ConfigureAwait(false);
                    }
                }
                catch (HybridProtocolException e)
                {
                    throw Damaged(name == "-" ? "The input" : $"'{name}'", e);
                }
                catch (HybridArgumentException e)
                {
                    throw Damaged(name == "-" ? "The input" : $"'{name}'", e);
                }

                await sink.Commit(overwrite).ConfigureAwait(false);
                return ExitCode.Success;
            }
            finally
            {
                identities.ForEach(k => k.Dispose());
            }
        });
        return App.WithExamples(
            command,
            "hybrid open --key alice.key report.pdf.sealed -o report.pdf",
            "hybrid open -i age-identities.txt notes.txt.age -o notes.txt",
            "hybrid open --key alice.key - -o - < docs.tar.sealed | tar x");
    }

    /// <summary>A read-only stream that returns the bytes already read for format detection, then the rest of the input.</summary>
    private sealed class PrefixedStream(byte[] prefix, int length, Stream rest) : Stream
    {
        private int _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (_position < length)
            {
                var n = Math.Min(buffer.Length, length - _position);
                prefix.AsSpan(_position, n).CopyTo(buffer);
                _position += n;
                return n;
            }

            return rest.Read(buffer);
        }

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (_position < length)
            {
                return Read(buffer.Span);
            }

            return await rest.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
