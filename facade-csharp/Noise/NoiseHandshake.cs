using HybridProtocol.Core;
using HybridProtocol.Core.Noise;
using HybridProtocol.Core.Wire;
using HybridProtocol.Crypto;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;
using NSec.Cryptography;

namespace HybridProtocol.Noise;

/// <summary>Which side of a Noise handshake this party plays (Noise §5: the initiator sends the first message).</summary>
public enum NoiseRole
{
    /// <summary>Sends the first handshake message.</summary>
    Initiator,

    /// <summary>Receives the first handshake message.</summary>
    Responder,
}

/// <summary>What to do next with a <see cref="NoiseHandshake"/>.</summary>
public enum NoiseHandshakeTurn
{
    /// <summary>Call <see cref="NoiseHandshake.WriteMessage(ReadOnlySpan{byte})"/>.</summary>
    Write,

    /// <summary>Call <see cref="NoiseHandshake.ReadMessage(ReadOnlySpan{byte})"/>.</summary>
    Read,

    /// <summary>The handshake is over: take <see cref="NoiseHandshake.Transport"/>.</summary>
    Completed,
}

/// <summary>Inputs to Noise §5.3 Initialize(): the protocol, our role and keys, what we know of the peer.</summary>
public sealed class NoiseHandshakeOptions
{
    /// <summary>A full Noise protocol name, for example <c>Noise_XX_25519_ChaChaPoly_BLAKE2b</c> or <c>Noise_XXpsk3_25519_AESGCM_SHA256</c>.</summary>
    public required string ProtocolName { get; init; }

    /// <summary>Initiator or responder.</summary>
    public required NoiseRole Role { get; init; }

    /// <summary>Data both sides must agree on; it is hashed into the handshake (Noise §6).</summary>
    public ReadOnlyMemory<byte> Prologue { get; init; }

    /// <summary>Our static key, when the pattern uses one. Not disposed by the handshake.</summary>
    public PrivateKey? LocalStatic { get; init; }

    /// <summary>The peer's static public key, when the pattern says we know it in advance (the K and I patterns' responder key, for example).</summary>
    public PublicKey? RemoteStatic { get; init; }

    /// <summary>32-byte pre-shared keys, in the order the pattern's <c>psk</c> tokens use them.</summary>
    public IReadOnlyList<ReadOnlyMemory<byte>> Psks { get; init; } = [];

    /// <summary>
    /// A fixed ephemeral private key. Leave null (the default) so a fresh one is generated; set it only to
    /// reproduce published test vectors. Reusing an ephemeral key destroys forward secrecy.
    /// </summary>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public PrivateKey? FixedEphemeralForTestVectorsOnly { get; init; }

    /// <summary>
    /// For an hfs name (Noise HFS, <c>25519+MLKEM768</c>): a fixed 64-byte ML-KEM-768 seed for the <c>e1</c> key pair
    /// (used, and checked, only by the role that writes <c>e1</c>, the initiator). Leave null (the default) so a fresh one
    /// is drawn; set it only to reproduce test vectors (specs/vectors/).
    /// </summary>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public ReadOnlyMemory<byte>? FixedKemSeedForTestVectorsOnly { get; init; }

    /// <summary>
    /// For an hfs name: fixed 32-byte encapsulation randomness for <c>ekem1</c> (used, and checked, only by the role
    /// that writes <c>ekem1</c>, the responder). Leave null (the default) so fresh
    /// randomness is drawn; set it only to reproduce test vectors. Reusing it with the same peer key repeats the KEM output.
    /// </summary>
    [System.ComponentModel.EditorBrowsable(System.ComponentModel.EditorBrowsableState.Never)]
    public ReadOnlyMemory<byte>? FixedEncapsulationRandomnessForTestVectorsOnly { get; init; }
}

/// <summary>
/// Drives one Noise handshake (revision 34) from C#: the pure F# core does the protocol, NSec the crypto.
/// Write and read messages in turn; when <see cref="Turn"/> is <see cref="NoiseHandshakeTurn.Completed"/>,
/// take the <see cref="Transport"/>. Any failure is final: the handshake refuses further use
/// (Noise §5.3: "the HandshakeState is deleted").
/// </summary>
public sealed class NoiseHandshake : IDisposable
{
    private readonly KeyScope keys;
    private readonly IDisposable? ownedEphemeral;
    private readonly KemOwned? kem;
    private HandshakeState? state;
    private NoiseTransport? transport;
    private Exception? failure;

    private NoiseHandshake(KeyScope keys, IDisposable? ownedEphemeral, KemOwned? kem, HandshakeState state)
    {
        this.keys = keys;
        this.ownedEphemeral = ownedEphemeral;
        this.kem = kem;
        this.state = state;
    }

