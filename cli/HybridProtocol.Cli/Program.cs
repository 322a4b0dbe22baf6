namespace HybridProtocol.Cli;

internal static class Program
{
    private static Task<int> Main(string[] args) => App.RunAsync(args);
}
