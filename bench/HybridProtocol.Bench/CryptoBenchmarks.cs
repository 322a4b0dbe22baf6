using System.Buffers.Binary;
using System.Diagnostics;
using HybridProtocol.Crypto;
using HybridProtocol.Noise;
using NSec.Cryptography;

namespace HybridProtocol.Bench;

/// <summary>Measurements without a network: raw AEAD speed (the ceiling for bulk throughput) and the Noise handshake's CPU cost.</summary>
internal static class CryptoBenchmarks
{
    /// <summary>Our cipher names with the NSec algorithm behind each.</summary>
    public static readonly (string Noise, string NSecName, AeadAlgorithm Algorithm)[] Ciphers =
    [
        ("ChaChaPoly", "ChaCha20-Poly1305", AeadAlgorithm.ChaCha20Poly1305),
        ("AESGCM", "AES-256-GCM", AeadAlgorithm.Aes256Gcm),
        ("AEGIS256", "AEGIS-256", AeadAlgorithm.Aegis256),
        ("AEGIS128L", "AEGIS-128L", AeadAlgorithm.Aegis128L),
    ];

    /// <summary>
    /// Suites for the handshake cost: each cipher once with SHA-256, and ChaChaPoly with BLAKE2b too. With empty
    /// payloads the cipher hardly matters (X25519 and the hash dominate), so the hash is the axis worth a second row.
    /// </summary>
    public static readonly (string Cipher, string Hash)[] HandshakeSuites =
    [
        ("ChaChaPoly", "SHA256"),
        ("ChaChaPoly", "BLAKE2b"),
        ("AESGCM", "SHA256"),
        ("AEGIS256", "SHA256"),
        ("AEGIS128L", "SHA256"),
    ];

    /// <summary>Record payload sizes: TLS's 16 KiB, and the largest Noise transport payload (65535 bytes less the tag) as "64 KiB".</summary>
    public static readonly (int Size, string Name)[] RecordSizes = [(16 << 10, "16 KiB records"), (0, "64 KiB records (65535 B - tag)")];

    /// <summary>(6) Raw AEAD speed: NSec directly and through our NoiseTransport (encryption in place), one core.</summary>
    public static void Aead(Scale scale, Report report)
    {
        foreach (var (recordSize, sizeName) in RecordSizes)
        {
            foreach (var (noiseName, nsecName, algorithm) in Ciphers)
            {
                var size = recordSize == 0 ? 65535 - algorithm.TagSize : recordSize;
                report.Add(new Row("AEAD encrypt, one core", sizeName, "NSec " + nsecName, Repeat(scale, () => NSecEncrypt(algorithm, size, scale.AeadBytes)), "MB/s", Better.Higher));
                report.Add(new Row("AEAD decrypt, one core", sizeName, "NSec " + nsecName, Repeat(scale, () => NSecDecrypt(algorithm, size, scale.AeadBytes)), "MB/s", Better.Higher));
                var protocol = $"Noise_NN_25519_{noiseName}_SHA256";
                report.Add(new Row("AEAD encrypt, one core", sizeName, $"NoiseTransport {noiseName} (in place)", Repeat(scale, () => NoiseEncrypt(protocol, size, scale.AeadBytes)), "MB/s", Better.Higher));
                report.Add(new Row("AEAD decrypt, one core", sizeName, $"NoiseTransport {noiseName} (in place)", Repeat(scale, () => NoiseDecrypt(protocol, size, scale.AeadBytes)), "MB/s", Better.Higher));
            }

            // SslStream's record cipher on this machine (TLS_AES_256_GCM_SHA384) is OpenSSL's AES-256-GCM; .NET's
            // AesGcm calls the same OpenSSL code, so this row is the per-byte cost the SslStream bulk rows pay.
            var aesSize = recordSize == 0 ? 65535 - 16 : recordSize;
            report.Add(new Row("AEAD encrypt, one core", sizeName, ".NET AesGcm AES-256-GCM (OpenSSL)", Repeat(scale, () => OpenSslAesGcm(aesSize, scale.AeadBytes, decrypt: false)), "MB/s", Better.Higher));
            report.Add(new Row("AEAD decrypt, one core", sizeName, ".NET AesGcm AES-256-GCM (OpenSSL)", Repeat(scale, () => OpenSslAesGcm(aesSize, scale.AeadBytes, decrypt: true)), "MB/s", Better.Higher));
        }
    }

