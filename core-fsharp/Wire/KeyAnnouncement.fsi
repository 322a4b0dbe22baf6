/// The server's key announcement (specs/PROTOCOL.md §6a): in its HandshakePayload (field 0x04) a server that holds
/// several static keys lists the ones the handshake did not use, each with a proof that it holds the private key,
/// bound to this connection:
///
///     value  = entry{1..MaxKeys}
///     entry  = announced public key (DHLEN bytes) || proof (HASHLEN bytes)
///     dh     = DH(announced key pair, client's handshake ephemeral "e")   (the client: DH(e, announced public key))
///     k, _   = HKDF(h, dh, 2)                                            (Noise §4.3 HKDF, chaining_key = h)
///     proof  = HMAC-HASH(k, Label || handshake static key || announced public key)
///
/// `h` is the handshake hash at the start of the server's last handshake message (Noise §5.2 GetHandshakeHash(),
/// before that message's tokens), which covers the prologue and the client's "e"; the handshake static key is the
/// server key the handshake authenticated. A proof copied from another connection fails (another "e", another h),
/// and a server without the private key cannot compute dh. Pure: DH, HASH and HMAC come from the suite.
namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core

/// One announced key with its proof.
[<NoComparison; NoEquality>]
type AnnouncedKey = { Key: DhPublicKey; Proof: byte array }

/// The codec and the proof.
module KeyAnnouncement =

    /// The most keys one announcement lists (a server holds at most `ConfigDefaults.MaxServerKeys` keys).
    [<Literal>]
    val MaxKeys: int = 3

    /// The label the proof's MAC input starts with (ASCII).
    [<Literal>]
    val Label: string = "HybridProtocol key announcement v1"

    /// The field's value: the entries in order.
    val encode: entries: AnnouncedKey list -> byte array

    /// Reads a value for a suite with these DHLEN and HASHLEN. Total: `AnnouncementLength` for any value that is not
    /// 1..MaxKeys whole entries.
    val decode:
        dhlen: int -> hashlen: int -> value: ReadOnlySpan<byte> -> Result<AnnouncedKey list, KeyAnnouncementError>

    /// The server's entry for `announced`: the proof for this connection (`h`, the key the handshake authenticated,
    /// the client's ephemeral public key). `UnusableKey 0` when DH refuses the client's ephemeral key.
    val prove:
        suite: CryptoSuite ->
        h: byte array ->
        handshakeKey: DhPublicKey ->
        clientEphemeral: DhPublicKey ->
        announced: DhKeyPair ->
            Result<AnnouncedKey, KeyAnnouncementError>

    /// The client's check of every entry (in order; the first failure refuses the whole announcement): not the
    /// handshake key, no key twice, DH accepted, proof equal (constant time). The proven keys, in order.
    val verify:
        suite: CryptoSuite ->
        h: byte array ->
        handshakeKey: DhPublicKey ->
        ephemeral: DhKeyPair ->
        entries: AnnouncedKey list ->
            Result<DhPublicKey list, KeyAnnouncementError>
