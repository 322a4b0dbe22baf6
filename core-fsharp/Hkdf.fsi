/// HMAC (RFC 2104) and HKDF (RFC 5869) built on a `HashFunctions` record, shared by Noise (§4.3)
/// and HPKE (RFC 9180 §4). Pure: every function returns fresh arrays. Secret intermediate values
/// (the padded key, HMAC's inner input and digest, HKDF's temp_key) live only in scratch memory the
/// GC does not move (the stack, or a pinned array for long inputs) and are zeroed before returning
/// (specs/NOISE-CORE.md, "Where secrets live").
/// Internal to the core: its Noise and HPKE key schedules use these; tests reach them through InternalsVisibleTo.
module internal HybridProtocol.Core.Hkdf

/// Hashes the concatenation of `parts`.
val hashConcat: hash: HybridProtocol.Core.HashFunctions -> parts: byte array list -> byte array

/// Hashes `first || second` (Noise §5.2 MixHash) without an intermediate array for inputs of a few KB
/// (joined on the stack; the data hashed is public: h and handshake message fields).
val hashPair:
    hash: HybridProtocol.Core.HashFunctions ->
    first: System.ReadOnlySpan<byte> ->
    second: System.ReadOnlySpan<byte> ->
        byte array

/// An array the GC never moves (the pinned object heap), for secrets the core hands out as arrays
/// (DH outputs, HKDF outputs that become keys): their owner zeroes them, and no stale copy is left behind.
val pinnedArray: length: int -> byte array

/// Noise §4.3: "HMAC-HASH(key, data): Applies HMAC from [RFC 2104] using the HASH() function", over
/// data = `data1 || data2`, written to the first HASHLEN bytes of `output`.
/// Keys longer than BLOCKLEN are hashed first, as RFC 2104 §2 says.
val hmacInto:
    hash: HybridProtocol.Core.HashFunctions ->
    key: System.ReadOnlySpan<byte> ->
    data1: System.ReadOnlySpan<byte> ->
    data2: System.ReadOnlySpan<byte> ->
    output: System.Span<byte> ->
        unit

/// HMAC-HASH(key, data) into a new array.
val hmac: hash: HybridProtocol.Core.HashFunctions -> key: byte array -> data: byte array -> byte array

/// RFC 5869 §2.2: PRK = HMAC-Hash(salt, IKM).
val extract: hash: HybridProtocol.Core.HashFunctions -> salt: byte array -> ikm: byte array -> byte array

/// RFC 5869 §2.3: T(i) = HMAC-Hash(PRK, T(i-1) | info | i), OKM = first L octets of T(1) | T(2) | ...
/// Returns None when L > 255 * HashLen, the RFC's limit.
val expand:
    hash: HybridProtocol.Core.HashFunctions -> prk: byte array -> info: byte array -> length: int -> byte array option

/// Noise §4.3 HKDF with num_outputs = 2.
val hkdf2:
    hash: HybridProtocol.Core.HashFunctions ->
    chainingKey: byte array ->
    inputKeyMaterial: byte array ->
        struct (byte array * byte array)

/// Noise §4.3 HKDF with num_outputs = 3.
val hkdf3:
    hash: HybridProtocol.Core.HashFunctions ->
    chainingKey: byte array ->
    inputKeyMaterial: byte array ->
        struct (byte array * byte array * byte array)