    /// <summary>
    /// (2, lower bound for ours) Full Noise handshakes in memory through NoiseHandshake: both parties in this
    /// process, no sockets, no framing, new ephemeral keys each time. Static keys are made once, as a server's are.
    /// </summary>
    public static async Task NoiseHandshakeAsync(Scale scale, Report report)
    {
        using var serverKey = PrivateKey.Generate();
        using var clientKey = PrivateKey.Generate();
        // The hfs twins (X25519 + ML-KEM-768) in two suites: the default and the one the network rows compare.
        var runs = new[] { "XX", "NK" }.SelectMany(p => HandshakeSuites.Select(s => (Pattern: p, s.Cipher, s.Hash)))
            .Concat(new[] { "XXhfs", "NKhfs" }.SelectMany(p => new[] { (Pattern: p, Cipher: "ChaChaPoly", Hash: "BLAKE2b"), (Pattern: p, Cipher: "AESGCM", Hash: "SHA256") }));
        foreach (var (pattern, cipher, hash) in runs)
        {
            var dh = pattern.EndsWith("hfs", StringComparison.Ordinal) ? "25519+MLKEM768" : "25519";
            var protocol = $"Noise_{pattern}_{dh}_{cipher}_{hash}";
            var name = $"Noise {pattern} {cipher}_{hash} (in-memory)";
            var client = pattern.StartsWith("XX", StringComparison.Ordinal) ? clientKey : null;
            var pinned = pattern.StartsWith("NK", StringComparison.Ordinal) ? serverKey.PublicKey : null;
            Time(protocol, client, serverKey, pinned, 10);
            foreach (var workers in new[] { 1, 2 })
            {
                var rates = new List<double>();
                var latencies = new List<double>();
                var allocated = GC.GetTotalAllocatedBytes(precise: true);
                for (var rep = 0; rep < scale.Repetitions; rep++)
                {
                    var start = Stopwatch.GetTimestamp();
                    var perWorker = scale.NoiseHandshakesPerRepetition / workers;
                    var results = await Task.WhenAll(Enumerable.Range(0, workers).Select(_ => Task.Run(() => Time(protocol, client, serverKey, pinned, perWorker)))).ConfigureAwait(false);
                    rates.Add(perWorker * workers / Stats.Seconds(start, Stopwatch.GetTimestamp()));
                    latencies.AddRange(results.SelectMany(r => r));
                }

                var perHandshake = (GC.GetTotalAllocatedBytes(precise: true) - allocated) / (double)(scale.NoiseHandshakesPerRepetition / workers * workers * scale.Repetitions);
                var variant = workers == 1 ? "1 client" : "2 clients";
                report.Add(new Row("Handshakes per second", variant, name, Stats.Median(rates), "/s", Better.Higher) { OverNetwork = false });
                report.Add(new Row("Handshake managed allocation (both ends)", variant, name, perHandshake, "B", Better.Lower) { OverNetwork = false });
                report.Add(new Row("Handshake latency, median", variant, name, Stats.Median(latencies), "us", Better.Lower) { OverNetwork = false });
                report.Add(new Row("Handshake latency, p99", variant, name, Stats.Percentile(latencies, 0.99), "us", Better.Lower) { OverNetwork = false });
            }
        }

        X25519Cost(scale, report);
        ProviderCost(scale, report);
        report.Note("Noise ... (in-memory) rows: both parties' CPU work for one handshake through NoiseHandshake, no TCP connect and no framing; a lower bound for HybridProtocol's connection, not a like-for-like figure against SslStream's rows (which include a TCP connect).");
    }

