using System.CommandLine;
using System.Security.Cryptography;
using System.Text;

namespace HybridProtocol.Cli;

/// <summary>
/// How a client command checks the server: <c>--server-key FILE</c> (pinned; repeated, a pinned set), <c>--pin FINGERPRINT</c>, or trust on
/// first use with the known-hosts file (the default), plus <c>--key</c> for a client identity.
/// </summary>
internal sealed class ClientTrust
{
    private readonly HostPort _target;
    private KnownHosts? _store;
    private PublicKey? _refusedPin;
    private string? _pin;

    private ClientTrust(HostPort target) => _target = target;

    /// <summary>How the server's key is checked.</summary>
    public ServerAuthentication Authentication { get; private set; } = null!;

    /// <summary>The options every client command takes.</summary>
    internal sealed class Options
    {
        public Option<string[]> ServerKey { get; } = new("--server-key")
        {
            Description = "The server's public key file: only that key is accepted (pinned; the strongest check). Repeat it to "
                + "pin a set, e.g. a server's current and next key during a rotation: the server then presents its key (NX, XX) "
                + "and it must be one of them (specs/PROTOCOL.md §6a).",
            HelpName = "FILE",
            AllowMultipleArgumentsPerToken = false,
        };

        public Option<string?> Pin { get; } = new("--pin")
        {
            Description = "Accept only a server key with this fingerprint (SHA256:..., as 'hybrid fingerprint' prints).",
            HelpName = "FINGERPRINT",
        };

        public Option<string?> Key { get; } = new("--key")
        {
            Description = "Your private key, proved to the server (for servers started with --allow-clients).",
            HelpName = "FILE",
        };

        public Option<string?> Authority { get; } = new("--authority")
        {
            Description = "Accept the server's key only with a valid endorsement from this authority (its public key file, from 'hybrid authority keygen').",
            HelpName = "FILE",
        };

        public Option<string?> KnownHostsFile { get; } = new("--known-hosts")
        {
            Description = "The known-hosts file for trust on first use (default: $HYBRID_KNOWN_HOSTS, else your config directory).",
            HelpName = "FILE",
        };

        public void AddTo(Command command)
        {
            command.Options.Add(ServerKey);
            command.Options.Add(Pin);
            command.Options.Add(Key);
            command.Options.Add(KnownHostsFile);
            command.Options.Add(Authority);
        }
    }

    /// <summary>Builds the client options from the command line; the caller disposes the returned identity.</summary>
    public static (ClientTrust Trust, PrivateKey? Identity) Create(ParseResult parse, Options options, HostPort target)
    {
        var serverKeys = parse.GetValue(options.ServerKey) ?? [];
        var pin = parse.GetValue(options.Pin);
        var authority = parse.GetValue(options.Authority);
        if (new[] { serverKeys.Length > 0, pin is not null, authority is not null }.Count(given => given) > 1)
        {
            throw new CliException(ExitCode.Usage, "Give only one of --server-key, --pin and --authority.");
        }

        var trust = new ClientTrust(target);
        if (authority is not null)
        {
            trust.Authentication = ServerAuthentication.Authority([AuthorityKey.Load(authority)]);
        }
        else if (serverKeys.Length > 0)
        {
            trust.Authentication = ServerAuthentication.Pinned([.. serverKeys.Select(Keys.LoadAnyPublic)]);
        }
        else if (pin is not null)
        {
            if (!pin.StartsWith("SHA256:", StringComparison.Ordinal) || pin.Length != 50)
            {
                throw new CliException(ExitCode.Usage, $"'{pin}' is not a fingerprint: expected SHA256: and 43 characters, as 'hybrid fingerprint FILE' prints.");
            }

            trust._pin = pin;
            trust.Authentication = ServerAuthentication.Callback(trust.CheckPin);
        }
        else
        {
            // The library's known-hosts mode: it records the keys a server announces (a rotation, specs/PROTOCOL.md
            // §6a) and refuses revoked and changed keys with their own codes.
            var store = KnownHosts.Load(KnownHostsCommands.PathOrDefault(parse.GetValue(options.KnownHostsFile)));
            trust._store = store;
            trust.Authentication = ServerAuthentication.KnownHosts(store);
        }

        var identityFile = parse.GetValue(options.Key);
        return (trust, identityFile is null ? null : Keys.LoadConnectionKey(identityFile));
    }

    private bool CheckPin(PublicKey key)
    {
        var matches = CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(key.Fingerprint), Encoding.ASCII.GetBytes(_pin!));
        if (!matches)
        {
            _refusedPin = key;
        }

