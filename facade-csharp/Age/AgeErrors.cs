using HybridProtocol.Core.Age;
using Microsoft.FSharp.Core;

namespace HybridProtocol;

/// <summary>Turns the core's typed age errors into <see cref="HybridProtocolException"/>s with codes and messages.</summary>
internal static class AgeErrors
{
    public static T Check<T>(FSharpResult<T, AgeError> result) =>
        result.IsOk ? result.ResultValue : throw ToException(result.ErrorValue);

    public static T Check<T>(FSharpResult<T, ArmorError> result) =>
        result.IsOk ? result.ResultValue : throw ToException(AgeError.NewArmor(result.ErrorValue));

    public static T Check<T>(FSharpResult<T, HeaderError> result) =>
        result.IsOk ? result.ResultValue : throw ToException(AgeError.NewHeader(result.ErrorValue));

    public static T Check<T>(FSharpResult<T, PayloadError> result) =>
        result.IsOk ? result.ResultValue : throw ToException(AgeError.NewPayload(result.ErrorValue));

    /// <summary>
    /// Armor, header and stanza faults are <see cref="HybridErrorCode.InvalidCiphertext"/> (an unsupported version
    /// <see cref="HybridErrorCode.Unsupported"/>); no matching identity, a wrong header MAC and a chunk that does not
    /// authenticate are <see cref="HybridErrorCode.DecryptionFailed"/>; a cut-off payload is InvalidCiphertext.
    /// </summary>
    public static Exception ToException(AgeError error) => error switch
    {
        AgeError.Armor { Item: var armor } => HybridErrors.Create(
            HybridErrorCode.InvalidCiphertext,
            $"The ASCII-armored age file is malformed ({Describe(armor)}); age's armor is strict PEM (RFC 7468) with the label AGE ENCRYPTED FILE."),
        AgeError.Header { Item: var header } when header.IsUnsupportedVersion => HybridErrors.Create(
            HybridErrorCode.Unsupported,
            $"The age file has version '{((HeaderError.UnsupportedVersion)header).version}'; this library reads age-encryption.org/v1."),
        AgeError.Header { Item: var header } when header.IsNotAnAgeFile => HybridErrors.Create(
            HybridErrorCode.InvalidCiphertext,
            "The input is not an age file (it does not start with age-encryption.org/)."),
        AgeError.Header { Item: var header } => HybridErrors.Create(
            HybridErrorCode.InvalidCiphertext,
            $"The age file's header is malformed or cut off ({header})."),
        AgeError.Stanza { Item: var stanza } => HybridErrors.Create(
            HybridErrorCode.InvalidCiphertext,
            $"The age file's header has a recipient stanza that must be refused ({stanza})."),
        _ when error.IsNoIdentityMatched => HybridErrors.Create(
            HybridErrorCode.DecryptionFailed,
            "None of the given keys can open this age file: it was encrypted to other recipients (or its stanzas were altered)."),
        _ when error.IsHeaderMacMismatch => HybridErrors.Create(
            HybridErrorCode.DecryptionFailed,
            "The age file's header MAC does not verify: the header was altered."),
        AgeError.Payload { Item: var payload } when payload.IsChunkOpenError => HybridErrors.Create(
            HybridErrorCode.DecryptionFailed,
            "An age payload chunk does not authenticate: the file was altered or damaged. Discard what was written."),
        AgeError.Payload { Item: var payload } => HybridErrors.Create(
            HybridErrorCode.InvalidCiphertext,
            $"The age payload is cut off or malformed ({payload}). Discard what was written."),
        _ when error.IsNoRecipients => HybridErrors.Create(HybridErrorCode.InvalidArgument, "An age file needs at least one recipient."),
        _ when error.IsMixedPostQuantumRecipients => HybridErrors.Create(
            HybridErrorCode.InvalidArgument,
            "Post-quantum (age1pq1…, X-Wing) recipients cannot be mixed with X25519 recipients in one age file: the X25519 stanza would "
            + "undo the post-quantum protection (age refuses it too). Encrypt to post-quantum recipients only, or to X25519 ones only."),
        AgeError.Hpke { Item: var hpke } => HpkeErrors.ToException(hpke),
        _ => HybridErrors.Create(HybridErrorCode.InvalidArgument, $"age: {error}."),
    };

    private static string Describe(ArmorError error) => error switch
    {
        ArmorError.MissingBeginLine e => $"line {e.line}: expected whitespace or -----BEGIN AGE ENCRYPTED FILE-----",
        _ when error.IsMissingEndLine => "no -----END AGE ENCRYPTED FILE----- line",
        ArmorError.LineTooLong e => $"line {e.line} is longer than 64 columns",
        ArmorError.ShortLine e => $"line {e.line} is short or empty but not the last",
        ArmorError.InvalidBase64 e => $"line {e.line} is not canonical base64",
        ArmorError.DataAfterEnd e => $"line {e.line}: data after the end line",
        _ => error.ToString(),
    };
}
