using System.Runtime.InteropServices;
using System.Security.Cryptography;
using HybridProtocol.Core;
using HybridProtocol.Core.Hpke;
using Microsoft.FSharp.Core;
using Rfc7748 = Org.BouncyCastle.Math.EC.Rfc7748;

namespace HybridProtocol.Crypto;

/// <summary>
/// The X448 group for DHKEM(X448, HKDF-SHA512) (RFC 9180 §7.1) from BouncyCastle's RFC 7748 X448: Ndh = Npk = Nsk = 56,
/// DeriveKeyPair in the X25519/X448 form (no order: the expanded bytes are the key). The scalar lives in native memory
/// and is erased on dispose; DH refuses the all-zero output (RFC 9180 §7.1.4, RFC 7748 §6.2).
/// </summary>
internal static class BouncyCastleX448
{
    private const int Size = 56;

    /// <summary>The group record for <see cref="Dhkem.create"/>.</summary>
    public static DhGroup Group { get; } = new(
        "X448",
        Size,
        Size,
        Size,
        FSharpValueOption<byte[]>.None,
        0xFF,
        new ImportScalarFn((sk, publicKey) =>
        {
            if (sk.Length != Size || publicKey.Length != Size)
            {
                return FSharpValueOption<IDhPrivateKey>.None;
            }

            var key = new X448PrivateKey(sk);
            Rfc7748.X448.ScalarMultBase(sk, publicKey);
            return FSharpValueOption<IDhPrivateKey>.Some(key);
        }),
        new ValidatePublicFn(publicKey => publicKey.Length == Size),
        new DhFn((privateKey, publicKey, output) =>
            privateKey is X448PrivateKey key && publicKey.Length == Size && output.Length == Size
            && key.Agree(publicKey, output)));

    /// <summary>An X448 scalar in native memory, erased when disposed.</summary>
    private sealed unsafe class X448PrivateKey : IDhPrivateKey
    {
        private byte* _pointer;

        public X448PrivateKey(ReadOnlySpan<byte> scalar)
        {
            _pointer = (byte*)NativeMemory.AllocZeroed(Size);
            scalar.CopyTo(new Span<byte>(_pointer, Size));
        }

        ~X448PrivateKey() => Free();

        /// <summary>RFC 7748 §5 X448(k, u); false when the result is all zero (§6.2's check).</summary>
        public bool Agree(ReadOnlySpan<byte> u, Span<byte> output)
        {
            ObjectDisposedException.ThrowIf(_pointer == null, this);
            var ok = Rfc7748.X448.CalculateAgreement(new ReadOnlySpan<byte>(_pointer, Size), u, output);
            GC.KeepAlive(this);
            if (!ok)
            {
                output.Clear();
            }

            return ok;
        }

        public void Dispose()
        {
            Free();
            GC.SuppressFinalize(this);
        }

        private void Free()
        {
            var p = _pointer;
            if (p != null)
            {
                _pointer = null;
                CryptographicOperations.ZeroMemory(new Span<byte>(p, Size));
                NativeMemory.Free(p);
            }
        }
    }
}
