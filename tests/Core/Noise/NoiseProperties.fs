/// FsCheck properties of the Noise core, driven through the public API with NSec crypto:
/// any supported pattern (with psk modifiers) and suite completes and round-trips, tampering is detected,
/// mismatched prologues and PSKs fail, names parse back, and the spec's limits hold.
module HybridProtocol.Tests.NoiseProperties

open System
open Expecto
open FsCheck
open FsCheck.FSharp
open HybridProtocol.Core
open HybridProtocol.Core.Noise
open HybridProtocol.Crypto
open HybridProtocol.Tests.TestSupport

/// One side's inputs for a generated conversation.
type Side = {
    Static: byte[]
    Ephemeral: byte[]
    Prologue: byte[]
    Psks: byte[] list
}

/// A generated conversation: protocol, both sides' keys, and the payloads in order
/// (handshake messages first, then some transport messages).
type Conversation = {
    Name: string
    Initiator: Side
    Responder: Side
    Payloads: byte[] list
} with

    override this.ToString() =
        $"{this.Name} with {this.Payloads.Length} payloads"

let private bytes n =
    Gen.arrayOfLength n (Gen.choose (0, 255) |> Gen.map byte)

let private smallBytes =
    gen {
        let! n = Gen.frequency [ 3, Gen.choose (0, 16); 1, Gen.choose (17, 300) ]
        return! bytes n
    }

let private suites = [
    for c in [ "ChaChaPoly"; "AESGCM"; "AEGIS256"; "AEGIS128L" ] do
        for h in [ "SHA256"; "SHA512"; "BLAKE2b" ] -> c, h
]

/// The DH section a pattern section goes with: Noise HFS names a KEM after the DH.
let dhSection (section: string) =
    if section.Contains "hfs" then "25519+MLKEM768" else "25519"

/// Pattern sections: every base pattern, alone or with one or two valid psk modifiers; and every interactive
/// base pattern with "hfs" (Noise HFS §5), alone or with one psk modifier.
let patternSections =
    [
        for p in HandshakePattern.all do
            yield p.Name
            let positions = [ 0 .. p.Messages.Length ]

            for a in positions do
                yield $"{p.Name}psk{a}"

                for b in positions do
                    if b > a then
                        yield $"{p.Name}psk{a}+psk{b}"

            if not p.IsOneWay then
                yield $"{p.Name}hfs"

                for a in positions do
                    yield $"{p.Name}hfs+psk{a}"
    ]
    |> List.filter (fun section ->
        ProtocolName.parse $"Noise_{section}_{dhSection section}_ChaChaPoly_SHA256"
        |> Result.isOk)

let private conversationGen =
    gen {
        let! section = Gen.elements patternSections
        let! cipher, hash = Gen.elements suites
        let name = $"Noise_{section}_{dhSection section}_{cipher}_{hash}"

        let pattern =
            match ProtocolName.parse name with
            | Ok p -> p.Pattern
            | Error _ -> HandshakePattern.NN

        let! prologue = smallBytes
        let! psks = Gen.listOfLength pattern.PskCount (bytes 32)
        let! initiatorStatic = bytes 32
        let! initiatorEphemeral = bytes 32
        let! responderStatic = bytes 32
        let! responderEphemeral = bytes 32
        let! transportCount = Gen.choose (0, 4)

        let! payloads =
            Gen.listOfLength (pattern.Messages.Length + transportCount) smallBytes

        let side s e = {
            Static = s
            Ephemeral = e
            Prologue = prologue
            Psks = psks
        }

        return {
            Name = name
            Initiator = side initiatorStatic initiatorEphemeral
            Responder = side responderStatic responderEphemeral
            Payloads = payloads
        }
    }

let conversations = Arb.fromGen conversationGen

/// Noise HFS inputs for one side, derived from its (generated) ephemeral key so that Side stays as it is:
/// the KEM seed is SHA-512 of it, the encapsulation randomness SHA-256. None for a classical name.
let kemInputs (protocol: ProtocolName) (mine: Side) =
    if protocol.IsHfs then
        let kem = SodiumKem.MlKem768

        let pair =
            kem.GENERATE_KEM_KEYPAIR.Invoke(ReadOnlySpan(Security.Cryptography.SHA512.HashData mine.Ephemeral))

        {
            LocalKemKeyPair = Some pair
            EncapsulationRandomness = Some(Security.Cryptography.SHA256.HashData mine.Ephemeral)
        }
    else
        KemParameters.none

