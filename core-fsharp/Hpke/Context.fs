namespace HybridProtocol.Core.Hpke

// The 12-byte nonce lives on the stack (NativePtr.stackalloc) so that Seal and Open do not allocate.
#nowarn "9"

open System
open System.Buffers.Binary
open HybridProtocol.Core

[<Struct; NoComparison; NoEquality>]
type ContextAead =
    | Sealing of cipher: CipherFunctions * key: IAeadKey * base_nonce: byte[]
    | ExportOnlyAead

[<Struct; NoComparison; NoEquality>]
type Context = private {
    suite: Suite
    aead: ContextAead
    seq: uint64
    exporter_secret: byte[]
}

[<Struct; NoComparison; NoEquality>]
type ContextS = private ContextS of Context

[<Struct; NoComparison; NoEquality>]
type ContextR = private ContextR of Context

module Context =
    /// The context made by KeySchedule<ROLE> from its outputs:
    /// `return Context<ROLE>(key, base_nonce, 0, exporter_secret)`. Calls the AEAD's KEY once;
    /// the caller owns (disposes) the key it makes.
    let private create (suite: Suite) (output: KeyScheduleOutput) : Context =
        let aead =
            match suite.Aead with
            | Aes128Gcm cipher
            | Aes256Gcm cipher
            | ChaCha20Poly1305 cipher ->
                Sealing(cipher, cipher.KEY.Invoke(ReadOnlySpan output.key), Array.copy output.base_nonce)
            | ExportOnly -> ExportOnlyAead

        {
            suite = suite
            aead = aead
            seq = 0UL
            exporter_secret = Array.copy output.exporter_secret
        }

    let createS (suite: Suite) (output: KeyScheduleOutput) = ContextS(create suite output)

    let createR (suite: Suite) (output: KeyScheduleOutput) = ContextR(create suite output)

    let sequenceS (ContextS c) = c.seq

    let sequenceR (ContextR c) = c.seq

    let suiteS (ContextS c) = c.suite

    let suiteR (ContextR c) = c.suite

    let private erase (c: Context) =
        Security.Cryptography.CryptographicOperations.ZeroMemory(Span c.exporter_secret)

        match c.aead with
        | Sealing(_, key, base_nonce) ->
            Security.Cryptography.CryptographicOperations.ZeroMemory(Span base_nonce)
            key.Dispose()
        | ExportOnlyAead -> ()

    let EraseS (ContextS c) = erase c

    let EraseR (ContextR c) = erase c

    let internal withSequenceS (seq: uint64) (ContextS c) = ContextS { c with seq = seq }

    let internal withSequenceR (seq: uint64) (ContextR c) = ContextR { c with seq = seq }

    let ComputeNonce (base_nonce: ReadOnlySpan<byte>, seq: uint64, nonce: Span<byte>) =
        let n = base_nonce.Length
        base_nonce.CopyTo nonce
        let tail = nonce.Slice(n - 8, 8)
        BinaryPrimitives.WriteUInt64BigEndian(tail, BinaryPrimitives.ReadUInt64BigEndian tail ^^^ seq)

    let IncrementSeq (seq: uint64) : Result<uint64, HpkeError> =
        if seq = UInt64.MaxValue then
            Error MessageLimitReached
        else
            Ok(seq + 1UL)

    let Seal
        (ContextS c, aad: ReadOnlySpan<byte>, pt: ReadOnlySpan<byte>, ct: Span<byte>)
        : Result<ContextS, HpkeError> =
        match c.aead with
        | ExportOnlyAead -> Error ExportOnlyCannotSeal
        | Sealing(cipher, key, base_nonce) ->
            if ct.Length <> pt.Length + cipher.TAGLEN then
                Error(WrongBufferLength(pt.Length + cipher.TAGLEN, ct.Length))
            else
                match IncrementSeq c.seq with
                | Error e -> Error e
                | Ok next ->
                    let nonce =
                        Span<byte>(NativeInterop.NativePtr.toVoidPtr (NativeInterop.NativePtr.stackalloc<byte> 12), 12)

                    ComputeNonce(ReadOnlySpan base_nonce, c.seq, nonce)
                    cipher.ENCRYPT.Invoke(key, Span.op_Implicit nonce, aad, pt, ct)
                    Ok(ContextS { c with seq = next })

    let Open
        (ContextR c, aad: ReadOnlySpan<byte>, ct: ReadOnlySpan<byte>, pt: Span<byte>)
        : Result<ContextR, HpkeError> =
        match c.aead with
        | ExportOnlyAead -> Error ExportOnlyCannotSeal
        | Sealing(cipher, key, base_nonce) ->
            if ct.Length < cipher.TAGLEN then
                Error OpenError
            elif pt.Length <> ct.Length - cipher.TAGLEN then
                Error(WrongBufferLength(ct.Length - cipher.TAGLEN, pt.Length))
            else
                match IncrementSeq c.seq with
                | Error e -> Error e
                | Ok next ->
                    let nonce =
                        Span<byte>(NativeInterop.NativePtr.toVoidPtr (NativeInterop.NativePtr.stackalloc<byte> 12), 12)

                    ComputeNonce(ReadOnlySpan base_nonce, c.seq, nonce)

                    if cipher.DECRYPT.Invoke(key, Span.op_Implicit nonce, aad, ct, pt) then
                        Ok(ContextR { c with seq = next })
                    else
                        pt.Clear()
                        Error OpenError

    let SealToArray (ctx: ContextS) (aad: byte[]) (pt: byte[]) : Result<struct (ContextS * byte[]), HpkeError> =
        let (ContextS c) = ctx

        match c.aead with
        | ExportOnlyAead -> Error ExportOnlyCannotSeal
        | Sealing(cipher, _, _) ->
            let ct = Array.zeroCreate (pt.Length + cipher.TAGLEN)

            Seal(ctx, ReadOnlySpan aad, ReadOnlySpan pt, Span ct)
            |> Result.map (fun next -> struct (next, ct))

    let OpenToArray (ctx: ContextR) (aad: byte[]) (ct: byte[]) : Result<struct (ContextR * byte[]), HpkeError> =
        let (ContextR c) = ctx

        match c.aead with
        | ExportOnlyAead -> Error ExportOnlyCannotSeal
        | Sealing(cipher, _, _) when ct.Length < cipher.TAGLEN -> Error OpenError
        | Sealing(cipher, _, _) ->
            let pt = Array.zeroCreate (ct.Length - cipher.TAGLEN)

            Open(ctx, ReadOnlySpan aad, ReadOnlySpan ct, Span pt)
            |> Result.map (fun next -> struct (next, pt))

    /// RFC 9180 §5.3 "Secret Export" (see `KeySchedule.Export`).
    let private export (c: Context) (exporter_context: byte[]) (L: int) =
        KeySchedule.Export c.suite c.exporter_secret exporter_context L

    let ExportS (ContextS c) (exporter_context: byte[]) (L: int) : Result<byte[], HpkeError> =
        export c exporter_context L

    let ExportR (ContextR c) (exporter_context: byte[]) (L: int) : Result<byte[], HpkeError> =
        export c exporter_context L
