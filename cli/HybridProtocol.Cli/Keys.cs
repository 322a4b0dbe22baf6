namespace HybridProtocol.Cli;

/// <summary>Loading key files for the commands, with messages that say which file and what to do.</summary>
internal static class Keys
{
    /// <summary>What the tool adds to the library's key errors: its own commands for making and reading keys.</summary>
    public const string KeyHint =
        " With this tool: 'hybrid keygen [--type TYPE] -o FILE' makes a private key, 'hybrid pubkey FILE' prints its public key.";

    /// <summary>Loads a private key file (PEM, as <c>hybrid keygen</c> or <c>openssl genpkey -algorithm X25519</c> write it).</summary>
    public static PrivateKey LoadPrivate(string path)
    {
        RequireKeyFile(path, "private key");
        return WithHints(path, () => PrivateKey.Load(path));
    }

    /// <summary>
    /// Loads a private key for a connection (a server's --key, a client's --key): an X25519 key. A key of another type
    /// (P-256, ML-KEM-768, X-Wing: for sealed files) is refused here, at start, with exit 3, rather than by every client.
    /// </summary>
    public static PrivateKey LoadConnectionKey(string path)
    {
        var key = LoadPrivate(path);
        if (key.Algorithm != KeyAlgorithm.X25519)
        {
            var type = key.Algorithm switch
            {
                KeyAlgorithm.P256 => "P-256",
                KeyAlgorithm.P384 => "P-384",
                KeyAlgorithm.P521 => "P-521",
                KeyAlgorithm.MlKem768 => "ML-KEM-768",
                _ => "X-Wing",
            };
            key.Dispose();
            throw new CliException(
                ExitCode.KeyOrFile,
                $"'{path}' holds a {type} key, which only sealed files use ('hybrid seal'/'hybrid open'); connections need an X25519 key: make one with 'hybrid keygen -o FILE'.");
        }

        return key;
    }

    /// <summary>The public key in PEM text read from stdin (<c>hybrid pubkey -</c>): a private key's, or a public key itself.</summary>
    public static PublicKey ReadAnyPublic(string pem)
    {
        if (pem.Contains("PRIVATE KEY-----", StringComparison.Ordinal))
        {
            using var key = PrivateKey.FromPem(pem);
            return key.PublicKey;
        }

        return PublicKey.FromPem(pem);
    }

    /// <summary>Loads a public key file (PEM, as <c>hybrid pubkey</c> or <c>openssl pkey -pubout</c> write it).</summary>
    public static PublicKey LoadPublic(string path)
    {
        RequireKeyFile(path, "public key");
        return WithHints(path, () => PublicKey.Load(path));
    }

    /// <summary>
    /// The library says what is wrong with a key file in API terms; the tool adds what to type: chmod for a key file
    /// others can read, and keygen/pubkey for a file that is not the right kind of key.
    /// </summary>
    private static T WithHints<T>(string path, Func<T> load)
    {
        try
        {
            return load();
        }
        catch (HybridProtocolException e) when (e.Code == HybridErrorCode.InsecureKeyFile)
        {
            var mode = OperatingSystem.IsWindows() ? "" : $" (mode {Convert.ToString((int)File.GetUnixFileMode(path) & 0x1FF, 8).PadLeft(4, '0')})";
            throw new CliException(
                ExitCode.KeyOrFile,
                $"'{path}' holds a private key that other users can access{mode}; refusing to use it, as ssh does. "
                + $"Fix it with: chmod 600 {path} (and treat the key as exposed if others could read it).",
                e);
        }
        catch (HybridArgumentException e) when (e.Code == HybridErrorCode.InvalidKey)
        {
            throw new CliException(
                ExitCode.KeyOrFile,
                e.Message + KeyHint,
                e);
        }
    }

    /// <summary>
    /// The public key in a public or a private key file: tries <see cref="PublicKey.Load"/>, then
    /// <see cref="PrivateKey.Load"/>. When neither reads it, the error is the one for what the file claims to hold.
    /// </summary>
    public static PublicKey LoadAnyPublic(string path)
    {
        RequireKeyFile(path, "key");
        try
        {
            return PublicKey.Load(path);
        }
        catch (HybridArgumentException publicError) when (publicError.Code == HybridErrorCode.InvalidKey)
        {
            try
            {
                using var key = WithHints(path, () => PrivateKey.Load(path));
                return key.PublicKey;
            }
            catch (CliException e) when (e.InnerException is HybridArgumentException { Code: HybridErrorCode.InvalidKey })
            {
                if (LooksPrivate(path))
                {
                    throw;
                }

                return WithHints<PublicKey>(path, () => throw publicError);
            }
        }
    }

    /// <summary>Fails with a key-or-file error when <paramref name="path"/> is not an existing file.</summary>
    public static void RequireFile(string path, string what)
    {
        if (Directory.Exists(path))
        {
            throw new CliException(ExitCode.KeyOrFile, $"'{path}' is a directory; give the path of the {what} file.");
        }

        if (!File.Exists(path))
        {
            var hint = what.Contains("key", StringComparison.Ordinal) ? " (make a key with 'hybrid keygen -o FILE')" : "";
            throw new CliException(ExitCode.KeyOrFile, $"The {what} file '{path}' does not exist; check the path{hint}.");
        }
    }

    /// <summary>
    /// As <see cref="RequireFile"/>, and refuses what is not a regular file with content: opening a FIFO would block
    /// until something writes to it (and a device or /proc file never ends). Every such file has a size of 0 in
    /// stat, as has an empty file, which is no key either.
    /// </summary>
    public static void RequireKeyFile(string path, string what)
    {
        RequireFile(path, what);
        if (new FileInfo(path).Length == 0)
        {
            throw new CliException(
                ExitCode.KeyOrFile,
                $"The {what} file '{path}' is empty or is not a regular file (a FIFO, device or socket); give the path of a key file.");
        }
    }

    private static bool LooksPrivate(string path)
    {
        using var reader = new StreamReader(path);
        var buffer = new char[64 * 1024];
        var read = reader.ReadBlock(buffer, 0, buffer.Length);
        return new string(buffer, 0, read).Contains("PRIVATE KEY", StringComparison.Ordinal);
    }
}
