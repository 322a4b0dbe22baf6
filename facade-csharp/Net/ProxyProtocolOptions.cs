using System.Net;
using HybridProtocol.Core.Formats;

namespace HybridProtocol;

/// <summary>
/// The PROXY protocol (HAProxy's proxy-protocol.txt, versions 1 and 2) on a listener behind TCP load balancers: a
/// balancer in <see cref="TrustedProxies"/> puts a header before the HybridProtocol preamble saying whose connection it
/// relays, and that client's address becomes the connection's <see cref="SecureConnection.RemoteEndPoint"/> (and the
/// address <see cref="SecureListener.MaxPendingPerAddress"/> counts, and the one logged). A header from any other
/// address is refused: a client may not choose its own address. Set on <see cref="SecureListener.ProxyProtocol"/>, or
/// on the Kestrel endpoint's <c>HybridProtocolConnectionOptions.ProxyProtocol</c>.
/// <code>
/// new SecureListener(endPoint, options) { ProxyProtocol = new() { TrustedProxies = [IPNetwork.Parse("10.0.0.0/8")] } };
/// </code>
/// </summary>
public sealed class ProxyProtocolOptions
{
    private readonly int maxHeaderLength = ProxyProtocol.DefaultMaxLength;

    /// <summary>
    /// The balancers' addresses or networks (<c>IPNetwork.Parse("10.0.0.5/32")</c>, <c>"fd00::/8"</c>). Only connections
    /// from these may, and (with <see cref="Required"/>) must, start with a PROXY header. An IPv4 client of a dual-stack
    /// listener is matched by its IPv4 address. Empty: no address is trusted, and every header is refused.
    /// </summary>
    public IList<IPNetwork> TrustedProxies { get; init; } = [];

    /// <summary>
    /// True (the default): a connection from a trusted proxy without a header is refused, as the spec asks ("MUST not
    /// try to guess whether the protocol header is present or not"). False: such a connection is served with the
    /// proxy's own address (for a balancer address that also connects directly, e.g. an operator's host).
    /// </summary>
    public bool Required { get; init; } = true;

    /// <summary>
    /// The longest version 2 header accepted, with its TLVs (default 536, the smallest TCP segment, which the spec says
    /// both formats fit in; 232 to 65,551). A version 1 line is at most 107 bytes.
    /// </summary>
    /// <exception cref="HybridArgumentException">InvalidArgument outside 232..65,551.</exception>
    public int MaxHeaderLength
    {
        get => maxHeaderLength;
        init => maxHeaderLength = value is >= ProxyProtocol.V2FixedLength + 216 and <= ProxyProtocol.V2FixedLength + 65535
            ? value
            : throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"ProxyProtocolOptions.MaxHeaderLength must be between 232 and 65551 bytes, not {value}.");
    }

    internal ProxyDecodeOptions DecodeOptions => new(maxHeaderLength, false);

    /// <summary>A network in CIDR notation (<c>10.0.0.0/8</c>, <c>fd00::/8</c>), or an address alone as one host, for settings read as text.</summary>
    /// <exception cref="HybridArgumentException">InvalidArgument when it is neither.</exception>
    internal static IPNetwork ParseNetwork(string text, string setting)
    {
        var cidr = !text.Contains('/', StringComparison.Ordinal) && IPAddress.TryParse(text, out var address)
            ? new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)
            : (IPNetwork?)null;
        return cidr ?? (IPNetwork.TryParse(text, out var network)
            ? network
            : throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"{setting}: '{text}' is not an address or network: expected CIDR such as 10.0.0.0/8, 192.0.2.7 or fd00::/8."));
    }

    /// <summary>Whether <paramref name="remote"/> is one of <see cref="TrustedProxies"/> (an IPv4-mapped address as IPv4).</summary>
    internal bool Trusts(EndPoint? remote)
    {
        if (remote is not IPEndPoint { Address: var address })
        {
            return false;
        }

        address = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        foreach (var network in TrustedProxies)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }
}

/// <summary>Why a connection was dropped before its preamble for the PROXY protocol (<see cref="HandshakeFailedEventArgs.ProxyProtocolRefusal"/>).</summary>
public enum ProxyProtocolRefusal
{
    /// <summary>A PROXY header came from an address that is not in <see cref="ProxyProtocolOptions.TrustedProxies"/> (a spoofing attempt, or a balancer missing from the list).</summary>
    UntrustedSender = 1,

    /// <summary>A trusted proxy connected without a header while <see cref="ProxyProtocolOptions.Required"/> is set.</summary>
    HeaderMissing = 2,

    /// <summary>The header breaks the spec (a wrong version, command or family, a bad v1 field, a length over <see cref="ProxyProtocolOptions.MaxHeaderLength"/>).</summary>
    MalformedHeader = 3,

    /// <summary>The proxy closed the connection inside its header.</summary>
    TruncatedHeader = 4,
}
