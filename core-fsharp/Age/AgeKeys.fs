module HybridProtocol.Core.Age.AgeKeys

open System

type AgeKeyType =
    | X25519
    | MlKem768X25519

let publicKeyLength (keyType: AgeKeyType) =
    match keyType with
    | X25519 -> 32
    | MlKem768X25519 -> 1216

let privateKeyLength (_: AgeKeyType) = 32

let private recipientHrp (keyType: AgeKeyType) =
    match keyType with
    | X25519 -> "age"
    | MlKem768X25519 -> "age1pq"

let private identityHrp (keyType: AgeKeyType) =
    match keyType with
    | X25519 -> "age-secret-key-"
    | MlKem768X25519 -> "age-secret-key-pq-"

let private checkLength (expected: int) (actual: int) =
    if expected = actual then
        Ok()
    else
        Error(WrongKeyLength(expected, actual))

let encodeRecipient (keyType: AgeKeyType, publicKey: ReadOnlySpan<byte>) : Result<string, AgeKeyError> =
    match checkLength (publicKeyLength keyType) publicKey.Length with
    | Error e -> Error e
    | Ok() -> Ok(Bech32.encode (recipientHrp keyType) publicKey)

let encodeIdentity (keyType: AgeKeyType, privateKey: ReadOnlySpan<byte>) : Result<string, AgeKeyError> =
    match checkLength (privateKeyLength keyType) privateKey.Length with
    | Error e -> Error e
    | Ok() -> Ok((Bech32.encode (identityHrp keyType) privateKey).ToUpperInvariant())

let private decodeWith (hrpOf: AgeKeyType -> string) (lengthOf: AgeKeyType -> int) (text: string) =
    match Bech32.decode text with
    | Error e -> Error(KeyBech32 e)
    | Ok(struct (hrp, bytes)) ->
        let keyType = [ X25519; MlKem768X25519 ] |> List.tryFind (fun t -> hrpOf t = hrp)

        match keyType with
        | None ->
            Array.Clear bytes
            Error(UnknownKeyType hrp)
        | Some t ->
            match checkLength (lengthOf t) bytes.Length with
            | Ok() -> Ok(struct (t, bytes))
            | Error e ->
                Array.Clear bytes
                Error e

let decodeRecipient (text: string) =
    decodeWith recipientHrp publicKeyLength text

let decodeIdentity (text: string) =
    decodeWith identityHrp privateKeyLength text

let private decodeFile (decodeLine: string -> Result<struct (AgeKeyType * byte array), AgeKeyError>) (text: string) =
    let lines = text.Replace("\r\n", "\n").Split('\n')

    let rec go (i: int) acc =
        if i = lines.Length then
            if List.isEmpty acc then
                Error(struct (1, KeyBech32 MissingSeparator))
            else
                Ok(List.rev acc)
        else
            let line = lines[i].Trim()

            if line = "" || line.StartsWith '#' then
                go (i + 1) acc
            else
                match decodeLine line with
                | Ok key -> go (i + 1) (key :: acc)
                | Error e ->
                    for struct (_, bytes) in acc do
                        Array.Clear bytes

                    Error(struct (i + 1, e))

    go 0 []

let decodeIdentityFile (text: string) = decodeFile decodeIdentity text

let decodeRecipientFile (text: string) = decodeFile decodeRecipient text
