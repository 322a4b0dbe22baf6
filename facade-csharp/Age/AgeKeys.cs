using System.Security.Cryptography;
using HybridProtocol.Core.Age;
using NSec.Cryptography;
using CoreAgeKeys = HybridProtocol.Core.Age.AgeKeys;

namespace HybridProtocol;

/// <content>age recipient strings (<c>age1…</c>, <c>age1pq1…</c>) for X25519 and X-Wing public keys (specs/AGE.md).</content>
public sealed partial class PublicKey
{
    /// <summary>
    /// The key as an age recipient string: <c>age1…</c> (Bech32, HRP <c>age</c>) for an X25519 key, <c>age1pq1…</c> (HRP
    /// <c>age1pq</c>) for an X-Wing (MLKEM768-X25519) key, exactly what <c>age-keygen -y</c> prints.
    /// </summary>
    /// <exception cref="HybridArgumentException"><see cref="HybridErrorCode.InvalidKey"/> for a key of another algorithm (age has no P-256/384/521 or ML-KEM-768 recipient of this kind).</exception>
    public string ToAgeRecipient()
    {
        var keyType = AgeInterop.KeyType(Algorithm, "an age recipient");
        return AgeInterop.CheckKey(CoreAgeKeys.encodeRecipient(keyType, RawBytes.Span));
    }

    /// <summary>Reads an age recipient string (<c>age1…</c> or <c>age1pq1…</c>) as an X25519 or X-Wing public key.</summary>
    /// <exception cref="HybridArgumentException"><see cref="HybridErrorCode.InvalidKey"/> when the text is not such a recipient.</exception>
    public static PublicKey FromAgeRecipient(string recipient)
    {
        ArgumentNullException.ThrowIfNull(recipient);
        var (keyType, bytes) = AgeInterop.CheckKey(CoreAgeKeys.decodeRecipient(recipient.Trim()));
        return FromRawBytes(AgeInterop.Algorithm(keyType), bytes);
    }
}

/// <content>age identity strings (<c>AGE-SECRET-KEY-1…</c>, <c>AGE-SECRET-KEY-PQ-1…</c>) for X25519 and X-Wing private keys.</content>
public sealed partial class PrivateKey
{
    /// <summary>
    /// The key as an age identity string: <c>AGE-SECRET-KEY-1…</c> for X25519 (the 32-byte scalar), <c>AGE-SECRET-KEY-PQ-1…</c>
    /// for X-Wing (the 32-byte seed), as <c>age-keygen</c> writes them. The string holds the secret and cannot be erased.
    /// </summary>
    /// <exception cref="HybridArgumentException"><see cref="HybridErrorCode.InvalidKey"/> for a key of another algorithm.</exception>
    /// <exception cref="ObjectDisposedException">The key has been disposed.</exception>
    public string ToAgeIdentity()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var keyType = AgeInterop.KeyType(Algorithm, "an age identity");
        Span<byte> raw = stackalloc byte[32];
        try
        {
            if (_key is not null)
            {
                if (!_key.TryExport(KeyBlobFormat.RawPrivateKey, raw, out var written) || written != raw.Length)
                {
                    throw new InvalidOperationException("NSec did not export a 32-byte X25519 private key.");
                }
            }
            else
            {
                _seed!.Bytes.CopyTo(raw);
            }

            return AgeInterop.CheckKey(CoreAgeKeys.encodeIdentity(keyType, raw));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(raw);
        }
    }

    /// <summary>Reads an age identity string (<c>AGE-SECRET-KEY-1…</c> or <c>AGE-SECRET-KEY-PQ-1…</c>) as an X25519 or X-Wing key.</summary>
    /// <exception cref="HybridArgumentException"><see cref="HybridErrorCode.InvalidKey"/> when the text is not such an identity.</exception>
    public static PrivateKey FromAgeIdentity(string identity)
    {
        ArgumentNullException.ThrowIfNull(identity);
        var (keyType, bytes) = AgeInterop.CheckKey(CoreAgeKeys.decodeIdentity(identity.Trim()));
        try
        {
            return FromRawBytes(AgeInterop.Algorithm(keyType), bytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(bytes);
        }
    }
}

