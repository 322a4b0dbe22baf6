namespace HybridProtocol;

/// <summary>How <see cref="PrivateKey.Load(string, KeyLoadOptions)"/> treats a private key file.</summary>
public sealed class KeyLoadOptions
{
    /// <summary>
    /// INSECURE: load a private key file even when other users can read or change it. By default such a file is refused
    /// with <see cref="HybridErrorCode.InsecureKeyFile"/>, as ssh refuses it: anyone who can read the key can impersonate
    /// its owner. Set this only for keys that are not secret (tests, throwaway keys) or on file systems without Unix
    /// permissions. On Windows nothing is checked either way (the file's access control list is not inspected).
    /// </summary>
    public bool AllowInsecurePermissions { get; init; }
}