        return matches;
    }

    /// <summary>The keys the known-hosts store records for the target now (none: this connect is a first contact).</summary>
    private HashSet<PublicKey> RecordedKeys()
    {
        var target = _target.ToString();
        return _store!.List().Where(e => new HostPort(e.Host, e.Port).ToString() == target).Select(e => e.Key).ToHashSet();
    }

    private static string FileArgument(KnownHosts store) => store.Path == KnownHostsCommands.DefaultPath() ? "" : $" --file {store.Path}";

    /// <summary>Connects with these checks; a refused key becomes the error that says why (changed key, wrong pin).</summary>
    public async Task<SecureConnection> ConnectAsync(SecureClientOptions options, CancellationToken cancellationToken)
    {
        options.ServerAuthentication = Authentication;
        HashSet<PublicKey> recorded = _store is null ? [] : RecordedKeys();
        SecureConnection connection;
        try
        {
            connection = await SecureConnection.ConnectAsync(_target.Host, _target.Port!.Value, options, cancellationToken).ConfigureAwait(false);
        }
        catch (HybridAuthenticationException e) when (e.Code == HybridErrorCode.ServerKeyChanged && _store is { } store)
        {
            throw new CliException(
                ExitCode.Authentication,
                $"{e.Message} With this tool: hybrid known-hosts remove {_target}{FileArgument(store)}",
                e);
        }
        catch (HybridAuthenticationException e) when (e.Code == HybridErrorCode.KeyRevoked && _store is { } store)
        {
            throw new CliException(
                ExitCode.Authentication,
                $"{e.Message} With this tool, 'hybrid known-hosts list{FileArgument(store)}' shows the trusted keys; the server's operator must serve its current key (hybrid serve --key CURRENT.key).",
                e);
        }
        catch (HybridAuthenticationException e) when (e.Code == HybridErrorCode.AuthenticationFailed && _refusedPin is { } presented)
        {
            throw new CliException(
                ExitCode.Authentication,
                $"The server {_target} presented the key {presented.Fingerprint}, not the pinned {_pin}; the connection was refused. Check the fingerprint with the server's owner.",
                e);
        }
        catch (HybridAuthenticationException e) when (e.Code is >= HybridErrorCode.EndorsementMissing and <= HybridErrorCode.EndorsementWrongHost)
        {
            throw new CliException(
                ExitCode.Authentication,
                $"{e.Message} With this tool, the authority's holder endorses a server key with 'hybrid authority sign' and the server sends it with 'hybrid serve --endorsement FILE'.",
                e);
        }
        catch (HybridProtocolException e) when (NetCommands.IsBusyRefusal(e))
        {
            throw new CliException(
                ExitCode.Refused,
                $"The server {_target} is busy: it serves as many clients as it takes at once (--max-clients); nothing was sent. Try again later.",
                e);
        }
        catch (HybridProtocolException e) when (e.Code == HybridErrorCode.PeerRefused && e.Message.Contains("application protocols differ", StringComparison.Ordinal))
        {
            throw new CliException(
                ExitCode.Refused,
                $"The server {_target} runs another service: use 'hybrid connect' with 'hybrid serve', and 'hybrid send' with 'hybrid receive'. ({e.Message})",
                e);
        }

        catch (HybridProtocolException e) when (e.Code == HybridErrorCode.PeerRefused && Authentication is not null && e.Message.Contains("prove a key", StringComparison.Ordinal))
        {
            throw new CliException(
                ExitCode.Refused,
                $"The server {_target} accepts only clients that prove an allowed key: pass --key YOUR.key, and ask its operator to allow your public key (hybrid pubkey YOUR.key).",
                e);
        }

        if (_store is not null && recorded.Count == 0 && connection.RemotePublicKey is { } serverKey)
        {
            Console.Error.WriteLine(
                $"hybrid: first contact with {_target}: trusting its key {serverKey.Fingerprint} and recording it in {_store!.Path}. "
                + "Later connections will refuse a different key. Compare the fingerprint with the server's ('hybrid fingerprint KEY' there).");
        }

        var added = connection.AnnouncedServerKeys.Where(k => !recorded.Contains(k)).ToArray();
        if (_store is not null && added.Length > 0)
        {
            Console.Error.WriteLine(
                $"hybrid: {_target} announced {(added.Length == 1 ? "another key" : "other keys")} "
                + $"{string.Join(", ", added.Select(k => k.Fingerprint))} with a proof of possession; "
                + $"recorded as trusted for it in {_store.Path} (a key rotation).");
        }

        return connection;
    }
}
