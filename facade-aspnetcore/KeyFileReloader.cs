using Microsoft.Extensions.Logging;

namespace HybridProtocol.AspNetCore;

/// <summary>
/// Reloads an endpoint's key files every <see cref="HybridProtocolServerSettings.KeyFileReloadInterval"/>: when the keys
/// in them differ from the ones in use, the options get a new <see cref="SecureServerOptions.ServerKeys"/> list (the old
/// one is never changed: handshakes under way keep the keys they started with), so new connections use the new keys.
/// A file that cannot be read (being written, missing, not a key) is logged and the keys in use are kept.
/// </summary>
internal sealed class KeyFileReloader : IDisposable
{
    private readonly HybridProtocolServerSettings settings;
    private readonly SecureServerOptions options;
    private readonly ILogger? logger;
    private readonly Timer timer;
    private int checking;

    public KeyFileReloader(HybridProtocolServerSettings settings, SecureServerOptions options, ILogger? logger)
    {
        this.settings = settings;
        this.options = options;
        this.logger = logger;
        timer = new Timer(_ => Check(), null, settings.KeyFileReloadInterval, settings.KeyFileReloadInterval);
    }

    private void Check()
    {
        if (Interlocked.Exchange(ref checking, 1) == 1)
        {
            return;
        }

        try
        {
            PrivateKey[] loaded;
            try
            {
                loaded = settings.LoadKeys();
            }
            catch (Exception e) when (e is IHybridProtocolError or IOException or UnauthorizedAccessException)
            {
                logger?.LogWarning("HybridProtocol: the server key files could not be reloaded; the keys in use are kept: {Reason}", e.Message);
                return;
            }

            if (loaded.Select(k => k.PublicKey).SequenceEqual(options.ServerKeys.Select(k => k.PublicKey)))
            {
                Array.ForEach(loaded, k => k.Dispose());
                return;
            }

            try
            {
                options.ServerKeys = loaded;
            }
            catch (Exception e) when (e is IHybridProtocolError or ArgumentException)
            {
                Array.ForEach(loaded, k => k.Dispose());
                logger?.LogWarning("HybridProtocol: the reloaded server key files were refused; the keys in use are kept: {Reason}", e.Message);
                return;
            }

            logger?.LogInformation("HybridProtocol: server keys reloaded; new connections use {Fingerprints}", string.Join(", ", loaded.Select(k => k.Fingerprint)));
        }
        finally
        {
            Volatile.Write(ref checking, 0);
        }
    }

    public void Dispose() => timer.Dispose();
}
