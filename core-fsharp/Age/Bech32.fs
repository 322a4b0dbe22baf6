module HybridProtocol.Core.Age.Bech32

open System
open System.Text

// BIP173: "The data-part ... consists of ... characters from the alphabet qpzry9x8gf2tvdw0s3jn54khce6mua7l".
let private charset = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

let private generator = [| 0x3b6a57b2u; 0x26508e6du; 0x1ea119fau; 0x3d4233ddu; 0x2a1462b3u |]

// BIP173 bech32_polymod.
let private polymod (values: int seq) =
    let mutable chk = 1u

    for v in values do
        let top = chk >>> 25
        chk <- ((chk &&& 0x1ffffffu) <<< 5) ^^^ uint32 v

        for i in 0..4 do
            if (top >>> i) &&& 1u = 1u then
                chk <- chk ^^^ generator[i]

    chk

// BIP173 bech32_hrp_expand: "[ord(x) >> 5 for x in hrp] + [0] + [ord(x) & 31 for x in hrp]".
let private hrpExpand (hrp: string) = [|
    for c in hrp do
        yield int c >>> 5
    yield 0
    for c in hrp do
        yield int c &&& 31
|]

// BIP173 convertbits(data, 8, 5, pad=True).
let private toGroups (data: ReadOnlySpan<byte>) =
    let groups = ResizeArray((data.Length * 8 + 4) / 5)
    let mutable acc = 0
    let mutable bits = 0

    for b in data do
        acc <- ((acc <<< 8) ||| int b) &&& 0xfff
        bits <- bits + 8

        while bits >= 5 do
            bits <- bits - 5
            groups.Add((acc >>> bits) &&& 31)

    if bits > 0 then
        groups.Add((acc <<< (5 - bits)) &&& 31)

    groups.ToArray()

// BIP173 convertbits(data, 5, 8, pad=False): fails on more than 4 padding bits or non-zero padding.
let private fromGroups (groups: int[]) =
    let bytes = Array.zeroCreate (groups.Length * 5 / 8)
    let mutable acc = 0
    let mutable bits = 0
    let mutable n = 0

    for g in groups do
        acc <- ((acc <<< 5) ||| g) &&& 0xfff
        bits <- bits + 5

        if bits >= 8 then
            bits <- bits - 8
            bytes[n] <- byte ((acc >>> bits) &&& 0xff)
            n <- n + 1

    if bits >= 5 || (acc <<< (8 - bits)) &&& 0xff <> 0 then
        Error InvalidPadding
    else
        Ok bytes

let encode (hrp: string) (data: ReadOnlySpan<byte>) : string =
    let hrp = hrp.ToLowerInvariant()
    let groups = toGroups data
    // BIP173 bech32_create_checksum: polymod(hrp_expand(hrp) + data + [0,0,0,0,0,0]) ^ 1.
    let pm = polymod (Seq.concat [ hrpExpand hrp; groups; Array.zeroCreate 6 ]) ^^^ 1u
    let text = StringBuilder(hrp.Length + 1 + groups.Length + 6)
    text.Append(hrp).Append('1') |> ignore

    for g in groups do
        text.Append(charset[g]) |> ignore

    for i in 0..5 do
        text.Append(charset[int ((pm >>> (5 * (5 - i))) &&& 31u)]) |> ignore

    text.ToString()

let decode (text: string) : Result<struct (string * byte array), Bech32Error> =
    let hasLower = text |> Seq.exists Char.IsAsciiLetterLower
    let hasUpper = text |> Seq.exists Char.IsAsciiLetterUpper
    let badChar = text |> Seq.tryFindIndex (fun c -> int c < 33 || int c > 126)

    match badChar with
    | Some position -> Error(InvalidCharacter position)
    | None when hasLower && hasUpper -> Error MixedCase
    | None ->
        let lower = text.ToLowerInvariant()
        let separator = lower.LastIndexOf '1'

        if separator < 1 || separator + 7 > lower.Length then
            Error MissingSeparator
        else
            let hrp = lower.Substring(0, separator)
            let values = Array.zeroCreate (lower.Length - separator - 1)
            let mutable bad = -1

            for i in 0 .. values.Length - 1 do
                let v = charset.IndexOf(lower[separator + 1 + i])

                if v < 0 && bad < 0 then
                    bad <- separator + 1 + i

                values[i] <- v

            if bad >= 0 then
                Error(InvalidCharacter bad)
            // BIP173 bech32_verify_checksum: polymod(hrp_expand(hrp) + data) == 1.
            elif polymod (Seq.append (hrpExpand hrp) values) <> 1u then
                Error ChecksumMismatch
            else
                fromGroups values[.. values.Length - 7]
                |> Result.map (fun bytes -> struct (hrp, bytes))
