using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace HybridProtocol.AspNetCore;

/// <summary>
/// Server settings bindable from configuration (appsettings.json, environment, command line), for
/// <see cref="HybridProtocolListenOptionsExtensions.UseHybridProtocol(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions)"/>:
/// <code>
/// "HybridProtocol": { "KeyFile": "server.key", "HandshakeTimeout": "00:00:05", "IdleTimeout": "00:05:00", "MaxConcurrentHandshakes": 256,
///                     "TrustedProxies": [ "10.0.0.0/8" ] }
/// </code>
/// </summary>
public sealed class HybridProtocolServerSettings
{
    /// <summary>
    /// The server's private key file (PEM, as <c>hybrid keygen</c> writes it): the current key. Required, unless
    /// <see cref="KeyFiles"/> names the keys.
    /// </summary>
    public string? KeyFile { get; set; }

    /// <summary>
    /// More server key files, after <see cref="KeyFile"/> (or alone, the first being the current key): a rotation's
    /// next or retiring keys, announced to clients (<see cref="SecureServerOptions.ServerKeys"/>, specs/PROTOCOL.md §6a).
    /// 1 to 4 keys in all.
    /// </summary>
    public IList<string> KeyFiles { get; } = [];

    /// <summary>
    /// How often an endpoint made by <see cref="HybridProtocolListenOptionsExtensions.UseHybridProtocol(Microsoft.AspNetCore.Server.Kestrel.Core.ListenOptions)"/>
    /// reloads its key files and <see cref="EndorsementFile"/>: when the keys in them changed (a key file replaced on
    /// disk, as Kestrel reloads certificates), new connections use the new keys, and the replaced keys are erased once
    /// no handshake can use them (twice <see cref="HandshakeTimeout"/> later); when the endorsement changed (renewed),
    /// new connections send the new one. A file that cannot be read, or an endorsement of another key than the current
    /// one (files replaced one after the other), is logged and what is in use is kept until a later check. Default 5 s;
    /// <see cref="Timeout.InfiniteTimeSpan"/>: never.
    /// </summary>
    public TimeSpan KeyFileReloadInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The key files in order: <see cref="KeyFile"/>, then <see cref="KeyFiles"/>.</summary>
    internal string[] AllKeyFiles() => [.. string.IsNullOrEmpty(KeyFile) ? Array.Empty<string>() : [KeyFile], .. KeyFiles];

    /// <summary>Loads every key file (all or none: the keys loaded before a failure are erased).</summary>
    internal PrivateKey[] LoadKeys()
    {
        var keys = new List<PrivateKey>();
        try
        {
            foreach (var file in AllKeyFiles())
            {
                keys.Add(PrivateKey.Load(file));
            }
        }
        catch
        {
            keys.ForEach(k => k.Dispose());
            throw;
        }

        return [.. keys];
    }

    /// <summary>
    /// A fleet authority's endorsement of the key (PEM, as <c>hybrid authority sign</c> writes it), sent to clients that
    /// trust the authority (<see cref="SecureServerOptions.Endorsement"/>); null (the default): none. Reloaded as the key
    /// files are (<see cref="KeyFileReloadInterval"/>), so a renewed endorsement is sent without a restart.
    /// </summary>
    public string? EndorsementFile { get; set; }

    /// <summary>Public key files of the clients allowed to connect; empty (the default): clients stay anonymous.</summary>
    public IList<string> AllowedClientKeyFiles { get; } = [];

    /// <summary>How long one handshake may take (<see cref="SecureConnectionOptions.HandshakeTimeout"/>); default 10 s.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How long a connection may stay silent before it closes itself (<see cref="SecureConnectionOptions.IdleTimeout"/>); default never.</summary>
    public TimeSpan IdleTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>How long a graceful close may take (<see cref="SecureConnectionOptions.CloseTimeout"/>); default 10 s.</summary>
    public TimeSpan CloseTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The most handshakes at once on an endpoint (<see cref="HybridProtocolConnectionOptions.MaxConcurrentHandshakes"/>); default 256.</summary>
    public int MaxConcurrentHandshakes { get; set; } = 256;

    /// <summary>The largest message accepted (<see cref="SecureConnectionOptions.MaxMessageSize"/>); default 16 MiB.</summary>
    public int MaxMessageSize { get; set; } = SecureConnectionOptions.DefaultMaxMessageSize;

    /// <summary>The application protocol clients must name (<see cref="SecureConnectionOptions.ApplicationProtocol"/>); default <c>hybrid</c>.</summary>
    public string ApplicationProtocol { get; set; } = "hybrid";

    /// <summary>Post-quantum hybrid key agreement (<see cref="SecureConnectionOptions.PostQuantum"/>): <c>Hybrid</c> (the
    /// default: X25519 + ML-KEM-768 offered, classical clients still served), <c>Required</c> (classical clients refused
    /// with PostQuantumRequired) or <c>Classical</c>.</summary>
    public PostQuantumMode PostQuantum { get; set; } = PostQuantumMode.Hybrid;