/// Initializes one side: keys are given whenever the pattern may use them; rs only when a pre-message needs it.
let initialize (protocol: ProtocolName) (role: Role) (mine: Side) (theirs: Side) =
    let peerPre =
        match role with
        | Initiator -> protocol.Pattern.ResponderPreMessage
        | Responder -> protocol.Pattern.InitiatorPreMessage

    let theirStatic = (importKeyPair theirs.Static).Public

    HandshakeState.InitializeWithKem
        (NSecSuite.For protocol)
        {
            Protocol = protocol
            Role = role
            Prologue = mine.Prologue
            LocalStatic = Some(importKeyPair mine.Static)
            LocalEphemeral = Some(importKeyPair mine.Ephemeral)
            RemoteStatic = if List.contains S peerPre then Some theirStatic else None
            RemoteEphemeral = None
            Psks = mine.Psks
        }
        (kemInputs protocol mine)

/// Where a conversation stopped: the message index and the typed error.
type Failure = { Index: int; Error: NoiseError }

/// Plays a conversation honestly except for `tamper`, which may alter the bytes of message i on the wire.
/// Returns the payloads received, or where and why it failed.
let converse (c: Conversation) (tamper: int -> byte[] -> byte[]) : Result<byte[] list * byte[] * byte[], Failure> =
    let protocol =
        ProtocolName.parse c.Name |> Result.defaultWith (fun e -> failwithf "%A" e)

    let oneWay = protocol.Pattern.IsOneWay
    let fail index error = Error { Index = index; Error = error }

    match
        initialize protocol Initiator c.Initiator c.Responder, initialize protocol Responder c.Responder c.Initiator
    with
    | Error e, _
    | _, Error e -> fail -1 e
    | Ok i, Ok r ->
        let rec handshake (i: HandshakeState) (r: HandshakeState) payloads index received =
            match payloads with
            | [] -> failwith "generated too few payloads"
            | payload :: rest ->
                let initiatorSends = Role.senderOf index = Initiator
                let sender, receiver = if initiatorSends then i, r else r, i

                match HandshakeState.WriteMessage payload sender with
                | Error e -> fail index e
                | Ok(struct (message, senderStep)) ->
                    match HandshakeState.ReadMessage (tamper index message) receiver with
                    | Error e -> fail index e
                    | Ok(struct (read, receiverStep)) ->
                        let received = read :: received

                        match senderStep, receiverStep with
                        | Continue s, Continue rc ->
                            let i, r = if initiatorSends then s, rc else rc, s
                            handshake i r rest (index + 1) received
                        | Complete s, Complete rc ->
                            let ti, tr = if initiatorSends then s, rc else rc, s
                            transport ti tr rest (index + 1) received
                        | _ -> failwith "the two sides disagree about the end of the handshake"

        and transport (ti: TransportState) (tr: TransportState) payloads index received =
            match payloads with
            | [] -> Ok(List.rev received, ti.HandshakeHash, tr.HandshakeHash)
            | payload :: rest ->
                let initiatorSends = oneWay || Role.senderOf index = Initiator
                let sender, receiver = if initiatorSends then ti, tr else tr, ti

                match TransportState.writeMessage payload sender with
                | Error e -> fail index e
                | Ok(struct (senderNext, message)) ->
                    match TransportState.readMessage (tamper index message) receiver with
                    | Error e -> fail index e
                    | Ok(struct (receiverNext, read)) ->
                        let ti, tr =
                            if initiatorSends then
                                senderNext, receiverNext
                            else
                                receiverNext, senderNext

                        transport ti tr rest (index + 1) (read :: received)

        handshake i r c.Payloads 0 []

let private config = {
    FsCheckConfig.defaultConfig with
        maxTest = 150
}

let private flipBit (target: int) (bit: int) index (message: byte[]) =
    if index = target && message.Length > 0 then
        let copy = Array.copy message
        let position = bit % (message.Length * 8)
        copy[position / 8] <- copy[position / 8] ^^^ (1uy <<< (position % 8))
        copy
    else
        message

let private honest _ (message: byte[]) = message

