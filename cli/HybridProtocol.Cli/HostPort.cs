using System.Net;
using HybridProtocol.Core.Formats;
using Microsoft.FSharp.Core;

namespace HybridProtocol.Cli;

/// <summary>A <c>HOST:PORT</c> argument (<c>[IPv6]:PORT</c> for IPv6); the port is optional where a command allows it.</summary>
internal readonly record struct HostPort(string Host, int? Port)
{
    /// <summary>
    /// Parses <c>HOST:PORT</c>, or <c>HOST</c> when <paramref name="requirePort"/> is false; port 0 only when
    /// <paramref name="allowPortZero"/> (listen on a free port). A usage error otherwise.
    /// </summary>
    public static HostPort Parse(string text, bool requirePort = true, bool allowPortZero = false)
    {
        var rule = allowPortZero ? HostPortRule.Listen : requirePort ? HostPortRule.PortRequired : HostPortRule.PortOptional;
        var parsed = HostPortModule.parse(rule, text);
        if (parsed.IsError)
        {
            var what = requirePort ? "HOST:PORT" : "HOST or HOST:PORT";
            throw new CliException(
                ExitCode.Usage,
                $"'{text.Trim()}' is not {what}: {Describe(parsed.ErrorValue, allowPortZero)} (for example 127.0.0.1:12345, example.com:12345 or [::1]:12345).");
        }

        var value = parsed.ResultValue;
        return new HostPort(value.Host, OptionModule.IsSome(value.Port) ? value.Port!.Value : null);
    }

    private static string Describe(HostPortError error, bool allowPortZero) => error switch
    {
        HostPortError.HostTooLong => $"the host is longer than {HostPortModule.MaxHostLength} characters",
        HostPortError.HostCharacter { character: var c } => c is < ' ' or > '~'
            ? $"the character U+{(int)c:X4} is not allowed in a host"
            : $"the character '{c}' is not allowed in a host (one host name or address)",
        HostPortError.NotIPv6 { host: var h } => $"'{h}' is not an IPv6 address",
        HostPortError.PortNotNumber { text: var p } => $"the port '{p}' is not a number from {(allowPortZero ? 0 : 1)} to 65535",
        HostPortError.PortOutOfRange { port: var p } => $"the port '{p}' is not a number from {(allowPortZero ? 0 : 1)} to 65535",
        _ when error.IsUnclosedBracket => "the IPv6 address has no closing ']'",
        _ when error.IsExpectedColonAfterBracket => "expected ':' after ']'",
        _ when error.IsIPv6WithoutBrackets => "write an IPv6 address in brackets",
        _ when error.IsPortMissing => "the port is missing",
        _ => "the host is missing",
    };

    /// <summary>The address to listen on: an IP address, <c>localhost</c> (loopback) or <c>*</c> (every address); a usage error otherwise.</summary>
    public IPEndPoint ToListenEndPoint()
    {
        var address = Host switch
        {
            "*" => IPAddress.Any,
            "localhost" => IPAddress.Loopback,
            _ when IPAddress.TryParse(Host, out var a) => a,
            _ => throw new CliException(
                ExitCode.Usage,
                $"'{Host}' is not an address to listen on: give an IP address of this machine (127.0.0.1, 0.0.0.0, [::]), localhost, or *."),
        };
        return new IPEndPoint(address, Port ?? 0);
    }

    /// <summary>The form used in messages and known-hosts files: <c>host:port</c> or <c>[v6]:port</c>.</summary>
    public override string ToString() =>
        Port is { } p ? HostPortModule.format(Host, p) : Host;
}
