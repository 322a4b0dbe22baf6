using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using HybridProtocol.Core.Formats;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace HybridProtocol;

/// <summary>The file under the store: reading, atomic writing, the lock between processes, and the core's forms of keys, hosts and entries.</summary>
public sealed partial class KnownHosts
{
    /// <summary>The core form of an entry (its host already in stored form).</summary>
    internal static HostKeyEntry ToCore(KnownHostEntry entry) =>
        new(entry.Host, entry.Port, HostKey.NewX25519(entry.Key.RawBytes.ToArray()), entry.Comment is null ? FSharpOption<string>.None : FSharpOption<string>.Some(entry.Comment));

    private static KnownHostEntry FromCore(HostKeyEntry entry, int lineNumber) =>
        new(entry.Host, entry.Port, PublicKey.FromOwnedRaw(entry.Key.publicKey), OptionModule.IsSome(entry.Comment) ? entry.Comment!.Value : null, lineNumber);

    private static FSharpList<KnownHostsLine> Append(FSharpList<KnownHostsLine> lines, KnownHostEntry entry) =>
        ListModule.Append(lines, FSharpList<KnownHostsLine>.Cons(KnownHostsLine.NewEntry(ToCore(entry)), FSharpList<KnownHostsLine>.Empty));

    /// <summary>The key as a known-hosts line holds it; only X25519 keys (specs/KEYS.md).</summary>
    private static HostKey HostKeyOf(PublicKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Algorithm != KeyAlgorithm.X25519)
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidKey,
                $"Known hosts record X25519 keys only; this is a {KeyAlgorithms.Name(key.Algorithm)} key.");
        }

        return HostKey.NewX25519(key.RawBytes.ToArray());
    }

    private static string NormalizeHost(string host)
    {
        ArgumentNullException.ThrowIfNull(host);
        var normalized = HostPortModule.normalizeHost(host);
        if (normalized.IsError)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"'{host}' is not a host name or IP address: {HostPortMessages.Describe(normalized.ErrorValue)}.");
        }

        return normalized.ResultValue;
    }

    private static void CheckPort(int port)
    {
        if (HostPortModule.checkPort(port).IsError)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, HostPortMessages.PortMessage(port));
        }
    }

    private FSharpList<KnownHostsLine> Read()
    {
        byte[] bytes;
        try
        {
            if (!File.Exists(Path))
            {
                return FSharpList<KnownHostsLine>.Empty;
            }

            using var stream = new FileStream(Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            if (stream.Length > MaxFileBytes)
            {
                throw new HybridArgumentException(
                    HybridErrorCode.InvalidKey,
                    $"The known-hosts file {Path} is larger than {MaxFileBytes / (1024 * 1024)} MiB; it is not a known-hosts file or has grown out of hand.");
            }

            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (FileNotFoundException)
        {
            return FSharpList<KnownHostsLine>.Empty; // removed between the check and the open: as good as missing
        }
        catch (Exception e) when (KeyFiles.IsFileError(e))
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"Cannot read the known-hosts file {Path}: {e.Message}", e);
        }

        var decoded = KnownHostsFile.decode(Encoding.UTF8.GetString(bytes));
        if (decoded.IsError)
        {
            var (line, problem) = (decoded.ErrorValue.Line, HostPortMessages.Describe(decoded.ErrorValue.Error));
            throw new HybridArgumentException(
                HybridErrorCode.InvalidKey,
                $"The known-hosts file {Path}, line {line}, is malformed: {problem}. "
                + $"Each line must be 'HOST:PORT {KeyType} BASE64-KEY [comment]' (or a '#' comment); fix or delete line {line}.");
        }

        return decoded.ResultValue;
    }

    private void Write(FSharpList<KnownHostsLine> lines)
    {
        CreateDirectory();
        KeyFiles.ReplaceAtomically(Path, Encoding.UTF8.GetBytes(KnownHostsFile.encode(lines)), KeyFiles.OwnerOnly, "known-hosts file");
    }

    private void CreateDirectory()
    {
        var directory = System.IO.Path.GetDirectoryName(Path);
        try
        {
            if (!string.IsNullOrEmpty(directory) && !Directory.Exists(directory))
            {
                if (OperatingSystem.IsWindows())
                {
                    Directory.CreateDirectory(directory);
                }
                else
                {
                    Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                }
            }
        }
        catch (Exception e) when (KeyFiles.IsFileError(e))
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"Cannot create the directory {directory} for the known-hosts file: {e.Message}", e);
        }
    }

    /// <summary>
    /// Takes the lock between processes on <c>PATH.lock</c> (<see cref="FileLock"/>), retried for up to
    /// <see cref="LockTimeout"/>; disposing the result releases it. Null where the lock file cannot be created at all (a
    /// read-only directory): nothing can be written there either, and reads are consistent without it (writes replace
    /// the file by rename).
    /// </summary>
    private FileLock? LockFile()
    {
        CreateDirectory();
        var lockPath = Path + ".lock";
        try
        {
            return FileLock.Take(lockPath, LockTimeout);
        }
        catch (Exception e) when (KeyFiles.IsFileError(e))
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidArgument,
                $"The known-hosts file {Path} is locked by another process (lock file {lockPath}) for more than {(int)LockTimeout.TotalSeconds} s, or the lock cannot be taken: {e.Message}",
                e);
        }
    }
}
