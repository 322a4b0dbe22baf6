namespace HybridProtocol.Core.Hpke

// The 12-byte nonce lives on the stack (NativePtr.stackalloc) so that Seal and Open do not allocate.
#nowarn "9"

open System
open System.Buffers.Binary
open HybridProtocol.Core

/// What a context can encrypt with: an AEAD key and base_nonce, or nothing (export-only AEAD,
/// RFC 9180 §7.3: "key and nonce are not used").
[<Struct; NoComparison; NoEquality>]
type ContextAead =
    | Sealing of cipher: CipherFunctions * key: IAeadKey * base_nonce: byte[]
    | ExportOnlyAead

/// RFC 9180 §5.2 "Encryption and Decryption": the encryption context, an immutable value.
/// Seal and Open return the next context; the caller drops the old one (reusing it would repeat
/// a nonce, so the facade holds the only copy). The AEAD key is owned by whoever called the
/// KeySchedule (`Context.key` hands it back for disposal).
/// See: https://www.rfc-editor.org/rfc/rfc9180#section-5.2
[<Struct; NoComparison; NoEquality>]
type Context = private {
    suite: Suite
    aead: ContextAead
    seq: uint64
    exporter_secret: byte[]
}

/// The sender's context (RFC 9180 ContextS): Seal and Export.
[<Struct; NoComparison; NoEquality>]
type ContextS = private ContextS of Context

/// The recipient's context (RFC 9180 ContextR): Open and Export.
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

    /// §5.1 KeySchedule<S>'s last line, for the sender.
    let createS (suite: Suite) (output: KeyScheduleOutput) = ContextS(create suite output)

    /// §5.1 KeySchedule<R>'s last line, for the recipient.
    let createR (suite: Suite) (output: KeyScheduleOutput) = ContextR(create suite output)

    /// The sequence number of the next message (§5.2 "seq").
    let sequenceS (ContextS c) = c.seq

    /// The sequence number of the next message (§5.2 "seq").
    let sequenceR (ContextR c) = c.seq

    /// The suite the context was made for.
    let suiteS (ContextS c) = c.suite

    /// The suite the context was made for.
    let suiteR (ContextR c) = c.suite

    let private erase (c: Context) =
        Security.Cryptography.CryptographicOperations.ZeroMemory(Span c.exporter_secret)

        match c.aead with
        | Sealing(_, key, base_nonce) ->
            Security.Cryptography.CryptographicOperations.ZeroMemory(Span base_nonce)
            key.Dispose()
        | ExportOnlyAead -> ()

    /// Erases the context's secrets (exporter_secret, base_nonce) and disposes its AEAD key. The
    /// one side effect here, for the owner (the facade's Dispose) once it is done with the context
    /// and all its successors, which share the same key and arrays.
    let EraseS (ContextS c) = erase c

    /// Erases the context's secrets and disposes its AEAD key (see `EraseS`).
    let EraseR (ContextR c) = erase c

    /// A context at an arbitrary sequence number, for tests of the message limit only.
    let internal withSequenceS (seq: uint64) (ContextS c) = ContextS { c with seq = seq }

    /// A context at an arbitrary sequence number, for tests of the message limit only.
    let internal withSequenceR (seq: uint64) (ContextR c) = ContextR { c with seq = seq }

    /// RFC 9180 §5.2:
    /// ```
    /// def Context.ComputeNonce(seq):
    ///   seq_bytes = I2OSP(seq, Nn)
    ///   return xor(self.base_nonce, seq_bytes)
    /// ```
    /// Writes the Nn-byte nonce into `nonce`. seq < 2^64, so its top Nn - 8 bytes are zero.
    let ComputeNonce (base_nonce: ReadOnlySpan<byte>, seq: uint64, nonce: Span<byte>) =
        let n = base_nonce.Length
        base_nonce.CopyTo nonce
        let tail = nonce.Slice(n - 8, 8)
        BinaryPrimitives.WriteUInt64BigEndian(tail, BinaryPrimitives.ReadUInt64BigEndian tail ^^^ seq)

    /// RFC 9180 §5.2:
    /// ```
    /// def Context.IncrementSeq():
    ///   if self.seq >= (1 << (8*Nn)) - 1:
    ///     raise MessageLimitReachedError
    ///   self.seq += 1
    /// ```
    /// Our seq is a uint64, so the bound is 2^64 - 1: a context at that seq refuses to Seal or
    /// Open before it encrypts anything (the RFC raises after; neither releases the output).
    let IncrementSeq (seq: uint64) : Result<uint64, HpkeError> =
        if seq = UInt64.MaxValue then
            Error MessageLimitReached
        else
            Ok(seq + 1UL)

    /// RFC 9180 §5.2:
    /// ```
    /// def ContextS.Seal(aad, pt):
    ///   ct = Seal(self.key, self.ComputeNonce(self.seq), aad, pt)
    ///   self.IncrementSeq()
    ///   return ct
    /// ```
    /// Writes pt.Length + Nt bytes to `ct` (which must have exactly that length) and returns the
    /// next context. Allocates nothing.
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

    /// RFC 9180 §5.2:
    /// ```
    /// def ContextR.Open(aad, ct):
    ///   pt = Open(self.key, self.ComputeNonce(self.seq), aad, ct)
    ///   if pt == OpenError:
    ///     raise OpenError
    ///   self.IncrementSeq()
    ///   return pt
    /// ```
    /// Writes ct.Length - Nt bytes to `pt` (which must have exactly that length; a ct shorter than
    /// Nt is an OpenError) and returns the next context. On failure `pt` holds nothing usable and
    /// seq does not move. Allocates nothing.
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

    /// `Seal` into a fresh array.
    let SealToArray (ctx: ContextS) (aad: byte[]) (pt: byte[]) : Result<struct (ContextS * byte[]), HpkeError> =
        let (ContextS c) = ctx

        match c.aead with
        | ExportOnlyAead -> Error ExportOnlyCannotSeal
        | Sealing(cipher, _, _) ->
            let ct = Array.zeroCreate (pt.Length + cipher.TAGLEN)

            Seal(ctx, ReadOnlySpan aad, ReadOnlySpan pt, Span ct)
            |> Result.map (fun next -> struct (next, ct))

    /// `Open` into a fresh array.
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

    /// §5.3 Export for the sender's context. L at most 255 * Nh (HKDF) or 65535 (SHAKE).
    let ExportS (ContextS c) (exporter_context: byte[]) (L: int) : Result<byte[], HpkeError> =
        export c exporter_context L

    /// §5.3 Export for the recipient's context. L at most 255 * Nh (HKDF) or 65535 (SHAKE).
    let ExportR (ContextR c) (exporter_context: byte[]) (L: int) : Result<byte[], HpkeError> =
        export c exporter_context L
