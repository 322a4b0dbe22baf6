using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace HybridProtocol.Bench;

/// <summary>
/// SslStream with TLS 1.3 only, a self-signed ECDSA P-256 certificate made in-process, server authentication
/// (the client pins the certificate's thumbprint), and TLS resumption off on both ends so every handshake is full.
/// Every connection checks that TLS 1.3 was negotiated.
/// </summary>
public sealed class TlsTransport : LoopbackTransport
{
    private const string HostName = "bench.localhost";
    private readonly X509Certificate2 certificate;
    private readonly SslStreamCertificateContext certificateContext;
    private readonly byte[] pinnedThumbprint;
    private string? negotiated;

    public TlsTransport()
    {
        certificate = CreateCertificate();
        certificateContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
        pinnedThumbprint = certificate.GetCertHash(HashAlgorithmName.SHA256);
    }

    /// <summary>The host name the certificate names (the client's TargetHost).</summary>
    public const string CertificateHost = HostName;

    public override string Name => "SslStream";

    /// <summary>A self-signed ECDSA P-256 server certificate for <see cref="CertificateHost"/>, as every TLS row uses.</summary>
    public static X509Certificate2 CreateCertificate()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest($"CN={HostName}", key, HashAlgorithmName.SHA256);
        var san = new SubjectAlternativeNameBuilder();
        san.AddDnsName(HostName);
        request.CertificateExtensions.Add(san.Build());
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], critical: false));
        using var ephemeral = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        // Round-trip through PKCS#12 so the private key is a persisted one every platform's TLS stack accepts.
        return X509CertificateLoader.LoadPkcs12(ephemeral.Export(X509ContentType.Pkcs12), password: null);
    }

    protected override void DisposeResources() => certificate.Dispose();

    public override string? Negotiated => negotiated;

    protected override async Task<ConnectedPair> SecureAsync(Socket client, Socket server, CancellationToken cancellationToken)
    {
        var clientStream = new SslStream(Open(client, client: true), leaveInnerStreamOpen: false);
        var serverStream = new SslStream(Open(server, client: false), leaveInnerStreamOpen: false);
        try
        {
            var clientOptions = new SslClientAuthenticationOptions
            {
                TargetHost = HostName,
                EnabledSslProtocols = SslProtocols.Tls13,
                AllowTlsResume = false,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                RemoteCertificateValidationCallback = (_, presented, _, _) =>
                    presented is not null && presented.GetCertHash(HashAlgorithmName.SHA256).AsSpan().SequenceEqual(pinnedThumbprint),
            };
            var serverOptions = new SslServerAuthenticationOptions
            {
                ServerCertificateContext = certificateContext,
                EnabledSslProtocols = SslProtocols.Tls13,
                AllowTlsResume = false,
                ClientCertificateRequired = false,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            };
            await Task.WhenAll(
                clientStream.AuthenticateAsClientAsync(clientOptions, cancellationToken),
                serverStream.AuthenticateAsServerAsync(serverOptions, cancellationToken)).ConfigureAwait(false);
            if (clientStream.SslProtocol != SslProtocols.Tls13 || serverStream.SslProtocol != SslProtocols.Tls13)
            {
                throw new InvalidOperationException($"Expected TLS 1.3, negotiated {clientStream.SslProtocol}/{serverStream.SslProtocol}.");
            }

            negotiated ??= $"TLS 1.3, {clientStream.NegotiatedCipherSuite}";
            return new ConnectedPair(clientStream, serverStream);
        }
        catch
        {
            await clientStream.DisposeAsync().ConfigureAwait(false);
            await serverStream.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }
}
