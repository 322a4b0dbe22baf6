namespace HybridProtocol.Core.Wire

open System
open HybridProtocol.Core.Noise

[<NoComparison; RequireQualifiedAccess>]
type FirstFlightVerdict =
    | Waiting of needed: int
    | Complete of length: int
    | Answer of error: WireError
    | Oversized of length: int * limit: int

[<RequireQualifiedAccess>]
type DropReason =
    | Busy
    | TooSlow

module Admission =

    [<Literal>]
    let MaxFirstPayload = 512

    // Every cipher offered (Noise §12 ChaChaPoly, AESGCM; AEGIS as used here) has a 16-byte tag.
    let private tagLength = 16

    let private dhLength (dh: DhName) =
        match dh with
        | Curve25519 -> 32

    let private kemPublicKeyLength (kem: KemName option) =
        match kem with
        | Some MLKEM768 -> 1184
        | None -> 0

    let private kemCiphertextLength (kem: KemName option) =
        match kem with
        | Some MLKEM768 -> 1088
        | None -> 0

    let firstMessageLimit (name: ProtocolName) : int =
        let messages = name.Pattern.Messages
        // §6: each party's parameters travel in its last message; the initiator's is message 1 when the pattern
        // has at most two messages.
        let parameters = if List.length messages <= 2 then MaxFirstPayload else 0

        let tokens =
            match messages with
            | first :: _ -> first
            | [] -> []

        // Noise §9.2: in a PSK handshake a key is set from the start of message 1 when it begins with "psk".
        let step (size, keyed) token =
            let tag = if keyed then tagLength else 0

            match token with
            | E -> size + dhLength name.Dh, keyed || name.Pattern.IsPsk
            | S -> size + dhLength name.Dh + tag, keyed
            | E1 -> size + kemPublicKeyLength name.Kem + tag, keyed
            | Ekem1 -> size + kemCiphertextLength name.Kem + tag, true
            | EE
            | ES
            | SE
            | SS
            | Psk -> size, true

        let size, keyed = List.fold step (0, false) tokens
        size + parameters + (if keyed then tagLength else 0)

    let firstFlight (input: ReadOnlySpan<byte>) : FirstFlightVerdict =
        match Preamble.decode input with
        | Error e -> FirstFlightVerdict.Answer e
        | Ok(Incomplete needed) -> FirstFlightVerdict.Waiting needed
        | Ok(Decoded(preamble, consumed)) ->
            match ProtocolName.parse preamble.ProtocolName with
            | Error e -> FirstFlightVerdict.Answer(Malformed(BadProtocolName e))
            | Ok name ->
                let limit = firstMessageLimit name

                match Frame.TryReadHeader(input.Slice consumed, Frame.MaxLength) with
                | Error e -> FirstFlightVerdict.Answer e
                | Ok ValueNone -> FirstFlightVerdict.Waiting(consumed + Frame.HeaderLength - input.Length)
                | Ok(ValueSome length) when length > limit -> FirstFlightVerdict.Oversized(length, limit)
                | Ok(ValueSome length) ->
                    let total = consumed + Frame.HeaderLength + length

                    if input.Length >= total then
                        FirstFlightVerdict.Complete total
                    else
                        FirstFlightVerdict.Waiting(total - input.Length)

    let shareKey (address: byte array) : byte array =
        let mapped =
            address.Length = 16
            && Array.forall ((=) 0uy) address[0..9]
            && address[10] = 0xFFuy
            && address[11] = 0xFFuy

        if mapped then address[12..15]
        elif address.Length = 16 then address[0..7]
        else Array.copy address

    let livenessProofNeeded (name: ProtocolName) : bool =
        List.length name.Pattern.Messages % 2 = 0

    let dropStatus (reason: DropReason) : byte array =
        let code =
            match reason with
            | DropReason.Busy -> RefusalCode.ServerBusy
            | DropReason.TooSlow -> RefusalCode.TooSlow

        // Code and version are in range, the list empty: the encoding cannot fail.
        match
            ServerStatus.encode (
                Declined {
                    Code = code
                    ServerVersion = Preamble.Version
                    Supported = []
                }
            )
        with
        | Ok bytes -> bytes
        | Error _ -> [| byte code; Preamble.Version; 0uy |]
