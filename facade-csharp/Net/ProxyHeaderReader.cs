using System.Net;
using HybridProtocol.Core.Formats;

namespace HybridProtocol.Net;

/// <summary>What the first bytes of a connection say about its PROXY header (<see cref="ProxyHeaderReader.Examine"/>).</summary>
internal enum ProxyStage
{
    /// <summary>More bytes are needed before deciding.</summary>
    NeedMore,

    /// <summary>Decided: the header (if any) took the first <see cref="ProxyOutcome.Consumed"/> bytes; the rest is the preamble's.</summary>
    Done,

    /// <summary>The connection must be dropped: <see cref="ProxyOutcome.Refusal"/> and <see cref="ProxyOutcome.Error"/> say why.</summary>
    Refused,
}

/// <summary>One look at a connection's first bytes: the stage, the header's length, the client it names, or the refusal.</summary>
internal readonly record struct ProxyOutcome(ProxyStage Stage, int Consumed, IPEndPoint? Client, ProxyProtocolRefusal? Refusal, HybridProtocolException? Error);

/// <summary>
/// The listener's and the Kestrel endpoint's rule for the PROXY protocol (specs/PROTOCOL.md, "Behind a load balancer"):
/// the core's decoder reads the header; this says what the connection's source may send, and words the refusals.
/// </summary>
internal static class ProxyHeaderReader
{
    /// <summary>
    /// Judges the bytes that have arrived (<paramref name="ended"/>: no more will come). From a trusted proxy: a header
    /// (or none, when not <see cref="ProxyProtocolOptions.Required"/>); from any other address: no header, which is
    /// refused as soon as the first bytes can start one (a HybridProtocol preamble cannot).
    /// </summary>
    public static ProxyOutcome Examine(ProxyProtocolOptions options, bool trusted, ReadOnlySpan<byte> input, bool ended, EndPoint? source)
    {
        if (input.IsEmpty && !ended)
        {
            return new(ProxyStage.NeedMore, 0, null, null, null);
        }

        var decoded = ProxyProtocol.decode(options.DecodeOptions, input);
        var noHeader = decoded.IsError && decoded.ErrorValue.IsNotAProxyHeader;
        if (!trusted)
        {
            return noHeader || input.IsEmpty
                ? new(ProxyStage.Done, 0, null, null, null)
                : Refuse(ProxyProtocolRefusal.UntrustedSender, $"{source} sent a PROXY protocol header but is not one of ProxyProtocolOptions.TrustedProxies; the connection was dropped (a client may not state its own address). If it is a load balancer, add its address to TrustedProxies.");
        }

        if (noHeader)
        {
            return options.Required
                ? Refuse(ProxyProtocolRefusal.HeaderMissing, $"The trusted proxy {source} connected without a PROXY protocol header, which ProxyProtocolOptions.Required asks for; the connection was dropped. Configure the balancer to send one (HAProxy: send-proxy-v2), or set Required = false.")
                : new(ProxyStage.Done, 0, null, null, null);
        }

        if (decoded.IsError)
        {
            return Refuse(ProxyProtocolRefusal.MalformedHeader, $"The trusted proxy {source} sent a malformed PROXY protocol header ({Describe(decoded.ErrorValue)}); the connection was dropped.");
        }

        if (decoded.ResultValue is ProxyDecoded.Header { header: var header, consumed: var consumed })
        {
            var client = ProxyProtocol.clientOf(header)?.Value is { } c ? Unmapped(new IPEndPoint(c.Address, c.Port)) : null;
            return new(ProxyStage.Done, consumed, client, null, null);
        }

        return ended
            ? Refuse(ProxyProtocolRefusal.TruncatedHeader, $"The trusted proxy {source} closed the connection inside its PROXY protocol header; the connection was dropped.")
            : new(ProxyStage.NeedMore, 0, null, null, null);
    }

    private static ProxyOutcome Refuse(ProxyProtocolRefusal refusal, string message) =>
        new(ProxyStage.Refused, 0, null, refusal, new HybridProtocolException(HybridErrorCode.ProtocolViolation, message));

    private static IPEndPoint Unmapped(IPEndPoint endPoint) =>
        endPoint.Address.IsIPv4MappedToIPv6 ? new IPEndPoint(endPoint.Address.MapToIPv4(), endPoint.Port) : endPoint;

    /// <summary>The core's error in words (no reflection-based formatting).</summary>
    internal static string Describe(ProxyError error) => error switch
    {
        ProxyError.UnsupportedVersion v => $"version {v.version}, where only 2 is defined",
        ProxyError.UnknownCommand c => $"command {c.command}, neither LOCAL (0) nor PROXY (1)",
        ProxyError.UnknownFamily f => $"address family and transport byte 0x{f.familyAndTransport:x2}",
        ProxyError.HeaderTooLong t => $"a {t.length}-byte header, over the limit of {t.limit} bytes (ProxyProtocolOptions.MaxHeaderLength)",
        ProxyError.AddressBlockTooShort a => $"an address block of {a.length} bytes where its family needs {a.needed}",
        ProxyError.MalformedTlv m => $"a TLV at byte {m.offset} that runs past the header",
        ProxyError.BadV1Field f => $"a version 1 line with an invalid {Field(f.field)}",
        _ when error.IsLineTooLong => "a version 1 line with no CRLF within 107 bytes",
        _ when error.IsBadLineEnd => "a lone CR or LF in a version 1 line",
        _ => "no PROXY protocol signature",
    };

    private static string Field(ProxyV1Field field) => field.Tag switch
    {
        ProxyV1Field.Tags.InetProtocol => "protocol (TCP4, TCP6 or UNKNOWN)",
        ProxyV1Field.Tags.SourceAddress => "source address",
        ProxyV1Field.Tags.DestinationAddress => "destination address",
        ProxyV1Field.Tags.SourcePort => "source port",
        ProxyV1Field.Tags.DestinationPort => "destination port",
        _ => "number of fields",
    };
}
