namespace HybridProtocol.AspNetCore;

/// <summary>
/// What the middleware's stream adapters (<see cref="TransportStream"/>, <see cref="SecureInput"/>, the output
/// pipe's stream) share: a forward-only stream with no length, no position and no seeking.
/// </summary>
internal abstract class UnseekableStream : Stream
{
    public sealed override bool CanSeek => false;

    public sealed override long Length => throw new NotSupportedException();

    public sealed override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public sealed override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public sealed override void SetLength(long value) => throw new NotSupportedException();
}
