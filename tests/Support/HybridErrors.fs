/// HybridProtocol's exceptions in tests: they come in three .NET families (IOException, ArgumentException,
/// InvalidOperationException), all carrying a HybridErrorCode through IHybridProtocolError.
[<AutoOpen>]
module HybridProtocol.Tests.HybridErrors

open HybridProtocol

/// Any HybridProtocol exception, whatever its family.
let (|HybridError|_|) (e: exn) : exn option =
    match box e with
    | :? IHybridProtocolError -> Some e
    | _ -> None

type System.Exception with
    /// The HybridErrorCode of a HybridProtocol exception of any family (fails for any other exception).
    member e.Code: HybridErrorCode =
        match box e with
        | :? IHybridProtocolError as h -> h.Code
        | _ -> failwithf "expected a HybridProtocol exception, got %s: %s" (e.GetType().Name) e.Message
