/// An in-memory duplex byte stream for driving `SecureConnection` without sockets: two ends, each reading
/// what the other wrote, with reads cut into random chunks (seeded, so a failing case replays). A zero-byte
/// read waits for data, as on a socket; disposing an end is an end of input for the other.
module HybridProtocol.Tests.DuplexStream

open System
open System.IO
open System.Threading
open System.Threading.Channels
open System.Threading.Tasks

type private Direction() =
    let channel = Channel.CreateUnbounded<byte[]>()
    member _.Writer = channel.Writer
    member _.Reader = channel.Reader

/// One end: reads from `inbound`, writes to `outbound`; each read returns 1..`maxChunk` bytes at random.
type DuplexEnd private (inbound: Direction, outbound: Direction, seed: int, maxChunk: int) =
    inherit HybridProtocol.Tests.TestSupport.UnseekableStream()
    let random = Random seed
    let gate = obj ()
    let mutable leftover = ReadOnlyMemory<byte>.Empty
    let mutable closed = 0

    let take (buffer: Span<byte>) =
        let chunk = lock gate (fun () -> 1 + random.Next maxChunk)
        let n = min buffer.Length (min leftover.Length chunk)

        leftover.Span.Slice(0, n).CopyTo buffer
        leftover <- leftover.Slice n
        n

    let next () : ValueTask<bool> =
        if not leftover.IsEmpty then
            ValueTask<bool>(true)
        else
            let mutable chunk: byte[] = [||]

            if inbound.Reader.TryRead(&chunk) then
                leftover <- ReadOnlyMemory chunk
                ValueTask<bool>(true)
            else
                ValueTask<bool>(
                    task {
                        let! more = inbound.Reader.WaitToReadAsync()

                        if more && inbound.Reader.TryRead(&chunk) then
                            leftover <- ReadOnlyMemory chunk
                            return true
                        else
                            return more
                    }
                )

    static member Pair(seed: int, maxChunk: int) =
        let a = Direction()
        let b = Direction()
        new DuplexEnd(a, b, seed, maxChunk), new DuplexEnd(b, a, seed + 1, maxChunk)


    override _.Flush() = ()

    override this.Read(buffer: byte[], offset, count) = this.Read(Span(buffer, offset, count))

    override _.Read(buffer: Span<byte>) =
        let available = next ()

        let more =
            if available.IsCompleted then
                available.Result
            else
                available.AsTask().GetAwaiter().GetResult()

        if more then take buffer else 0

    override this.ReadAsync(buffer: byte[], offset, count, cancellationToken) =
        this.ReadAsync(Memory(buffer, offset, count), cancellationToken).AsTask()

    override _.ReadAsync(buffer: Memory<byte>, cancellationToken: CancellationToken) =
        ValueTask<int>(
            task {
                let! more = next().AsTask().WaitAsync(cancellationToken)
                return if more then take buffer.Span else 0
            }
        )

    override this.Write(buffer: byte[], offset, count) =
        this.Write(ReadOnlySpan(buffer, offset, count))

    override _.Write(buffer: ReadOnlySpan<byte>) =
        if Volatile.Read(&closed) <> 0 then
            raise (ObjectDisposedException "DuplexEnd")

        if not buffer.IsEmpty then
            outbound.Writer.TryWrite(buffer.ToArray()) |> ignore

    override this.WriteAsync(buffer: byte[], offset, count, _: CancellationToken) =
        this.Write(ReadOnlySpan(buffer, offset, count))
        Task.CompletedTask

    override this.WriteAsync(buffer: ReadOnlyMemory<byte>, _: CancellationToken) =
        this.Write buffer.Span
        ValueTask.CompletedTask

    override _.Dispose(disposing: bool) =
        if Interlocked.Exchange(&closed, 1) = 0 then
            outbound.Writer.TryComplete() |> ignore
            inbound.Writer.TryComplete() |> ignore

        base.Dispose disposing
