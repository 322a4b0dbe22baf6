namespace HybridProtocol.Core.Formats

open System
open System.Security.Cryptography

[<RequireQualifiedAccess>]
module KeyDocument =

    open Der

    let private oidOf keyType =
        match keyType with
        | X25519 -> "1.3.101.110"
        | X448 -> "1.3.101.111"
        | P256
        | P384
        | P521 -> "1.2.840.10045.2.1"
        | MlKem512 -> "2.16.840.1.101.3.4.4.1"
        | MlKem768 -> "2.16.840.1.101.3.4.4.2"
        | MlKem1024 -> "2.16.840.1.101.3.4.4.3"
        | XWing -> "1.3.6.1.4.1.62253.25722"

    let private curveOid keyType =
        match keyType with
        | P256 -> Some "1.2.840.10045.3.1.7"
        | P384 -> Some "1.3.132.0.34"
        | P521 -> Some "1.3.132.0.35"
        | _ -> None

    let privateKeyLength keyType =
        match keyType with
        | X25519
        | P256
        | XWing -> 32
        | X448 -> 56
        | P384 -> 48
        | P521 -> 66
        | MlKem512
        | MlKem768
        | MlKem1024 -> 64

    let publicKeyLength keyType =
        match keyType with
        | X25519 -> 32
        | X448 -> 56
        | P256 -> 65
        | P384 -> 97
        | P521 -> 133
        | MlKem512 -> 800
        | MlKem768 -> 1184
        | MlKem1024 -> 1568
        | XWing -> 1216

    let private ours = [ X25519; X448; MlKem512; MlKem768; MlKem1024; XWing ]
    let private curves = [ P256; P384; P521 ]

    let private foreign oid =
        match oid with
        | "1.3.101.112" -> Ed25519
        | "1.3.101.113" -> Ed448
        | "1.2.840.113549.1.1.1" -> Rsa
        | "1.2.840.113549.1.1.10" -> RsaPss
        | "1.2.840.10045.2.1" -> EllipticCurve
        | "1.2.840.10040.4.1" -> Dsa
        | "1.2.840.113549.1.3.1" -> DiffieHellman
        | other -> OtherAlgorithm other

    /// RFC 5280 AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY OPTIONAL }.
    let private algorithm (content: View) =
        match expect 0x06uy content with
        | Error e -> Error e
        | Ok(oid, parameters) ->
            match oidText oid with
            | None -> Error NotDer
            | Some text ->
                match ours |> List.tryFind (fun t -> oidOf t = text) with
                | Some t when parameters.Length = 0 -> Ok t
                | Some t -> Error(ParametersPresent t)
                | None when text = oidOf P256 ->
                    let named =
                        only 0x06uy parameters
                        |> Result.toOption
                        |> Option.bind oidText
                        |> Option.bind (fun curve -> curves |> List.tryFind (fun t -> curveOid t = Some curve))

                    match named with
                    | Some t -> Ok t
                    | None -> Error(ForeignKey EllipticCurve)
                | None -> Error(ForeignKey(foreign text))

    let private version (content: View) =
        if content.Length = 1 && at content 0 <= 1uy then
            Ok(int (at content 0))
        else
            Error UnsupportedKeyVersion

    /// The header of a OneAsymmetricKey: version, key type, privateKey content, what follows it.
    let private header der =
        match only 0x30uy (whole der) with
        | Error e -> Error e
        | Ok key ->
            match expect 0x02uy key with
            | Error e -> Error e
            | Ok(v, rest) ->
                match version v, expect 0x30uy rest with
                | Error e, _
                | _, Error e -> Error e
                | Ok v, Ok(algorithmId, rest) ->
                    match algorithm algorithmId with
                    | Error e -> Error e
                    | Ok t ->
                        match element rest with
                        | Ok(0x04uy, privateKey, rest) -> Ok(v, t, privateKey, rest)
                        | Ok _ -> Error(PrivateKeyStructure t)
                        | Error e -> Error e

    let peekPrivate der =
        header der |> Result.map (fun (_, t, _, _) -> t)

    let private sized t (v: View) =
        if v.Length = privateKeyLength t then
            Ok v
        else
            Error(PrivateKeyLength(t, v.Length))

    /// A BIT STRING's content as a public key: no unused bits, the type's length.
    let private bitString t (content: View) error =
        if
            content.Length >= 1
            && at content 0 = 0uy
            && content.Length - 1 = publicKeyLength t
        then
            Ok(sub content 1 (content.Length - 1))
        else
            Error(error (t, max 0 (content.Length - 1)))

    /// RFC 5915 ECPrivateKey ::= SEQUENCE { version 1, privateKey OCTET STRING, [0] ECParameters OPTIONAL,
    /// [1] BIT STRING OPTIONAL }.
    let private ecPrivateKey t (field: View) =
        let mismatch = Error(EcPrivateKeyMismatch t)

        match only 0x30uy field |> Result.bind (expect 0x02uy) with
        | Error _ -> Error(PrivateKeyStructure t)
        | Ok(v, _) when not (v.Length = 1 && at v 0 = 1uy) -> mismatch
        | Ok(_, rest) ->
            match expect 0x04uy rest with
            | Error _ -> Error(PrivateKeyStructure t)
            | Ok(d, rest) ->
                match sized t d with
                | Error e -> Error e
                | Ok d ->
                    let curveOk, rest =
                        match element rest with
                        | Ok(0xa0uy, parameters, after) ->
                            (only 0x06uy parameters |> Result.toOption |> Option.bind oidText) = curveOid t, after
                        | _ -> true, rest

                    if not curveOk then
                        mismatch
                    else
                        match element rest with
                        | Ok(0xa1uy, publicKey, after) when after.Length = 0 ->
                            only 0x03uy publicKey
                            |> Result.bind (fun bits -> bitString t bits EmbeddedPublicKeyLength)
                            |> Result.map (fun pk -> d, [ copy pk ])
                        | _ when rest.Length = 0 -> Ok(d, [])
                        | _ -> Error NotDer

    /// The private key inside the privateKey OCTET STRING, and any public key it embeds.
    let private privateKey t (field: View) =
        match t with
        | X25519
        | X448 ->
            match only 0x04uy field with
            | Ok curvePrivateKey -> sized t curvePrivateKey |> Result.map (fun k -> k, [])
            | Error _ -> Error(PrivateKeyStructure t)
        | XWing -> sized t field |> Result.map (fun k -> k, [])
        | MlKem512
        | MlKem768
        | MlKem1024 ->
            match element field with
            | Ok(0x80uy, seed, rest) when rest.Length = 0 -> sized t seed |> Result.map (fun k -> k, [])
            | Ok(0x30uy, both, rest) when rest.Length = 0 ->
                match expect 0x04uy both with
                | Ok(seed, _) -> sized t seed |> Result.map (fun k -> k, [])
                | Error _ -> Error(PrivateKeyStructure t)
            | Ok(0x04uy, _, _) -> Error(ExpandedKeyOnly t)
            | _ -> Error(PrivateKeyStructure t)
        | P256
        | P384
        | P521 -> ecPrivateKey t field

    /// RFC 5958: attributes [0] OPTIONAL, then (v2 only) publicKey [1] IMPLICIT BIT STRING OPTIONAL, then nothing.
    let private trailer version t (rest: View) =
        let rest =
            match element rest with
            | Ok(0xa0uy, _, after) -> after
            | _ -> rest

        match element rest with
        | _ when rest.Length = 0 -> Ok []
        | Ok(0x81uy, bits, after) when version = 1 && after.Length = 0 ->
            bitString t bits EmbeddedPublicKeyLength |> Result.map (fun pk -> [ copy pk ])
        | _ -> Error NotDer

    let decodePrivate der =
        match header der with
        | Error e -> Error e
        | Ok(v, t, field, rest) ->
            match privateKey t field, trailer v t rest with
            | Error e, _
            | _, Error e -> Error e
            | Ok(key, inner), Ok outer ->
                Ok {
                    Type = t
                    PrivateKey = copy key
                    EmbeddedPublicKeys = inner @ outer
                }

    let decodePublic der =
        match only 0x30uy (whole der) |> Result.bind (expect 0x30uy) with
        | Error e -> Error e
        | Ok(algorithmId, rest) ->
            match algorithm algorithmId with
            | Error e -> Error e
            | Ok t ->
                match only 0x03uy rest with
                | Error e -> Error e
                | Ok bits -> bitString t bits PublicKeyLength |> Result.map (fun pk -> t, copy pk)

    let private algorithmIdentifier t =
        let curve =
            match curveOid t with
            | Some oid -> tlv 0x06uy (oidBytes oid)
            | None -> [||]

        tlv 0x30uy (Array.append (tlv 0x06uy (oidBytes (oidOf t))) curve)

    let encodePrivate (keyType: KeyType, privateKey: ReadOnlySpan<byte>, publicKey: ReadOnlySpan<byte>) =
        let t = keyType
        let sk = privateKey.ToArray()

        let field =
            match t with
            | X25519
            | X448 -> sealTlv 0x04uy sk
            | XWing -> sk
            | MlKem512
            | MlKem768
            | MlKem1024 -> sealTlv 0x80uy sk
            | P256
            | P384
            | P521 ->
                let publicPart =
                    tlv 0xa1uy (tlv 0x03uy (Array.append [| 0uy |] (publicKey.ToArray())))

                let d = sealTlv 0x04uy sk
                let ec = Array.concat [ [| 0x02uy; 0x01uy; 0x01uy |]; d; publicPart ]
                CryptographicOperations.ZeroMemory(Span d)
                sealTlv 0x30uy ec

        let octets = sealTlv 0x04uy field

        let body =
            Array.concat [ [| 0x02uy; 0x01uy; 0x00uy |]; algorithmIdentifier t; octets ]

        CryptographicOperations.ZeroMemory(Span octets)
        sealTlv 0x30uy body

    let encodePublic (keyType: KeyType, publicKey: ReadOnlySpan<byte>) =
        tlv
            0x30uy
            (Array.append (algorithmIdentifier keyType) (tlv 0x03uy (Array.append [| 0uy |] (publicKey.ToArray()))))
