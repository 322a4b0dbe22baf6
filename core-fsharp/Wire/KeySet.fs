namespace HybridProtocol.Core.Wire

open System
open System.Security.Cryptography
open HybridProtocol.Core

[<RequireQualifiedAccess>]
type KeySetMatch =
    | InSet of index: int
    | KeyRevoked
    | NotInSet

module KeySet =

    let private same (a: byte array) (b: byte array) =
        a.Length = b.Length
        && CryptographicOperations.FixedTimeEquals(ReadOnlySpan a, ReadOnlySpan b)

    let decideBytes (trusted: byte array seq) (revoked: byte array seq) (key: byte array) =
        if revoked |> Seq.exists (same key) then
            KeySetMatch.KeyRevoked
        else
            match trusted |> Seq.tryFindIndex (same key) with
            | Some i -> KeySetMatch.InSet i
            | None -> KeySetMatch.NotInSet

    let decide (trusted: DhPublicKey list) (revoked: DhPublicKey list) (key: DhPublicKey) =
        decideBytes (trusted |> List.map _.Bytes) (revoked |> List.map _.Bytes) key.Bytes
