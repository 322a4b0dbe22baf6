namespace HybridProtocol.Core.Formats

open System

module ProxyProtocol =

    let Signature = ProxyV2.Signature

    [<Literal>]
    let MaxV1Length = ProxyV1.MaxLength

    [<Literal>]
    let V2FixedLength = ProxyV2.FixedLength

    [<Literal>]
    let DefaultMaxLength = 536

    let defaultOptions = {
        MaxLength = DefaultMaxLength
        KeepTlvs = false
    }

    let decode (options: ProxyDecodeOptions, input: ReadOnlySpan<byte>) : Result<ProxyDecoded, ProxyError> =
        if input.IsEmpty then
            Ok(NeedMore 1)
        elif input[0] = ProxyV1.Prefix[0] then
            ProxyV1.decode input
        elif input[0] = Signature[0] then
            ProxyV2.decode options input
        else
            Error NotAProxyHeader

    let clientOf (header: ProxyHeader) =
        match header.Command with
        | Proxy(Ip(_, source, _)) -> Some source
        | _ -> None

    let encode (header: ProxyHeader) =
        match header.Version with
        | Version1 -> ProxyV1.encode header
        | Version2 -> ProxyV2.encode header
