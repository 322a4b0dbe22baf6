using HybridProtocol.Core.Noise;

namespace HybridProtocol.Noise;

/// <summary>Turns the core's typed Noise errors into <see cref="HybridProtocolException"/>s a caller can act on.</summary>
internal static class NoiseErrors
{
    public static Exception ToException(NoiseError error) => error switch
    {
        NoiseError.Name n => HybridErrors.Create(HybridErrorCode.Unsupported, $"The Noise protocol name was refused: {Describe(n.Item)}. Use a name like Noise_XX_25519_ChaChaPoly_BLAKE2b."),
        NoiseError.Init i => HybridErrors.Create(HybridErrorCode.InvalidArgument, $"The handshake cannot start: {Describe(i.Item)}."),
        NoiseError.State { Item.IsNonceExhausted: true } => HybridErrors.Create(HybridErrorCode.NonceExhausted, "The key has been used for as many messages as Noise allows (2^64-1); rekey or start a new session."),
        NoiseError.State s => HybridErrors.Create(HybridErrorCode.InvalidState, $"Operation not allowed now: {s.Item}."),
        NoiseError.Input { Item: InputError.MessageTooLong m } => HybridErrors.Create(HybridErrorCode.MessageTooLarge, $"A Noise message may be at most 65535 bytes; this one would be {m.length}."),
        NoiseError.Input { Item: InputError.MessageTooShort m } => HybridErrors.Create(HybridErrorCode.ProtocolViolation, $"The message ({m.length} bytes) is too short for what the handshake pattern says it contains."),
        _ when error.IsDh => HybridErrors.Create(HybridErrorCode.InvalidPeerKey, "The peer's public key is invalid for X25519 (a low-order point); the peer is broken or malicious."),
        _ when error.IsKem => HybridErrors.Create(HybridErrorCode.InvalidPeerKey, "The peer's ML-KEM-768 public key or ciphertext was refused (FIPS 203 input check); the peer is broken or malicious."),
        _ => HybridErrors.Create(HybridErrorCode.DecryptionFailed, "Authenticated decryption failed: the message was altered, replayed or reordered, or the two sides use different keys, prologue or PSK."),
    };

    private static string Describe(ProtocolNameError error) => error switch
    {
        ProtocolNameError.UnknownPattern p => $"unknown handshake pattern '{p.pattern}'",
        ProtocolNameError.InvalidModifier m => $"invalid modifier '{m.modifier}'",
        ProtocolNameError.UnsupportedDh d => $"DH '{d.dh}' is not supported (only 25519)",
        ProtocolNameError.UnsupportedKem k => $"KEM '{k.kem}' is not supported (only MLKEM768, as in 25519+MLKEM768)",
        _ when error.IsMissingKem => "the hfs modifier needs a KEM in the DH section (25519+MLKEM768)",
        _ when error.IsKemWithoutHfs => "a KEM is named but the pattern has no hfs modifier",
        ProtocolNameError.UnsupportedCipher c => $"cipher '{c.cipher}' is not supported (ChaChaPoly, AESGCM, AEGIS256, AEGIS128L)",
        ProtocolNameError.UnsupportedHash h => $"hash '{h.hash}' is not supported (SHA256, SHA512, BLAKE2b)",
        ProtocolNameError.NonCanonical c => $"it is not written canonically; the canonical spelling is '{c.canonical}'",
        _ when error.IsNotNoise => "it does not start with 'Noise_'",
        _ => "it is not of the form Noise_PATTERN_DH_CIPHER_HASH",
    };

    internal static string Describe(InitError error) => error switch
    {
        InitError.WrongPskCount w => $"the pattern uses {w.expected} PSK(s) but {w.actual} were given",
        _ when error.IsMissingLocalStatic => "the pattern needs our static key (LocalStatic)",
        _ when error.IsMissingRemoteStatic => "the pattern needs the peer's static public key in advance (RemoteStatic)",
        _ when error.IsMissingLocalEphemeral => "the pattern needs an ephemeral key",
        _ when error.IsMissingRemoteEphemeral => "the pattern needs the peer's ephemeral key in advance",
        _ when error.IsWrongPskLength => "every PSK must be exactly 32 bytes",
        _ when error.IsMissingLocalKemKeyPair => "the hfs pattern needs our KEM key pair for e1",
        _ when error.IsMissingEncapsulationRandomness => "the hfs pattern needs the KEM encapsulation randomness for ekem1 (ENCAPSRANDOMNESSLEN bytes)",
        _ when error.IsSuiteMismatch => "the crypto suite does not match the protocol name",
        _ => "a key has the wrong length",
    };
}
