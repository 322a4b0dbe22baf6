namespace HybridProtocol.Core.Hpke

open System
open HybridProtocol.Core

/// What a context can encrypt with: an AEAD key and base_nonce, or nothing (export-only AEAD,
/// RFC 9180 §7.3: "key and nonce are not used").
[<NoComparison; NoEquality; Struct>]
type ContextAead =
    | Sealing of cipher: CipherFunctions * key: IAeadKey * base_nonce: byte array
    | ExportOnlyAead

/// RFC 9180 §5.2 "Encryption and Decryption": the encryption context, an immutable value.
/// Seal and Open return the next context; the caller drops the old one (reusing it would repeat
/// a nonce, so the facade holds the only copy). The AEAD key is owned by whoever called the
/// KeySchedule (`Context.key` hands it back for disposal).
/// See: https://www.rfc-editor.org/rfc/rfc9180#section-5.2
[<NoComparison; NoEquality; Struct>]
type Context = private {
    suite: Suite
    aead: ContextAead
    seq: uint64
    exporter_secret: byte array
}

/// The sender's context (RFC 9180 ContextS): Seal and Export.
[<NoComparison; NoEquality; Struct>]
type ContextS = private ContextS of Context

/// The recipient's context (RFC 9180 ContextR): Open and Export.
[<NoComparison; NoEquality; Struct>]
type ContextR = private ContextR of Context

/// RFC 9180 §5.2 and §5.3: Seal, Open and Export on a context.
module Context =

    /// §5.1 KeySchedule<S>'s last line, for the sender.
    val internal createS: suite: Suite -> output: KeyScheduleOutput -> ContextS

    /// §5.1 KeySchedule<R>'s last line, for the recipient.
    val internal createR: suite: Suite -> output: KeyScheduleOutput -> ContextR

    /// The sequence number of the next message (§5.2 "seq").
    val sequenceS: ContextS -> uint64

    /// The sequence number of the next message (§5.2 "seq").
    val sequenceR: ContextR -> uint64

    /// The suite the context was made for.
    val suiteS: ContextS -> Suite

    /// The suite the context was made for.
    val suiteR: ContextR -> Suite

    /// Erases the context's secrets (exporter_secret, base_nonce) and disposes its AEAD key. The
    /// one side effect here, for the owner (the facade's Dispose) once it is done with the context
    /// and all its successors, which share the same key and arrays.
    val EraseS: ContextS -> unit

    /// Erases the context's secrets and disposes its AEAD key (see `EraseS`).
    val EraseR: ContextR -> unit

    /// A context at an arbitrary sequence number, for tests of the message limit only.
    val internal withSequenceS: seq: uint64 -> ContextS -> ContextS

    /// A context at an arbitrary sequence number, for tests of the message limit only.
    val internal withSequenceR: seq: uint64 -> ContextR -> ContextR

    /// RFC 9180 §5.2:
    /// ```
    /// def Context.ComputeNonce(seq):
    ///   seq_bytes = I2OSP(seq, Nn)
    ///   return xor(self.base_nonce, seq_bytes)
    /// ```
    /// Writes the Nn-byte nonce into `nonce`. seq < 2^64, so its top Nn - 8 bytes are zero.
    val ComputeNonce: base_nonce: ReadOnlySpan<byte> * seq: uint64 * nonce: Span<byte> -> unit

    /// RFC 9180 §5.2:
    /// ```
    /// def Context.IncrementSeq():
    ///   if self.seq >= (1 << (8*Nn)) - 1:
    ///     raise MessageLimitReachedError
    ///   self.seq += 1
    /// ```
    /// Our seq is a uint64, so the bound is 2^64 - 1: a context at that seq refuses to Seal or
    /// Open before it encrypts anything (the RFC raises after; neither releases the output).
    val IncrementSeq: seq: uint64 -> Result<uint64, HpkeError>

    /// RFC 9180 §5.2:
    /// ```
    /// def ContextS.Seal(aad, pt):
    ///   ct = Seal(self.key, self.ComputeNonce(self.seq), aad, pt)
    ///   self.IncrementSeq()
    ///   return ct
    /// ```
    /// Writes pt.Length + Nt bytes to `ct` (which must have exactly that length) and returns the
    /// next context. Allocates nothing.
    val Seal:
        ContextS * aad: ReadOnlySpan<byte> * pt: ReadOnlySpan<byte> * ct: Span<byte> -> Result<ContextS, HpkeError>

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
    val Open:
        ContextR * aad: ReadOnlySpan<byte> * ct: ReadOnlySpan<byte> * pt: Span<byte> -> Result<ContextR, HpkeError>

    /// `Seal` into a fresh array.
    val SealToArray:
        ctx: ContextS -> aad: byte array -> pt: byte array -> Result<struct (ContextS * byte array), HpkeError>

    /// `Open` into a fresh array.
    val OpenToArray:
        ctx: ContextR -> aad: byte array -> ct: byte array -> Result<struct (ContextR * byte array), HpkeError>

    /// §5.3 Export for the sender's context. L at most 255 * Nh (HKDF) or 65535 (SHAKE).
    val ExportS: ContextS -> exporter_context: byte array -> L: int -> Result<byte array, HpkeError>

    /// §5.3 Export for the recipient's context. L at most 255 * Nh (HKDF) or 65535 (SHAKE).
    val ExportR: ContextR -> exporter_context: byte array -> L: int -> Result<byte array, HpkeError>
