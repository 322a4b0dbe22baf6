using System.Security.Cryptography;
using HybridProtocol.Core.Age;
using HybridProtocol.Crypto;
using HybridProtocol.Net;
using Microsoft.FSharp.Collections;
using CoreAgeFile = HybridProtocol.Core.Age.AgeFileFormat;
using CoreHeader = HybridProtocol.Core.Age.Header;

namespace HybridProtocol;

/// <summary>What the first bytes of an input are (<see cref="AgeFile.Detect"/>).</summary>
public enum AgeFormat
{
    /// <summary>Not an age file (for example a <see cref="SealedFile"/>).</summary>
    NotAge = 0,

    /// <summary>A binary age file: it starts with <c>age-encryption.org/</c>.</summary>
    Binary = 1,

    /// <summary>An ASCII-armored age file: whitespace, then <c>-----BEGIN</c>.</summary>
    Armored = 2,
}

/// <summary>
/// age v1 files (C2SP age.md, specs/AGE.md), the format the <c>age</c> tool and its many implementations exchange: a header
/// that wraps a random file key for each recipient, then the data in 64 KiB ChaCha20-Poly1305 chunks (STREAM), optionally
/// ASCII-armored. Recipients are X25519 keys (<c>age1…</c>) or X-Wing keys (<c>age1pq1…</c>, age's post-quantum
/// <c>mlkem768x25519</c> type); <see cref="PublicKey.FromAgeRecipient"/> and <see cref="PrivateKey.FromAgeIdentity"/> read
/// age's key strings. Streamed in constant memory.
/// </summary>
/// <remarks>
/// Decrypt writes each chunk's plaintext as soon as that chunk authenticates. If it throws, the output already written is
/// authentic but incomplete: discard it.
/// </remarks>
public static class AgeFile
{
    /// <summary>Plaintext bytes per payload chunk (64 KiB), fixed by the format.</summary>
    public const int ChunkSize = Payload.ChunkSize;

    private static readonly Lazy<Recipients.AgeCrypto> LazyCrypto = new(() => new Recipients.AgeCrypto(
        NSecSuite.X25519,
        NSecSuite.Sha256,
        NSecSuite.ChaChaPoly,
        new HpkeSuite(HpkeKem.XWing, HpkeKdf.HkdfSha256, HpkeAead.ChaCha20Poly1305).ToCore()));

    private static Recipients.AgeCrypto Crypto => LazyCrypto.Value;

    /// <summary>Says whether <paramref name="start"/> (the first bytes of an input, up to 1 KiB) begins an age file, binary or armored.</summary>
    /// <param name="start">The first bytes of the input.</param>
    public static AgeFormat Detect(ReadOnlySpan<byte> start)
    {
        var format = CoreAgeFile.detect(start);
        return format.IsBinary ? AgeFormat.Binary : format.IsArmored ? AgeFormat.Armored : AgeFormat.NotAge;
    }

    /// <summary>Encrypts <paramref name="input"/> (read to its end) to every recipient, writing an age file to <paramref name="output"/>.</summary>
    /// <param name="recipients">X25519 or X-Wing public keys (not both kinds in one file); at least one.</param>
    /// <param name="input">The plaintext.</param>
    /// <param name="output">Receives the age file.</param>
    /// <param name="armor">Write ASCII armor (PEM "AGE ENCRYPTED FILE") instead of binary.</param>
    /// <exception cref="HybridArgumentException">InvalidKey (a key of another algorithm), InvalidArgument (no recipient, or X-Wing and X25519 mixed), InvalidPeerKey.</exception>
    public static void Encrypt(IEnumerable<PublicKey> recipients, Stream input, Stream output, bool armor = false) =>
        EncryptCore(default(SyncStreamIo), recipients, input, output, armor, default).GetAwaiter().GetResult();

    /// <summary>Encrypts asynchronously; see <see cref="Encrypt"/>.</summary>
    /// <param name="recipients">X25519 or X-Wing public keys; at least one.</param>
    /// <param name="input">The plaintext.</param>
    /// <param name="output">Receives the age file.</param>
    /// <param name="armor">Write ASCII armor.</param>
    /// <param name="cancellationToken">Cancels the copy.</param>
    public static async Task EncryptAsync(
        IEnumerable<PublicKey> recipients, Stream input, Stream output, bool armor = false, CancellationToken cancellationToken = default) =>
        await EncryptCore(default(AsyncStreamIo), recipients, input, output, armor, cancellationToken).ConfigureAwait(false);