[<Tests>]
let properties =
    testList "Noise properties" [
        test "the generator covers every base pattern and several psk combinations" {
            // 38 base patterns; with psk modifiers well over a hundred sections.
            Expect.equal HandshakePattern.all.Length 38 "3 one-way + 12 fundamental + 23 deferred"
            Expect.isGreaterThan patternSections.Length 150 "pattern sections with psk modifiers"
            Expect.contains patternSections "XXpsk0+psk3" "several psk modifiers at once"

            // Noise HFS: the 35 interactive patterns with "hfs", alone and with each psk position.
            let hfs = patternSections |> List.filter _.Contains("hfs")
            Expect.equal (hfs |> List.filter (fun s -> s.EndsWith "hfs")).Length 35 "every interactive pattern with hfs"
            Expect.isGreaterThan hfs.Length 130 "hfs with psk modifiers"
            Expect.contains patternSections "KKhfs+psk2" "hfs and psk together"
        }

        testPropertyWithConfig config "any pattern and suite: handshake completes, hashes agree, payloads round-trip"
        <| Prop.forAll conversations (fun c ->
            match converse c honest with
            | Ok(received, hi, hr) -> received = c.Payloads && hi = hr
            | Error f -> failwithf "%s failed at %d: %A" c.Name f.Index f.Error)

        testPropertyWithConfig config "flipping any bit of any message makes the conversation fail with a typed error"
        <| Prop.forAll
            (Arb.fromGen (Gen.zip3 conversationGen (Gen.choose (0, 100)) (Gen.choose (0, Int32.MaxValue))))
            (fun (c, which, bit) ->
                let target = which % c.Payloads.Length

                match converse c (flipBit target bit) with
                | Ok _ -> false
                | Error f ->
                    // Detected at the tampered message or, where Noise cannot yet authenticate it
                    // (cleartext payloads before the first key), at a later one; never earlier.
                    f.Index >= target
                    && (match f.Error with
                        | Decrypt
                        | Dh
                        | Kem
                        | Input _ -> true
                        | _ -> false))

        testPropertyWithConfig config "different prologues make the handshake fail"
        <| Prop.forAll (Arb.fromGen (Gen.zip conversationGen smallBytes)) (fun (c, other) ->
            other = c.Initiator.Prologue
            || (match converse { c with Responder.Prologue = other } honest with
                | Error { Error = Decrypt } -> true
                | _ -> false))

        testPropertyWithConfig config "different PSKs make a psk handshake fail"
        <| Prop.forAll
            (Arb.fromGen (
                conversationGen
                |> Gen.filter (fun c -> not c.Initiator.Psks.IsEmpty)
                |> Gen.zip (bytes 32)
            ))
            (fun (otherPsk, c) ->
                let psks = otherPsk :: List.tail c.Responder.Psks

                otherPsk = List.head c.Responder.Psks
                || (match converse { c with Responder.Psks = psks } honest with
                    | Error { Error = Decrypt } -> true
                    | _ -> false))

        testPropertyWithConfig config "protocol names parse and print back unchanged"
        <| Prop.forAll (Arb.fromGen conversationGen) (fun c ->
            ProtocolName.parse c.Name |> Result.map ProtocolName.toString = Ok c.Name)

        testProperty "malformed or unknown protocol names are refused with a typed error"
        <| Prop.forAll (Arb.fromGen (Gen.elements patternSections |> Gen.zip smallBytes)) (fun (noise, section) ->
            let garbage = Text.Encoding.Latin1.GetString noise

            let cases = [
                $"Noise_{section}_448_ChaChaPoly_SHA256", UnsupportedDh "448"
                $"Noise_{section}_{dhSection section}_ChaChaPoly_BLAKE2s", UnsupportedHash "BLAKE2s"
                $"Noise_{section}_{dhSection section}_Rot13_SHA256", UnsupportedCipher "Rot13"
                $"Noise_{section}_25519+Kyber1024_ChaChaPoly_SHA256", UnsupportedKem "Kyber1024"
                $"NoisePSK_{section}_{dhSection section}_ChaChaPoly_SHA256", NotNoise
                $"Noise_{section}_{dhSection section}_ChaChaPoly", MalformedName
            ]

            let garbageRefused =
                // Random text is refused (or, astronomically unlikely, a real name that prints back).
                match ProtocolName.parse garbage with
                | Error _ -> true
                | Ok n -> ProtocolName.toString n = garbage

            garbageRefused
            && cases
               |> List.forall (fun (name, error) -> ProtocolName.parse name = Error error))

        test "invalid modifiers are refused" {
            for name, error in
                [
                    "Noise_XXpsk4_25519_ChaChaPoly_SHA256", InvalidModifier "psk4"
                    "Noise_XXpsk1+psk1_25519_ChaChaPoly_SHA256", InvalidModifier "psk1"
                    "Noise_XXpsk01_25519_ChaChaPoly_SHA256", InvalidModifier "psk01"
                    "Noise_XXfallback_25519_ChaChaPoly_SHA256", UnknownPattern "XXfallback"
                    "Noise_YY_25519_ChaChaPoly_SHA256", UnknownPattern "YY"
                ] do
                Expect.equal (ProtocolName.parse name) (Error error) name
        }
    ]

