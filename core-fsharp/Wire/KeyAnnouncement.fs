namespace HybridProtocol.Core.Wire

open System
open System.Security.Cryptography
open System.Text
open HybridProtocol.Core

[<NoComparison; NoEquality>]
type AnnouncedKey = { Key: DhPublicKey; Proof: byte array }

module KeyAnnouncement =

    [<Literal>]
    let MaxKeys = 3

    [<Literal>]
    let Label = "HybridProtocol key announcement v1"

    let private labelBytes = Encoding.ASCII.GetBytes Label

    let encode (entries: AnnouncedKey list) =
        entries |> List.collect (fun e -> [ e.Key.Bytes; e.Proof ]) |> Array.concat

    let decode (dhlen: int) (hashlen: int) (value: ReadOnlySpan<byte>) =
        let size = dhlen + hashlen

        if
            size <= 0
            || value.Length = 0
            || value.Length % size <> 0
            || value.Length / size > MaxKeys
        then
            Error(AnnouncementLength value.Length)
        else
            let bytes = value.ToArray()

            [ 0 .. bytes.Length / size - 1 ]
            |> List.map (fun i ->
                DhPublicKey.TryCreate(dhlen, ReadOnlySpan(bytes, i * size, dhlen))
                |> ValueOption.map (fun key -> {
                    Key = key
                    Proof = Array.sub bytes (i * size + dhlen) hashlen
                }))
            |> List.fold
                (fun acc entry ->
                    match acc, entry with
                    | Ok entries, ValueSome e -> Ok(e :: entries)
                    | _ -> Error(AnnouncementLength bytes.Length))
                (Ok [])
            |> Result.map List.rev

    /// proof = HMAC-HASH(k, Label || handshakeKey || announced), k = HKDF(h, dh, 2).1; dh and k erased.
    let private proofFrom
        (suite: CryptoSuite)
        (h: byte array)
        (dh: byte array)
        (handshakeKey: DhPublicKey)
        (announced: DhPublicKey)
        =
        let struct (k, other) = Hkdf.hkdf2 suite.Hash h dh

        try
            Hkdf.hmac suite.Hash k (Array.concat [ labelBytes; handshakeKey.Bytes; announced.Bytes ])
        finally
            CryptographicOperations.ZeroMemory(Span k)
            CryptographicOperations.ZeroMemory(Span other)
            CryptographicOperations.ZeroMemory(Span dh)

    let private dh (suite: CryptoSuite) (privateKey: IDhPrivateKey) (publicKey: DhPublicKey) =
        let output = Hkdf.pinnedArray suite.Dh.DHLEN

        if suite.Dh.DH.Invoke(privateKey, ReadOnlySpan publicKey.Bytes, Span output) then
            Some output
        else
            None

    let prove suite h handshakeKey clientEphemeral (announced: DhKeyPair) =
        match dh suite announced.Private clientEphemeral with
        | None -> Error(UnusableKey 0)
        | Some shared ->
            Ok {
                Key = announced.Public
                Proof = proofFrom suite h shared handshakeKey announced.Public
            }

    let verify suite h (handshakeKey: DhPublicKey) (ephemeral: DhKeyPair) (entries: AnnouncedKey list) =
        let rec check i (seen: DhPublicKey list) entries =
            match entries with
            | [] -> Ok(List.rev seen)
            | entry :: rest ->
                if entry.Key.EqualsKey handshakeKey then
                    Error(HandshakeKeyAnnounced i)
                elif seen |> List.exists entry.Key.EqualsKey then
                    Error(DuplicateKey i)
                else
                    match dh suite ephemeral.Private entry.Key with
                    | None -> Error(UnusableKey i)
                    | Some shared ->
                        let expected = proofFrom suite h shared handshakeKey entry.Key

                        if
                            expected.Length = entry.Proof.Length
                            && CryptographicOperations.FixedTimeEquals(ReadOnlySpan expected, ReadOnlySpan entry.Proof)
                        then
                            check (i + 1) (entry.Key :: seen) rest
                        else
                            Error(BadProof i)

        check 0 [] entries
