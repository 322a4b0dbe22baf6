module HybridProtocol.Core.Age.RawBase64

open System

let private value (c: char) =
    if c >= 'A' && c <= 'Z' then int c - int 'A'
    elif c >= 'a' && c <= 'z' then int c - int 'a' + 26
    elif c >= '0' && c <= '9' then int c - int '0' + 52
    elif c = '+' then 62
    elif c = '/' then 63
    else -1

let encode (data: ReadOnlySpan<byte>) : string =
    Convert.ToBase64String(data).TrimEnd('=')

let decode (text: ReadOnlySpan<char>) : byte array voption =
    // RFC 4648 §3.5: "the pad bits MUST be set to zero by conforming encoders"; 1 leftover character cannot occur.
    if text.Length % 4 = 1 then
        ValueNone
    else
        let output = Array.zeroCreate (text.Length * 3 / 4)
        let mutable acc = 0
        let mutable bits = 0
        let mutable n = 0
        let mutable ok = true

        for c in text do
            let v = value c

            if v < 0 then
                ok <- false
            else
                acc <- ((acc <<< 6) ||| v) &&& 0xffff
                bits <- bits + 6

                if bits >= 8 then
                    bits <- bits - 8
                    output[n] <- byte ((acc >>> bits) &&& 0xff)
                    n <- n + 1

        // The unused low bits of the last character must be zero (canonical encoding).
        if ok && (bits = 0 || acc &&& ((1 <<< bits) - 1) = 0) then
            ValueSome output
        else
            ValueNone

let decodePadded (text: ReadOnlySpan<char>) : byte array voption =
    if text.Length % 4 <> 0 then
        ValueNone
    else
        let padding =
            if text.Length >= 2 && text[text.Length - 1] = '=' && text[text.Length - 2] = '=' then
                2
            elif text.Length >= 1 && text[text.Length - 1] = '=' then
                1
            else
                0

        decode (text.Slice(0, text.Length - padding))

let internal asciiChars (bytes: ReadOnlySpan<byte>) : char array voption =
    let chars = Array.zeroCreate bytes.Length
    let mutable ok = true

    for i in 0 .. bytes.Length - 1 do
        if bytes[i] > 127uy then
            ok <- false

        chars[i] <- char bytes[i]

    if ok then ValueSome chars else ValueNone
