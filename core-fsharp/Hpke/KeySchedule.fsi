namespace HybridProtocol.Core.Hpke

/// RFC 9180 §5 Table 1 "HPKE Modes": mode_base 0x00, mode_psk 0x01, mode_auth 0x02, mode_auth_psk 0x03.
/// See: https://www.rfc-editor.org/rfc/rfc9180#section-5
type Mode =
    | Base
    | Psk
    | Auth
    | AuthPsk

/// RFC 9180 §5 Table 1: the mode identifiers.
module Mode =

    /// The mode's one-byte identifier (Table 1).
    val value: mode: Mode -> byte

    /// The mode with this identifier, if any.
    val tryOfValue: value: byte -> Mode voption

    /// The mode a party's inputs select (RFC 9180 §5: "mode_psk ... authenticates using a pre-shared key",
    /// "mode_auth ... using an asymmetric key", mode_auth_psk both, mode_base neither): the one place both the sender's
    /// and the recipient's options are read.
    val select: hasPsk: bool -> hasSenderKey: bool -> Mode

/// The values RFC 9180 §5.1 KeySchedule derives, named as in the pseudocode. Secret bytes: the
/// holder zeroes them (`KeySchedule.clear`) once the context is made.
[<NoComparison; NoEquality>]
type KeyScheduleOutput = {
    key_schedule_context: byte array
    secret: byte array
    key: byte array
    base_nonce: byte array
    exporter_secret: byte array
}

/// RFC 9180 §5.1 "Creating the Encryption Context".
/// See: https://www.rfc-editor.org/rfc/rfc9180#section-5.1
module KeySchedule =

    /// §5.1: `default_psk = ""`.
    val internal default_psk: byte array

    /// §5.1: `default_psk_id = ""`.
    val internal default_psk_id: byte array

    /// RFC 9180 §5.1:
    /// ```
    /// def VerifyPSKInputs(mode, psk, psk_id):
    ///   got_psk = (psk != default_psk)
    ///   got_psk_id = (psk_id != default_psk_id)
    ///   if got_psk != got_psk_id:
    ///     raise Exception("Inconsistent PSK inputs")
    ///
    ///   if got_psk and (mode in [mode_base, mode_auth]):
    ///     raise Exception("PSK input provided when not needed")
    ///   if (not got_psk) and (mode in [mode_psk, mode_auth_psk]):
    ///     raise Exception("Missing required PSK input")
    /// ```
    /// plus §5.1.2's 32-byte floor on psk.
    val VerifyPSKInputs: mode: Mode -> psk: byte array -> psk_id: byte array -> Result<unit, HpkeError>

    /// RFC 9180 §5.1 KeySchedule<ROLE>'s derivation, with VerifyPSKInputs first; the two-stage form
    /// for HKDF and the single-stage form for SHAKE.
    val Derive:
        suite: Suite ->
        mode: Mode ->
        shared_secret: byte array ->
        info: byte array ->
        psk: byte array ->
        psk_id: byte array ->
            Result<KeyScheduleOutput, HpkeError>

    /// RFC 9180 §5.3 "Secret Export":
    /// ```
    /// def Context.Export(exporter_context, L):
    ///   return LabeledExpand(self.exporter_secret, "sec",
    ///                        exporter_context, L)
    /// ```
    /// and for a single-stage KDF (draft-ietf-hpke-hpke):
    /// `LabeledDerive(self.exporter_secret, "sec", exporter_context, L)`.
    val Export:
        suite: Suite ->
        exporter_secret: byte array ->
        exporter_context: byte array ->
        L: int ->
            Result<byte array, HpkeError>

    /// Zeroes the secrets a key schedule produced, once they have been used.
    val clear: output: KeyScheduleOutput -> unit
