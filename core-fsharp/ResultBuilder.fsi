namespace HybridProtocol.Core

/// A small `result { }` builder: a chain of steps that each return a `Result`, the first `Error` ending it, written
/// as a straight sequence (the HPKE code reads like the RFC's pseudocode; codecs read their fields in wire order).
[<AutoOpen>]
module internal ResultBuilder =

    type ResultBuilder =

        new: unit -> ResultBuilder

        member Bind: r: Result<'T, 'E> * f: ('T -> Result<'U, 'E>) -> Result<'U, 'E>

        member Return: x: 'b -> Result<'b, 'c>

        member ReturnFrom: r: Result<'T, 'E> -> Result<'T, 'E>

        member Zero: unit -> Result<unit, 'a>

    val result: ResultBuilder
