using System.Globalization;
using System.Net;

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
        var what = requirePort ? "HOST:PORT" : "HOST or HOST:PORT";
        CliException Bad(string problem) =>
            new(ExitCode.Usage, $"'{text}' is not {what}: {problem} (for example 127.0.0.1:12345, example.com:12345 or [::1]:12345).");

        text = text.Trim();
        string host;
        string? port = null;
        if (text.StartsWith('['))
        {
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw Bad("the IPv6 address has no closing ']'");
            }

            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                if (rest[0] != ':')
                {
                    throw Bad("expected ':' after ']'");
                }

                port = rest[1..];
            }

            if (!IPAddress.TryParse(host, out var v6) || v6.AddressFamily != System.Net.Sockets.AddressFamily.InterNetworkV6)
            {
                throw Bad($"'{host}' is not an IPv6 address");
            }
        }
        else
        {
            var colons = text.Count(c => c == ':');
            if (colons > 1)
            {
                throw Bad("write an IPv6 address in brackets");
            }

            var colon = text.LastIndexOf(':');
            host = colon < 0 ? text : text[..colon];
            port = colon < 0 ? null : text[(colon + 1)..];
            if (host.Length == 0 || (Uri.CheckHostName(host) == UriHostNameType.Unknown && !(allowPortZero && host == "*")))
            {
                throw Bad(host.Length == 0 ? "the host is missing" : $"'{host}' is not a host name or address");
            }
        }

        int? portNumber = null;
        if (port is not null)
        {
            if (!int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var p) || p > 65535 || (p == 0 && !allowPortZero))
            {
                throw Bad($"the port '{port}' is not a number from {(allowPortZero ? 0 : 1)} to 65535");
            }

            portNumber = p;
        }
        else if (requirePort)
        {
            throw Bad("the port is missing");
        }

        return new HostPort(host, portNumber);
    }

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
    public override string ToString()
    {
        var host = Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]" : Host;
        return Port is { } p ? $"{host}:{p.ToString(CultureInfo.InvariantCulture)}" : host;
    }
}
