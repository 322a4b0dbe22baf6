using System.Buffers;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using HybridProtocol.Connections;
using HybridProtocol.Core;
using HybridProtocol.Core.Wire;
using HybridProtocol.Crypto;
using HybridProtocol.Diagnostics;
using Microsoft.Extensions.Logging;

namespace HybridProtocol;

/// <summary>
/// An authenticated, encrypted connection over a byte stream (TCP, a pipe, a Unix socket), made by
/// <see cref="ConnectAsync"/>, <see cref="AuthenticateAsClientAsync"/>, <see cref="AuthenticateAsServerAsync(Stream, SecureServerOptions, CancellationToken)"/>
/// or <see cref="SecureListener.AcceptAsync"/>. It carries whole messages: each send arrives as one message at the
/// other end, in order, authenticated; <see cref="GetStream"/> gives a <see cref="Stream"/> view for code that wants one.
/// <para>
/// One send and one receive may run at the same time (one lock per direction); concurrent sends are serialized, as
/// are concurrent receives. After any failure the connection refuses further use and every call throws the same
/// <see cref="HybridErrorCode"/> (SslStream's behaviour). End a connection with <see cref="CloseAsync"/> (an
/// authenticated close, so the peer knows nothing was cut off), then dispose it.
/// </para>
/// </summary>
public sealed partial class SecureConnection : IDisposable, IAsyncDisposable
{
    // Buffers are rented from the shared ArrayPool when a send or receive needs them and returned when it ends, so an
    // idle connection holds none (SslStream's model). Sizes are powers of two, the pool's bucket sizes: 128 KiB holds
    // a whole record (2 + 65535 bytes) plus the start of the next; 256 KiB holds three full records for one write.
    private const int ReceiveBufferSize = 128 * 1024;
    private const int MaxSendBuffer = 256 * 1024;
    private const int SmallAssembly = 64 * 1024;

    private readonly Stream stream;
    private readonly KeyScope keys;
    private readonly WireErrorContext context;
    private readonly SemaphoreSlim sendLock = new(1, 1);
    private readonly SemaphoreSlim receiveLock = new(1, 1);
    private readonly Queue<byte[]> early;
    private readonly int maxRecordData;

    // The socket a synchronous receive waits on with a poll before it reads, when the stream is a NetworkStream whose
    // socket had no read timeout when the connection was made (the poll would not honour one; checked once, as reading
    // the option allocates). Once an async call (the handshake) has made the socket non-blocking, .NET on Unix emulates
    // a blocking read that finds no data with a 120-byte operation object, up to one per record; a poll waits without
    // allocating, and the read then finds the data.
    private readonly Socket? pollSocket;

    // Send direction (under sendLock): the record layer's send half is the only part this side uses.
    private RecordLayer sendLayer;
    private bool sendClosed;

    // Receive direction (under receiveLock): the record layer's receive half, the bytes read and not yet opened (the
    // buffer is held only while it holds bytes or a read is in progress), the message being reassembled when it
    // cannot go straight into the caller's buffer, and how much of the caller's buffer a direct receive has filled
    // (-1 when none is in progress).
    private RecordLayer receiveLayer;
    private byte[]? receiveBuffer;
    private int directLength = -1;
    private int receiveStart;
    private int receiveEnd;
    private byte[]? assembly;
    private int assemblyLength;
    private byte[]? current;
    private int currentStart;
    private int currentEnd;
    private bool receiveClosed;

    private HybridProtocolException? failure;
    private int disposed;

    // Where this connection's events go (SecureConnectionOptions.Logger), set when the handshake completes.
    private ILogger? logger;

    internal ILogger? Logger
    {
        set => logger = value;
    }

    private SecureConnection(Stream stream, KeyScope keys, TransportHandoff? transport, HandshakeInfo info, Queue<byte[]> early, WireErrorContext context)
    {
        this.stream = stream;
        this.keys = keys;
        this.context = context;
        this.early = early;
        pollSocket = stream is NetworkStream { Socket: { ReceiveTimeout: 0 } socket } ? socket : null;
        ProtocolName = info.ProtocolName;
        HandshakeHash = info.HandshakeHash;
        ApplicationProtocol = info.Remote.ApplicationProtocol;
        RemotePublicKey = info.RemoteStatic is { Value: var rs } ? PublicKey.FromCore(rs) : null;
        LocalMaxMessageSize = info.Local.MaxMessageSize;
        RemoteMaxMessageSize = info.Remote.MaxMessageSize;
        if (transport is null)
        {
            sendClosed = receiveClosed = true;
            return;
        }

        sendLayer = receiveLayer = transport.Layer;
        maxRecordData = transport.Layer.Limits.MaxRecordData;
        if (transport.Buffered.Length > 0)
        {
            receiveBuffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
            transport.Buffered.CopyTo(receiveBuffer, 0);
            receiveEnd = transport.Buffered.Length;
        }

        if (transport.PartialMessage.Length > 0)
        {
            Append(transport.PartialMessage, more: true);
        }
    }

