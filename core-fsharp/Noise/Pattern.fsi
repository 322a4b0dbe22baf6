/// Handshake patterns as data (Noise §7), interpreted once by HandshakeState.
namespace HybridProtocol.Core.Noise

/// Noise §7.1: "A message pattern is some sequence of tokens from the set ("e", "s", "ee", "es", "se", "ss")"
/// plus "psk" (§9.2) and the Noise HFS §4 KEM tokens "e1" and "ekem1".
type Token =
    | E
    | S
    | EE
    | ES
    | SE
    | SS
    | Psk

    /// HFS §4: "This token directs the sender to call GENERATE_KEM_KEYPAIR(). The resulting KEM public key is
    /// transferred to the recipient as if it was a static DH public key (i.e. using EncryptAndHash() if a key is available)."
    | E1

    /// HFS §4: "This token directs the sender to call GENERATE_KEM_CIPHERTEXT() using a previously received KEM
    /// public key. ... On sending or receiving this token, the parties call MixKey(kem_output)."
    | Ekem1

/// Who sends a message: "->" is the initiator, "<-" the responder (§7.1).
type Direction =
    | InitiatorToResponder
    | ResponderToInitiator

/// Noise §5: "Initiator" and "responder" are the roles; the initiator sends the first handshake message.
type Role =
    | Initiator
    | Responder

/// A handshake pattern: pre-messages (only "e" and "s" allowed), then message patterns that alternate
/// direction starting with the initiator (§7.1).
type HandshakePattern = {

    /// The pattern's name with its modifiers, e.g. "XXpsk0+psk3".
    Name: string
    InitiatorPreMessage: Token list
    ResponderPreMessage: Token list
    Messages: Token list list
} with

    /// Noise §7.4: one-way patterns have a single message from initiator to responder.
    member IsOneWay: bool

    /// §9.2: any psk token makes this a PSK handshake, where "e" also calls MixKey.
    member IsPsk: bool

    /// The number of "psk" tokens, which is how many PSKs the handshake consumes.
    member PskCount: int

module Role =

    val opposite: _arg1: Role -> Role

    /// Which role sends message number `index` (0-based): the conversation alternates, initiator first.
    val senderOf: index: int -> Role

module HandshakePattern =

    val N: HandshakePattern

    val K: HandshakePattern

    val X: HandshakePattern

    val NN: HandshakePattern

    val NK: HandshakePattern

    val NX: HandshakePattern

    val KN: HandshakePattern

    val KK: HandshakePattern

    val KX: HandshakePattern

    val XN: HandshakePattern

    val XK: HandshakePattern

    val XX: HandshakePattern

    val IN: HandshakePattern

    val IK: HandshakePattern

    val IX: HandshakePattern

    val NK1: HandshakePattern

    val NX1: HandshakePattern

    val X1N: HandshakePattern

    val X1K: HandshakePattern

    val XK1: HandshakePattern

    val X1K1: HandshakePattern

    val X1X: HandshakePattern

    val XX1: HandshakePattern

    val X1X1: HandshakePattern

    val K1N: HandshakePattern

    val K1K: HandshakePattern

    val KK1: HandshakePattern

    val K1K1: HandshakePattern

    val K1X: HandshakePattern

    val KX1: HandshakePattern

    val K1X1: HandshakePattern

    val I1N: HandshakePattern

    val I1K: HandshakePattern

    val IK1: HandshakePattern

    val I1K1: HandshakePattern

    val I1X: HandshakePattern

    val IX1: HandshakePattern

    val I1X1: HandshakePattern

    /// The 3 one-way patterns (§7.4).
    val oneWay: HandshakePattern list

    /// The 12 fundamental interactive patterns (§7.5).
    val fundamental: HandshakePattern list

    /// The 23 deferred patterns (§18.1).
    val deferred: HandshakePattern list

    /// Every base pattern, without modifiers: 38 in all.
    val all: HandshakePattern list

    /// Looks up a base pattern by name ("XX", "X1K1", ...).
    val tryFind: name: string -> HandshakePattern option

    /// Noise §9.4: "psk0 places a psk token at the beginning of the first handshake message.
    /// The modifiers psk1, psk2, etc., place a psk token at the end of the first, second, etc., handshake message."
    val applyPsk: position: int -> pattern: HandshakePattern -> HandshakePattern option

    /// The tokens of `role`'s pre-message (§7.1: its public keys the other party knows before the handshake).
    val preMessageOf: role: Role -> pattern: HandshakePattern -> Token list

    /// Whether `role` writes `token` in some handshake message (the writer of "e1" calls GENERATE_KEM_KEYPAIR, the
    /// writer of "ekem1" GENERATE_KEM_CIPHERTEXT, Noise HFS §4). Pre-messages do not count.
    val writes: role: Role -> token: Token -> pattern: HandshakePattern -> bool

    /// Whether `role` sends `token` at all: in its pre-message or in a message (so it must hold that key).
    val sends: role: Role -> token: Token -> pattern: HandshakePattern -> bool

    /// Noise §9.3 validity rule: "A party may not send any encrypted data after it processes a psk token
    /// unless it has previously sent an ephemeral public key (an e token), either before or after the psk token."
    /// Every pattern in the spec sends "e" in each party's first message, so this holds when each party
    /// that processes a psk token also sends "e" at some point; we check it for any combination of modifiers.
    val satisfiesPskValidity: pattern: HandshakePattern -> bool

    /// Noise HFS §5: "The "hfs" pattern modifier adds an "e1" token directly following the first occurrence of "e",
    /// unless there is a DH operation in this same message, in which case the "hfs" token is placed directly after
    /// this DH (so that the public key will be encrypted). The "hfs" modifier also adds an "ekem1" token directly
    /// following the first occurrence of "ee"."
    /// Read as snow reads it: "this DH" is the first DH token of the message holding the first "e". The spec's
    /// table differs for KKhfs and INhfs; specs/NOISE-CORE.md records why the rule wins. None for a pattern
    /// without "e" or "ee" (the one-way patterns), where the modifier cannot apply, or one already hfs.
    val applyHfs: pattern: HandshakePattern -> HandshakePattern option

    /// The tokens each message carries, with its index and sender.
    val messagesWithSender: pattern: HandshakePattern -> (int * Role * Token list) list
