using System.Security.Cryptography;
using HybridProtocol.Core.Hpke;
using HybridProtocol.Net;
using SealedFileFormat = HybridProtocol.Core.Hpke.SealedFileFormat;

namespace HybridProtocol;

/// <summary>
/// The sealed-file format (specs/HPKE.md): data of any size encrypted to a public key with HPKE,
/// streamed in constant memory. A header (magic, version, mode, suite, chunk size, enc) is followed
/// by chunks sealed under one HPKE context with the STREAM construction, so that reordered,
/// dropped, duplicated or cut-off chunks and a changed header are all detected.
/// </summary>
/// <remarks>
/// Open writes each chunk's plaintext as soon as that chunk authenticates. If it throws, the output
/// already written is authentic but incomplete: discard it.
/// </remarks>
public static class SealedFile
{
    /// <summary>The chunk size used unless another is given: 64 KiB of plaintext per chunk.</summary>
    public const int DefaultChunkSize = SealedFileFormat.DefaultChunkSize;

    /// <summary>The largest chunk size (16 MiB): the reader's memory bound.</summary>
    public const int MaxChunkSize = SealedFileFormat.MaxChunkSize;

    /// <summary>Seals <paramref name="input"/> (read to its end) to <paramref name="recipientPublicKey"/>, writing the sealed file to <paramref name="output"/>.</summary>
    /// <param name="recipientPublicKey">The recipient's public key.</param>
    /// <param name="input">The plaintext stream.</param>
    /// <param name="output">Receives the sealed file.</param>
    /// <param name="info">HPKE info: application context the recipient must pass too; null for none.</param>
    /// <param name="options">Suite and mode inputs (PSK, sender key); null for the default suite in base mode.</param>
    /// <param name="chunkSize">Plaintext bytes per chunk, 1 to <see cref="MaxChunkSize"/>.</param>
    /// <exception cref="HybridArgumentException">InvalidKey, InvalidPeerKey, InvalidArgument, Unsupported.</exception>
    public static void Seal(
        PublicKey recipientPublicKey,
        Stream input,
        Stream output,
        byte[]? info = null,
        HpkeSenderOptions? options = null,
        int chunkSize = DefaultChunkSize)
    {
        using var context = SetupSealing(recipientPublicKey, input, output, info, options, chunkSize);
        SealCore(default(SyncStreamIo), context, input, output, chunkSize, default).GetAwaiter().GetResult();
    }

    /// <summary>Seals <paramref name="input"/> asynchronously; see <see cref="Seal"/>.</summary>
    /// <param name="recipientPublicKey">The recipient's public key.</param>
    /// <param name="input">The plaintext stream.</param>
    /// <param name="output">Receives the sealed file.</param>
    /// <param name="info">HPKE info; null for none.</param>
    /// <param name="options">Suite and mode inputs; null for the default suite in base mode.</param>
    /// <param name="chunkSize">Plaintext bytes per chunk.</param>
    /// <param name="cancellationToken">Cancels the copy.</param>
    public static async Task SealAsync(
        PublicKey recipientPublicKey,
        Stream input,
        Stream output,
        byte[]? info = null,
        HpkeSenderOptions? options = null,
        int chunkSize = DefaultChunkSize,
        CancellationToken cancellationToken = default)
    {
        using var context = SetupSealing(recipientPublicKey, input, output, info, options, chunkSize);
        await SealCore(default(AsyncStreamIo), context, input, output, chunkSize, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Opens the sealed file in <paramref name="input"/> and writes its plaintext to <paramref name="output"/>.</summary>
    /// <param name="recipientPrivateKey">The recipient's private key.</param>
    /// <param name="input">The sealed file.</param>
    /// <param name="output">Receives the plaintext, chunk by authenticated chunk.</param>
    /// <param name="info">The info the sender used; null for none.</param>
    /// <param name="options">The sender's mode inputs (PSK, sender public key); the suite is read from the header.</param>
    /// <exception cref="HybridProtocolException">
    /// InvalidCiphertext (malformed header, cut off), DecryptionFailed (a chunk does not authenticate: tampered,
    /// reordered, duplicated, wrong key, info, PSK or sender key), Unsupported (version or suite), InvalidArgument (mode inputs
    /// do not match the header's mode), InvalidKey.
    /// </exception>
    public static void Open(
        PrivateKey recipientPrivateKey,
        Stream input,
        Stream output,
        byte[]? info = null,
        HpkeRecipientOptions? options = null)
    {
        OpenCore(default(SyncStreamIo), recipientPrivateKey, input, output, info, options, default).GetAwaiter().GetResult();
    }

    /// <summary>Opens a sealed file asynchronously; see <see cref="Open"/>.</summary>
    /// <param name="recipientPrivateKey">The recipient's private key.</param>
    /// <param name="input">The sealed file.</param>
    /// <param name="output">Receives the plaintext.</param>
    /// <param name="info">The info the sender used; null for none.</param>
    /// <param name="options">The sender's mode inputs; the suite is read from the header.</param>
    /// <param name="cancellationToken">Cancels the copy.</param>
    public static async Task OpenAsync(
        PrivateKey recipientPrivateKey,
        Stream input,
        Stream output,
        byte[]? info = null,
        HpkeRecipientOptions? options = null,
        CancellationToken cancellationToken = default)
    {
        await OpenCore(default(AsyncStreamIo), recipientPrivateKey, input, output, info, options, cancellationToken).ConfigureAwait(false);
    }

    private static HpkeSenderContext SetupSealing(
        PublicKey recipientPublicKey, Stream input, Stream output, byte[]? info, HpkeSenderOptions? options, int chunkSize)
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        if (chunkSize < 1 || chunkSize > MaxChunkSize)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"chunkSize must be 1 to {MaxChunkSize}, not {chunkSize}.");
        }

