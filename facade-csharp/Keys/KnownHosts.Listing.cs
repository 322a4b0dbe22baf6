using HybridProtocol.Core.Formats;
using Microsoft.FSharp.Collections;
using Microsoft.FSharp.Core;

namespace HybridProtocol;

/// <summary>Reading the store: its trust lines, revoked keys and authorities, in file order.</summary>
public sealed partial class KnownHosts
{
    /// <summary>The entries in file order.</summary>
    /// <exception cref="HybridProtocolException">As <see cref="Load"/>.</exception>
    public IReadOnlyList<KnownHostEntry> List()
    {
        lock (_lock)
        {
            var entries = new List<KnownHostEntry>();
            var number = 0;
            foreach (var line in Read())
            {
                number++;
                if (line is KnownHostsLine.Entry { Item: var e })
                {
                    entries.Add(FromCore(e, number));
                }
            }

            return entries;
        }
    }

    /// <summary>
    /// The keys the file revokes (<c>@revoked</c> lines, specs/KEYS.md "Revoked keys"), in file order: refused for
    /// their host and port, or everywhere, even where another line trusts them.
    /// </summary>
    /// <exception cref="HybridProtocolException">As <see cref="Load"/>.</exception>
    public IReadOnlyList<RevokedHostKey> ListRevoked()
    {
        lock (_lock)
        {
            var revoked = new List<RevokedHostKey>();
            var number = 0;
            foreach (var line in Read())
            {
                number++;
                if (line is KnownHostsLine.Revoked { Item: var r })
                {
                    var (host, port) = r.Scope is RevokedScope.HostPort hp ? (hp.host, hp.port) : ((string?)null, 0);
                    revoked.Add(new RevokedHostKey(host, port, PublicKey.FromOwnedRaw(r.Key.publicKey), CommentOf(r.Comment), number));
                }
            }

            return revoked;
        }
    }

    /// <summary>
    /// The fleet authorities the file trusts (<c>@authority</c> lines, specs/KEYS.md "Endorsements"), in file order,
    /// each with the host patterns it may vouch for.
    /// </summary>
    /// <exception cref="HybridProtocolException">As <see cref="Load"/>.</exception>
    public IReadOnlyList<KnownHostAuthority> ListAuthorities()
    {
        lock (_lock)
        {
            var authorities = new List<KnownHostAuthority>();
            var number = 0;
            foreach (var line in Read())
            {
                number++;
                if (line is KnownHostsLine.Authority { Item: var a })
                {
                    authorities.Add(new KnownHostAuthority([.. a.Hosts.Select(HostPatternModule.print)], AuthorityKey.FromRawBytes(a.Key), CommentOf(a.Comment), number));
                }
            }

            return authorities;
        }
    }

    private static string? CommentOf(FSharpOption<string>? comment) => OptionModule.IsSome(comment) ? comment!.Value : null;

    /// <summary>The authorities the file's <c>@authority</c> lines trust (specs/KEYS.md, "Endorsements").</summary>
    internal FSharpList<TrustedAuthority> Authorities()
    {
        lock (_lock)
        {
            return KnownHostsFile.authorities(Read());
        }
    }
}
