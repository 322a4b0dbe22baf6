using Microsoft.Extensions.Logging;

namespace HybridProtocol.AspNetCore;

/// <summary>
/// Reloads an endpoint's key files and its endorsement file every <see cref="HybridProtocolServerSettings.KeyFileReloadInterval"/>:
/// when the keys in them differ from the ones in use, the options get a new <see cref="SecureServerOptions.ServerKeys"/>
/// list (the old one is never changed: handshakes under way keep the keys they started with), so new connections use
/// the new keys; when the endorsement differs, <see cref="SecureServerOptions.Endorsement"/> gets the new one. A file
/// that cannot be read (being written, missing, not a key), or an endorsement of another key than the current one (the
/// two files are being replaced one after the other), is logged and what is in use is kept until a later check.
/// Replaced keys are disposed (erased) once no handshake can still use them: after twice the handshake timeout, every
/// handshake that read them has ended (infinite timeout: they are left to the garbage collector).
/// </summary>
internal sealed class KeyFileReloader : IDisposable
{
    private readonly HybridProtocolServerSettings settings;
    private readonly SecureServerOptions options;
    private readonly ILogger? logger;
    private readonly TimeProvider clock;
    private readonly Timer timer;
    private readonly Queue<(PrivateKey[] Keys, DateTimeOffset Due)> retired = new(); // Check only (one at a time)
    private int checking;

    public KeyFileReloader(HybridProtocolServerSettings settings, SecureServerOptions options, ILogger? logger, TimeProvider? clock = null)
    {
        this.settings = settings;
        this.options = options;
        this.logger = logger;
        this.clock = clock ?? TimeProvider.System;
        timer = new Timer(_ => Check(), null, settings.KeyFileReloadInterval, settings.KeyFileReloadInterval);
    }

    /// <summary>How many replaced key lists wait to be disposed (tests).</summary>
    internal int RetiredCount => retired.Count;

    /// <summary>One check of the files (the timer's callback; tests call it directly).</summary>
    internal void Check()
    {
        if (Interlocked.Exchange(ref checking, 1) == 1)
        {
            return;
        }

        try
        {
            DisposeRetired();
            PrivateKey[] loaded;
            ServerEndorsement? endorsement;
            try
            {
                loaded = settings.LoadKeys();
            }
            catch (Exception e) when (e is IHybridProtocolError or IOException or UnauthorizedAccessException)
            {
                logger?.LogWarning("HybridProtocol: the server key files could not be reloaded; the keys in use are kept: {Reason}", e.Message);
                return;
            }

            try
            {
                endorsement = string.IsNullOrEmpty(settings.EndorsementFile) ? null : ServerEndorsement.Load(settings.EndorsementFile);
            }
            catch (Exception e) when (e is IHybridProtocolError or IOException or UnauthorizedAccessException)
            {
                Array.ForEach(loaded, k => k.Dispose());
                logger?.LogWarning("HybridProtocol: the endorsement file could not be reloaded; the keys and endorsement in use are kept: {Reason}", e.Message);
                return;
            }

            var sameKeys = loaded.Select(k => k.PublicKey).SequenceEqual(options.ServerKeys.Select(k => k.PublicKey));
            var sameEndorsement = endorsement?.ToBytes().AsSpan().SequenceEqual(options.Endorsement?.ToBytes() ?? []) ?? options.Endorsement is null;
            if (endorsement is not null && endorsement.ServerKey != loaded[0].PublicKey)
            {
                Array.ForEach(loaded, k => k.Dispose());
                logger?.LogWarning(
                    "HybridProtocol: the endorsement file endorses {Endorsed}, not the current key {Current}; the keys and endorsement in use are kept until both files agree.",
                    endorsement.ServerKey.Fingerprint,
                    loaded[0].Fingerprint);
                return;
            }

            if (sameKeys && sameEndorsement)
            {
                Array.ForEach(loaded, k => k.Dispose());
                return;
            }

            // Keys and endorsement are replaced in one assignment: a handshake starting meanwhile reads the old pair or
            // the new one, never a new key with the old endorsement.
            var replaced = options.ServerKeys;
            if (sameKeys)
            {
                Array.ForEach(loaded, k => k.Dispose());
            }

            try
            {
                options.Replace(sameKeys ? replaced : loaded, endorsement);
            }
            catch (Exception e) when (e is IHybridProtocolError or ArgumentException)
            {
                if (!sameKeys)
                {
                    Array.ForEach(loaded, k => k.Dispose());
                }

                logger?.LogWarning("HybridProtocol: the reloaded server key files were refused; the keys in use are kept: {Reason}", e.Message);
                return;
            }

            if (!sameKeys)
            {
                Retire(replaced);
                logger?.LogInformation("HybridProtocol: server keys reloaded; new connections use {Fingerprints}", string.Join(", ", loaded.Select(k => k.Fingerprint)));
            }

            if (!sameEndorsement)
            {
                logger?.LogInformation("HybridProtocol: endorsement reloaded; new connections send {Endorsement}", endorsement?.ToString() ?? "none");
            }
        }
        finally
        {
            Volatile.Write(ref checking, 0);
        }
    }

    /// <summary>Keeps the replaced keys until no handshake can use them (handshakes under way read the list before).</summary>
    private void Retire(IReadOnlyList<PrivateKey> replaced)
    {
        if (options.HandshakeTimeout != Timeout.InfiniteTimeSpan)
        {
            retired.Enqueue(([.. replaced], clock.GetUtcNow() + (2 * options.HandshakeTimeout)));
        }
    }

    private void DisposeRetired()
    {
        var now = clock.GetUtcNow();
        while (retired.TryPeek(out var next) && next.Due <= now)
        {
            Array.ForEach(retired.Dequeue().Keys, k => k.Dispose());
        }
    }

    public void Dispose() => timer.Dispose();
}
