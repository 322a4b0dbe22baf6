// HybridProtocol's benchmark (issue 6): HybridProtocol against SslStream (TLS 1.3) and plain TCP over 127.0.0.1.
// Usage: dotnet run --project bench/HybridProtocol.Bench -c Release -- [--quick] [--markdown FILE] [--only NAME[,NAME]] [--transports NAME[,NAME]]
// See bench/README.md for what each figure means.
using System.Diagnostics;
using HybridProtocol.Bench;

var options = BenchOptions.Parse(args);
if (options is null)
{
    return 2;
}

var scale = options.Quick ? Scale.Quick : Scale.Full;
var report = new Report();
var started = Stopwatch.GetTimestamp();
foreach (var line in Machine.Describe())
{
    Console.WriteLine(line);
}

Console.WriteLine(options.Quick ? "Quick run (small sizes)." : "Full run.");
#if DEBUG
report.Note("Debug build: figures are meaningless; run with -c Release.");
#endif

if (options.Runs("aead"))
{
    Section("aead: raw AEAD speed");
    CryptoBenchmarks.Aead(scale, report);
}

if (options.Runs("provider") && !options.Runs("noise-handshake"))
{
    Section("provider: crypto provider unit costs");
    CryptoBenchmarks.ProviderCost(scale, report);
}

if (options.Runs("noise-handshake"))
{
    Section("noise-handshake: in-memory Noise handshakes");
    await CryptoBenchmarks.NoiseHandshakeAsync(scale, report);
}

if (options.Runs("hpke"))
{
    Section("hpke: HPKE single-shot per KEM, sealed files per AEAD");
    HpkeBenchmarks.Run(scale, report);
}

await AllTransportsInTurn("bulk", "bulk throughput", NetworkBenchmarks.BulkAsync);
await ForEachTransport("alloc", "allocation per MB", (t, s, r) => NetworkBenchmarks.AllocationAsync(t, s, r));
await AllTransportsInTurn("rtt", "round-trip time", NetworkBenchmarks.RoundTripAsync);
await AllTransportsInTurn("handshake", "handshakes over TCP", NetworkBenchmarks.HandshakeAsync, [.. Transports.All, .. Transports.HandshakeOnly]);
if (options.Runs("idle"))
{
    var count = NetworkBenchmarks.IdleConnectionsThatFit(scale.IdleConnections);
    if (count < scale.IdleConnections)
    {
        report.Note($"Idle connections: the open-file limit allows {count} connections (two sockets each), not {scale.IdleConnections}.");
    }

    await ForEachTransport("idle", $"idle connections ({count})", (t, _, r) => NetworkBenchmarks.IdleMemoryAsync(t, count, r));
}

if (options.Runs("kestrel"))
{
    Section("kestrel: HTTP/2 over Kestrel and HttpClient");
    await KestrelBenchmarks.RunAsync(scale, report);
}

report.Note("HybridProtocol rows: SecureConnection over TCP (the server side is what SecureListener runs per client), pattern NK (the client pins the server's key; server authentication only, like the SslStream rows), driven through SendAsync and ReceiveAsync into the caller's buffer (no Stream view). Hybrid (NKhfs, X25519 + ML-KEM-768) is the default; 'classical' rows are NK with X25519 alone.");
report.Note("Handshake bytes on the wire: everything each end writes from the first byte until both ends can send (preamble, status and handshake frames; for TLS, its records), counted on one connection.");
report.Note("MB = 10^6 bytes. Every network figure has both ends of the connection in this process (one machine, 127.0.0.1), so CPU, allocation and memory count client and server together.");
report.Note("Bulk: client to server on one connection; each message carries its sequence number at both ends and a fixed pattern, and the server checks every byte.");
report.Note("Handshake over TCP: a new TCP connection each time, from connect until both ends can send; SslStream with TLS resumption off (full handshakes), server authentication only.");
report.Note("Idle connection: per established connection (both ends), with a pending zero-byte read on the server end.");
report.Note("'3 keys' handshake rows (specs/PROTOCOL.md §6a): the server holds 3 static keys and announces the 2 it did not use (2 more DH to prove them, 131 more bytes); the client pins the current key ('current pinned') or the oldest ('oldest pinned': the server reads the first message with the 2 keys before it, 2 more DH and AEAD opens). Compare with the 1-key 'HybridProtocol AESGCM' row.");
var elapsed = Stopwatch.GetElapsedTime(started);
report.PrintTable();
Console.WriteLine($"Run time: {elapsed.TotalMinutes:F1} min");
if (options.MarkdownPath is { } path)
{
    report.WriteMarkdown(path, options, elapsed);
}

return 0;

async Task ForEachTransport(string name, string title, Func<ITransportUnderTest, Scale, Report, Task> measure)
{
    if (!options.Runs(name))
    {
        return;
    }

    Section($"{name}: {title}");
    foreach (var create in Transports.All)
    {
        await using var transport = create();
        if (!options.Keeps(transport))
        {
            continue;
        }

        await measure(transport, scale, report);
        if (transport.Negotiated is { } negotiated)
        {
            report.Note($"{transport.Name} negotiated {negotiated}.");
        }
    }
}

// Timed measurements: every transport exists at once and they take turns per repetition (see NetworkBenchmarks).
async Task AllTransportsInTurn(string name, string title, Func<IReadOnlyList<ITransportUnderTest>, Scale, Report, Task> measure, IReadOnlyList<Func<ITransportUnderTest>>? which = null)
{
    if (!options.Runs(name))
    {
        return;
    }

    Section($"{name}: {title}");
    var transports = (which ?? Transports.All).Select(create => create()).ToList();
    foreach (var dropped in transports.Where(t => !options.Keeps(t)).ToList())
    {
        transports.Remove(dropped);
        await dropped.DisposeAsync();
    }

    try
    {
        await measure(transports, scale, report);
        foreach (var transport in transports)
        {
            if (transport.Negotiated is { } negotiated)
            {
                report.Note($"{transport.Name} negotiated {negotiated}.");
            }
        }
    }
    finally
    {
        foreach (var transport in transports)
        {
            await transport.DisposeAsync();
        }
    }
}

static void Section(string title) => Console.WriteLine($"== {title}");