    /// <summary>Decrypts the age file in <paramref name="input"/> (binary or armored, detected) with the first identity that matches.</summary>
    /// <param name="identities">X25519 or X-Wing private keys; at least one.</param>
    /// <param name="input">The age file.</param>
    /// <param name="output">Receives the plaintext, chunk by authenticated chunk.</param>
    /// <exception cref="HybridProtocolException">
    /// InvalidCiphertext (malformed armor, header or stanza; cut off), DecryptionFailed (no identity matches, the header MAC or a
    /// chunk does not verify), Unsupported (another age version), InvalidKey (a key of another algorithm).
    /// </exception>
    public static void Decrypt(IEnumerable<PrivateKey> identities, Stream input, Stream output) =>
        DecryptCore(default(SyncStreamIo), identities, input, output, default).GetAwaiter().GetResult();

    /// <summary>Decrypts asynchronously; see <see cref="Decrypt"/>.</summary>
    /// <param name="identities">X25519 or X-Wing private keys; at least one.</param>
    /// <param name="input">The age file.</param>
    /// <param name="output">Receives the plaintext.</param>
    /// <param name="cancellationToken">Cancels the copy.</param>
    public static async Task DecryptAsync(
        IEnumerable<PrivateKey> identities, Stream input, Stream output, CancellationToken cancellationToken = default) =>
        await DecryptCore(default(AsyncStreamIo), identities, input, output, cancellationToken).ConfigureAwait(false);

    private static Recipients.AgeRecipient ToRecipient(PublicKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return AgeInterop.KeyType(key.Algorithm, "an age recipient").IsX25519
            ? Recipients.AgeRecipient.NewX25519Recipient(key.ToCore())
            : Recipients.AgeRecipient.NewMlKem768X25519Recipient(key.ToHpke(HpkeKem.XWing));
    }

    private static Recipients.AgeIdentity ToIdentity(PrivateKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        key.ThrowIfDisposed("an age identity");
        return AgeInterop.KeyType(key.Algorithm, "an age identity").IsX25519
            ? Recipients.AgeIdentity.NewX25519Identity(key.ToKeyPair())
            : Recipients.AgeIdentity.NewMlKem768X25519Identity(key.ToHpke(HpkeKem.XWing));
    }