    /// <summary>What to do next.</summary>
    public NoiseHandshakeTurn Turn
    {
        get
        {
            ThrowIfFailed();
            if (transport is not null)
            {
                return NoiseHandshakeTurn.Completed;
            }

            return HandshakeStateModule.Turn(state!).IsShouldWrite ? NoiseHandshakeTurn.Write : NoiseHandshakeTurn.Read;
        }
    }

    /// <summary>The peer's static public key once known (given in advance, or read from the handshake). Check it before trusting the peer.</summary>
    public PublicKey? RemoteStatic
    {
        get
        {
            var rs = transport is not null ? transport.RemoteStaticCore : state is null ? null : HandshakeStateModule.RemoteStatic(state);
            return rs is { Value: DhPublicKey key } ? PublicKey.FromRawBytes(key.Bytes) : null;
        }
    }

    /// <summary>The transport, once the handshake has completed.</summary>
    /// <exception cref="HybridInvalidOperationException">InvalidState if the handshake is not complete.</exception>
    public NoiseTransport Transport
    {
        get
        {
            ThrowIfFailed();
            return transport ?? throw new HybridInvalidOperationException("The handshake has not completed yet; keep writing and reading messages.");
        }
    }

    /// <summary>Starts a handshake (Noise §5.3 Initialize).</summary>
    /// <exception cref="HybridProtocolException">Unsupported for a bad protocol name.</exception>
    /// <exception cref="HybridArgumentException">InvalidArgument for missing or wrong keys.</exception>
    public static NoiseHandshake Create(NoiseHandshakeOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.LocalStatic?.ThrowIfDisposed("NoiseHandshakeOptions.LocalStatic");
        var parsed = Connections.ProtocolChoices.Parse(options.ProtocolName);
        if (parsed.IsError)
        {
            throw NoiseErrors.ToException(NoiseError.NewName(parsed.ErrorValue));
        }

        var protocol = parsed.ResultValue;
        var keys = new KeyScope(SodiumSuite.For(protocol));
        // A fresh ephemeral key from libsodium's CSPRNG in pooled native memory, unless a test vector fixes it.
        var ephemeral = options.FixedEphemeralForTestVectorsOnly is null ? SodiumSuite.GenerateEphemeral() : options.FixedEphemeralForTestVectorsOnly.ToKeyPair();
        var ownedEphemeral = options.FixedEphemeralForTestVectorsOnly is null ? ephemeral.Private : null;
        var role = options.Role == NoiseRole.Initiator ? Role.Initiator : Role.Responder;
        var need = Policy.kemRandomness(role, ListModule.Singleton(protocol));
        var kem = keys.Suite.Kem is { } kemFunctions && (need.KeyPairSeed || need.EncapsulationRandomness) ? KemOwned.Create(kemFunctions.Value, options, need) : null;
        try
        {
            var parameters = new HandshakeParameters(
                protocol,
                role,
                options.Prologue.ToArray(),
                options.LocalStatic is null ? FSharpOption<DhKeyPair>.None : FSharpOption<DhKeyPair>.Some(options.LocalStatic.ToKeyPair()),
                FSharpOption<DhKeyPair>.Some(ephemeral),
                options.RemoteStatic is null ? FSharpOption<DhPublicKey>.None : FSharpOption<DhPublicKey>.Some(options.RemoteStatic.ToCore()),
                FSharpOption<DhPublicKey>.None,
                ListModule.OfSeq(options.Psks.Select(psk => psk.ToArray())));
            var initialized = HandshakeStateModule.InitializeWithKem(keys.Suite, parameters, kem?.Parameters ?? KemParametersModule.none);
            if (initialized.IsError)
            {
                throw NoiseErrors.ToException(initialized.ErrorValue);
            }

            return new NoiseHandshake(keys, ownedEphemeral, kem, initialized.ResultValue);
        }
        catch
        {
            keys.Dispose();
            ownedEphemeral?.Dispose();
            kem?.Dispose();
            throw;
        }
    }

    /// <summary>Noise §5.3 WriteMessage: the next handshake message carrying <paramref name="payload"/>.</summary>
    /// <exception cref="HybridInvalidOperationException">InvalidState out of turn or after a failure; MessageTooLarge over 65535 bytes.</exception>
    public byte[] WriteMessage(ReadOnlySpan<byte> payload) =>
        Complete(HandshakeStateModule.WriteMessage(payload.ToArray(), Current()));

    /// <summary>Noise §5.3 ReadMessage: checks and reads the peer's next handshake message and returns its payload.</summary>
    /// <exception cref="HybridProtocolException">DecryptionFailed, ProtocolViolation or InvalidPeerKey when the message is bad; the handshake is then over.</exception>
    public byte[] ReadMessage(ReadOnlySpan<byte> message) =>
        Complete(HandshakeStateModule.ReadMessage(message.ToArray(), Current()));

