namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core
open HybridProtocol.Core.Noise

module internal Steps =
    type Out = Output list

    let retire (keys: IAeadKey seq) (out: Out) =
        keys |> Seq.fold (fun out k -> Output.KeyRetired k :: out) out

    let voptionToList (v: 'a voption) =
        match v with
        | ValueSome x -> [ x ]
        | ValueNone -> []

    let view (segment: ArraySegment<byte>) =
        ReadOnlySpan<byte>(segment.Array, segment.Offset, segment.Count)

    let transportKeys (transport: TransportState) =
        [ transport.Send; transport.Receive ]
        |> List.choose (ValueOption.bind CipherState.key >> ValueOption.toOption)

    let stepKeys (step: HandshakeStep) =
        match step with
        | Continue hs -> voptionToList (HandshakeState.currentKey hs)
        | Complete ts -> transportKeys ts

    let sealClose (send: SendHalf) (reason: CloseReason) =
        let buffer = Array.zeroCreate (SendHalf.ControlLength send)

        match SendHalf.Close(send, reason, Span buffer) with
        | Wrote(half, written, _, _, _) -> ValueSome(struct (half, Array.sub buffer 0 written))
        | NeedRoom _
        | SendRefused _
        | SendFailed _ -> ValueNone

    let closeFor (send: SendHalf) (error: WireError) (out: Out) =
        if send.Closed then
            out
        else
            match sealClose send (Traffic.CloseReasonFor error) with
            | ValueSome(struct (_, bytes)) -> Output.Transmit bytes :: out
            | ValueNone -> out
