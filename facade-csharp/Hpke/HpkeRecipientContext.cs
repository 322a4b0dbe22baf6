using HybridProtocol.Core.Hpke;

namespace HybridProtocol;

/// <summary>
/// RFC 9180 §5.2 ContextR: opens the sender's messages, in the order they were sealed. A failed Open
/// leaves the sequence number unchanged. Not thread-safe. Dispose it to erase its keys.
/// </summary>
public sealed class HpkeRecipientContext : IDisposable
{
    private ContextR context;
    private bool disposed;

    internal HpkeRecipientContext(HpkeSuite suite, HpkeMode mode, ContextR context)
    {
        Suite = suite;
        Mode = mode;
        this.context = context;
    }

    /// <summary>The core context (for the sealed-file reader).</summary>
    internal ContextR CoreContext => context;

    /// <summary>The suite the context uses.</summary>
    public HpkeSuite Suite { get; }

    /// <summary>The mode the context was set up in.</summary>
    public HpkeMode Mode { get; }

    /// <summary>The sequence number of the next message (the number of messages opened so far).</summary>
    public ulong SequenceNumber => ContextModule.sequenceR(context);

    /// <summary>RFC 9180 §5.2 Open(aad, ct): decrypts the next message into <paramref name="plaintext"/>.</summary>
    /// <param name="ciphertext">The sealed message.</param>
    /// <param name="aad">The associated data the sender used.</param>
    /// <param name="plaintext">Exactly <c>ciphertext.Length - 16</c> bytes; on failure it holds nothing usable.</param>
    /// <returns>The number of bytes written.</returns>
    /// <exception cref="HybridProtocolException">DecryptionFailed when the message does not authenticate; NonceExhausted; Unsupported for the export-only AEAD.</exception>
    public int Open(ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> aad, Span<byte> plaintext)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        context = HpkeErrors.Check(ContextModule.Open(context, aad, ciphertext, plaintext));
        return plaintext.Length;
    }

    /// <summary>RFC 9180 §5.2 Open(aad, ct) into a new array.</summary>
    /// <param name="ciphertext">The sealed message.</param>
    /// <param name="aad">The associated data the sender used.</param>
    /// <exception cref="HybridProtocolException">DecryptionFailed when the message does not authenticate; NonceExhausted; Unsupported for the export-only AEAD.</exception>
    public byte[] Open(ReadOnlySpan<byte> ciphertext, ReadOnlySpan<byte> aad = default)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        var tag = ContextModule.suiteR(context).Nt;
        if (Suite.Aead == HpkeAead.ExportOnly)
        {
            throw HpkeErrors.ToException(HpkeError.ExportOnlyCannotSeal);
        }

        if (ciphertext.Length < tag)
        {
            throw HpkeErrors.ToException(HpkeError.OpenError);
        }

        var plaintext = new byte[ciphertext.Length - tag];
        Open(ciphertext, aad, plaintext);
        return plaintext;
    }

    /// <summary>RFC 9180 §5.3 Export(exporter_context, L): the same secret the sender's Export gives.</summary>
    /// <param name="exporterContext">Distinguishes exports from one another.</param>
    /// <param name="length">L, at most 255 times the KDF's output size.</param>
    public byte[] Export(ReadOnlySpan<byte> exporterContext, int length)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        return HpkeErrors.Check(ContextModule.ExportR(context, exporterContext.ToArray(), length));
    }

    /// <summary>Erases the context's keys.</summary>
    public void Dispose()
    {
        if (!disposed)
        {
            disposed = true;
            ContextModule.EraseR(context);
        }
    }
}