    /// <summary>
    /// The unit a handshake's cost is counted in: one X25519 key generation (a fresh ephemeral key, public key
    /// included) and one X25519 agreement through NSec, one core. Noise NN/NK/XX need per handshake, both sides
    /// together: 2 key generations plus 2 (NN), 4 (NK) or 6 (XX) agreements.
    /// </summary>
    private static void X25519Cost(Scale scale, Report report)
    {
        var algorithm = KeyAgreementAlgorithm.X25519;
        var count = scale.NoiseHandshakesPerRepetition * 5;
        var generate = new List<double>();
        var agree = new List<double>();
        var import = new List<double>();
        var raw = new byte[32];
        using var peer = Key.Create(algorithm);
        var parameters = new SharedSecretCreationParameters { ExportPolicy = KeyExportPolicies.AllowPlaintextExport };
        for (var rep = 0; rep <= scale.Repetitions; rep++)
        {
            var start = Stopwatch.GetTimestamp();
            for (var i = 0; i < count; i++)
            {
                using var key = Key.Create(algorithm);
                _ = key.PublicKey;
            }

            var middle = Stopwatch.GetTimestamp();
            using var mine = Key.Create(algorithm);
            for (var i = 0; i < count; i++)
            {
                using var shared = algorithm.Agree(mine, peer.PublicKey, in parameters) ?? throw new InvalidOperationException("X25519 agreement failed.");
            }

            var end = Stopwatch.GetTimestamp();
            for (var i = 0; i < count; i++)
            {
                using var aeadKey = Key.Import(AeadAlgorithm.Aes256Gcm, raw, KeyBlobFormat.RawSymmetricKey);
            }

            var last = Stopwatch.GetTimestamp();
            if (rep > 0)
            {
                generate.Add(Stats.Microseconds(start, middle) / count);
                agree.Add(Stats.Microseconds(middle, end) / count);
                import.Add(Stats.Microseconds(end, last) / count);
            }
        }

        report.Add(new Row("X25519 cost, one core", "key generation", "NSec X25519", Stats.Median(generate), "us/op", Better.Lower) { OverNetwork = false });
        report.Add(new Row("X25519 cost, one core", "key agreement", "NSec X25519", Stats.Median(agree), "us/op", Better.Lower) { OverNetwork = false });
        report.Add(new Row("AEAD key cost, one core", "import + dispose (4 per side per handshake)", "NSec AES-256-GCM", Stats.Median(import), "us/op", Better.Lower) { OverNetwork = false });
    }

