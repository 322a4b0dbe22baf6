using System.Buffers.Binary;
using System.Diagnostics;
using System.Security.Cryptography;
using NSec.Cryptography;

namespace HybridProtocol.Bench;

/// <summary>
/// HPKE (issue 12): single-shot Seal and Open per KEM (operations per second, one core), and sealed-file throughput per
/// AEAD (MB/s) beside the raw AEAD's speed over the same 64 KiB chunks, so the cost of the format is visible.
/// </summary>
internal static class HpkeBenchmarks
{
    private static readonly KeyAlgorithm[] Kems =
        [KeyAlgorithm.X25519, KeyAlgorithm.P256, KeyAlgorithm.P384, KeyAlgorithm.P521, KeyAlgorithm.MlKem768, KeyAlgorithm.XWing,
         KeyAlgorithm.X448, KeyAlgorithm.MlKem512, KeyAlgorithm.MlKem1024, KeyAlgorithm.MlKem768P256, KeyAlgorithm.MlKem1024P384];

    public static void Run(Scale scale, Report report)
    {
        // X448, ML-KEM-512/1024 and MLKEM1024-P384 come from the optional HybridProtocol.Hpke.Extended package (BouncyCastle).
        HpkeExtended.Register();
        var operations = Math.Max(20, scale.NoiseHandshakesPerRepetition);
        var plaintext = new byte[64];
        foreach (var algorithm in Kems)
        {
            using var key = PrivateKey.Generate(algorithm);
            var suite = HpkeSuite.DefaultFor(algorithm);
            var options = new HpkeSenderOptions { Suite = suite };
            var recipientOptions = new HpkeRecipientOptions { Suite = suite };
            var sealedMessage = Hpke.Seal(key.PublicKey, plaintext, options: options);
            var name = $"{KemName(algorithm)}, {suite.Kdf}, {suite.Aead}";
            report.Add(new Row("HPKE single-shot Seal, one core", "64-byte message", name, Repeat(scale, () => Rate(operations, () =>
                Hpke.Seal(key.PublicKey, plaintext, options: options))), "ops/s", Better.Higher)
            { OverNetwork = false });
            report.Add(new Row("HPKE single-shot Open, one core", "64-byte message", name, Repeat(scale, () => Rate(operations, () =>
                Hpke.Open(key, sealedMessage, options: recipientOptions))), "ops/s", Better.Higher)
            { OverNetwork = false });
        }

        var total = scale.AeadBytes / 4;
        var data = new byte[total];
        using var x25519 = PrivateKey.Generate();
        foreach (var aead in new[] { HpkeAead.Aes128Gcm, HpkeAead.Aes256Gcm, HpkeAead.ChaCha20Poly1305 })
        {
            if (aead == HpkeAead.Aes256Gcm && !NSec.Cryptography.Aes256Gcm.IsSupported)
            {
                continue;
            }

            var suite = new HpkeSuite(HpkeKem.X25519HkdfSha256, HpkeKdf.HkdfSha256, aead);
            var options = new HpkeSenderOptions { Suite = suite };
            var sealedFile = new MemoryStream();
            SealedFile.Seal(x25519.PublicKey, new MemoryStream(data), sealedFile, options: options);
            var sealedBytes = sealedFile.ToArray();
            report.Add(new Row("Sealed file, one core", "seal, 64 KiB chunks", $"SealedFile {aead}", Repeat(scale, () => Throughput(total, () =>
                SealedFile.Seal(x25519.PublicKey, new MemoryStream(data), Stream.Null, options: options))), "MB/s", Better.Higher)
            { OverNetwork = false });
            report.Add(new Row("Sealed file, one core", "open, 64 KiB chunks", $"SealedFile {aead}", Repeat(scale, () => Throughput(total, () =>
                SealedFile.Open(x25519, new MemoryStream(sealedBytes), Stream.Null))), "MB/s", Better.Higher)
            { OverNetwork = false });
            report.Add(new Row("Sealed file, one core", "seal, 64 KiB chunks", $"raw {aead} encrypt", Repeat(scale, () => RawEncrypt(aead, total)), "MB/s", Better.Higher) { OverNetwork = false });
        }

        report.Note("HPKE rows: single-shot Seal/Open of a 64-byte message with HpkeSuite.DefaultFor(the key's algorithm), fresh KEM randomness each time "
            + "([Extended]: the KEM's primitives are BouncyCastle's, through HybridProtocol.Hpke.Extended); sealed files of "
            + $"{total / (1 << 20)} MiB with DHKEM(X25519) and HKDF-SHA256, in memory (output to Stream.Null), beside the raw AEAD over the same 64 KiB chunks "
            + "(AES-128-GCM: .NET AesGcm; AES-256-GCM, ChaCha20Poly1305: NSec).");
    }

