using System.Runtime.CompilerServices;

namespace HybridProtocol.AspNetCore;

/// <summary>
/// The stream the middleware's input pipe reads: the secure connection's stream, with its failures (a client gone
/// without its close, a record that fails authentication) surfaced as <see cref="IOException"/> whose inner exception
/// is the <see cref="HybridProtocolException"/> with its code. Kestrel logs an I/O error of the transport at Debug and
/// any other exception at Warning, once per connection; with TLS a vanished client is an I/O error too.
/// </summary>
internal sealed class SecureInput(Stream secure) : UnseekableStream
{
    public override bool CanRead => true;

    public override bool CanWrite => false;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        try
        {
            return await secure.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is IHybridProtocolError and not IOException)
        {
            throw new IOException(e.Message, e);
        }
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) => ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    public override void Flush()
    {
    }
}
