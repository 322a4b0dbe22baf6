using System.CommandLine;
using System.Globalization;

namespace HybridProtocol.Cli;

/// <summary>What the network commands share: the listener's options (keys, address, allow-list, PROXY protocol) and how a connection is reported.</summary>
internal static partial class NetCommands
{
    /// <summary>The --proxy-protocol-from option of serve: the load balancers whose PROXY protocol header is read.</summary>
    internal static Option<string[]> ProxyProtocolFromOption() => new("--proxy-protocol-from")
    {
        Description = "Behind TCP load balancers: connections from CIDR (repeatable; an address alone is one host) must start with a PROXY protocol "
            + "header (v1 or v2, e.g. HAProxy's send-proxy-v2), whose client address is then the one served and logged; a header from any other address is refused.",
        HelpName = "CIDR",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>The listener's PROXY protocol options for --proxy-protocol-from, or null when it is not given.</summary>
    internal static ProxyProtocolOptions? ProxyProtocol(ParseResult parse, Option<string[]> option)
    {
        var values = parse.GetValue(option) ?? [];
        if (values.Length == 0)
        {
            return null;
        }

        var networks = new List<System.Net.IPNetwork>();
        foreach (var value in values)
        {
            var text = value.Contains('/', StringComparison.Ordinal) ? value
                : System.Net.IPAddress.TryParse(value, out var address) ? $"{value}/{(address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128)}"
                : value;
            if (!System.Net.IPNetwork.TryParse(text, out var network))
            {
                throw new CliException(ExitCode.Usage, $"'{value}' is not an address or network for --proxy-protocol-from: expected CIDR such as 10.0.0.0/8, 192.0.2.7 or fd00::/8.");
            }

            networks.Add(network);
        }

        return new ProxyProtocolOptions { TrustedProxies = networks };
    }

    /// <summary>The --classical option of serve, connect, send and receive: X25519 alone instead of the hybrid default.</summary>
    internal static Option<bool> ClassicalOption() => new("--classical")
    {
        Description = "Use X25519 alone, without the post-quantum ML-KEM-768 key agreement that is on by default (Noise HFS). "
            + "A client never falls back to classical on its own; a server with --classical accepts only classical clients.",
    };

    /// <summary>The connection's post-quantum mode for the --classical option: hybrid unless it is given.</summary>
    internal static PostQuantumMode PostQuantum(ParseResult parse, Option<bool> classical) =>
        parse.GetValue(classical) ? PostQuantumMode.Classical : PostQuantumMode.Hybrid;

    /// <summary>With --verbose, prints the Noise protocol name the connection runs (hybrid names contain "hfs" and "+MLKEM768").</summary>
    internal static void ReportProtocol(ParseResult parse, SecureConnection connection)
    {
        if (parse.GetValue(App.Verbose))
        {
            Console.Error.WriteLine($"hybrid: protocol {connection.ProtocolName}");
        }
    }

    /// <summary>The largest number of --key options of serve (the library's bound on a server's key set).</summary>
    internal const int MaxServerKeys = 4;

    /// <summary>The keys serve holds, disposed together when it ends.</summary>
    private sealed class KeyList : List<PrivateKey>, IDisposable
    {
        public void Dispose()
        {
            foreach (var key in this)
            {
                key.Dispose();
            }
        }
    }

    /// <summary>The repeatable --key option of serve: the current key, then the keys it announces (a rotation).</summary>
    internal static Option<string[]> ServerKeysOption() => new("--key")
    {
        Description = "The server's private key (clients pin or record its public key). Repeat it during a rotation (up to 4): "
            + "the first is the current key, and each connection announces the others with a proof of possession, so "
            + "known-hosts clients record them before the switch (specs/PROTOCOL.md §6a).",
        Required = true,
        HelpName = "KEY",
        AllowMultipleArgumentsPerToken = false,
    };

    /// <summary>The --key option of the server commands.</summary>
    internal static Option<string> KeyOption() => new("--key")
    {
        Description = "The server's private key (clients pin or record its public key).",
        Required = true,
        HelpName = "KEY",
    };

    /// <summary>The --listen option of the server commands.</summary>
    internal static Option<string> ListenOption() => new("--listen")
    {
        Description = "The address and port to listen on: 127.0.0.1:12345, 0.0.0.0:12345, [::]:12345; port 0 picks a free port.",
        Required = true,
        HelpName = "ADDR:PORT",
    };

    /// <summary>The --allow-clients option of the server commands.</summary>
    internal static Option<string?> AllowClientsOption() => new("--allow-clients")
    {
        Description = "Accept only clients proving one of the public keys in FILE (PEM blocks, e.g. 'cat alice.pub bob.pub > FILE').",
        HelpName = "FILE",
    };

    /// <summary>Server options with the key and, if given, the allowed client keys.</summary>
    internal static SecureServerOptions ServerOptions(PrivateKey serverKey, string? allowClientsFile)
    {
        var options = new SecureServerOptions { ServerKey = serverKey };
        if (allowClientsFile is not null)
        {
            options.ClientAuthentication = ClientAuthentication.AllowList(LoadAllowList(allowClientsFile));
        }

        return options;
    }

    /// <summary>Binds and starts a listener, printing the address (with the real port) and key fingerprint on stderr.</summary>
    internal static SecureListener StartListener(string listen, SecureServerOptions options, string mode, ProxyProtocolOptions? proxy = null)
    {
        var endPoint = HostPort.Parse(listen, allowPortZero: true).ToListenEndPoint();
        var listener = new SecureListener(endPoint, options) { ProxyProtocol = proxy };
        // A flood of dropped sockets (slow, silent or refused clients) is summarized: the first lines of every 10 s,
        // then one line with how many more, by kind.
        var failed = new LogSummary("a client failed to connect", "clients failed to connect");
        var busy = new LogSummary("a client was told the server is busy (--max-clients)", "clients were told the server is busy (--max-clients)");
        listener.HandshakeFailed += (_, e) =>
        {
            if (IsBusyRefusal(e.Exception))
            {
                busy.Record();
                return;
            }

            var kind = e.Exception is IHybridProtocolError h ? h.Code.ToString() : e.Exception.GetType().Name;
            failed.Record($"a client from {e.RemoteEndPoint?.ToString() ?? "an unknown address"} failed to connect: {Printable.Escape(e.Exception.Message)}", kind);
        };
        listener.Start();

        var clients = options.ClientAuthentication.IsRequired ? "allowed clients only" : "any client";
        var others = options.ServerKeys.Count > 1
            ? $"; announcing {string.Join(", ", options.ServerKeys.Skip(1).Select(k => k.Fingerprint))}"
            : "";
        Console.Error.WriteLine($"hybrid: listening on {listener.LocalEndPoint} ({mode}, {clients}); server key {options.ServerKey!.Fingerprint}{others}");
        return listener;
    }

    /// <summary>The client keys in an allow-list file: one or more PEM public keys.</summary>
    internal static List<PublicKey> LoadAllowList(string path)
    {
        Keys.RequireKeyFile(path, "allowed clients");
        const string End = "-----END PUBLIC KEY-----";
        var text = File.ReadAllText(path);
        var keys = new List<PublicKey>();
        var start = 0;
        while (true)
        {
            var end = text.IndexOf(End, start, StringComparison.Ordinal);
            if (end < 0)
            {
                break;
            }

            keys.Add(PublicKey.FromPem(text[start..(end + End.Length)]));
            start = end + End.Length;
        }

        if (keys.Count == 0)
        {
            throw new CliException(ExitCode.KeyOrFile, $"'{path}' holds no public key; put the clients' public keys in it (hybrid pubkey client.key >> {path}).");
        }

        return keys;
    }
}
