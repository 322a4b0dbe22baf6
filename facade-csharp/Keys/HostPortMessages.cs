using System.Globalization;
using HybridProtocol.Core.Formats;

namespace HybridProtocol;

/// <summary>
/// The message texts for the core's HOST:PORT and known-hosts line errors (<c>core-fsharp/Formats/HostPort</c>,
/// <c>KnownHostsLine</c>): clauses that <see cref="KnownHosts"/> and <see cref="SecureConnection"/> put into their
/// InvalidArgument and InvalidKey messages.
/// </summary>
internal static class HostPortMessages
{
    /// <summary>The message for a port argument outside 1..65535.</summary>
    internal static string PortMessage(int port) => $"Port {port} is not between 1 and 65535.";

    /// <summary>What is wrong with a host or <c>HOST:PORT</c> text, as a clause.</summary>
    internal static string Describe(HostPortError error) => error switch
    {
        HostPortError.HostTooLong => $"the host is longer than {HostPortModule.MaxHostLength} characters",
        HostPortError.HostCharacter { character: var c } =>
            $"the character '{(c < ' ' || c == 0x7f ? "\\x" + ((int)c).ToString("x2", CultureInfo.InvariantCulture) : c.ToString())}' is not allowed (one ASCII host name or IP address, no patterns)",
        HostPortError.NotIPv6 { host: var h } => $"'{h}' has a ':' but is not an IPv6 address",
        HostPortError.PortNotNumber { text: var t } => $"the port '{t}' is not a number between 1 and 65535",
        HostPortError.PortOutOfRange { port: var p } => $"the port '{p}' is not a number between 1 and 65535",
        _ when error.IsUnclosedBracket => "the IPv6 address has no closing ']'",
        _ when error.IsExpectedColonAfterBracket => "expected ':' after ']'",
        _ when error.IsIPv6WithoutBrackets => "an IPv6 address with a port is written in brackets, [IPV6]:PORT",
        _ when error.IsPortMissing => "the port is missing (write HOST:PORT, or [IPV6]:PORT)",
        _ => "the host is empty",
    };

    internal static string Describe(KnownHostsLineError error) => error switch
    {
        KnownHostsLineError.MissingFields { found: var n } => $"expected three fields (host:port, key type, key), found {n}",
        KnownHostsLineError.UnknownMarker { marker: var m } => $"the marker '{m}' is not supported (this version defines no markers)",
        KnownHostsLineError.BadHostPort { text: var t, error: var e } => $"'{t}': {Describe(e)}",
        KnownHostsLineError.UnknownKeyType { keyType: var t } => $"the key type is '{t}', but only '{KnownHostsLineModule.X25519Type}' keys are used by HybridProtocol",
        KnownHostsLineError.BadKey { text: var t } => $"the key '{t}' is not the base64 of {KeyPem.KeyLength} bytes",
        _ when error.IsHashedHost => "hashed host names are not supported",
        _ => "a comment holds a line break",
    };
}
