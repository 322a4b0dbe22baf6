module HybridProtocol.Core.Hkdf

// Scratch space on the stack (NativePtr.stackalloc).
#nowarn "9"

open System
open Microsoft.FSharp.NativeInterop

/// Scratch up to this size is on the stack; above it, a pinned array (HPKE with a long info or PSK).
[<Literal>]
let private StackLimit = 1024

let hashConcat (hash: HashFunctions) (parts: byte[] list) : byte[] =
    let input = Array.concat parts
    let output = Array.zeroCreate hash.HASHLEN
    hash.HASH.Invoke(ReadOnlySpan input, Span output)
    output

/// Inputs up to this size are joined on the stack (a KEM public key or ciphertext and h fit).
[<Literal>]
let private JoinLimit = 4096

let hashPair (hash: HashFunctions) (first: ReadOnlySpan<byte>) (second: ReadOnlySpan<byte>) : byte[] =
    let output = Array.zeroCreate hash.HASHLEN
    let size = first.Length + second.Length

    if size <= JoinLimit then
        let joined =
            Span<byte>(NativePtr.stackalloc<byte> JoinLimit |> NativePtr.toVoidPtr, size)

        first.CopyTo joined
        second.CopyTo(joined.Slice first.Length)
        hash.HASH.Invoke(Span.op_Implicit joined, Span output)
    else
        let joined = Array.zeroCreate size
        first.CopyTo(Span joined)
        second.CopyTo(Span(joined, first.Length, second.Length))
        hash.HASH.Invoke(ReadOnlySpan joined, Span output)

    output

let pinnedArray (length: int) : byte[] = GC.AllocateArray<byte>(length, true)

let hmacInto
    (hash: HashFunctions)
    (key: ReadOnlySpan<byte>)
    (data1: ReadOnlySpan<byte>)
    (data2: ReadOnlySpan<byte>)
    (output: Span<byte>)
    =
    let blockLength = hash.BLOCKLEN
    let hashLength = hash.HASHLEN
    let dataLength = data1.Length + data2.Length
    // [ K' (BLOCKLEN) | K' ^ ipad || data | K' ^ opad || inner digest ]
    let size = blockLength + (blockLength + dataLength) + (blockLength + hashLength)
    let onStack = size <= StackLimit

    let stack =
        NativePtr.stackalloc<byte>(if onStack then size else 1) |> NativePtr.toVoidPtr

    let scratch =
        if onStack then
            Span<byte>(stack, size)
        else
            Span<byte>(pinnedArray size)

    try
        scratch.Clear()
        let keyBlock = scratch.Slice(0, blockLength)

        if key.Length > blockLength then
            hash.HASH.Invoke(key, keyBlock.Slice(0, hashLength))
        else
            key.CopyTo keyBlock

        let inner = scratch.Slice(blockLength, blockLength + dataLength)
        let outer = scratch.Slice(2 * blockLength + dataLength, blockLength + hashLength)

        for i in 0 .. blockLength - 1 do
            inner[i] <- keyBlock[i] ^^^ 0x36uy
            outer[i] <- keyBlock[i] ^^^ 0x5cuy

        data1.CopyTo(inner.Slice blockLength)
        data2.CopyTo(inner.Slice(blockLength + data1.Length))
        hash.HASH.Invoke(Span.op_Implicit inner, outer.Slice(blockLength, hashLength))
        hash.HASH.Invoke(Span.op_Implicit outer, output.Slice(0, hashLength))
    finally
        scratch.Clear()

let hmac (hash: HashFunctions) (key: byte[]) (data: byte[]) : byte[] =
    let output = Array.zeroCreate hash.HASHLEN
    hmacInto hash (ReadOnlySpan key) (ReadOnlySpan data) ReadOnlySpan.Empty (Span output)
    output

let extract (hash: HashFunctions) (salt: byte[]) (ikm: byte[]) : byte[] =
    let salt =
        if salt.Length = 0 then
            Array.zeroCreate hash.HASHLEN
        else
            salt

    hmac hash salt ikm

let expand (hash: HashFunctions) (prk: byte[]) (info: byte[]) (length: int) : byte[] option =
    if length < 0 || length > 255 * hash.HASHLEN then
        None
    else
        let hashLength = hash.HASHLEN
        let blocks = (length + hashLength - 1) / hashLength
        let okm = pinnedArray (blocks * hashLength)
        // T(i-1) | info | i, built in a pinned array and zeroed afterwards.
        let input = pinnedArray (hashLength + info.Length + 1)

        try
            let mutable previous = 0

            for i in 1..blocks do
                let t = Span(okm, (i - 1) * hashLength, hashLength)

                if i > 1 then
                    Span(okm, (i - 2) * hashLength, hashLength).CopyTo(Span input)

                info.CopyTo(Span(input, previous, info.Length))
                input[previous + info.Length] <- byte i

                hmacInto
                    hash
                    (ReadOnlySpan prk)
                    (ReadOnlySpan(input, 0, previous + info.Length + 1))
                    ReadOnlySpan.Empty
                    t

                previous <- hashLength

            Some(Array.sub okm 0 length)
        finally
            Array.Clear input
            Array.Clear okm

/// Noise §4.3 HKDF(chaining_key, input_key_material, num_outputs):
/// "Sets temp_key = HMAC-HASH(chaining_key, input_key_material).
///  Sets output1 = HMAC-HASH(temp_key, byte(0x01)).
///  Sets output2 = HMAC-HASH(temp_key, output1 || byte(0x02)).
///  If num_outputs == 2 then returns the pair (output1, output2).
///  Sets output3 = HMAC-HASH(temp_key, output2 || byte(0x03)). Returns the triple (output1, output2, output3)."
/// The outputs are pinned arrays (they become the chaining key and cipher keys); temp_key is on the stack.
let private hkdfInto (hash: HashFunctions) (chainingKey: byte[]) (inputKeyMaterial: byte[]) (outputs: byte[][]) =
    let hashLength = hash.HASHLEN

    let tempKey =
        Span<byte>(NativePtr.toVoidPtr (NativePtr.stackalloc<byte> 64), 64).Slice(0, hashLength)

    let counter = Span<byte>(NativePtr.toVoidPtr (NativePtr.stackalloc<byte> 1), 1)

    try
        hmacInto hash (ReadOnlySpan chainingKey) (ReadOnlySpan inputKeyMaterial) ReadOnlySpan.Empty tempKey

        for i in 0 .. outputs.Length - 1 do
            counter[0] <- byte (i + 1)

            let previous =
                if i = 0 then
                    ReadOnlySpan<byte>.Empty
                else
                    ReadOnlySpan outputs[i - 1]

            hmacInto hash (Span.op_Implicit tempKey) previous (Span.op_Implicit counter) (Span outputs[i])
    finally
        tempKey.Clear()

let hkdf2 (hash: HashFunctions) chainingKey inputKeyMaterial =
    let outputs = [| pinnedArray hash.HASHLEN; pinnedArray hash.HASHLEN |]
    hkdfInto hash chainingKey inputKeyMaterial outputs
    struct (outputs[0], outputs[1])

let hkdf3 (hash: HashFunctions) chainingKey inputKeyMaterial =
    let outputs = [|
        pinnedArray hash.HASHLEN
        pinnedArray hash.HASHLEN
        pinnedArray hash.HASHLEN
    |]

    hkdfInto hash chainingKey inputKeyMaterial outputs
    struct (outputs[0], outputs[1], outputs[2])
