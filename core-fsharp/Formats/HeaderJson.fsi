/// The JSON (RFC 8259) of a `hybrid-file/1` header, only as much as a header needs (FILE-TRANSFER.md [F1], [F2]):
/// one object whose members are read only when they are `name` (a string) or `size` (a number); any other member,
/// a repeated one or trailing text ends the reading with its `HeaderProblem`.
namespace HybridProtocol.Core.Formats

module internal HeaderJson =

    /// Whether the text holds a UTF-16 surrogate without its partner (a `\ud800` escape).
    val hasLoneSurrogate: s: string -> bool

    /// The `name` (escapes resolved, not yet judged as a file name) and `size` of a header's text.
    val read: s: string -> Result<string * int64, HeaderError>

    /// `{"name":"...","size":N}`, the name escaped (`"`, `\`, control characters, an unpaired surrogate as `\uXXXX`).
    val write: name: string -> size: int64 -> string