    private static async ValueTask EncryptCore<TIo>(
        TIo io, IEnumerable<PublicKey> recipients, Stream input, Stream output, bool armor, CancellationToken cancellationToken)
        where TIo : struct, IStreamIo
    {
        ArgumentNullException.ThrowIfNull(recipients);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        var crypto = Crypto;
        var list = recipients.Select(ToRecipient).ToList();
        var fileKey = RandomNumberGenerator.GetBytes(CoreAgeFile.FileKeyLength);
        var randomness = list.Select(r => RandomNumberGenerator.GetBytes(Recipients.randomnessLength(crypto, r))).ToList();
        var nonce = RandomNumberGenerator.GetBytes(Payload.NonceLength);
        byte[] header;
        byte[] payloadKey;
        try
        {
            var pairs = ListModule.OfSeq(list.Zip(randomness, (r, x) => ValueTuple.Create(r, x)));
            header = AgeErrors.Check(CoreAgeFile.encryptHeader(crypto, fileKey, pairs));
            payloadKey = Payload.payloadKey(crypto.SHA256, fileKey, nonce);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(fileKey);
            randomness.ForEach(r => CryptographicOperations.ZeroMemory(r));
        }

        using var key = crypto.ChaCha20Poly1305.KEY.Invoke(payloadKey);
        CryptographicOperations.ZeroMemory(payloadKey);
        var armorWriter = armor ? new ArmorWriter() : null;

        async ValueTask Emit(ReadOnlyMemory<byte> bytes)
        {
            await io.WriteAsync(output, armorWriter is null ? bytes : armorWriter.Push(bytes.Span), cancellationToken).ConfigureAwait(false);
        }

        if (armorWriter is not null)
        {
            await io.WriteAsync(output, armorWriter.Begin(), cancellationToken).ConfigureAwait(false);
        }

        await Emit(header).ConfigureAwait(false);
        await Emit(nonce).ConfigureAwait(false);
        var plaintext = new byte[ChunkSize];
        var ciphertext = new byte[ChunkSize + Payload.TagLength];
        var reader = new AgeSource(input);
        var writer = Payload.startWriter(crypto.ChaCha20Poly1305, key);
        try
        {
            while (true)
            {
                var (length, isFinal) = await reader.ReadChunkAsync(io, plaintext, cancellationToken).ConfigureAwait(false);
                writer = AgeErrors.Check(Payload.SealChunk(writer, isFinal, plaintext.AsSpan(0, length), ciphertext.AsSpan(0, length + Payload.TagLength)));
                await Emit(ciphertext.AsMemory(0, length + Payload.TagLength)).ConfigureAwait(false);
                if (isFinal)
                {
                    break;
                }
            }

            if (armorWriter is not null)
            {
                await io.WriteAsync(output, armorWriter.End(), cancellationToken).ConfigureAwait(false);
            }

            await io.FlushAsync(output, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private static async ValueTask DecryptCore<TIo>(
        TIo io, IEnumerable<PrivateKey> identities, Stream input, Stream output, CancellationToken cancellationToken)
        where TIo : struct, IStreamIo
    {
        ArgumentNullException.ThrowIfNull(identities);
        ArgumentNullException.ThrowIfNull(input);
        ArgumentNullException.ThrowIfNull(output);
        var ids = ListModule.OfSeq(identities.Select(ToIdentity).ToList());
        if (ids.IsEmpty)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, "Decrypting an age file needs at least one identity (private key).");
        }

        var crypto = Crypto;
        var source = new AgeSource(input);
        var format = CoreAgeFile.detect(await source.PeekAsync(io, Armor.MaxLineLength, cancellationToken).ConfigureAwait(false));
        if (!format.IsBinary)
        {
            source.StartArmor();
        }

        // The header: read until it decodes (bounded by Header.MaxLength); what follows it is the payload.
        var buffer = new byte[4096];
        var filled = 0;
        var atEnd = false;
        CoreHeader.AgeHeader header;
        int headerLength;
        while (true)
        {
            var decoded = AgeErrors.Check(CoreHeader.decode(buffer.AsSpan(0, filled), atEnd));
            if (decoded is CoreHeader.Decoded.Complete complete)
            {
                header = complete.header;
                headerLength = complete.length;
                break;
            }

            if (filled == buffer.Length)
            {
                Array.Resize(ref buffer, Math.Min(buffer.Length * 2, CoreHeader.MaxLength + 1));
            }

            var read = await source.ReadAsync(io, buffer.AsMemory(filled), cancellationToken).ConfigureAwait(false);
            atEnd = read == 0;
            filled += read;
        }

        source.Prepend(buffer, headerLength, filled - headerLength);
        var fileKey = AgeErrors.Check(CoreAgeFile.unwrapFileKey(crypto, ids, header));
        byte[] payloadKey;
        try
        {
            var nonce = new byte[Payload.NonceLength];
            var got = await source.ReadFullAsync(io, nonce, cancellationToken).ConfigureAwait(false);
            if (got < nonce.Length)
            {
                throw AgeErrors.ToException(AgeError.NewHeader(HeaderError.NewNonceTruncated(got)));
            }

            payloadKey = Payload.payloadKey(crypto.SHA256, fileKey, nonce);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(fileKey);
        }

        using var key = crypto.ChaCha20Poly1305.KEY.Invoke(payloadKey);
        CryptographicOperations.ZeroMemory(payloadKey);
        var chunks = Payload.startReader(crypto.ChaCha20Poly1305, key);
        var ciphertext = new byte[ChunkSize + Payload.TagLength];
        var plaintext = new byte[ChunkSize];
        try
        {
            while (true)
            {
                var (length, isFinal) = await source.ReadChunkAsync(io, ciphertext, cancellationToken).ConfigureAwait(false);
                var plainLength = Math.Max(0, length - Payload.TagLength);
                chunks = AgeErrors.Check(Payload.OpenChunk(chunks, isFinal, ciphertext.AsSpan(0, length), plaintext.AsSpan(0, plainLength)));
                await io.WriteAsync(output, plaintext.AsMemory(0, plainLength), cancellationToken).ConfigureAwait(false);
                if (isFinal)
                {
                    break;
                }
            }

            AgeErrors.Check(Payload.EndOfInput(chunks));
            await io.FlushAsync(output, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }
}