    /// <summary>
    /// The same units through <see cref="SodiumSuite"/>, the provider handshakes use: a bare scalar multiplication
    /// (the physical limit), a fixed-base one (ephemeral key generation), a pooled native AEAD key made and erased,
    /// a handshake-sized AEAD encryption (a 32-byte static key plus tag) and a hash of a handshake-sized input.
    /// The fastest repetition counts (the cost on a quiet core; the machine is shared).
    /// </summary>
    internal static void ProviderCost(Scale scale, Report report)
    {
        var count = scale.NoiseHandshakesPerRepetition * 10;
        var pair = SodiumSuite.GenerateEphemeral();
        var peer = SodiumSuite.GenerateEphemeral();
        var output = new byte[32];
        var peerPublic = peer.Public.Bytes;
        report.Add(Unit("scalar multiplication (DH)", "SodiumSuite X25519", () => SodiumSuite.X25519.DH.Invoke(pair.Private, peerPublic, output)));
        report.Add(Unit("fixed-base multiplication (key generation)", "SodiumSuite X25519", () => SodiumSuite.GenerateEphemeral().Private.Dispose()));
        pair.Private.Dispose();
        peer.Private.Dispose();
        var raw = new byte[32];
        foreach (var (name, cipher) in new[] { ("AES-256-GCM", SodiumSuite.AesGcm), ("ChaCha20-Poly1305", SodiumSuite.ChaChaPoly), ("AEGIS-256", SodiumSuite.Aegis256) })
        {
            report.Add(Unit("AEAD key made + erased (pooled native block)", "SodiumSuite " + name, () => cipher.KEY.Invoke(raw).Dispose()));
            using var key = cipher.KEY.Invoke(raw);
            var nonce = new byte[cipher.NONCELEN];
            var h = new byte[32];
            var ciphertext = new byte[32 + cipher.TAGLEN];
            report.Add(Unit("AEAD encrypt, 32 B (handshake s)", "SodiumSuite " + name, () => cipher.ENCRYPT.Invoke(key, nonce, h, raw, ciphertext)));
        }

        var input = new byte[128 + 64];
        var digest = new byte[64];
        foreach (var (name, hash) in new[] { ("SHA-256", SodiumSuite.Sha256), ("BLAKE2b", SodiumSuite.Blake2b) })
        {
            report.Add(Unit("hash of 192 B (one HMAC half)", "SodiumSuite " + name, () => hash.HASH.Invoke(input, digest.AsSpan(0, hash.HASHLEN))));
        }

        Row Unit(string variant, string transport, Action operation)
        {
            var best = double.MaxValue;
            for (var rep = 0; rep <= scale.Repetitions; rep++)
            {
                var start = Stopwatch.GetTimestamp();
                for (var i = 0; i < count; i++)
                {
                    operation();
                }

                best = Math.Min(best, Stats.Microseconds(start, Stopwatch.GetTimestamp()) / count);
            }

            return new Row("Provider cost, one core", variant, transport, best, "us/op", Better.Lower) { OverNetwork = false };
        }
    }

    private static double[] Time(string protocol, PrivateKey? clientKey, PrivateKey serverKey, PublicKey? pinnedServer, int count)
    {
        var latencies = new double[count];
        for (var i = 0; i < count; i++)
        {
            var start = Stopwatch.GetTimestamp();
            var (client, server) = InMemoryHandshake(protocol, clientKey, serverKey, pinnedServer);
            latencies[i] = Stats.Microseconds(start, Stopwatch.GetTimestamp());
            if (!client.HandshakeHash.AsSpan().SequenceEqual(server.HandshakeHash))
            {
                throw new InvalidOperationException($"{protocol}: the two sides derived different handshake hashes.");
            }

            client.Dispose();
            server.Dispose();
        }

        return latencies;
    }

    private static (NoiseTransport Initiator, NoiseTransport Responder) InMemoryHandshake(string protocol, PrivateKey? clientKey, PrivateKey? serverKey, PublicKey? pinnedServer = null)
    {
        using var initiator = NoiseHandshake.Create(new NoiseHandshakeOptions { ProtocolName = protocol, Role = NoiseRole.Initiator, LocalStatic = clientKey, RemoteStatic = pinnedServer });
        using var responder = NoiseHandshake.Create(new NoiseHandshakeOptions { ProtocolName = protocol, Role = NoiseRole.Responder, LocalStatic = serverKey });
        while (initiator.Turn != NoiseHandshakeTurn.Completed || responder.Turn != NoiseHandshakeTurn.Completed)
        {
            var (from, to) = initiator.Turn == NoiseHandshakeTurn.Write ? (initiator, responder) : (responder, initiator);
            to.ReadMessage(from.WriteMessage([]));
        }

        return (initiator.Transport, responder.Transport);
    }

    /// <summary>Warm-up run, then the median MB/s over the repetitions.</summary>
    private static double Repeat(Scale scale, Func<double> run)
    {
        run();
        return Stats.Median(Enumerable.Range(0, scale.Repetitions).Select(_ => run()).ToArray());
    }

