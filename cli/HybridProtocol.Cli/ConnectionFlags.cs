using System.CommandLine;

namespace HybridProtocol.Cli;

/// <summary>
/// The options every connection command (serve, connect, send, receive, tunnel) takes the same way: <c>--classical</c>,
/// <c>--psk FILE</c> and <c>--suite NAME</c>, so that another implementation can test each Noise mode and suite live.
/// </summary>
internal sealed class ConnectionFlags
{
    /// <summary>The suite names <c>--suite</c> takes: the cipher and hash sections of the Noise protocol name.</summary>
    public static readonly IReadOnlyDictionary<string, SecureSuite> Suites = new Dictionary<string, SecureSuite>(StringComparer.Ordinal)
    {
        ["ChaChaPoly_BLAKE2b"] = SecureSuite.ChaChaPolyBlake2b,
        ["AESGCM_SHA256"] = SecureSuite.AesGcmSha256,
        ["AEGIS256_BLAKE2b"] = SecureSuite.Aegis256Blake2b,
    };

    public Option<bool> Classical { get; } = NetCommands.ClassicalOption();

    public Option<string?> Psk { get; } = new("--psk")
    {
        Description = "A pre-shared key both ends hold (FILE holds exactly 32 bytes, e.g. 'head -c 32 /dev/urandom > FILE', mode 0600): "
            + "the psk patterns (NKpsk2, XXpsk3...); a server with --psk accepts only clients with the same key.",
        HelpName = "FILE",
    };

    public Option<string[]> Suite { get; } = new("--suite")
    {
        Description = "The cipher suite: ChaChaPoly_BLAKE2b (the default), AESGCM_SHA256 or AEGIS256_BLAKE2b. A client asks for it; "
            + "a server accepts only the suites given (repeat the option for several; default ChaChaPoly_BLAKE2b and AESGCM_SHA256).",
        HelpName = "NAME",
        AllowMultipleArgumentsPerToken = false,
    };

    public void AddTo(Command command)
    {
        command.Options.Add(Classical);
        command.Options.Add(Psk);
        command.Options.Add(Suite);
    }

    /// <summary>Sets a client's post-quantum mode, pre-shared key and suite from the command line.</summary>
    public void Apply(ParseResult parse, SecureClientOptions options)
    {
        ApplyShared(parse, options);
        var suites = ParseSuites(parse);
        if (suites.Count > 1)
        {
            throw new CliException(ExitCode.Usage, "A client asks for one suite: give --suite once.");
        }

        if (suites.Count == 1)
        {
            options.Suite = suites[0];
        }
    }

    /// <summary>Sets a server's post-quantum mode, pre-shared key and accepted suites from the command line.</summary>
    public void Apply(ParseResult parse, SecureServerOptions options)
    {
        ApplyShared(parse, options);
        var suites = ParseSuites(parse);
        if (suites.Count > 0)
        {
            options.AcceptedSuites = suites;
        }
    }

    private void ApplyShared(ParseResult parse, SecureConnectionOptions options)
    {
        options.PostQuantum = NetCommands.PostQuantum(parse, Classical);
        if (parse.GetValue(Psk) is { } file)
        {
            options.PreSharedKey = LoadPsk(file);
        }
    }

    private List<SecureSuite> ParseSuites(ParseResult parse)
    {
        var suites = new List<SecureSuite>();
        foreach (var name in parse.GetValue(Suite) ?? [])
        {
            suites.Add(Suites.TryGetValue(name, out var suite)
                ? suite
                : throw new CliException(ExitCode.Usage, $"'{name}' is not a suite; --suite takes {string.Join(", ", Suites.Keys)}."));
        }

        return suites;
    }

    /// <summary>The 32 bytes of a pre-shared key file; a file of another size, or one other users can read, is refused (exit 3).</summary>
    private static byte[] LoadPsk(string path)
    {
        Keys.RequireKeyFile(path, "pre-shared key");
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
        {
            throw new CliException(ExitCode.KeyOrFile, $"'{path}' holds a pre-shared key that other users can access; refusing to use it. Fix it with: chmod 600 {path}");
        }

        var bytes = File.ReadAllBytes(path);
        return bytes.Length == 32
            ? bytes
            : throw new CliException(ExitCode.KeyOrFile, $"'{path}' holds {bytes.Length} bytes; a pre-shared key file holds exactly 32 (make one with: head -c 32 /dev/urandom > {path}; chmod 600 {path}).");
    }
}