    /// <summary>
    /// Behind TCP load balancers: the balancers' addresses or networks (<c>"10.0.0.0/8"</c>; an address alone is one
    /// host) whose PROXY protocol header is read before the preamble (<see cref="HybridProtocolConnectionOptions.ProxyProtocol"/>,
    /// docs/LOAD-BALANCERS.md); empty (the default): no header is expected.
    /// </summary>
    public IList<string> TrustedProxies { get; } = [];

    /// <summary>With <see cref="TrustedProxies"/>: whether their connections must start with a PROXY header (<see cref="ProxyProtocolOptions.Required"/>); default true.</summary>
    public bool ProxyProtocolRequired { get; set; } = true;

    /// <summary>Loads the keys and makes the endpoint's options; each value is checked as the options' setters check it.</summary>
    /// <exception cref="HybridArgumentException">InvalidArgument for a missing key file or a bad value; InvalidKey for an unreadable key.</exception>
    public HybridProtocolConnectionOptions CreateConnectionOptions()
    {
        if (AllKeyFiles().Length == 0)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, "HybridProtocol:KeyFile is not set: name the server's private key file (make one with 'hybrid keygen -o server.key'), or its key files in HybridProtocol:KeyFiles.");
        }

        if (KeyFileReloadInterval <= TimeSpan.Zero && KeyFileReloadInterval != Timeout.InfiniteTimeSpan)
        {
            throw new HybridArgumentException(HybridErrorCode.InvalidArgument, $"HybridProtocol:KeyFileReloadInterval must be positive or infinite, not {KeyFileReloadInterval}.");
        }

        var proxy = TrustedProxies.Count == 0 ? null : new ProxyProtocolOptions
        {
            TrustedProxies = [.. TrustedProxies.Select(t => ProxyProtocolOptions.ParseNetwork(t, "HybridProtocol:TrustedProxies"))],
            Required = ProxyProtocolRequired,
        };
        var server = new SecureServerOptions
        {
            HandshakeTimeout = HandshakeTimeout,
            IdleTimeout = IdleTimeout,
            CloseTimeout = CloseTimeout,
            MaxMessageSize = MaxMessageSize,
            ApplicationProtocol = ApplicationProtocol,
            PostQuantum = PostQuantum,
        };
        var keys = LoadKeys();
        try
        {
            server.ServerKeys = keys;
        }
        catch
        {
            Array.ForEach(keys, k => k.Dispose());
            throw;
        }

        if (!string.IsNullOrEmpty(EndorsementFile))
        {
            server.Endorsement = ServerEndorsement.Load(EndorsementFile);
        }

        if (AllowedClientKeyFiles.Count > 0)
        {
            server.ClientAuthentication = ClientAuthentication.AllowList(AllowedClientKeyFiles.Select(PublicKey.Load));
        }

        return new HybridProtocolConnectionOptions { ServerOptions = server, MaxConcurrentHandshakes = MaxConcurrentHandshakes, ProxyProtocol = proxy };
    }
}

/// <summary>Registers HybridProtocol's settings with the generic host.</summary>
public static class HybridProtocolServiceCollectionExtensions
{
    /// <summary>
    /// Binds <see cref="HybridProtocolServerSettings"/> to <paramref name="configuration"/> (for example the
    /// <c>HybridProtocol</c> section), through the configuration binder's source generator (trim and AOT safe). The
    /// settings are validated when the host starts (<c>ValidateOnStart</c>): a missing or unreadable key file or a bad
    /// value stops the start with an <see cref="OptionsValidationException"/> naming it, before any connection.
    /// </summary>
    public static IServiceCollection AddHybridProtocol(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.AddOptions<HybridProtocolServerSettings>().Bind(configuration).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<HybridProtocolServerSettings>, HybridProtocolServerSettingsValidator>());
        return services;
    }

    /// <summary>Registers <see cref="HybridProtocolServerSettings"/> configured in code.</summary>
    public static IServiceCollection AddHybridProtocol(this IServiceCollection services, Action<HybridProtocolServerSettings> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        services.AddOptions<HybridProtocolServerSettings>().Configure(configure).ValidateOnStart();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<HybridProtocolServerSettings>, HybridProtocolServerSettingsValidator>());
        return services;
    }
}

/// <summary>Checks bound settings as <see cref="HybridProtocolServerSettings.CreateConnectionOptions"/> will: the key file
/// loads (then the key is erased again) and every value is one the options accept.</summary>
internal sealed class HybridProtocolServerSettingsValidator : IValidateOptions<HybridProtocolServerSettings>
{
    public ValidateOptionsResult Validate(string? name, HybridProtocolServerSettings options)
    {
        try
        {
            foreach (var key in options.CreateConnectionOptions().ServerOptions?.ServerKeys ?? [])
            {
                key.Dispose();
            }

            return ValidateOptionsResult.Success;
        }
        catch (Exception e) when (e is IHybridProtocolError)
        {
            return ValidateOptionsResult.Fail(e.Message);
        }
    }
}