    private static double OpenSslAesGcm(int size, long total, bool decrypt)
    {
        using var aes = new System.Security.Cryptography.AesGcm(new byte[32], 16);
        var nonce = new byte[12];
        var plaintext = new byte[size];
        var ciphertext = new byte[size];
        var tag = new byte[16];
        aes.Encrypt(nonce, plaintext, ciphertext, tag);
        var records = total / size;
        var start = Stopwatch.GetTimestamp();
        for (long n = 0; n < records; n++)
        {
            if (decrypt)
            {
                aes.Decrypt(nonce, ciphertext, tag, plaintext);
            }
            else
            {
                BinaryPrimitives.WriteInt64LittleEndian(nonce, n);
                aes.Encrypt(nonce, plaintext, ciphertext, tag);
            }
        }

        return Stats.MegabytesPerSecond(records * size, Stats.Seconds(start, Stopwatch.GetTimestamp()));
    }

    private static double NSecEncrypt(AeadAlgorithm algorithm, int size, long total)
    {
        using var key = Key.Create(algorithm);
        var nonce = new byte[algorithm.NonceSize];
        var plaintext = new byte[size];
        var ciphertext = new byte[size + algorithm.TagSize];
        var records = total / size;
        var start = Stopwatch.GetTimestamp();
        for (long n = 0; n < records; n++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(nonce, n);
            algorithm.Encrypt(key, nonce, [], plaintext, ciphertext);
        }

        return Stats.MegabytesPerSecond(records * size, Stats.Seconds(start, Stopwatch.GetTimestamp()));
    }

    private static double NSecDecrypt(AeadAlgorithm algorithm, int size, long total)
    {
        using var key = Key.Create(algorithm);
        var nonce = new byte[algorithm.NonceSize];
        var plaintext = new byte[size];
        var ciphertext = new byte[size + algorithm.TagSize];
        algorithm.Encrypt(key, nonce, [], plaintext, ciphertext);
        var records = total / size;
        var start = Stopwatch.GetTimestamp();
        for (long n = 0; n < records; n++)
        {
            if (!algorithm.Decrypt(key, nonce, [], ciphertext, plaintext))
            {
                throw new InvalidDataException("NSec refused its own ciphertext.");
            }
        }

        return Stats.MegabytesPerSecond(records * size, Stats.Seconds(start, Stopwatch.GetTimestamp()));
    }

    private static double NoiseEncrypt(string protocol, int size, long total)
    {
        var (sender, receiver) = InMemoryHandshake(protocol, null, null);
        using var disposeSender = sender;
        using var disposeReceiver = receiver;
        var message = new byte[size + sender.Overhead];
        var records = total / size;
        var start = Stopwatch.GetTimestamp();
        for (long n = 0; n < records; n++)
        {
            sender.Encrypt(message.AsSpan(0, size), message);
        }

        return Stats.MegabytesPerSecond(records * size, Stats.Seconds(start, Stopwatch.GetTimestamp()));
    }

    /// <summary>Times only the decryptions: batches of records are encrypted untimed first (the nonces must match in order).</summary>
    private static double NoiseDecrypt(string protocol, int size, long total)
    {
        var (sender, receiver) = InMemoryHandshake(protocol, null, null);
        using var disposeSender = sender;
        using var disposeReceiver = receiver;
        const int Batch = 16;
        var messages = Enumerable.Range(0, Batch).Select(_ => new byte[size + sender.Overhead]).ToArray();
        var records = total / size / Batch * Batch;
        long ticks = 0;
        for (long n = 0; n < records; n += Batch)
        {
            foreach (var message in messages)
            {
                message.AsSpan(0, size).Fill((byte)n);
                sender.Encrypt(message.AsSpan(0, size), message);
            }

            var start = Stopwatch.GetTimestamp();
            foreach (var message in messages)
            {
                receiver.Decrypt(message, message);
            }

            ticks += Stopwatch.GetTimestamp() - start;
            if (messages[Batch - 1][size - 1] != (byte)n)
            {
                throw new InvalidDataException("NoiseTransport decrypted to the wrong plaintext.");
            }
        }

        return Stats.MegabytesPerSecond(records * size, ticks / (double)Stopwatch.Frequency);
    }
}