    /// <summary>Bytes of pooled buffers this connection holds now (for tests: an idle connection holds none).</summary>
    internal int HeldBufferBytes => (receiveBuffer?.Length ?? 0) + (assembly?.Length ?? 0);

    /// <summary>The peer's static public key, when the pattern has one: the server's key on a client (always), the client's key on a server when the client proved one.</summary>
    public PublicKey? RemotePublicKey { get; }

    /// <summary>Noise §11.2: a value unique to this session and equal on both ends (channel binding); 64 or 32 bytes. A copy.</summary>
    public ReadOnlyMemory<byte> HandshakeHash { get; }

    /// <summary>The Noise protocol name that ran, e.g. <c>Noise_NK_25519_ChaChaPoly_BLAKE2b</c>.</summary>
    public string ProtocolName { get; }

    /// <summary>The application protocol both ends named.</summary>
    public string ApplicationProtocol { get; }

    /// <summary>The largest message this end accepts (it announced this to the peer).</summary>
    public int LocalMaxMessageSize { get; }

    /// <summary>The largest message the peer accepts: larger sends throw MessageTooLarge.</summary>
    public int RemoteMaxMessageSize { get; }

    /// <summary>
    /// Sends one message (any length up to <see cref="RemoteMaxMessageSize"/>, empty allowed); the peer receives it as
    /// one message. Concurrent sends are serialized. Completes when the bytes are handed to the stream.
    /// </summary>
    /// <exception cref="HybridProtocolException">
    /// MessageTooLarge (the connection stays usable); InvalidState after close; TransportFailed; any earlier failure's code.
    /// </exception>
    /// <exception cref="OperationCanceledException">Cancelled; a send cancelled part-way fails the connection.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    public async ValueTask SendAsync(ReadOnlyMemory<byte> message, CancellationToken cancellationToken = default)
    {
        CheckSend(message.Length);
        await sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        var offset = 0;
        var started = false;
        byte[]? buffer = null;
        var done = false;
        try
        {
            CheckSendLocked();
            buffer = RentSendBuffer(message.Length);
            while (!started || offset < message.Length)
            {
                var n = SealSome(buffer, message.Span, ref offset, ref started);
                await stream.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
                Telemetry.Sent(n);
            }

            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
            done = true;
        }
        catch (OperationCanceledException e) when (started)
        {
            Fail(new HybridProtocolException(HybridErrorCode.TransportFailed, "A send was cancelled part-way through a message; the stream is out of step and the connection cannot be used again.", e));
            throw;
        }
        catch (Exception e) when (e is not HybridProtocolException and not OperationCanceledException)
        {
            throw TransportFailure(e);
        }
        finally
        {
            ReturnSendBuffer(buffer, done);
            sendLock.Release();
        }
    }

    /// <summary>Sends one message synchronously (see <see cref="SendAsync"/>).</summary>
    /// <exception cref="HybridProtocolException">As <see cref="SendAsync"/>.</exception>
    public void Send(ReadOnlySpan<byte> message)
    {
        CheckSend(message.Length);
        sendLock.Wait();
        var offset = 0;
        var started = false;
        byte[]? buffer = null;
        var done = false;
        try
        {
            CheckSendLocked();
            buffer = RentSendBuffer(message.Length);
            while (!started || offset < message.Length)
            {
                var n = SealSome(buffer, message, ref offset, ref started);
                stream.Write(buffer.AsSpan(0, n));
                Telemetry.Sent(n);
            }

            stream.Flush();
            done = true;
        }
        catch (OperationCanceledException e) when (started)
        {
            Fail(new HybridProtocolException(HybridErrorCode.TransportFailed, "A send was cancelled part-way through a message; the stream is out of step and the connection cannot be used again.", e));
            throw;
        }
        catch (Exception e) when (e is not HybridProtocolException and not OperationCanceledException)
        {
            throw TransportFailure(e);
        }
        finally
        {
            ReturnSendBuffer(buffer, done);
            sendLock.Release();
        }
    }

