using System.Collections.Concurrent;
using HybridProtocol.Core.Noise;
using HybridProtocol.Core.Wire;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace HybridProtocol.Connections;

/// <summary>
/// The core's policy answers a handshake needs, made once per configuration instead of once per handshake: the name
/// a client's options select (<c>Policy.clientProtocol</c>), the names a server's options accept
/// (<c>Policy.serverAccepted</c>), the KEM randomness each needs (<c>Policy.kemRandomness</c>), the names an application passes as text
/// (<c>ProtocolName.parse</c>), and whether a negotiated name has the client prove liveness
/// (<c>Admission.livenessProofNeeded</c>). The core decides each; this
/// only remembers its answers. Every key ranges over a small finite set (choices × suites, requirements × suite
/// lists, the names a server accepts), so the caches stay small.
/// </summary>
internal static class ProtocolChoices
{
    private static readonly ConcurrentDictionary<(ClientChoice Choice, SecureSuite Suite), ClientProtocol> Clients = new();
    private static readonly ConcurrentDictionary<(ServerRequirement Requirement, int Suites), ServerProtocols> Servers = new();
    private const int MaxNames = 1024;
    private static readonly ConcurrentDictionary<string, ProtocolName> Names = new(StringComparer.Ordinal);
    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<FSharpList<ProtocolName>, object> EncapsulationByList = new();
    private static readonly object Yes = new();
    private static readonly object No = new();

    /// <summary>The name a client with this choice runs with this suite, or the core's reason why none.</summary>
    public static ClientProtocol Client(ClientChoice choice, SecureSuite suite) =>
        Clients.GetOrAdd((choice, suite), static key =>
        {
            var chosen = Policy.clientProtocol(key.Choice, SecureSuites.Name(key.Suite));
            return chosen.IsOk
                ? new ClientProtocol(chosen, Policy.kemRandomness(Role.Initiator, ListModule.Singleton(chosen.ResultValue)).KeyPairSeed)
                : new ClientProtocol(chosen, false);
        });

    /// <summary>The names a server with this requirement accepts for these suites (in order), or the core's reason why none.</summary>
    public static ServerProtocols Server(ServerRequirement requirement, IReadOnlyList<SecureSuite> suites)
    {
        if (suites.Count > 7)
        {
            return Make(requirement, suites);
        }

        // At most three distinct suites (SecureServerOptions keeps them distinct): their order fits in one int.
        var key = 0;
        foreach (var suite in suites)
        {
            key = (key << 4) | ((int)suite + 1);
        }

        return Servers.GetOrAdd((requirement, key), static (key, suites) => Make(key.Requirement, suites), suites);
    }

    /// <summary>
    /// Noise HFS "ekem1": whether a server accepting <paramref name="accepted"/> needs encapsulation randomness; the
    /// answer is kept with the list (the same list for every handshake of one configuration).
    /// </summary>
    public static bool NeedsEncapsulationRandomness(FSharpList<ProtocolName> accepted) =>
        EncapsulationByList.GetValue(accepted, static list => Policy.kemRandomness(Role.Responder, list).EncapsulationRandomness ? Yes : No) == Yes;

    /// <summary>specs/PROTOCOL.md [S6]: whether the client proves liveness after a handshake with this name.</summary>
    public static bool LivenessProofNeeded(string protocolName) =>
        Parse(protocolName) is { IsOk: true } name && Admission.livenessProofNeeded(name.ResultValue);

    /// <summary>
    /// <c>ProtocolName.parse</c>, remembered for the names that parse (at most <see cref="MaxNames"/> of them; a
    /// name that does not parse is parsed again each time, so no input can grow the cache past that).
    /// </summary>
    public static FSharpResult<ProtocolName, ProtocolNameError> Parse(string protocolName)
    {
        if (Names.TryGetValue(protocolName, out var known))
        {
            return FSharpResult<ProtocolName, ProtocolNameError>.NewOk(known);
        }

        var parsed = ProtocolNameModule.parse(protocolName);
        if (parsed.IsOk && Names.Count < MaxNames)
        {
            Names.TryAdd(protocolName, parsed.ResultValue);
        }

        return parsed;
    }

    private static ServerProtocols Make(ServerRequirement requirement, IReadOnlyList<SecureSuite> suites)
    {
        var accepted = Policy.serverAccepted(requirement, suites.Select(SecureSuites.Name));
        return accepted.IsOk
            ? new ServerProtocols(accepted, Policy.kemRandomness(Role.Responder, accepted.ResultValue).EncapsulationRandomness)
            : new ServerProtocols(accepted, false);
    }
}

/// <summary>A client's name (<c>Policy.clientProtocol</c>) and whether it writes "e1" (a KEM key pair per connection).</summary>
internal sealed record ClientProtocol(FSharpResult<ProtocolName, WireError> Name, bool KemKeyPairSeed);

/// <summary>A server's accepted names (<c>Policy.serverAccepted</c>) and whether any has it write "ekem1".</summary>
internal sealed record ServerProtocols(FSharpResult<FSharpList<ProtocolName>, WireError> Accepted, bool EncapsulationRandomness);