        options ??= new HpkeSenderOptions();
        if (options.Suite.Aead == HpkeAead.ExportOnly)
        {
            throw HpkeErrors.ToException(HpkeError.ExportOnlyCannotSeal);
        }

        return Hpke.SetupS(recipientPublicKey, info ?? [], options);
    }

    private static async ValueTask SealCore<TAdapter>(
        TAdapter adapter, HpkeSenderContext context, Stream input, Stream output, int chunkSize, CancellationToken cancellationToken)
        where TAdapter : struct, IStreamIo
    {
        var header = new SealedFileHeader(
            ModeModule.tryOfValue((byte)context.Mode).Value,
            (ushort)context.Suite.Kem,
            (ushort)context.Suite.Kdf,
            (ushort)context.Suite.Aead,
            chunkSize,
            context.EncapsulatedKey);
        var (headerBytes, writer) = SealedFileFormat.startWriter(context.CoreContext, header);
        await adapter.WriteAsync(output, headerBytes, cancellationToken).ConfigureAwait(false);

        var plaintext = new byte[chunkSize];
        var ciphertext = new byte[chunkSize + Hpke.TagLength];
        var reader = new PlaintextReader(input);
        try
        {
            while (true)
            {
                var (length, isFinal) = await reader.ReadAsync(adapter, plaintext, cancellationToken).ConfigureAwait(false);
                var sealedLength = length + Hpke.TagLength;
                writer = HpkeErrors.Check(SealedFileFormat.SealChunk(writer, isFinal, plaintext.AsSpan(0, length), ciphertext.AsSpan(0, sealedLength)));
                await adapter.WriteAsync(output, ciphertext.AsMemory(0, sealedLength), cancellationToken).ConfigureAwait(false);
                if (isFinal)
                {
                    break;
                }
            }

            await adapter.FlushAsync(output, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private static async ValueTask OpenCore<TAdapter>(
        TAdapter adapter, PrivateKey recipientPrivateKey, Stream input, Stream output, byte[]? info, HpkeRecipientOptions? options, CancellationToken cancellationToken)
        where TAdapter : struct, IStreamIo
    {
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        options ??= new HpkeRecipientOptions();

        var prefix = new byte[SealedFileFormat.FixedHeaderLength];
        var got = await ReadFullAsync(adapter, input, prefix, cancellationToken).ConfigureAwait(false);
        var headerLength = HpkeErrors.Check(SealedFileFormat.headerLength(prefix.AsSpan(0, got)));
        var headerBytes = new byte[headerLength];
        prefix.CopyTo(headerBytes, 0);
        got += await ReadFullAsync(adapter, input, headerBytes.AsMemory(prefix.Length), cancellationToken).ConfigureAwait(false);
        var (header, _) = HpkeErrors.Check(SealedFileFormat.decodeHeader(headerBytes.AsSpan(0, got)));

        var mode = (HpkeMode)ModeModule.value(header.Mode);
        if (mode != options.Mode)
        {
            throw new HybridArgumentException(
                HybridErrorCode.InvalidArgument,
                $"The file was sealed in HPKE mode {mode}, but the options give the inputs of mode {options.Mode} (PSK and PSK id for Psk, the sender's public key for Auth).");
        }

        var suite = HpkeSuite.FromIds(header.KemId, header.KdfId, header.AeadId);
        var recipientOptions = new HpkeRecipientOptions { Suite = suite, Psk = options.Psk, PskId = options.PskId, SenderPublicKey = options.SenderPublicKey };
        using var context = Hpke.SetupR(header.Enc, recipientPrivateKey, info ?? [], recipientOptions);
        var chunks = SealedFileFormat.startReader(context.CoreContext, headerBytes, header);

        var plaintext = new byte[header.ChunkSize];
        var reader = new ChunkReader(input, header.ChunkSize + Hpke.TagLength);
        try
        {
            while (true)
            {
                var (length, isFinal) = await reader.ReadAsync(adapter, chunks, cancellationToken).ConfigureAwait(false);
                var plainLength = Math.Max(0, length - Hpke.TagLength);
                chunks = HpkeErrors.Check(SealedFileFormat.OpenChunk(chunks, isFinal, reader.Chunk, plaintext.AsSpan(0, plainLength)));
                await adapter.WriteAsync(output, plaintext.AsMemory(0, plainLength), cancellationToken).ConfigureAwait(false);
                if (isFinal)
                {
                    break;
                }
            }

            HpkeErrors.Check(SealedFileFormat.EndOfInput(chunks));
            await adapter.FlushAsync(output, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private static async ValueTask<int> ReadFullAsync<TAdapter>(TAdapter adapter, Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
        where TAdapter : struct, IStreamIo
    {
        var total = 0;
        while (total < buffer.Length)
        {
            var read = await adapter.ReadAsync(stream, buffer[total..], cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }

            total += read;
        }

        return total;
    }

    /// <summary>
    /// Buffers the input for the core's chunk decoder (<c>SealedFileFormat.nextChunk</c>), which says where each chunk
    /// ends and whether it is the last (a full chunk is told apart once one more byte, or the end, is there); this only
    /// reads into one buffer of a chunk and a byte, and keeps the bytes after a chunk for the next.
    /// </summary>
    private sealed class ChunkReader(Stream stream, int chunkLength)
    {
        private readonly byte[] buffer = new byte[chunkLength + 1];
        private int filled;
        private int consumed;

        /// <summary>The chunk the last <see cref="ReadAsync"/> found.</summary>
        public ReadOnlySpan<byte> Chunk => buffer.AsSpan(0, consumed);

        public async ValueTask<(int Length, bool IsFinal)> ReadAsync<TAdapter>(TAdapter adapter, SealedFileReader chunks, CancellationToken cancellationToken)
            where TAdapter : struct, IStreamIo
        {
            buffer.AsSpan(consumed, filled - consumed).CopyTo(buffer);
            filled -= consumed;
            consumed = 0;
            var ended = false;
            while (true)
            {
                var boundary = HpkeErrors.Check(SealedFileFormat.nextChunk(chunks, filled, ended));
                if (boundary.IsChunkReady)
                {
                    consumed = boundary.Length;
                    return (boundary.Length, boundary.IsFinal);
                }

                var read = await adapter.ReadAsync(stream, buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
                ended = read == 0;
                filled += read;
            }
        }
    }

    /// <summary>
    /// Sealing: reads the plaintext in chunks of a fixed size and says whether each is the last (the input ends within
    /// or right after it): after a full chunk it reads one byte ahead and keeps it for the next chunk. (The plaintext is
    /// not a format; opening leaves where a chunk ends to the core's decoder.)
    /// </summary>
    private sealed class PlaintextReader(Stream stream)
    {
        private readonly byte[] lookahead = new byte[1];
        private bool hasLookahead;

        public async ValueTask<(int Length, bool IsFinal)> ReadAsync<TAdapter>(TAdapter adapter, Memory<byte> buffer, CancellationToken cancellationToken)
            where TAdapter : struct, IStreamIo
        {
            var length = 0;
            if (hasLookahead)
            {
                buffer.Span[0] = lookahead[0];
                hasLookahead = false;
                length = 1;
            }

            length += await ReadFullAsync(adapter, stream, buffer[length..], cancellationToken).ConfigureAwait(false);
            if (length < buffer.Length)
            {
                return (length, true);
            }

            var more = await adapter.ReadAsync(stream, lookahead, cancellationToken).ConfigureAwait(false);
            hasLookahead = more > 0;
            return (length, more == 0);
        }
    }
}
