namespace HybridProtocol.Cli;

/// <summary>Loading key files for the commands, with messages that say which file and what to do.</summary>
internal static class Keys
{
    /// <summary>Loads a private key file (PEM, as <c>hybrid keygen</c> or <c>openssl genpkey -algorithm X25519</c> write it).</summary>
    public static PrivateKey LoadPrivate(string path)
    {
        RequireKeyFile(path, "private key");
        return PrivateKey.Load(path);
    }

    /// <summary>Loads a public key file (PEM, as <c>hybrid pubkey</c> or <c>openssl pkey -pubout</c> write it).</summary>
    public static PublicKey LoadPublic(string path)
    {
        RequireKeyFile(path, "public key");
        return PublicKey.Load(path);
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
        catch (HybridProtocolException publicError) when (publicError.Code == HybridErrorCode.InvalidKey)
        {
            try
            {
                using var key = PrivateKey.Load(path);
                return key.PublicKey;
            }
            catch (HybridProtocolException privateError) when (privateError.Code == HybridErrorCode.InvalidKey)
            {
                throw LooksPrivate(path) ? privateError : publicError;
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
