using System.Net;
using System.Net.Sockets;

namespace HybridProtocol;

/// <summary>The TCP side of a connection: connecting with a timeout, socket options, and the addresses.</summary>
public sealed partial class SecureConnection
{
    /// <summary>
    /// The peer's address, when the connection runs over a TCP socket (<see cref="ConnectAsync"/>, a
    /// <see cref="SecureListener"/>, or a <see cref="NetworkStream"/>); null over other streams. A client that reached
    /// a dual-stack listener over IPv4 appears with its IPv4 address (<c>127.0.0.1</c>, not <c>::ffff:127.0.0.1</c>).
    /// </summary>
    public EndPoint? RemoteEndPoint { get; private set; }

    /// <summary>This end's address, when the connection runs over a TCP socket; null over other streams.</summary>
    public EndPoint? LocalEndPoint { get; private set; }

    /// <summary>Applies the socket options to a TCP stream and records its addresses, while the socket is open (they are kept after it closes).</summary>
    private static (EndPoint? Remote, EndPoint? Local) Prepare(Stream stream, SecureConnectionOptions options)
    {
        try
        {
            if (stream is NetworkStream { Socket: var socket })
            {
                Configure(socket, options);
                return (Unmapped(socket.RemoteEndPoint), Unmapped(socket.LocalEndPoint));
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // The handshake that follows reports the broken stream.
        }

        return (null, null);
    }

    /// <summary>An IPv4 address as itself, not as the IPv4-mapped IPv6 address a dual-stack socket reports.</summary>
    private static EndPoint? Unmapped(EndPoint? endPoint) =>
        endPoint is IPEndPoint { Address.IsIPv4MappedToIPv6: true } ip ? new IPEndPoint(ip.Address.MapToIPv4(), ip.Port) : endPoint;

    /// <summary>
    /// The TCP load balancer this connection came through, when a listener with a <see cref="ProxyProtocolOptions"/>
    /// read its PROXY header (then <see cref="RemoteEndPoint"/> is the client the header named); null otherwise.
    /// </summary>
    public EndPoint? ProxyEndPoint { get; private set; }

    private SecureConnection WithEndPoints((EndPoint? Remote, EndPoint? Local) endPoints, EndPoint? balancer)
    {
        (RemoteEndPoint, LocalEndPoint) = endPoints;
        ProxyEndPoint = Unmapped(balancer);
        return this;
    }

    /// <summary>No Nagle delay, and TCP keep-alive when the options ask for it (only on TCP sockets).</summary>
    internal static void Configure(Socket socket, SecureConnectionOptions options)
    {
        if (socket.ProtocolType != ProtocolType.Tcp)
        {
            return;
        }

        socket.NoDelay = true;
        if (options.TcpKeepAlive != Timeout.InfiniteTimeSpan)
        {
            var seconds = (int)Math.Ceiling(options.TcpKeepAlive.TotalSeconds);
            socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.KeepAlive, true);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveTime, seconds);
            socket.SetSocketOption(SocketOptionLevel.Tcp, SocketOptionName.TcpKeepAliveInterval, seconds);
        }
    }

    /// <summary>Opens the TCP connection within <see cref="SecureClientOptions.ConnectTimeout"/>.</summary>
    private static async Task<Socket> ConnectSocketAsync(string host, int port, SecureClientOptions options, CancellationToken cancellationToken)
    {
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (options.ConnectTimeout != Timeout.InfiniteTimeSpan)
        {
            timeout.CancelAfter(options.ConnectTimeout);
        }

        try
        {
            Configure(socket, options);
            await socket.ConnectAsync(host, port, timeout.Token).ConfigureAwait(false);
            return socket;
        }
        catch (Exception e)
        {
            socket.Dispose();
            var mapped = e switch
            {
                OperationCanceledException when !cancellationToken.IsCancellationRequested => new HybridProtocolException(HybridErrorCode.ConnectTimeout, $"Cannot connect to {Core.Formats.HostPortModule.format(host, port)}: no answer within the ConnectTimeout of {options.ConnectTimeout.TotalSeconds:0.###} s. Check that the server runs, the address is right and no firewall drops the connection.", e),
                SocketException => new HybridProtocolException(HybridErrorCode.TransportFailed, $"Cannot connect to {Core.Formats.HostPortModule.format(host, port)}: {e.Message}. Check that the server runs and the address is right.", e),
                _ => null,
            };
            if (mapped is null)
            {
                throw;
            }

            throw mapped;
        }
    }
}
