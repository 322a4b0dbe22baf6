using HybridProtocol.Core;

namespace HybridProtocol.Crypto;

/// <summary>
/// Owns the AEAD keys made for one handshake or connection. The pure core makes keys through the suite's
/// KEY function but never disposes them (it cannot know who still holds an immutable value), so the
/// facade hands it a suite whose KEY records each key here, and disposes them all when the owner is done,
/// except the ones it explicitly hands on with <see cref="Release"/>.
/// </summary>
internal sealed class KeyScope : IDisposable
{
    private readonly List<IAeadKey> keys = [];
    private readonly Lock gate = new();

    public KeyScope(CryptoSuite inner)
    {
        var cipher = inner.Cipher;
        Suite = new CryptoSuite(
            inner.Dh,
            new CipherFunctions(
                cipher.Name,
                cipher.NONCELEN,
                cipher.TAGLEN,
                cipher.NonceEncoding,
                new AeadKeyFn(raw => Track(cipher.KEY.Invoke(raw))),
                cipher.ENCRYPT,
                cipher.DECRYPT),
            inner.Hash,
            inner.Kem);
    }

    /// <summary>The suite to give the core: identical to the inner one, but every key it makes is tracked.</summary>
    public CryptoSuite Suite { get; }

    /// <summary>Stops tracking a key that now belongs to someone else (for example a transport state).</summary>
    public void Release(IAeadKey key)
    {
        lock (gate)
        {
            keys.Remove(key);
        }
    }

    /// <summary>Disposes a key that is no longer used (for example the key retired by a rekey).</summary>
    public void Retire(IAeadKey key)
    {
        Release(key);
        key.Dispose();
    }

    /// <summary>Erases every tracked key except <paramref name="keep"/> (the keys a finished handshake hands to its transport).</summary>
    public void DisposeAllExcept(params ReadOnlySpan<IAeadKey> keep)
    {
        lock (gate)
        {
            var kept = new List<IAeadKey>();
            foreach (var key in keys)
            {
                if (keep.Contains(key))
                {
                    kept.Add(key);
                }
                else
                {
                    key.Dispose();
                }
            }

            keys.Clear();
            keys.AddRange(kept);
        }
    }

    /// <summary>Erases every key still tracked.</summary>
    public void Dispose()
    {
        lock (gate)
        {
            foreach (var key in keys)
            {
                key.Dispose();
            }

            keys.Clear();
        }
    }

    private IAeadKey Track(IAeadKey key)
    {
        lock (gate)
        {
            keys.Add(key);
        }

        return key;
    }
}
