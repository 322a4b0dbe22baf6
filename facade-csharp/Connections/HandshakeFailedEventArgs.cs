using System.Net;

namespace HybridProtocol;

/// <summary>A client whose handshake failed (<see cref="SecureListener.HandshakeFailed"/>).</summary>
public sealed class HandshakeFailedEventArgs : EventArgs
{
    internal HandshakeFailedEventArgs(EndPoint? remoteEndPoint, Exception exception)
    {
        RemoteEndPoint = remoteEndPoint;
        Exception = exception;
    }

    /// <summary>The client's address, when known (behind a load balancer, the client its PROXY header named, once read).</summary>
    public EndPoint? RemoteEndPoint { get; }

    /// <summary>
    /// When the connection was dropped for the PROXY protocol (<see cref="SecureListener.ProxyProtocol"/>): why; then
    /// <see cref="RemoteEndPoint"/> is the address the connection came from. Null for every other failure.
    /// </summary>
    public ProxyProtocolRefusal? ProxyProtocolRefusal { get; init; }

    /// <summary>Why it failed (usually a <see cref="HybridProtocolException"/>).</summary>
    public Exception Exception { get; }
}
