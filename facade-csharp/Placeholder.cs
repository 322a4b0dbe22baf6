namespace HybridProtocol;

/// <summary>Placeholder.</summary>
public static class Placeholder
{
}