    private static string KemName(KeyAlgorithm algorithm) => algorithm switch
    {
        KeyAlgorithm.X25519 => "DHKEM(X25519)",
        KeyAlgorithm.P256 => "DHKEM(P-256)",
        KeyAlgorithm.P384 => "DHKEM(P-384)",
        KeyAlgorithm.P521 => "DHKEM(P-521)",
        KeyAlgorithm.MlKem768 => "ML-KEM-768",
        KeyAlgorithm.X448 => "DHKEM(X448) [Extended]",
        KeyAlgorithm.MlKem512 => "ML-KEM-512 [Extended]",
        KeyAlgorithm.MlKem1024 => "ML-KEM-1024 [Extended]",
        KeyAlgorithm.MlKem768P256 => "MLKEM768-P256",
        KeyAlgorithm.MlKem1024P384 => "MLKEM1024-P384 [Extended]",
        _ => "X-Wing",
    };

    private static double Repeat(Scale scale, Func<double> run)
    {
        run();
        return Stats.Median(Enumerable.Range(0, scale.Repetitions).Select(_ => run()).ToArray());
    }

    private static double Rate(int count, Action operation)
    {
        var start = Stopwatch.GetTimestamp();
        for (var i = 0; i < count; i++)
        {
            operation();
        }

        return count / Stats.Seconds(start, Stopwatch.GetTimestamp());
    }

    private static double Throughput(long bytes, Action operation)
    {
        var start = Stopwatch.GetTimestamp();
        operation();
        return Stats.MegabytesPerSecond(bytes, Stats.Seconds(start, Stopwatch.GetTimestamp()));
    }

    private static double RawEncrypt(HpkeAead aead, long total)
    {
        const int Chunk = 64 << 10;
        var plaintext = new byte[Chunk];
        var ciphertext = new byte[Chunk];
        var tag = new byte[16];
        var nonce = new byte[12];
        var records = total / Chunk;
        if (aead == HpkeAead.Aes128Gcm)
        {
            using var aes = new AesGcm(new byte[16], 16);
            var start = Stopwatch.GetTimestamp();
            for (long n = 0; n < records; n++)
            {
                BinaryPrimitives.WriteInt64BigEndian(nonce.AsSpan(4), n);
                aes.Encrypt(nonce, plaintext, ciphertext, tag);
            }

            return Stats.MegabytesPerSecond(records * Chunk, Stats.Seconds(start, Stopwatch.GetTimestamp()));
        }

        var algorithm = aead == HpkeAead.Aes256Gcm ? AeadAlgorithm.Aes256Gcm : (AeadAlgorithm)AeadAlgorithm.ChaCha20Poly1305;
        using var key = Key.Create(algorithm);
        var output = new byte[Chunk + algorithm.TagSize];
        var begin = Stopwatch.GetTimestamp();
        for (long n = 0; n < records; n++)
        {
            BinaryPrimitives.WriteInt64BigEndian(nonce.AsSpan(4), n);
            algorithm.Encrypt(key, nonce, [], plaintext, output);
        }

        return Stats.MegabytesPerSecond(records * Chunk, Stats.Seconds(begin, Stopwatch.GetTimestamp()));
    }
}
