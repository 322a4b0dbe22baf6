namespace HybridProtocol.Core.Formats

open System
open System.Net
open System.Text

type ProxyVersion =
    | Version1
    | Version2

type ProxyTransport =
    | Stream
    | Datagram

[<NoComparison>]
type ProxyEndPoint = { Address: IPAddress; Port: uint16 }

[<NoComparison>]
type ProxyAddresses =
    | Unspecified
    | Ip of transport: ProxyTransport * source: ProxyEndPoint * destination: ProxyEndPoint
    | Unix of transport: ProxyTransport * source: byte array * destination: byte array

[<NoComparison>]
type ProxyCommand =
    | Local
    | Proxy of ProxyAddresses

type ProxyTlv = { Type: byte; Value: byte array }

[<NoComparison>]
type ProxyHeader = {
    Version: ProxyVersion
    Command: ProxyCommand
    Tlvs: ProxyTlv list
}

type ProxyV1Field =
    | InetProtocol
    | SourceAddress
    | DestinationAddress
    | SourcePort
    | DestinationPort
    | FieldCount

type ProxyError =
    | NotAProxyHeader
    | UnsupportedVersion of version: byte
    | UnknownCommand of command: byte
    | UnknownFamily of familyAndTransport: byte
    | HeaderTooLong of length: int * limit: int
    | AddressBlockTooShort of length: int * needed: int
    | MalformedTlv of offset: int
    | LineTooLong
    | BadLineEnd
    | BadV1Field of field: ProxyV1Field

[<NoComparison>]
type ProxyDecoded =
    | NeedMore of atLeast: int
    | Header of header: ProxyHeader * consumed: int

type ProxyDecodeOptions = { MaxLength: int; KeepTlvs: bool }

type ProxyEncodeError =
    | MixedFamilies
    | NotInVersion1
    | BadUnixAddress
    | BadTlvs
    | TooLong

module internal ProxyEndPoints =
    let familyOf (source: ProxyEndPoint) (destination: ProxyEndPoint) =
        let s = source.Address.GetAddressBytes()
        let d = destination.Address.GetAddressBytes()

        if s.Length = d.Length then
            Ok(s, d)
        else
            Error MixedFamilies
