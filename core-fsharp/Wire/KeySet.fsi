/// Key sets (specs/PROTOCOL.md §6a "Key sets"): a client may trust several server keys at once (a pinned set), a
/// server may allow several client keys (an allow-list), and either may revoke keys. One decision for both:
///
///     revoked  -> KeyRevoked      (wins over every trust: "refused even if also trusted elsewhere")
///     trusted  -> InSet index     (the 0-based position of the first equal key in the trusted list)
///     else     -> NotInSet
///
/// Keys are compared in constant time (`DhPublicKey.EqualsKey`).
namespace HybridProtocol.Core.Wire

open HybridProtocol.Core

/// What a key set says about a presented key.
[<RequireQualifiedAccess>]
type KeySetMatch =

    /// The key is in the trusted list at this 0-based index, and not revoked.
    | InSet of index: int

    /// The key is revoked (whether or not it is also trusted).
    | KeyRevoked

    /// The key is neither trusted nor revoked.
    | NotInSet

/// The decision over a trusted list and a revoked list.
module KeySet =

    /// The decision for `key`: revoked first, then the trusted list in order.
    val decide: trusted: DhPublicKey list -> revoked: DhPublicKey list -> key: DhPublicKey -> KeySetMatch

    /// The same decision over raw key bytes (the facade's allow-lists hold public keys as bytes).
    val decideBytes: trusted: byte array seq -> revoked: byte array seq -> key: byte array -> KeySetMatch