    /// <summary>
    /// Receives the next whole message, or null when the peer closed the connection cleanly (its authenticated close
    /// arrived; every message it sent has been received). Allocates the returned array.
    /// </summary>
    /// <exception cref="HybridProtocolException">
    /// ConnectionTruncated when the stream ended without the peer's close; DecryptionFailed or ProtocolViolation for
    /// altered or bad bytes; MessageTooLarge when the peer exceeds <see cref="LocalMaxMessageSize"/>; TransportFailed.
    /// All of these fail the connection.
    /// </exception>
    public async ValueTask<byte[]?> ReceiveAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfExceptional();
        await receiveLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return await NextMessageAsync(cancellationToken).ConfigureAwait(false) ? TakeCurrent() : null;
        }
        finally
        {
            ReleaseIdleReceiveBuffer();
            receiveLock.Release();
        }
    }

    /// <summary>
    /// Receives the next whole message into <paramref name="buffer"/> and returns its length, or -1 when the peer
    /// closed the connection cleanly. Does not allocate, and decrypts each record straight into
    /// <paramref name="buffer"/> where it fits (bytes past the returned length are unspecified; on a failure the
    /// part written is cleared). When the message does not fit, throws InvalidArgument
    /// naming the size needed and keeps the message: call again with a buffer of that size (or
    /// <see cref="LocalMaxMessageSize"/>), or use <see cref="ReceiveAsync(CancellationToken)"/>.
    /// </summary>
    /// <exception cref="HybridProtocolException">InvalidArgument when the buffer is too small (the connection stays usable); otherwise as <see cref="ReceiveAsync(CancellationToken)"/>.</exception>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ThrowIfExceptional();
        await receiveLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (current is not null || TryEarly() || assemblyLength > 0)
            {
                return await NextMessageAsync(cancellationToken).ConfigureAwait(false) ? CopyCurrent(buffer.Span) : -1;
            }

            return await NextDirectAsync(buffer, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            ReleaseIdleReceiveBuffer();
            receiveLock.Release();
        }
    }

    /// <summary>Receives the next whole message synchronously (see <see cref="ReceiveAsync(CancellationToken)"/>); null at the peer's clean close.</summary>
    /// <exception cref="HybridProtocolException">As <see cref="ReceiveAsync(CancellationToken)"/>.</exception>
    public byte[]? Receive()
    {
        ThrowIfExceptional();
        receiveLock.Wait();
        try
        {
            return NextMessage() ? TakeCurrent() : null;
        }
        finally
        {
            ReleaseIdleReceiveBuffer();
            receiveLock.Release();
        }
    }

    /// <summary>Receives the next whole message synchronously into <paramref name="buffer"/> (see <see cref="ReceiveAsync(Memory{byte}, CancellationToken)"/>); -1 at the peer's clean close.</summary>
    /// <exception cref="HybridProtocolException">As <see cref="ReceiveAsync(Memory{byte}, CancellationToken)"/>.</exception>
    public int Receive(Span<byte> buffer)
    {
        ThrowIfExceptional();
        receiveLock.Wait();
        try
        {
            return NextMessage() ? CopyCurrent(buffer) : -1;
        }
        finally
        {
            ReleaseIdleReceiveBuffer();
            receiveLock.Release();
        }
    }

    /// <summary>
    /// A <see cref="Stream"/> view of this connection: reads return message bytes in order, across message boundaries
    /// (0 at the peer's clean close); each write sends one message; Flush does nothing; seeking is not supported.
    /// Disposing the view disposes the connection.
    /// </summary>
    public Stream GetStream() => new SecureConnectionStream(this);

    /// <summary>
    /// Ends the connection cleanly: sends the authenticated close (after every message already sent), then waits until
    /// the peer's close arrives (bounded by the handshake timeout and <paramref name="cancellationToken"/>); messages
    /// that arrive meanwhile are discarded. The peer's receive then returns its end-of-stream value. Dispose afterwards.
    /// Closing twice is harmless.
    /// </summary>
    /// <exception cref="HybridProtocolException">The connection had failed (its code), or TransportFailed.</exception>
    public async Task CloseAsync(CancellationToken cancellationToken = default)
    {
        ThrowIfExceptional();
        await SendCloseAsync(CloseReason.Normal, cancellationToken).ConfigureAwait(false);
        if (receiveLock.Wait(0))
        {
            try
            {
                using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                bounded.CancelAfter(TimeSpan.FromSeconds(10));
                while (await NextMessageAsync(bounded.Token).ConfigureAwait(false))
                {
                    Consumed();
                }
            }
            catch (Exception e) when (e is OperationCanceledException or HybridProtocolException && !cancellationToken.IsCancellationRequested)
            {
                // The peer did not answer in time or broke off: our close has been sent, which is what matters here.
            }
            finally
            {
                receiveLock.Release();
            }
        }
    }

    /// <summary>
    /// Sends the authenticated close if it has not been sent (best effort, without waiting for the peer; use
    /// <see cref="CloseAsync"/> for a graceful end), closes the stream, and erases every key.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        if (failure is null && !sendClosed && sendLock.Wait(0))
        {
            try
            {
                if (!sendClosed)
                {
                    Span<byte> record = stackalloc byte[CloseRecordLength];
                    var n = SealClose(CloseReason.Normal, record);
                    stream.Write(record[..n]);
                    Telemetry.Sent(n);
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or HybridProtocolException or NotSupportedException)
            {
                // Best effort: the peer will see a truncated stream.
            }
            finally
            {
                sendLock.Release();
            }
        }

        Release();
    }

    /// <summary>As <see cref="Dispose"/>, with the close sent asynchronously.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref disposed) == 0 && failure is null && !sendClosed)
        {
            try
            {
                using var bounded = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await SendCloseAsync(CloseReason.Normal, bounded.Token).ConfigureAwait(false);
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or HybridProtocolException or OperationCanceledException)
            {
                // Best effort, as in Dispose.
            }
        }

        if (Interlocked.Exchange(ref disposed, 1) == 0)
        {
            Release();
        }
    }

    /// <summary>Closes the stream (which ends a pending read or write), then returns the buffers and erases the keys.</summary>
    private void Release()
    {
        Telemetry.ConnectionClosed(logger, context.Peer, failure?.Code.ToString() ?? (receiveClosed ? "ClosedByPeer" : "Closed"));
        failure ??= new HybridProtocolException(HybridErrorCode.InvalidState, "The connection has been disposed.");
        stream.Dispose();
        var haveSend = sendLock.Wait(TimeSpan.FromSeconds(5));
        var haveReceive = receiveLock.Wait(TimeSpan.FromSeconds(5));
        keys.Dispose();
        if (haveReceive)
        {
            if (receiveBuffer is not null)
            {
                ArrayPool<byte>.Shared.Return(receiveBuffer, clearArray: true);
                receiveBuffer = null;
            }

            ReturnAssembly();
        }

        if (haveSend)
        {
            sendLock.Release();
        }

        if (haveReceive)
        {
            receiveLock.Release();
        }
    }

    // ---- send direction ----

    private void CheckSend(int length)
    {
        ThrowIfExceptional();
        if (length > RemoteMaxMessageSize)
        {
            throw new HybridProtocolException(HybridErrorCode.MessageTooLarge, $"A message of {length} bytes exceeds the {RemoteMaxMessageSize} bytes {context.Peer} accepts; nothing was sent. Split it, or raise MaxMessageSize on the receiving end.");
        }
    }

    private void CheckSendLocked()
    {
        ThrowIfExceptional();
        if (sendClosed)
        {
            throw new HybridProtocolException(HybridErrorCode.InvalidState, "The connection has been closed (an authenticated close was sent or received); nothing more can be sent. Open a new connection.");
        }
    }

    /// <summary>
    /// Rents the buffer one send seals into: room for every record of the message when that fits in 256 KiB (so the
    /// message leaves in one write, length fields and ciphertext together), else for as many whole records as fit.
    /// </summary>
    private byte[] RentSendBuffer(int messageLength)
    {
        if (messageLength <= maxRecordData)
        {
            return ArrayPool<byte>.Shared.Rent(RecordLayerModule.MaxSealLength(sendLayer, messageLength));
        }

        long perRecord = RecordLayerModule.MaxSealLength(sendLayer, maxRecordData);
        var records = ((messageLength - 1L) / maxRecordData) + 1;
        var fit = Math.Max(1, MaxSendBuffer / perRecord);
        return ArrayPool<byte>.Shared.Rent((int)(Math.Min(records, fit) * perRecord));
    }

    /// <summary>
    /// Returns a send buffer to the pool. After a completed send it holds only ciphertext (each record is encrypted in
    /// place over its plaintext), so it is not cleared; after a failure it may hold plaintext, so it is.
    /// </summary>
    private static void ReturnSendBuffer(byte[]? buffer, bool done)
    {
        if (buffer is not null)
        {
            ArrayPool<byte>.Shared.Return(buffer, clearArray: !done);
        }
    }

    /// <summary>Seals as many records of <paramref name="message"/> as fit in <paramref name="buffer"/>; returns the bytes written.</summary>
    private int SealSome(byte[] buffer, ReadOnlySpan<byte> message, ref int offset, ref bool started)
    {
        var written = 0;
        while (!started || offset < message.Length)
        {
            var length = Math.Min(maxRecordData, message.Length - offset);
            if (written + RecordLayerModule.MaxSealLength(sendLayer, length) > buffer.Length)
            {
                break;
            }

            var type = offset + length == message.Length ? RecordType.EndOfMessage : RecordType.Data;
            var result = RecordLayerModule.Seal(sendLayer, type, message.Slice(offset, length), buffer.AsSpan(written));
            if (result.IsError)
            {
                throw Fail(result.ErrorValue);
            }

            var sealedRecord = result.ResultValue;
            sendLayer = sealedRecord.Layer;
            written += sealedRecord.BytesWritten;
            if (sealedRecord.RetiredKey.IsValueSome)
            {
                keys.Retire(sealedRecord.RetiredKey.Value);
                Telemetry.KeyUpdated(logger, context.Peer, sending: true);
            }

            offset += length;
            started = true;
        }

        return written;
    }

    /// <summary>Room for a sealed Close record: length field, reason byte, type byte and tag (at most 64 bytes).</summary>
    private const int CloseRecordLength = 128;

    private int SealClose(CloseReason reason, Span<byte> destination)
    {
        var data = RecordModule.CloseData(reason);
        var result = RecordLayerModule.Seal(sendLayer, RecordType.Close, data, destination);
        if (result.IsError)
        {
            throw Fail(result.ErrorValue);
        }

        sendLayer = result.ResultValue.Layer;
        sendClosed = true;
        return result.ResultValue.BytesWritten;
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask SendCloseAsync(CloseReason reason, CancellationToken cancellationToken)
    {
        await sendLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        byte[]? buffer = null;
        try
        {
            if (sendClosed || Volatile.Read(ref disposed) != 0)
            {
                return;
            }

            buffer = ArrayPool<byte>.Shared.Rent(CloseRecordLength);
            var n = SealClose(reason, buffer);
            await stream.WriteAsync(buffer.AsMemory(0, n), cancellationToken).ConfigureAwait(false);
            Telemetry.Sent(n);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not HybridProtocolException and not OperationCanceledException)
        {
            throw TransportFailure(e);
        }
        finally
        {
            ReturnSendBuffer(buffer, done: true);
            sendLock.Release();
        }
    }

    /// <summary>After a protocol failure, tells the peer why with an authenticated close when the send side is free.</summary>
    private void TrySendCloseNow(CloseReason reason)
    {
        if (!sendLock.Wait(0))
        {
            return;
        }

        try
        {
            if (!sendClosed && Volatile.Read(ref disposed) == 0)
            {
                Span<byte> record = stackalloc byte[CloseRecordLength];
                var n = SealClose(reason, record);
                stream.Write(record[..n]);
            }
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or SocketException or HybridProtocolException or NotSupportedException)
        {
            // The connection has failed already; the close is a courtesy.
        }
        finally
        {
            sendLock.Release();
        }
    }

    // ---- receive direction ----

    /// <summary>Makes the next message current; false when the peer has closed. Under receiveLock.</summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<bool> NextMessageAsync(CancellationToken cancellationToken)
    {
        ThrowIfExceptional();
        if (current is not null || TryEarly())
        {
            return true;
        }

        while (true)
        {
            switch (OpenBuffered(Span<byte>.Empty))
            {
                case Progress.Message:
                    return true;
                case Progress.Closed:
                    await AnswerCloseAsync(cancellationToken).ConfigureAwait(false);
                    return false;
            }

            await ReadMoreAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Receives the next message straight into <paramref name="target"/>: each record is decrypted into it when its
    /// plaintext (data and type byte) fits, else opened in the receive buffer and its data copied. A message larger
    /// than <paramref name="target"/> moves to the assembly buffer and is kept (InvalidArgument). If the receive stops
    /// part-way (cancelled), the part already received moves to the assembly buffer, so nothing is lost; after a
    /// failure it is cleared from <paramref name="target"/>. Under receiveLock, with no message current or assembling.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<int> NextDirectAsync(Memory<byte> target, CancellationToken cancellationToken)
    {
        ThrowIfExceptional();
        directLength = 0;
        var completed = false;
        try
        {
            while (true)
            {
                switch (OpenBuffered(target.Span))
                {
                    case Progress.Message when directLength >= 0:
                        completed = true;
                        return directLength;
                    case Progress.Message:
                        return CopyCurrent(target.Span);
                    case Progress.Closed:
                        await AnswerCloseAsync(cancellationToken).ConfigureAwait(false);
                        return -1;
                }

                await ReadMoreAsync(cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            if (!completed && directLength > 0)
            {
                var part = target.Span[..directLength];
                if (failure is null)
                {
                    Append(part, more: true);
                }

                part.Clear();
            }

            directLength = -1;
        }
    }

    /// <summary>Where a peek that waits for data puts the byte it looks at (never read; shared by every connection).</summary>
    private static readonly byte[] PeekByte = new byte[1];

    /// <summary>
    /// Reads more bytes into the receive buffer. When no buffer is held (nothing buffered), it first waits for data
    /// (a one-byte peek on a socket, a zero-byte read on other streams) and only then rents one, so a connection
    /// waiting for its next message holds no buffer (SslStream does the same with zero-byte reads). A stream that
    /// cannot wait that way returns from the zero-byte read at once, and the read then holds the buffer.
    /// </summary>
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder))]
    private async ValueTask ReadMoreAsync(CancellationToken cancellationToken)
    {
        int n;
        try
        {
            if (receiveBuffer is null)
            {
                if (stream is NetworkStream { Socket: var socket })
                {
                    // On a socket, a one-byte peek: a zero-byte read can return at once on Linux while no data is
                    // there (when the last read did not drain the socket to EAGAIN), and the buffer would then be held.
                    await socket.ReceiveAsync(PeekByte, SocketFlags.Peek, cancellationToken).ConfigureAwait(false);
                }
                else
                {
                    await stream.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
                }

                receiveBuffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
            }

            n = await stream.ReadAsync(receiveBuffer.AsMemory(receiveEnd), cancellationToken).ConfigureAwait(false);
            Telemetry.Received(n);
        }
        catch (Exception e) when (e is not HybridProtocolException and not OperationCanceledException)
        {
            throw TransportFailure(e);
        }

        Received(n);
    }

    private bool NextMessage()
    {
        ThrowIfExceptional();
        if (current is not null || TryEarly())
        {
            return true;
        }

        while (true)
        {
            switch (OpenBuffered(Span<byte>.Empty))
            {
                case Progress.Message:
                    return true;
                case Progress.Closed:
                    AnswerCloseAsync(CancellationToken.None).AsTask().GetAwaiter().GetResult();
                    return false;
            }

            int n;
            try
            {
                receiveBuffer ??= ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
                pollSocket?.Poll(-1, SelectMode.SelectRead);

                n = stream.Read(receiveBuffer.AsSpan(receiveEnd));
                Telemetry.Received(n);
            }
            catch (Exception e) when (e is not HybridProtocolException and not OperationCanceledException)
            {
                throw TransportFailure(e);
            }

            Received(n);
        }
    }

    private void Received(int n)
    {
        if (n == 0)
        {
            throw Fail(WireError.Truncated);
        }

        receiveEnd += n;
    }

    /// <summary>Returns the receive buffer to the pool when it holds no bytes (its plaintext was cleared as it was used). Under receiveLock.</summary>
    private void ReleaseIdleReceiveBuffer()
    {
        if (receiveBuffer is not null && receiveStart == receiveEnd && Volatile.Read(ref disposed) == 0)
        {
            ArrayPool<byte>.Shared.Return(receiveBuffer);
            receiveBuffer = null;
            receiveStart = receiveEnd = 0;
        }
    }

    private bool TryEarly()
    {
        if (early.Count == 0)
        {
            return false;
        }

        current = early.Dequeue();
        currentStart = 0;
        currentEnd = current.Length;
        return true;
    }

    private enum Progress
    {
        NeedMore,
        Message,
        Closed,
    }

    /// <summary>
    /// Opens the complete records in the receive buffer until a message is complete or the peer's close arrives. In a
    /// direct receive (<see cref="directLength"/> at least 0) the data goes into <paramref name="target"/>, else into
    /// the assembly buffer. Plaintext decrypted inside the receive buffer is cleared once copied out.
    /// </summary>
    private Progress OpenBuffered(Span<byte> target)
    {
        if (receiveClosed)
        {
            return Progress.Closed;
        }

        if (receiveBuffer is not { } buffer)
        {
            return Progress.NeedMore;
        }

        var tagLength = receiveLayer.TagLength;
        while (true)
        {
            var available = buffer.AsSpan(receiveStart, receiveEnd - receiveStart);
            var header = Frame.TryReadHeader(available, Frame.MaxLength);
            if (header.IsError)
            {
                throw FailAndClose(header.ErrorValue);
            }

            if (header.ResultValue.IsValueNone || available.Length < Frame.HeaderLength + header.ResultValue.Value)
            {
                Compact();
                return Progress.NeedMore;
            }

            var length = header.ResultValue.Value;
            var body = buffer.AsSpan(receiveStart + Frame.HeaderLength, length);
            var plaintextLength = length - tagLength;
            var direct = directLength >= 0 && plaintextLength > 0 && target.Length - directLength >= plaintextLength;
            var into = direct ? target.Slice(directLength, plaintextLength) : body;
            var result = RecordLayerModule.Open(receiveLayer, body, into);
            if (result.IsError)
            {
                throw FailAndClose(result.ErrorValue);
            }

            var opened = result.ResultValue;
            receiveLayer = opened.Layer;
            receiveStart += Frame.HeaderLength + length;
            if (opened.RetiredKey.IsValueSome)
            {
                keys.Retire(opened.RetiredKey.Value);
                Telemetry.KeyUpdated(logger, context.Peer, sending: false);
            }

            var data = into[..opened.DataLength];
            var progress = Progress.NeedMore;
            switch (opened.Type)
            {
                case RecordType.Data:
                    Deliver(target, data, direct, more: true);
                    break;
                case RecordType.EndOfMessage:
                    Deliver(target, data, direct, more: false);
                    if (directLength < 0)
                    {
                        Append(ReadOnlySpan<byte>.Empty, more: false);
                        current = assembly;
                        currentStart = 0;
                        currentEnd = assemblyLength;
                    }

                    progress = Progress.Message;
                    break;
                case RecordType.Close when opened.CloseReason == CloseReason.Normal:
                    receiveClosed = true;
                    progress = Progress.Closed;
                    break;
                case RecordType.Close:
                    throw Fail(WireError.NewClosedByPeer(opened.CloseReason));
            }

            if (!direct)
            {
                body[..plaintextLength].Clear();
            }
            else if (opened.Type is RecordType.Data or RecordType.EndOfMessage)
            {
                into[opened.DataLength..].Clear(); // the type byte, past the data in the caller's buffer
            }
            else
            {
                into.Clear();
            }

            if (progress != Progress.NeedMore)
            {
                return progress;
            }
        }
    }

    /// <summary>Puts one record's data where the message goes: already in place (direct), copied into the caller's buffer, or appended to the assembly buffer.</summary>
    private void Deliver(Span<byte> target, ReadOnlySpan<byte> data, bool direct, bool more)
    {
        if (directLength >= 0)
        {
            if (direct)
            {
                directLength += data.Length;
                return;
            }

            if (target.Length - directLength >= data.Length)
            {
                data.CopyTo(target[directLength..]);
                directLength += data.Length;
                return;
            }

            // The message is larger than the caller's buffer: assemble it instead, so it is kept.
            var part = target[..directLength];
            Append(part, more: true);
            part.Clear();
            directLength = -1;
        }

        Append(data, more);
    }

    private void Compact()
    {
        if (receiveStart == receiveEnd)
        {
            receiveStart = receiveEnd = 0;
        }
        else if (receiveBuffer!.Length - receiveStart < Frame.HeaderLength + Frame.MaxLength)
        {
            Buffer.BlockCopy(receiveBuffer, receiveStart, receiveBuffer, 0, receiveEnd - receiveStart);
            receiveEnd -= receiveStart;
            receiveStart = 0;
        }
    }

    /// <summary>Appends to the message being assembled, renting (or growing) the assembly buffer as needed.</summary>
    private void Append(ReadOnlySpan<byte> data, bool more)
    {
        var needed = assemblyLength + data.Length;
        if (assembly is null)
        {
            assembly = ArrayPool<byte>.Shared.Rent(more ? Math.Max(SmallAssembly, needed) : Math.Max(16, needed));
        }
        else if (needed > assembly.Length)
        {
            var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(Array.MaxLength, Math.Max(2L * assembly.Length, needed)));
            assembly.AsSpan(0, assemblyLength).CopyTo(bigger);
            assembly.AsSpan(0, assemblyLength).Clear();
            ArrayPool<byte>.Shared.Return(assembly);
            assembly = bigger;
        }

        data.CopyTo(assembly.AsSpan(assemblyLength));
        assemblyLength = needed;
    }

    /// <summary>Clears the assembled bytes and returns the assembly buffer to the pool.</summary>
    private void ReturnAssembly()
    {
        if (assembly is not null)
        {
            assembly.AsSpan(0, assemblyLength).Clear();
            ArrayPool<byte>.Shared.Return(assembly);
            assembly = null;
        }

        assemblyLength = 0;
    }

    /// <summary>The peer's close arrived: answer with ours (unless sent), so both ends end cleanly.</summary>
    private async ValueTask AnswerCloseAsync(CancellationToken cancellationToken)
    {
        try
        {
            await SendCloseAsync(CloseReason.Normal, cancellationToken).ConfigureAwait(false);
        }
        catch (HybridProtocolException)
        {
            // The peer may have gone already; its close arrived, so this end's receive has ended cleanly.
        }
    }

    private byte[] TakeCurrent()
    {
        var message = current!;
        byte[] result;
        if (!ReferenceEquals(message, assembly) && currentStart == 0)
        {
            result = message;
        }
        else
        {
            result = message.AsSpan(currentStart, currentEnd - currentStart).ToArray();
        }

        Consumed();
        return result;
    }

    private int CopyCurrent(Span<byte> destination)
    {
        var length = currentEnd - currentStart;
        if (length > destination.Length)
        {
            throw new HybridProtocolException(HybridErrorCode.InvalidArgument, $"The next message is {length} bytes but the buffer holds {destination.Length}; the message is kept. Call again with a buffer of at least {length} bytes (or LocalMaxMessageSize), or use ReceiveAsync() without a buffer.");
        }

        current.AsSpan(currentStart, length).CopyTo(destination);
        Consumed();
        return length;
    }

    /// <summary>Copies up to <paramref name="destination"/>'s length of the current message, for the stream view; 0 at the peer's close.</summary>
    internal async ValueTask<int> ReadSomeAsync(Memory<byte> destination, CancellationToken cancellationToken)
    {
        ThrowIfExceptional();
        await receiveLock.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            while (await NextMessageAsync(cancellationToken).ConfigureAwait(false))
            {
                var n = ReadPart(destination.Span);
                if (n > 0 || destination.IsEmpty)
                {
                    return n;
                }
            }

            return 0;
        }
        finally
        {
            ReleaseIdleReceiveBuffer();
            receiveLock.Release();
        }
    }

    internal int ReadSome(Span<byte> destination)
    {
        ThrowIfExceptional();
        receiveLock.Wait();
        try
        {
            while (NextMessage())
            {
                var n = ReadPart(destination);
                if (n > 0 || destination.IsEmpty)
                {
                    return n;
                }
            }

            return 0;
        }
        finally
        {
            ReleaseIdleReceiveBuffer();
            receiveLock.Release();
        }
    }

    private int ReadPart(Span<byte> destination)
    {
        var n = Math.Min(destination.Length, currentEnd - currentStart);
        current.AsSpan(currentStart, n).CopyTo(destination);
        currentStart += n;
        if (currentStart == currentEnd)
        {
            Consumed();
        }

        return n;
    }

    private void Consumed()
    {
        if (ReferenceEquals(current, assembly))
        {
            ReturnAssembly();
        }

        current = null;
    }

    // ---- failures ----

    /// <summary>SslStream's ThrowIfExceptional: after a failure every call throws the same code.</summary>
    private void ThrowIfExceptional()
    {
        if (failure is { } f)
        {
            throw new HybridProtocolException(f.Code, f.Message + " (This connection failed earlier and cannot be used again; open a new one.)", f);
        }
    }

    private HybridProtocolException Fail(WireError error) => Fail(WireErrors.ToException(error, context, inHandshake: false));

    private HybridProtocolException Fail(HybridProtocolException exception)
    {
        Interlocked.CompareExchange(ref failure, exception, null);
        return exception;
    }

    private HybridProtocolException FailAndClose(WireError error)
    {
        var exception = Fail(error);
        TrySendCloseNow(error.IsMessageTooLarge ? CloseReason.MessageTooLarge : CloseReason.ProtocolViolation);
        return exception;
    }

    private HybridProtocolException TransportFailure(Exception e) =>
        Fail(new HybridProtocolException(HybridErrorCode.TransportFailed, $"The connection to {context.Peer} failed: {e.Message}", e));
}
