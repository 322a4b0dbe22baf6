using HybridProtocol.Core;
using HybridProtocol.Core.Noise;
using HybridProtocol.Crypto;
using Microsoft.FSharp.Core;

namespace HybridProtocol.Noise;

/// <summary>
/// The transport phase of a completed Noise handshake: the two CipherStates from Split(), one per direction.
/// Encrypt and decrypt work in place in the caller's buffers and do not allocate. Not thread-safe: use one
/// thread per direction at most. Disposing erases the keys.
/// </summary>
public sealed class NoiseTransport : IDisposable
{
    private readonly KeyScope keys;
    private FSharpValueOption<CipherState> send;
    private FSharpValueOption<CipherState> receive;
    private bool disposed;

    internal NoiseTransport(TransportState state, KeyScope keys)
    {
        this.keys = keys;
        send = state.Send;
        receive = state.Receive;
        HandshakeHash = state.HandshakeHash;
        RemoteStaticCore = state.RemoteStatic;
        keys.DisposeAllExcept([.. KeyOf(send), .. KeyOf(receive)]);
    }

    /// <summary>The handshake hash h at the end of the handshake: equal on both sides, unique to the session.</summary>
    public byte[] HandshakeHash { get; }

    /// <summary>Bytes an encrypted message adds to its payload (the AEAD tag).</summary>
    public int Overhead => send.IsSome ? CipherStateModule.ciphertextLength(send.Value, 0) : CipherStateModule.ciphertextLength(receive.Value, 0);

    internal FSharpOption<DhPublicKey>? RemoteStaticCore { get; }

    /// <summary>Encrypts <paramref name="payload"/> into <paramref name="message"/> (payload length + <see cref="Overhead"/> bytes; may be the same memory) and returns the bytes written.</summary>
    /// <exception cref="HybridProtocolException">MessageTooLarge over 65535 bytes; NonceExhausted.</exception>
    /// <exception cref="HybridInvalidOperationException">InvalidState for the receiving side of a one-way pattern.</exception>
    public int Encrypt(ReadOnlySpan<byte> payload, Span<byte> message)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var result = TransportStateModule.WriteMessage(send, payload, message);
        if (result.IsError)
        {
            throw NoiseErrors.ToException(result.ErrorValue);
        }

        send = FSharpValueOption<CipherState>.Some(result.ResultValue);
        return payload.Length + Overhead;
    }

    /// <summary>Encrypts into a new array.</summary>
    public byte[] Encrypt(ReadOnlySpan<byte> payload)
    {
        var message = new byte[payload.Length + Overhead];
        Encrypt(payload, message);
        return message;
    }

    /// <summary>Checks and decrypts <paramref name="message"/> into <paramref name="payload"/> and returns the payload length. Nothing is written on failure.</summary>
    /// <exception cref="HybridProtocolException">DecryptionFailed if the message was altered, replayed or reordered.</exception>
    public int Decrypt(ReadOnlySpan<byte> message, Span<byte> payload)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var result = TransportStateModule.ReadMessage(receive, message, payload);
        if (result.IsError)
        {
            throw NoiseErrors.ToException(result.ErrorValue);
        }

        receive = FSharpValueOption<CipherState>.Some(result.ResultValue);
        return message.Length - Overhead;
    }

    /// <summary>Checks and decrypts into a new array.</summary>
    public byte[] Decrypt(ReadOnlySpan<byte> message)
    {
        if (message.Length < Overhead)
        {
            throw new HybridProtocolException(HybridErrorCode.ProtocolViolation, $"A transport message has at least {Overhead} bytes; this one has {message.Length}.");
        }

        var payload = new byte[message.Length - Overhead];
        Decrypt(message, payload);
        return payload;
    }

    /// <summary>Noise §11.3 Rekey() of the sending CipherState; the peer must rekey its receiving side at the same point.</summary>
    public void RekeySending() => send = Rekey(send);

    /// <summary>Noise §11.3 Rekey() of the receiving CipherState.</summary>
    public void RekeyReceiving() => receive = Rekey(receive);

    /// <summary>Erases both keys.</summary>
    public void Dispose()
    {
        disposed = true;
        keys.Dispose();
    }

    private static IAeadKey[] KeyOf(FSharpValueOption<CipherState> state) =>
        state.IsSome && CipherStateModule.key(state.Value) is { IsSome: true } key ? [key.Value] : [];

    private FSharpValueOption<CipherState> Rekey(FSharpValueOption<CipherState> state)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (state.IsNone)
        {
            throw new HybridInvalidOperationException("This side of a one-way pattern has no CipherState in that direction.");
        }

        var next = CipherStateModule.Rekey(state.Value);
        foreach (var old in KeyOf(state))
        {
            keys.Retire(old);
        }

        return FSharpValueOption<CipherState>.Some(next);
    }
}
