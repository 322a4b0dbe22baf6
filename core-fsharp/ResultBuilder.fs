namespace HybridProtocol.Core

[<AutoOpen>]
module internal ResultBuilder =
    type ResultBuilder() =
        member _.Return(x) = Ok x
        member _.ReturnFrom(r: Result<'T, 'E>) = r
        member _.Bind(r: Result<'T, 'E>, f: 'T -> Result<'U, 'E>) = Result.bind f r
        member _.Zero() = Ok()

    let result = ResultBuilder()