    /// <summary>Noise §5.2 GetHandshakeHash(): identifies this session; equal on both sides after completion (channel binding, §11.2).</summary>
    public byte[] GetHandshakeHash() => transport is not null ? transport.HandshakeHash : HandshakeStateModule.GetHandshakeHash(Current());

    /// <summary>Erases the ephemeral key and every handshake key. The transport, once taken, has its own lifetime.</summary>
    public void Dispose()
    {
        state = null;
        if (transport is null)
        {
            keys.Dispose();
        }

        ownedEphemeral?.Dispose();
        kem?.Dispose();
    }

    private HandshakeState Current()
    {
        ThrowIfFailed();
        if (transport is not null)
        {
            throw new HybridInvalidOperationException("The handshake has completed; use Transport for further messages.");
        }

        return state ?? throw new ObjectDisposedException(nameof(NoiseHandshake));
    }

    /// <summary>Takes the result of WriteMessage or ReadMessage: the bytes for the caller, and the next state.</summary>
    private byte[] Complete(FSharpResult<ValueTuple<byte[], HandshakeStep>, NoiseError> result)
    {
        if (result.IsError)
        {
            throw Fail(result.ErrorValue);
        }

        var (bytes, step) = result.ResultValue;
        Advance(step);
        return bytes;
    }

    private void Advance(HandshakeStep step)
    {
        if (step is HandshakeStep.Continue next)
        {
            state = next.Item;
            return;
        }

        var completed = ((HandshakeStep.Complete)step).Item;
        transport = new NoiseTransport(completed, keys);
        state = null;
        ownedEphemeral?.Dispose();
        kem?.Dispose();
    }

    private Exception Fail(NoiseError error)
    {
        if (error is NoiseError.State { Item.IsNotTurnToRead: true } or NoiseError.State { Item.IsNotTurnToWrite: true })
        {
            // A call out of turn is the caller's mistake, not the peer's: the handshake stays usable.
            return NoiseErrors.ToException(error);
        }

        failure = NoiseErrors.ToException(error);
        state = null;
        keys.Dispose();
        ownedEphemeral?.Dispose();
        kem?.Dispose();
        return failure;
    }

    private void ThrowIfFailed()
    {
        if (failure is not null)
        {
            throw HybridErrors.Again(failure, "The handshake failed earlier and cannot be used: " + failure.Message);
        }
    }
}

/// <summary>
/// The Noise HFS inputs a handshake owns, those its role needs (<c>Policy.kemRandomness</c>): its ML-KEM key pair (from
/// a fresh or fixed seed) when it writes "e1", its encapsulation randomness (fresh or fixed) when it writes "ekem1".
/// Disposing erases both.
/// </summary>
internal sealed class KemOwned : IDisposable
{
    private readonly KemKeyPair? pair;
    private readonly byte[]? randomness;

    private KemOwned(KemKeyPair? pair, byte[]? randomness)
    {
        this.pair = pair;
        this.randomness = randomness;
        Parameters = new KemParameters(
            pair is null ? FSharpOption<KemKeyPair>.None : FSharpOption<KemKeyPair>.Some(pair),
            randomness is null ? FSharpOption<byte[]>.None : FSharpOption<byte[]>.Some(randomness));
    }

    public KemParameters Parameters { get; }

    public static KemOwned Create(KemFunctions kem, NoiseHandshakeOptions options, KemRandomness need)
    {
        var randomness = need.EncapsulationRandomness ? new byte[kem.ENCAPSRANDOMNESSLEN] : null;
        try
        {
            if (randomness is not null)
            {
                Fill(randomness, options.FixedEncapsulationRandomnessForTestVectorsOnly, "FixedEncapsulationRandomnessForTestVectorsOnly");
            }

            return new KemOwned(need.KeyPairSeed ? KeyPair(kem, options) : null, randomness);
        }
        catch
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(randomness);
            throw;
        }
    }

    public void Dispose()
    {
        pair?.Private.Dispose();
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(randomness);
    }

    private static KemKeyPair KeyPair(KemFunctions kem, NoiseHandshakeOptions options)
    {
        var seed = new byte[kem.SEEDLEN];
        try
        {
            Fill(seed, options.FixedKemSeedForTestVectorsOnly, "FixedKemSeedForTestVectorsOnly");
            return kem.GENERATE_KEM_KEYPAIR.Invoke(seed);
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(seed);
        }
    }

    private static void Fill(byte[] target, ReadOnlyMemory<byte>? fixedValue, string name)
    {
        if (fixedValue is not { } value)
        {
            System.Security.Cryptography.RandomNumberGenerator.Fill(target);
        }
        else if (value.Length == target.Length)
        {
            value.Span.CopyTo(target);
        }
        else
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"{name} must be {target.Length} bytes, not {value.Length}.");
        }
    }
}
