/// The X.690 DER that key documents use (KeyDocument): single-byte tags, definite minimal lengths below 65536,
/// read as views of the caller's bytes (no copy) and written as TLVs.
namespace HybridProtocol.Core.Formats

module internal Der =

    /// A view of DER bytes (no copy).
    [<Struct>]
    type View = {
        Bytes: byte array
        Start: int
        Length: int
    }

    /// All of `bytes`.
    val whole: bytes: byte array -> View

    /// The byte at `i` of the view.
    val at: v: View -> i: int -> byte

    /// The view's bytes, copied.
    val copy: v: View -> byte array

    /// `length` bytes from `offset` of the view.
    val sub: v: View -> offset: int -> length: int -> View

    /// One DER element: tag, content, what follows (`NotDer` for anything else).
    val element: v: View -> Result<byte * View * View, KeyFormatError>

    /// The element with this tag, and what follows it.
    val expect: tag: byte -> v: View -> Result<View * View, KeyFormatError>

    /// The element with this tag as all of `v`.
    val only: tag: byte -> v: View -> Result<View, KeyFormatError>

    /// X.690 §8.19 object identifier content as dotted text.
    val oidText: v: View -> string option

    /// Dotted text as object identifier content.
    val oidBytes: text: string -> byte array

    /// A TLV (tag, minimal definite length, content).
    val tlv: tag: byte -> content: byte array -> byte array

    /// A TLV around secret content, erasing the content copy it was given.
    val sealTlv: tag: byte -> content: byte array -> byte array
