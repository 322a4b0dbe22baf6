/// The facade's wording of the core's InvalidConfigReason cases: every case becomes InvalidArgument with a message
/// that names the value and what to change, never the F# value printed raw.
module HybridProtocol.Tests.ConfigErrorMessages

open System
open Expecto
open HybridProtocol
open HybridProtocol.Connections
open HybridProtocol.Core.Wire
open HybridProtocol.Tests.WireDriver

[<Tests>]
let tests =
    testList "Facade configuration error messages" [
        test "every InvalidConfig reason is InvalidArgument with a clear message" {
            let context = WireErrorContext(true, "the server 127.0.0.1:1", null)
            let nk = parse "Noise_NK_25519_ChaChaPoly_BLAKE2b"

            for reason, expected in
                [
                    MessageSizeOutOfRange 0,
                    "the largest message size must be at least 1 byte (it is 0); set MaxMessageSize"
                    RecordDataOutOfRange(70000, 65502), "the record size must be 1..65502 bytes (it is 70000)"
                    RekeyIntervalOutOfRange(0L, 1L), "at least 1 record and 1 byte (it is 0 records, 1 bytes)"
                    BadApplicationProtocol 300, "0..255 characters of printable ASCII (it has 300 characters)"
                    OneWayPattern(parse "Noise_N_25519_ChaChaPoly_BLAKE2b"),
                    "Noise_N_25519_ChaChaPoly_BLAKE2b is a one-way"
                    NoAcceptedProtocol, "the server accepts no protocol name"
                    ClientStaticKeyInAdvance nk, "Noise_NK_25519_ChaChaPoly_BLAKE2b: a server cannot know the client's"
                    PskMissing nk, "Noise_NK_25519_ChaChaPoly_BLAKE2b needs a pre-shared key; set PreSharedKey"
                    ServerStaticKeyMissing nk,
                    "Noise_NK_25519_ChaChaPoly_BLAKE2b needs the server's static key; set ServerKey"
                    FirstMessageCompletesHandshake, "the pattern's first message completes the handshake"
                    RefusalCodeOutOfRange 0x20uy, "a refusal code must be 0x01..0x1F (it is 0x20)"
                    RefusalVersionZero, "a refusal's server version cannot be 0"
                ] do
                let e = WireErrors.ToException(InvalidConfig reason, context, false)
                Expect.equal e.Code HybridErrorCode.InvalidArgument $"{reason}"
                Expect.stringStarts e.Message "The connection options cannot work: " $"{reason}"
                Expect.stringContains e.Message expected $"{reason}"
                let caseName = (sprintf "%A" reason).Split(' ', '(')[0]
                Expect.isFalse (e.Message.Contains caseName) $"{reason}: the F# case is not printed raw"
        }

        test "option setters apply the core's rule for each option, worded from its reason" {
            let opts = SecureServerOptions()

            for set, option, wording in
                [
                    (fun () -> opts.MaxMessageSize <- 0), "MaxMessageSize: ", "at least 1 byte (it is 0)"
                    (fun () -> opts.RekeyAfterBytes <- 0L), "RekeyAfterBytes: ", "(it is 1048576 records, 0 bytes)"
                    (fun () -> opts.RekeyAfterRecords <- -1L), "RekeyAfterRecords: ", "(it is -1 records"
                    (fun () -> opts.ApplicationProtocol <- String('a', 256)),
                    "ApplicationProtocol: ",
                    "(it has 256 characters)"
                    (fun () -> opts.PreSharedKey <- Array.zeroCreate 31),
                    "PreSharedKey (31 bytes",
                    "every PSK must be exactly 32 bytes"
                ] do
                try
                    set ()
                    failtest $"{option} accepted a bad value"
                with HybridError e ->
                    Expect.equal e.Code HybridErrorCode.InvalidArgument option
                    Expect.stringStarts e.Message option option
                    Expect.stringContains e.Message wording option

            // The edges the core allows are allowed.
            opts.MaxMessageSize <- 1
            opts.RekeyAfterBytes <- 1L
            opts.RekeyAfterRecords <- 1L
            opts.ApplicationProtocol <- String('~', 255)
            opts.PreSharedKey <- Array.zeroCreate 32
        }

        testProperty "a MaxMessageSize or MaxRecordData value is accepted exactly when the core's check accepts it"
        <| fun (size: int) ->
            let accepts (set: unit -> unit) =
                try
                    set ()
                    true
                with :? HybridArgumentException ->
                    false

            let opts = SecureClientOptions()

            accepts (fun () -> opts.MaxMessageSize <- size) = Result.isOk (Policy.checkMaxMessageSize size)
            && accepts (fun () -> opts.MaxRecordData <- size) = Result.isOk (Policy.checkMaxRecordData size)
    ]
