using HybridProtocol.Core.Wire;

namespace HybridProtocol.Fuzz;

/// <summary>The seed corpus: small honest inputs per target, written once and checked in under fuzz/corpus.</summary>
public static class Corpus
{
    /// <summary>Writes the seeds to <paramref name="directory"/>/&lt;target&gt;/.</summary>
    public static void Write(string directory)
    {
        foreach (var (target, name, bytes) in Seeds())
        {
            var folder = Path.Combine(directory, target);
            Directory.CreateDirectory(folder);
            File.WriteAllBytes(Path.Combine(folder, name), bytes);
        }
    }

    private static IEnumerable<(string Target, string Name, byte[] Bytes)> Seeds()
    {
        var messages = new[] { "hello"u8.ToArray(), new byte[300], Array.Empty<byte>() };
        foreach (var name in FuzzTargets.ServerNames)
        {
            var pattern = name.Split('_')[1].ToLowerInvariant();
            var (_, _, toServer) = FuzzTargets.HonestSession(name, messages);
            yield return ("handshake", $"{pattern}-session", toServer);
            yield return ("handshake", $"{pattern}-half", toServer[..(toServer.Length / 2)]);
            var preambleLength = 6 + toServer[5];
            yield return ("preamble", pattern, toServer[..preambleLength]);
            yield return ("frame", $"{pattern}-limit-1020", [255, .. toServer[preambleLength..]]);
            yield return ("frame", $"{pattern}-limit-max", [0, .. toServer[preambleLength..]]);
        }

        var refusal = ServerStatusModule.encode(ServerStatus.NewDeclined(new Refusal(
            RefusalCode.UnsupportedPattern, 1, Microsoft.FSharp.Collections.ListModule.OfArray(FuzzTargets.ServerNames)))).ResultValue;
        yield return ("preamble", "refusal", refusal);
        yield return ("preamble", "accepted", [0]);
        yield return ("frame", "empty-frame", [0, 0, 0]);
        yield return ("frame", "too-long", [1, 0xFF, 0xFF, 1, 2, 3]);

        // Record bodies: the honest first record of the NN session (it authenticates), and others that do not.
        var (_, _, nn) = FuzzTargets.HonestSession("Noise_NN_25519_ChaChaPoly_BLAKE2b", messages);
        var firstRecord = FirstRecordBody(nn);
        yield return ("record", "honest-first", firstRecord);
        yield return ("record", "short", firstRecord[..16]);
        yield return ("record", "flipped", [.. firstRecord[..^1], (byte)(firstRecord[^1] ^ 1)]);

        // Sealed-record programs (FuzzTargets.Sealed): config byte, then ops.
        yield return ("sealed", "hello-close", [10, 1, 5, .. "hello"u8, 4, 0]);
        yield return ("sealed", "split-rekey-split", [40, 0, 3, 1, 2, 3, 3, 1, 2, 4, 5, 2, 3, 9, 9, 9, 1, 0, 4, 0]);
        yield return ("sealed", "big-over-limit", [2, 6, 1, 0, 1, 1, 7]);
        yield return ("sealed", "unknown-type", [10, 5, 9, 2, 1, 2, 1, 1, 8]);
        yield return ("sealed", "empty-data", [10, 0, 0, 1, 0]);
        yield return ("sealed", "close-reason", [10, 1, 1, 65, 4, 3, 1, 1, 66]);
        yield return ("sealed", "after-close", [10, 4, 0, 1, 1, 67]);
        yield return ("sealed", "corrupt", [10, 1, 3, 1, 2, 3, 7, 1, 1, 1]);
        yield return ("sealed", "skip-nonce", [10, 1, 3, 1, 2, 3, 15, 1, 1, 1]);
        yield return ("sealed", "empty-messages", [10, 1, 0, 1, 0, 2, 200, 1, 0, 4, 0]);
    }

    /// <summary>The body of the first transport frame after the NN handshake (preamble, message 1, message 2 is the server's).</summary>
    private static byte[] FirstRecordBody(byte[] toServer)
    {
        var offset = 6 + toServer[5];
        offset += 2 + ((toServer[offset] << 8) | toServer[offset + 1]);
        var length = (toServer[offset] << 8) | toServer[offset + 1];
        return toServer[(offset + 2)..(offset + 2 + length)];
    }
}
