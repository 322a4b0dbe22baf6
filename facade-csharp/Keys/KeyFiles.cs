using System.Security.Cryptography;
using System.Text;

namespace HybridProtocol;

/// <summary>
/// Creating key and trust files safely: owner-only permissions from the first byte on Unix (the mode is given
/// to open(2), never changed afterwards), no silent overwrite, and atomic replacement (temporary file in the
/// same directory, then rename) when overwriting is asked for. Buffers that held key text are zeroed.
/// </summary>
internal static class KeyFiles
{
    /// <summary>rw------- (0600).</summary>
    internal const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>rw-r--r-- (0644), further reduced by the process umask.</summary>
    internal const UnixFileMode Readable = OwnerOnly | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    /// <summary>
    /// Writes ASCII/UTF-8 <paramref name="text"/> to <paramref name="path"/>. Without <paramref name="overwrite"/> the
    /// file is created with O_CREAT|O_EXCL (<see cref="FileMode.CreateNew"/>), so an existing file is never touched.
    /// </summary>
    internal static void Write(string path, ReadOnlySpan<char> text, bool overwrite, bool ownerOnly, string what)
    {
        ArgumentNullException.ThrowIfNull(path);
        var bytes = new byte[Encoding.UTF8.GetByteCount(text)];
        try
        {
            Encoding.UTF8.GetBytes(text, bytes);
            Write(path, bytes, overwrite, ownerOnly, what);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }

    /// <summary>Writes <paramref name="bytes"/> as <see cref="Write(string, ReadOnlySpan{char}, bool, bool, string)"/> does.</summary>
    internal static void Write(string path, ReadOnlySpan<byte> bytes, bool overwrite, bool ownerOnly, string what)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"The path to save the {what} to is empty.");
        }

        if (overwrite)
        {
            ReplaceAtomically(path, bytes, ownerOnly ? OwnerOnly : Readable, what);
            return;
        }

        FileStream stream;
        try
        {
            stream = File.Open(path, Options(FileMode.CreateNew, ownerOnly ? OwnerOnly : Readable));
        }
        catch (IOException e) when (File.Exists(path) || Directory.Exists(path))
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidArgument,
                $"'{path}' already exists; refusing to overwrite it with the {what}. "
                + "Choose another path, delete the old file first, or ask for overwriting explicitly (overwrite: true).",
                e);
        }
        catch (Exception e) when (IsFileError(e))
        {
            throw CannotWrite(path, what, e);
        }

        try
        {
            using (stream)
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }
        }
        catch (Exception e) when (IsFileError(e))
        {
            TryDelete(path);
            throw CannotWrite(path, what, e);
        }
    }

    /// <summary>Writes a temporary file beside <paramref name="path"/> with the given mode, then renames it over the target.</summary>
    internal static void ReplaceAtomically(string path, ReadOnlySpan<byte> bytes, UnixFileMode mode, string what)
    {
        var full = Path.GetFullPath(path);
        var directory = Path.GetDirectoryName(full) ?? ".";
        var temporary = Path.Combine(directory, "." + Path.GetFileName(full) + ".tmp-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(8)));
        try
        {
            using (var stream = File.Open(temporary, Options(FileMode.CreateNew, mode)))
            {
                stream.Write(bytes);
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception e) when (IsFileError(e))
        {
            TryDelete(temporary);
            throw CannotWrite(path, what, e);
        }
    }

    /// <summary>Group or others may read, write or execute: ssh refuses a private key file with any of these (mode &amp; 077).</summary>
    internal const UnixFileMode GroupOrOthers =
        UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute
        | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    /// <summary>
    /// Refuses a private key file that users other than its owner can access (<paramref name="mode"/> as read from the open
    /// file; null on Windows, where nothing is checked), unless <paramref name="options"/> allows it.
    /// </summary>
    /// <exception cref="HybridProtocolException"><see cref="HybridErrorCode.InsecureKeyFile"/>.</exception>
    internal static void CheckPrivateKeyPermissions(string path, UnixFileMode? mode, KeyLoadOptions? options)
    {
        if (mode is not { } m || (m & GroupOrOthers) == 0 || options is { AllowInsecurePermissions: true })
        {
            return;
        }

        throw new HybridProtocolException(
            HybridErrorCode.InsecureKeyFile,
            $"'{path}' holds a private key that other users can access (mode {Octal(m)}: group or others have permissions), "
            + "so it is refused, as ssh refuses such keys: anyone who can read it can impersonate its owner. "
            + "Restrict the file to its owner (mode 0600, e.g. File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite)) "
            + "and treat the key as exposed if others could read it; or pass KeyLoadOptions { AllowInsecurePermissions = true } "
            + "to PrivateKey.Load to accept it anyway.");
    }

    /// <summary>The permission bits as four octal digits, as ls and chmod show them (0644).</summary>
    internal static string Octal(UnixFileMode mode) => "0" + Convert.ToString((int)mode & 0x1FF, 8).PadLeft(3, '0');

    internal static bool IsFileError(Exception e) =>
        e is (IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException) and not IHybridProtocolError;

    private static FileStreamOptions Options(FileMode mode, UnixFileMode unixMode)
    {
        var options = new FileStreamOptions { Mode = mode, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            // Given to open(2) as the creation mode: the file never exists with wider permissions (umask can only narrow it).
            options.UnixCreateMode = unixMode;
        }

        return options;
    }

    private static HybridArgumentException CannotWrite(string path, string what, Exception e) => new(
        HybridErrorCode.InvalidArgument,
        $"Cannot write the {what} to '{path}': {e.Message}",
        e);

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (IsFileError(e))
        {
            // Best effort: the original error is the one worth reporting.
        }
    }
}