/// The spec's limits and state rules, each checked directly.
[<Tests>]
let limits =
    let protocol name =
        ProtocolName.parse name |> Result.defaultWith (fun e -> failwithf "%A" e)

    let side seed = {
        Static = Array.create 32 seed
        Ephemeral = Array.create 32 (seed + 1uy)
        Prologue = [||]
        Psks = []
    }

    let nn = protocol "Noise_NN_25519_ChaChaPoly_SHA256"

    let start () =
        let i =
            initialize nn Initiator (side 1uy) (side 3uy)
            |> Result.defaultWith (failwithf "%A")

        let r =
            initialize nn Responder (side 3uy) (side 1uy)
            |> Result.defaultWith (failwithf "%A")

        i, r

    let complete () =
        let i, r = start ()

        let struct (m1, i) =
            HandshakeState.WriteMessage [||] i |> Result.defaultWith (failwithf "%A")

        let struct (_, r) =
            HandshakeState.ReadMessage m1 r |> Result.defaultWith (failwithf "%A")

        match i, r with
        | Continue i, Continue r ->
            let struct (m2, r) =
                HandshakeState.WriteMessage [||] r |> Result.defaultWith (failwithf "%A")

            let struct (_, i) =
                HandshakeState.ReadMessage m2 i |> Result.defaultWith (failwithf "%A")

            match i, r with
            | Complete ti, Complete tr -> ti, tr
            | _ -> failwith "NN completes after two messages"
        | _ -> failwith "NN continues after one message"

    testList "Noise limits" [
        test "writing or reading out of turn is a typed error" {
            let i, r = start ()
            Expect.equal (HandshakeState.Turn i) ShouldWrite "initiator writes first"
            Expect.equal (HandshakeState.Turn r) ShouldRead "responder reads first"

            Expect.equal
                (HandshakeState.ReadMessage (Array.zeroCreate 32) i |> Result.map ignore)
                (Error(State NotTurnToRead))
                "initiator may not read first"

            Expect.equal
                (HandshakeState.WriteMessage [||] r |> Result.map ignore)
                (Error(State NotTurnToWrite))
                "responder may not write first"
        }

        test "handshake messages over 65535 bytes are refused on both sides" {
            let i, r = start ()

            Expect.equal
                (HandshakeState.WriteMessage (Array.zeroCreate 65535) i |> Result.map ignore)
                (Error(Input(MessageTooLong(65535 + 32))))
                "payload plus e is too long"

            Expect.equal
                (HandshakeState.ReadMessage (Array.zeroCreate 65536) r |> Result.map ignore)
                (Error(Input(MessageTooLong 65536)))
                "reading a too-long message"
        }

        test "transport messages over 65535 bytes are refused, 65535 is allowed" {
            let ti, tr = complete ()
            let largest = Array.zeroCreate (65535 - 16)

            let struct (_, message) =
                TransportState.writeMessage largest ti |> Result.defaultWith (failwithf "%A")

            Expect.equal message.Length 65535 "the largest message"
            Expect.isOk (TransportState.readMessage message tr) "and it reads back"

            Expect.equal
                (TransportState.writeMessage (Array.zeroCreate (65535 - 15)) ti
                 |> Result.map ignore)
                (Error(Input(MessageTooLong 65536)))
                "one byte more"
        }

        test "a short handshake message is an input error, not a crash" {
            let _, r = start ()

            Expect.equal
                (HandshakeState.ReadMessage (Array.zeroCreate 31) r |> Result.map ignore)
                (Error(Input(MessageTooShort 31)))
                "e needs 32 bytes"
        }

        test "nonce 2^64-1 is reserved: the last usable nonce is 2^64-2, then NonceExhausted" {
            let ti, tr = complete ()

            let near (cs: CipherState voption) =
                cs |> ValueOption.map (CipherState.SetNonce(UInt64.MaxValue - 1UL))

            let ti = { ti with Send = near ti.Send }
            let tr = { tr with Receive = near tr.Receive }

            let struct (ti, message) =
                TransportState.writeMessage [| 42uy |] ti |> Result.defaultWith (failwithf "%A")

            let struct (tr, payload) =
                TransportState.readMessage message tr |> Result.defaultWith (failwithf "%A")

            Expect.equal payload [| 42uy |] "nonce 2^64-2 still works"

            Expect.equal
                (TransportState.writeMessage [| 1uy |] ti |> Result.map ignore)
                (Error(State NonceExhausted))
                "sending with nonce 2^64-1"

            Expect.equal
                (TransportState.readMessage message tr |> Result.map ignore)
                (Error(State NonceExhausted))
                "receiving with nonce 2^64-1"
        }

        test "a failed decryption does not advance the nonce and releases no plaintext" {
            let ti, tr = complete ()

            let struct (_, message) =
                TransportState.writeMessage [| 1uy; 2uy; 3uy |] ti
                |> Result.defaultWith (failwithf "%A")

            let tampered = Array.copy message
            tampered[0] <- tampered[0] ^^^ 1uy
            let plaintext = Array.create 3 0xAAuy

            let result =
                TransportState.ReadMessage(tr.Receive, ReadOnlySpan tampered, Span plaintext)

            Expect.equal (result |> Result.map ignore) (Error Decrypt) "tampered message refused"
            Expect.equal plaintext (Array.zeroCreate 3) "the output buffer is wiped"
            Expect.equal (tr.Receive |> ValueOption.bind CipherState.nonce) (ValueSome 0UL) "n unchanged"
            Expect.isOk (TransportState.readMessage message tr) "the genuine message still reads"
        }

        test "Rekey changes the key on both sides in step" {
            let ti, tr = complete ()
            let rekey (cs: CipherState voption) = cs |> ValueOption.map CipherState.Rekey
            let ti' = { ti with Send = rekey ti.Send }
            let tr' = { tr with Receive = rekey tr.Receive }

            let struct (_, message) =
                TransportState.writeMessage [| 7uy |] ti' |> Result.defaultWith (failwithf "%A")

            Expect.equal
                (TransportState.readMessage message tr |> Result.map ignore)
                (Error Decrypt)
                "the old key cannot read it"

            Expect.equal
                (TransportState.readMessage message tr' |> Result.map (fun struct (_, p) -> p))
                (Ok [| 7uy |])
                "the rekeyed receiver can"
        }

        test "one-way patterns: the recipient cannot send" {
            let n = protocol "Noise_N_25519_ChaChaPoly_SHA256"

            let r =
                initialize n Responder (side 3uy) (side 1uy)
                |> Result.defaultWith (failwithf "%A")

            let i =
                initialize n Initiator (side 1uy) (side 3uy)
                |> Result.defaultWith (failwithf "%A")

            let struct (m, _) =
                HandshakeState.WriteMessage [||] i |> Result.defaultWith (failwithf "%A")

            match HandshakeState.ReadMessage m r with
            | Ok(struct (_, Complete tr)) ->
                Expect.equal
                    (TransportState.writeMessage [| 1uy |] tr |> Result.map ignore)
                    (Error(State OneWayDirection))
                    "recipient has no sending CipherState"
            | other -> failtestf "expected completion, got %A" other
        }

        test "Initialize refuses missing keys, wrong PSK counts and a mismatched suite" {
            let xk = protocol "Noise_XKpsk3_25519_ChaChaPoly_SHA256"

            let parameters = {
                Protocol = xk
                Role = Initiator
                Prologue = [||]
                LocalStatic = None
                LocalEphemeral = Some(importKeyPair (Array.create 32 2uy))
                RemoteStatic = Some (importKeyPair (Array.create 32 3uy)).Public
                RemoteEphemeral = None
                Psks = [ Array.zeroCreate 32 ]
            }

            let init p =
                HandshakeState.Initialize (NSecSuite.For xk) p |> Result.map ignore

            Expect.equal (init parameters) (Error(Init MissingLocalStatic)) "XK initiator needs s"

            let withStatic = {
                parameters with
                    LocalStatic = Some(importKeyPair (Array.create 32 4uy))
            }

            Expect.equal (init { withStatic with RemoteStatic = None }) (Error(Init MissingRemoteStatic)) "needs rs"
            Expect.equal (init { withStatic with Psks = [] }) (Error(Init(WrongPskCount(1, 0)))) "needs one psk"

            Expect.equal
                (init {
                    withStatic with
                        Psks = [ Array.zeroCreate 31 ]
                })
                (Error(Init WrongPskLength))
                "32 bytes"

            Expect.equal
                (HandshakeState.Initialize (NSecSuite.For(protocol "Noise_XK_25519_AESGCM_SHA256")) withStatic
                 |> Result.map ignore)
                (Error(Init SuiteMismatch))
                "suite must match the name"

            Expect.isOk (init withStatic) "complete parameters are accepted"
        }

        test "a low-order X25519 public key is refused as a DH error" {
            let nk = protocol "Noise_NK_25519_ChaChaPoly_SHA256"

            let i =
                HandshakeState.Initialize (NSecSuite.For nk) {
                    Protocol = nk
                    Role = Initiator
                    Prologue = [||]
                    LocalStatic = None
                    LocalEphemeral = Some(importKeyPair (Array.create 32 2uy))
                    // The all-zero point has order 1: every DH with it is all zeros.
                    RemoteStatic = Some(publicKey (Array.zeroCreate 32))
                    RemoteEphemeral = None
                    Psks = []
                }
                |> Result.defaultWith (failwithf "%A")

            Expect.equal
                (HandshakeState.WriteMessage [||] i |> Result.map ignore)
                (Error Dh)
                "es with a low-order point"
        }
    ]

/// The handshake's cost is counted in DH operations (issue 6): each side must run exactly one DH per DH token
/// of its pattern (Noise §5.3 "ee", "es", "se", "ss"), none more. The expected counts are read off the spec's
/// patterns by hand, so a redundant DH in the interpreter shows up here.
[<Tests>]
let dhCost =
    let side seed = {
        Static = Array.create 32 seed
        Ephemeral = Array.create 32 (seed + 1uy)
        Prologue = [||]
        Psks = []
    }

    let counted (protocol: ProtocolName) =
        let count = ref 0
        let inner = NSecSuite.For protocol

        let dh =
            DhFn(fun k p o ->
                count.Value <- count.Value + 1
                inner.Dh.DH.Invoke(k, p, o))

        {
            inner with
                Dh = { inner.Dh with DH = dh }
        },
        count

    let start (protocol: ProtocolName) role (mine: Side) (theirs: Side) suite =
        let peerPre =
            match role with
            | Initiator -> protocol.Pattern.ResponderPreMessage
            | Responder -> protocol.Pattern.InitiatorPreMessage

        HandshakeState.Initialize suite {
            Protocol = protocol
            Role = role
            Prologue = [||]
            LocalStatic = Some(importKeyPair mine.Static)
            LocalEphemeral = Some(importKeyPair mine.Ephemeral)
            RemoteStatic =
                if List.contains S peerPre then
                    Some (importKeyPair theirs.Static).Public
                else
                    None
            RemoteEphemeral = None
            Psks = []
        }
        |> Result.defaultWith (failwithf "%A")

    testList "Noise: DH operations per pattern" [
        for name, expected in [ "NN", 1; "NK", 2; "NX", 2; "XX", 3; "IK", 4 ] do
            testCase $"{name}: {expected} DH on each side, one per DH token"
            <| fun () ->
                let protocol =
                    ProtocolName.parse $"Noise_{name}_25519_AESGCM_SHA256"
                    |> Result.defaultWith (failwithf "%A")

                let iSuite, iCount = counted protocol
                let rSuite, rCount = counted protocol
                let mutable i = Continue(start protocol Initiator (side 1uy) (side 3uy) iSuite)
                let mutable r = Continue(start protocol Responder (side 3uy) (side 1uy) rSuite)
                let mutable index = 0
                let mutable finished = false

                while not finished do
                    let initiatorSends = Role.senderOf index = Initiator

                    match (if initiatorSends then i, r else r, i) with
                    | Continue sender, Continue receiver ->
                        let struct (message, sent) =
                            HandshakeState.WriteMessage [||] sender |> Result.defaultWith (failwithf "%A")

                        let struct (_, read) =
                            HandshakeState.ReadMessage message receiver
                            |> Result.defaultWith (failwithf "%A")

                        if initiatorSends then
                            i <- sent
                            r <- read
                        else
                            r <- sent
                            i <- read

                        index <- index + 1
                    | _ -> finished <- true

                Expect.isTrue
                    (match i, r with
                     | Complete _, Complete _ -> true
                     | _ -> false)
                    "both sides completed"

                Expect.equal iCount.Value expected "initiator's DH operations"
                Expect.equal rCount.Value expected "responder's DH operations"
    ]
