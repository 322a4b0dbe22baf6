/// Helpers shared by the test modules: hex, file locations, key import through the public API.
module HybridProtocol.Tests.TestSupport

open System
open System.IO
open HybridProtocol.Core
open HybridProtocol.Crypto

let hex (s: string) = Convert.FromHexString s
let toHex (b: byte[]) = Convert.ToHexStringLower b

/// The repository root: the nearest folder above the test binary that holds HybridProtocol.sln.
let repoRoot =
    let rec up (dir: DirectoryInfo | null) =
        match dir with
        | null -> failwith "HybridProtocol.sln not found above the test binary"
        | dir when File.Exists(Path.Combine(dir.FullName, "HybridProtocol.sln")) -> dir.FullName
        | dir -> up dir.Parent

    up (DirectoryInfo AppContext.BaseDirectory)

/// A vector file: the read-only shared copy when this checkout sits beside it, else the copy in tests/vectors
/// (byte-identical; see tests/vectors/README.md for sources and hashes).
let vectorFile (relative: string) =
    let shared = Path.Combine(repoRoot, "..", "shared", "vectors", relative)
    let local = Path.Combine(repoRoot, "tests", "vectors", relative)
    if File.Exists shared then shared else local

/// An X25519 key pair from 32 raw private-key bytes, through the facade's NSec provider.
let importKeyPair (privateKey: byte[]) =
    match NSecSuite.X25519.IMPORT_PRIVATE.Invoke(ReadOnlySpan privateKey) with
    | ValueSome pair -> pair
    | ValueNone -> failwith "not an X25519 private key"

let publicKey (bytes: byte[]) =
    match PublicKey.TryCreate(bytes.Length, ReadOnlySpan bytes) with
    | ValueSome k -> k
    | ValueNone -> failwith "unreachable"
