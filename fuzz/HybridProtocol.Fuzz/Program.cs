using HybridProtocol.Fuzz;
using SharpFuzz;

// dotnet HybridProtocol.Fuzz.dll <target>          one AFL++ target (frame, preamble, handshake, record, sealed); see fuzz/run.sh
// dotnet HybridProtocol.Fuzz.dll corpus <dir>      writes the seed corpus, one folder per target
// dotnet HybridProtocol.Fuzz.dll loop <target> <n> <seed>   n in-process mutations of the corpus, without AFL++
if (args.Length == 2 && args[0] == "corpus")
{
    Corpus.Write(args[1]);
    return 0;
}

if (args.Length == 5 && args[0] == "loop")
{
    return MutationLoop.Run(args[1], args[2], int.Parse(args[3]), int.Parse(args[4]));
}

if (args.Length != 1 || !FuzzTargets.Names.Contains(args[0]))
{
    Console.Error.WriteLine($"usage: HybridProtocol.Fuzz <{string.Join('|', FuzzTargets.Names)}> | corpus <dir> | loop <target> <corpus dir> <runs> <seed>");
    return 2;
}

var target = args[0];
Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    FuzzTargets.Run(target, buffer.ToArray());
});
return 0;
