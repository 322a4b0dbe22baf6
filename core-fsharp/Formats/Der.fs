namespace HybridProtocol.Core.Formats

open System
open System.Security.Cryptography

module internal Der =

    [<Struct>]
    type View = {
        Bytes: byte array
        Start: int
        Length: int
    }

    let whole (bytes: byte array) = {
        Bytes = bytes
        Start = 0
        Length = bytes.Length
    }

    let at (v: View) i = v.Bytes[v.Start + i]
    let copy (v: View) = Array.sub v.Bytes v.Start v.Length

    let sub (v: View) offset length = {
        v with
            Start = v.Start + offset
            Length = length
    }

    let element (v: View) =
        if v.Length < 2 || (at v 0 &&& 0x1fuy) = 0x1fuy then
            Error NotDer
        else
            let first = int (at v 1)

            let header, length =
                match first with
                | l when l < 0x80 -> 2, l
                | 0x81 when v.Length >= 3 && at v 2 >= 0x80uy -> 3, int (at v 2)
                | 0x82 when v.Length >= 4 && at v 2 <> 0uy -> 4, (int (at v 2) <<< 8) ||| int (at v 3)
                | _ -> 0, -1

            if length < 0 || header + length > v.Length then
                Error NotDer
            else
                Ok(at v 0, sub v header length, sub v (header + length) (v.Length - header - length))

    let expect tag v =
        match element v with
        | Ok(t, content, rest) when t = tag -> Ok(content, rest)
        | _ -> Error NotDer

    let only tag v =
        match expect tag v with
        | Ok(content, rest) when rest.Length = 0 -> Ok content
        | _ -> Error NotDer

    let oidText (v: View) =
        let rec arcs i (value: int64) acc =
            if i = v.Length then
                if value = 0L && (v.Length = 0 || at v (i - 1) < 0x80uy) then
                    Some(List.rev acc)
                else
                    None
            else
                let b = at v i
                let value = (value <<< 7) ||| int64 (b &&& 0x7fuy)

                if value > (1L <<< 55) then None
                elif b >= 0x80uy then arcs (i + 1) value acc
                else arcs (i + 1) 0L (value :: acc)

        match arcs 0 0L [] with
        | Some(first :: rest) ->
            let a, b =
                if first < 40L then 0L, first
                elif first < 80L then 1L, first - 40L
                else 2L, first - 80L

            Some(String.Join(".", a :: b :: rest))
        | _ -> None

    let oidBytes (text: string) =
        let arcs = text.Split '.' |> Array.map int64

        let base128 (value: int64) =
            let rec go (value: int64) acc =
                let digit = byte (value &&& 0x7fL) ||| (if List.isEmpty acc then 0uy else 0x80uy)
                let acc = digit :: acc
                if value < 128L then acc else go (value >>> 7) acc

            go value []

        (arcs[0] * 40L + arcs[1]) :: List.ofArray arcs[2..]
        |> List.collect base128
        |> Array.ofList

    // Encoding: X.690 DER, definite lengths.

    let tlv (tag: byte) (content: byte array) =
        let n = content.Length

        let length =
            if n < 0x80 then [| byte n |]
            elif n < 0x100 then [| 0x81uy; byte n |]
            else [| 0x82uy; byte (n >>> 8); byte n |]

        Array.concat [ [| tag |]; length; content ]

    let sealTlv tag (content: byte array) =
        let result = tlv tag content
        CryptographicOperations.ZeroMemory(Span content)
        result