/// <content>age identity files.</content>
public sealed partial class PrivateKey
{
    /// <summary>
    /// Reads the text of an age identity file (what <c>age-keygen</c> writes): one <c>AGE-SECRET-KEY-…</c> line per key, with
    /// empty lines and <c>#</c> comments ignored. Dispose every key returned.
    /// </summary>
    /// <exception cref="HybridArgumentException"><see cref="HybridErrorCode.InvalidKey"/> naming the first line that is not an identity.</exception>
    public static IReadOnlyList<PrivateKey> FromAgeIdentityFile(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var keys = AgeInterop.CheckFile(CoreAgeKeys.decodeIdentityFile(text), "identity");
        var result = new List<PrivateKey>();
        try
        {
            foreach (var (keyType, bytes) in keys)
            {
                result.Add(FromRawBytes(AgeInterop.Algorithm(keyType), bytes));
            }

            return result;
        }
        catch
        {
            result.ForEach(k => k.Dispose());
            throw;
        }
        finally
        {
            foreach (var (_, bytes) in keys)
            {
                CryptographicOperations.ZeroMemory(bytes);
            }
        }
    }
}

/// <content>age recipients files.</content>
public sealed partial class PublicKey
{
    /// <summary>Reads the text of an age recipients file (<c>age -R</c>): one <c>age1…</c> line per key, empty lines and <c>#</c> comments ignored.</summary>
    /// <exception cref="HybridArgumentException"><see cref="HybridErrorCode.InvalidKey"/> naming the first line that is not a recipient.</exception>
    public static IReadOnlyList<PublicKey> FromAgeRecipientFile(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return AgeInterop.CheckFile(CoreAgeKeys.decodeRecipientFile(text), "recipient")
            .Select(k => FromRawBytes(AgeInterop.Algorithm(k.Item1), k.Item2))
            .ToList();
    }
}

/// <summary>The library's key algorithms to age's recipient types, and the core's key errors to exceptions.</summary>
internal static class AgeInterop
{
    public static CoreAgeKeys.AgeKeyType KeyType(KeyAlgorithm algorithm, string what) => algorithm switch
    {
        KeyAlgorithm.X25519 => CoreAgeKeys.AgeKeyType.X25519,
        KeyAlgorithm.XWing => CoreAgeKeys.AgeKeyType.MlKem768X25519,
        _ => throw new HybridArgumentException(
            HybridErrorCode.InvalidKey,
            $"A {KeyAlgorithms.Name(algorithm)} key has no form as {what}: age's native types are X25519 and MLKEM768-X25519 (X-Wing). "
            + "Use a key made with PrivateKey.Generate(KeyAlgorithm.X25519) or PrivateKey.Generate(KeyAlgorithm.XWing)."),
    };

    public static KeyAlgorithm Algorithm(CoreAgeKeys.AgeKeyType keyType) =>
        keyType.IsX25519 ? KeyAlgorithm.X25519 : KeyAlgorithm.XWing;

    public static T CheckKey<T>(Microsoft.FSharp.Core.FSharpResult<T, AgeKeyError> result) =>
        result.IsOk ? result.ResultValue : throw new HybridArgumentException(HybridErrorCode.InvalidKey, KeyMessage(result.ErrorValue));

    public static Microsoft.FSharp.Collections.FSharpList<(CoreAgeKeys.AgeKeyType, byte[])> CheckFile(
        Microsoft.FSharp.Core.FSharpResult<Microsoft.FSharp.Collections.FSharpList<(CoreAgeKeys.AgeKeyType, byte[])>, (int, AgeKeyError)> result,
        string what) =>
        result.IsOk
            ? result.ResultValue
            : throw new HybridArgumentException(
                HybridErrorCode.InvalidKey,
                $"Line {result.ErrorValue.Item1} of the age {what} file: {KeyMessage(result.ErrorValue.Item2)}");

    private static string KeyMessage(AgeKeyError error) => error switch
    {
        AgeKeyError.KeyBech32 { Item: var bech32 } => bech32 switch
        {
            _ when bech32.IsMixedCase => "An age key string is all lowercase or all uppercase; this one mixes both.",
            _ when bech32.IsChecksumMismatch => "The age key string's checksum does not match: a character was mistyped or lost.",
            _ => $"The text is not an age key string (Bech32: {bech32}).",
        },
        AgeKeyError.UnknownKeyType { hrp: var hrp } =>
            $"'{hrp}1…' is not an age key type this library reads (X25519: age1…/AGE-SECRET-KEY-1…; post-quantum: age1pq1…/AGE-SECRET-KEY-PQ-1…).",
        AgeKeyError.WrongKeyLength e => $"The age key string holds {e.actual} bytes of key; its type needs {e.expected}.",
        _ => $"Invalid age key string: {error}.",
    };
}
