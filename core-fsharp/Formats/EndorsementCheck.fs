namespace HybridProtocol.Core.Formats

open System
open System.Buffers.Binary
open System.Security.Cryptography
open System.Text
open HybridProtocol.Core

type VerifyFn =
    delegate of publicKey: ReadOnlySpan<byte> * message: ReadOnlySpan<byte> * signature: ReadOnlySpan<byte> -> bool

type TrustedAuthority = {
    Key: byte array
    Hosts: HostPattern list
}

[<NoComparison; NoEquality>]
type AuthorityPolicy = {
    Authorities: TrustedAuthority list
    RevokedAuthorities: byte array list
    RevokedServerKeys: byte array list
    Required: bool
    Host: string
    Port: int
    Now: int64
    VERIFY: VerifyFn
}

[<RequireQualifiedAccess>]
type EndorsementError =
    | BadEncoding of EndorsementFormatError
    | Missing
    | RevokedAuthority
    | UnknownAuthority
    | BadSignature
    | DifferentKey
    | RevokedServerKey
    | NotYetValid of notBefore: int64 * now: int64
    | Expired of notAfter: int64 * now: int64
    | WrongHost of host: string * port: int * patterns: HostPattern list

[<RequireQualifiedAccess>]
type EndorsementVerdict =
    | Endorsed of Endorsement
    | NotEndorsed
    | Refuse of EndorsementError

[<RequireQualifiedAccess>]
module EndorsementCheck =

    let private same (a: byte array) (b: byte array) =
        CryptographicOperations.FixedTimeEquals(ReadOnlySpan a, ReadOnlySpan b)

    let private coversHost (policy: AuthorityPolicy) (authority: TrustedAuthority) =
        List.isEmpty authority.Hosts
        || authority.Hosts |> List.exists (HostPattern.matches policy.Host policy.Port)

    let check (policy: AuthorityPolicy) (serverKey: byte array) (endorsement: ReadOnlySpan<byte>) =
        match Endorsement.decode endorsement with
        | Error e -> Error(EndorsementError.BadEncoding e)
        | Ok decoded ->
            let body = decoded.Body

            if policy.RevokedAuthorities |> List.exists (same body.AuthorityKey) then
                Error EndorsementError.RevokedAuthority
            elif
                not (
                    policy.Authorities
                    |> List.exists (fun a -> same a.Key body.AuthorityKey && coversHost policy a)
                )
            then
                Error EndorsementError.UnknownAuthority
            else
                match Endorsement.signatureInput body with
                | Error e -> Error(EndorsementError.BadEncoding e)
                | Ok input ->
                    if
                        not (
                            policy.VERIFY.Invoke(
                                ReadOnlySpan body.AuthorityKey,
                                ReadOnlySpan input,
                                ReadOnlySpan decoded.Signature
                            )
                        )
                    then
                        Error EndorsementError.BadSignature
                    elif not (same body.ServerKey serverKey) then
                        Error EndorsementError.DifferentKey
                    elif policy.RevokedServerKeys |> List.exists (same body.ServerKey) then
                        Error EndorsementError.RevokedServerKey
                    elif policy.Now < body.NotBefore then
                        Error(EndorsementError.NotYetValid(body.NotBefore, policy.Now))
                    elif policy.Now > body.NotAfter then
                        Error(EndorsementError.Expired(body.NotAfter, policy.Now))
                    elif not (body.Hosts |> List.exists (HostPattern.matches policy.Host policy.Port)) then
                        Error(EndorsementError.WrongHost(policy.Host, policy.Port, body.Hosts))
                    else
                        Ok decoded

    let decide (policy: AuthorityPolicy) (serverKey: byte array) (endorsement: byte array option) =
        match endorsement with
        | None when policy.Required -> EndorsementVerdict.Refuse EndorsementError.Missing
        | None -> EndorsementVerdict.NotEndorsed
        | Some bytes ->
            match check policy serverKey (ReadOnlySpan bytes) with
            | Ok e -> EndorsementVerdict.Endorsed e
            | Error EndorsementError.UnknownAuthority when not policy.Required -> EndorsementVerdict.NotEndorsed
            | Error e -> EndorsementVerdict.Refuse e
