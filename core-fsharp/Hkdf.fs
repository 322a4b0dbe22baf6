/// HMAC (RFC 2104) and HKDF (RFC 5869) built on a `HashFunctions` record, shared by Noise (§4.3)
/// and HPKE (RFC 9180 §4). Pure: every function returns fresh arrays.
module HybridProtocol.Core.Hkdf

open System

/// Hashes the concatenation of `parts`.
let hashConcat (hash: HashFunctions) (parts: byte[] list) : byte[] =
    let input = Array.concat parts
    let output = Array.zeroCreate hash.HASHLEN
    hash.HASH.Invoke(ReadOnlySpan input, Span output)
    output

/// Noise §4.3: "HMAC-HASH(key, data): Applies HMAC from [RFC 2104] using the HASH() function."
/// Keys longer than BLOCKLEN are hashed first, as RFC 2104 §2 says.
let hmac (hash: HashFunctions) (key: byte[]) (data: byte[]) : byte[] =
    let key =
        if key.Length > hash.BLOCKLEN then
            hashConcat hash [ key ]
        else
            key

    let padded (pad: byte) =
        Array.init hash.BLOCKLEN (fun i -> (if i < key.Length then key[i] else 0uy) ^^^ pad)

    let inner = hashConcat hash [ padded 0x36uy; data ]
    hashConcat hash [ padded 0x5cuy; inner ]

/// RFC 5869 §2.2: PRK = HMAC-Hash(salt, IKM).
let extract (hash: HashFunctions) (salt: byte[]) (ikm: byte[]) : byte[] =
    let salt =
        if salt.Length = 0 then
            Array.zeroCreate hash.HASHLEN
        else
            salt

    hmac hash salt ikm

/// RFC 5869 §2.3: T(i) = HMAC-Hash(PRK, T(i-1) | info | i), OKM = first L octets of T(1) | T(2) | ...
/// Returns None when L > 255 * HashLen, the RFC's limit.
let expand (hash: HashFunctions) (prk: byte[]) (info: byte[]) (length: int) : byte[] option =
    if length < 0 || length > 255 * hash.HASHLEN then
        None
    else
        let blocks = (length + hash.HASHLEN - 1) / hash.HASHLEN

        let rec go i (previous: byte[]) acc =
            if i > blocks then
                List.rev acc
            else
                let t = hmac hash prk (Array.concat [ previous; info; [| byte i |] ])
                go (i + 1) t (t :: acc)

        let okm = go 1 [||] [] |> Array.concat
        Some(Array.sub okm 0 length)

/// Noise §4.3 HKDF(chaining_key, input_key_material, num_outputs):
/// "Sets temp_key = HMAC-HASH(chaining_key, input_key_material).
///  Sets output1 = HMAC-HASH(temp_key, byte(0x01)).
///  Sets output2 = HMAC-HASH(temp_key, output1 || byte(0x02)).
///  If num_outputs == 2 then returns the pair (output1, output2).
///  Sets output3 = HMAC-HASH(temp_key, output2 || byte(0x03)). Returns the triple (output1, output2, output3)."
let private hkdfStart hash (chainingKey: byte[]) (inputKeyMaterial: byte[]) =
    let tempKey = hmac hash chainingKey inputKeyMaterial
    let output1 = hmac hash tempKey [| 0x01uy |]
    let output2 = hmac hash tempKey (Array.append output1 [| 0x02uy |])
    struct (tempKey, output1, output2)

/// Noise §4.3 HKDF with num_outputs = 2.
let hkdf2 hash chainingKey inputKeyMaterial =
    let struct (_, output1, output2) = hkdfStart hash chainingKey inputKeyMaterial
    struct (output1, output2)

/// Noise §4.3 HKDF with num_outputs = 3.
let hkdf3 hash chainingKey inputKeyMaterial =
    let struct (tempKey, output1, output2) = hkdfStart hash chainingKey inputKeyMaterial
    let output3 = hmac hash tempKey (Array.append output2 [| 0x03uy |])
    struct (output1, output2, output3)
