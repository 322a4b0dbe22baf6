using HybridProtocol.Core.Hpke;

namespace HybridProtocol;

/// <summary>
/// RFC 9180 §5.2 ContextS: seals a sequence of messages to one recipient. Each Seal uses the next
/// sequence number, so the recipient must Open the messages in the same order. Not thread-safe.
/// Dispose it to erase its keys.
/// </summary>
public sealed class HpkeSenderContext : IDisposable
{
    private ContextS context;
    private bool disposed;

    internal HpkeSenderContext(HpkeSuite suite, HpkeMode mode, byte[] encapsulatedKey, ContextS context)
    {
        Suite = suite;
        Mode = mode;
        EncapsulatedKey = encapsulatedKey;
        this.context = context;
    }

    /// <summary>The core context (for the sealed-file writer, which seals through the core's chunk functions).</summary>
    internal ContextS CoreContext => context;

    /// <summary>The suite the context uses.</summary>
    public HpkeSuite Suite { get; }

    /// <summary>The mode the context was set up in.</summary>
    public HpkeMode Mode { get; }

    /// <summary>RFC 9180 <c>enc</c>: the encapsulated key the recipient needs to set up its context (Nenc bytes of the suite's KEM: 32 for X25519, 65/97/133 for P-256/384/521, 1088 for ML-KEM-768, 1120 for X-Wing).</summary>
    public byte[] EncapsulatedKey { get; }

    /// <summary>The sequence number of the next message (the number of messages sealed so far).</summary>
    public ulong SequenceNumber => ContextModule.sequenceS(context);

    /// <summary>The length of the ciphertext of a plaintext of the given length (plaintext + 16-byte tag).</summary>
    public int CiphertextLength(int plaintextLength) => plaintextLength + ContextModule.suiteS(context).Nt;

    /// <summary>RFC 9180 §5.2 Seal(aad, pt): encrypts the next message into <paramref name="ciphertext"/>.</summary>
    /// <param name="plaintext">The message.</param>
    /// <param name="aad">Associated data authenticated but not encrypted; the recipient must pass the same.</param>
    /// <param name="ciphertext">Exactly <see cref="CiphertextLength"/> bytes, not overlapping the plaintext.</param>
    /// <returns>The number of bytes written.</returns>
    /// <exception cref="HybridProtocolException">NonceExhausted after 2^64 - 1 messages; Unsupported for the export-only AEAD.</exception>
    /// <exception cref="HybridArgumentException">InvalidArgument for a wrong buffer length.</exception>
    public int Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> aad, Span<byte> ciphertext)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        context = HpkeErrors.Check(ContextModule.Seal(context, aad, plaintext, ciphertext));
        return ciphertext.Length;
    }

    /// <summary>RFC 9180 §5.2 Seal(aad, pt) into a new array.</summary>
    /// <param name="plaintext">The message.</param>
    /// <param name="aad">Associated data authenticated but not encrypted.</param>
    /// <exception cref="HybridProtocolException">NonceExhausted after 2^64 - 1 messages; Unsupported for the export-only AEAD.</exception>
    public byte[] Seal(ReadOnlySpan<byte> plaintext, ReadOnlySpan<byte> aad = default)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        if (Suite.Aead == HpkeAead.ExportOnly)
        {
            throw HpkeErrors.ToException(HpkeError.ExportOnlyCannotSeal);
        }

        var ciphertext = new byte[CiphertextLength(plaintext.Length)];
        Seal(plaintext, aad, ciphertext);
        return ciphertext;
    }

    /// <summary>RFC 9180 §5.3 Export(exporter_context, L): a secret both sides can derive.</summary>
    /// <param name="exporterContext">Distinguishes exports from one another.</param>
    /// <param name="length">L, at most 255 times the KDF's output size.</param>
    public byte[] Export(ReadOnlySpan<byte> exporterContext, int length)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return HpkeErrors.Check(ContextModule.ExportS(context, exporterContext.ToArray(), length));
    }

    /// <summary>Erases the context's keys.</summary>
    public void Dispose()
    {
        if (!disposed)
        {
            disposed = true;
            ContextModule.EraseS(context);
        }
    }
}
