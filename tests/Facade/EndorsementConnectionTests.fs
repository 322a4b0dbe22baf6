/// Endorsements end to end with real sockets on 127.0.0.1 (specs/PROTOCOL.md §6b): a client that trusts an authority
/// connects to servers holding different endorsed keys, and refuses each bad endorsement with its own error code;
/// a known-hosts file's `@authority` line is honoured.
module HybridProtocol.Tests.EndorsementConnectionTests

open System
open System.IO
open Expecto
open HybridProtocol
open HybridProtocol.Tests.Loopback

/// A clock fixed at one instant (the injectable clock of ServerAuthentication.Authority).
type private FixedClock(now: DateTimeOffset) =
    inherit TimeProvider()
    override _.GetUtcNow() = now

let private hour = TimeSpan.FromHours 1.0

let private endorse
    (authority: AuthoritySigningKey)
    (key: PrivateKey)
    hosts
    (notBefore: DateTimeOffset)
    (notAfter: DateTimeOffset)
    =
    authority.Endorse(key.PublicKey, hosts, notBefore, notAfter)

let private now () = DateTimeOffset.UtcNow

let private serving (key: PrivateKey) (endorsement: ServerEndorsement option) =
    let options = serverOptions key
    // Clients with and without a key of their own (XX and NX) are served.
    options.ClientAuthentication <- ClientAuthentication.Optional(fun _ -> true)

    match endorsement with
    | Some e -> options.Endorsement <- e
    | None -> ()

    options

/// The client's result code (None when it connected, after one exchange) for this server and client setup.
let private clientCode serverOpts clientOpts =
    match handshake serverOpts clientOpts id id with
    | Ok c, Ok s ->
        exchange c s
        c.Dispose()
        s.Dispose()
        None
    | c, s ->
        ignore (Result.map (fun (s: SecureConnection) -> s.Dispose()) s)
        code c

[<Tests>]
let tests =
    testList "Facade endorsements" [
        test
            "a client trusting the authority connects to two servers with different endorsed keys, classical and hybrid, with and without a client key" {
            use authority = AuthoritySigningKey.Generate()
            use first = PrivateKey.Generate()
            use second = PrivateKey.Generate()
            use identity = PrivateKey.Generate()

            let window key =
                endorse authority key [ "127.0.0.1"; "*.fleet.example" ] (now () - hour) (now () + hour)

            for key in [ first; second ] do
                for post in [ PostQuantumMode.Hybrid; PostQuantumMode.Classical ] do
                    for withIdentity in [ false; true ] do
                        let client = clientOptions (ServerAuthentication.Authority [ authority.PublicKey ])
                        client.PostQuantum <- post

                        if withIdentity then
                            client.ClientIdentity <- identity

                        match handshake (serving key (Some(window key))) client id id with
                        | Ok c, Ok s ->
                            Expect.equal c.RemotePublicKey key.PublicKey "the client sees the endorsed key"
                            exchange c s
                            c.Dispose()
                            s.Dispose()
                        | c, s -> failtestf "%A %b: client %A, server %A" post withIdentity c s
        }

        test "each refusal has its exact error code" {
            use authority = AuthoritySigningKey.Generate()
            use stranger = AuthoritySigningKey.Generate()
            use key = PrivateKey.Generate()
            let valid = endorse authority key [ "127.0.0.1" ] (now () - hour) (now () + hour)
            let trust = ServerAuthentication.Authority [ authority.PublicKey ]

            let tampered =
                let bytes = valid.ToBytes()
                bytes[bytes.Length - 1] <- bytes[bytes.Length - 1] ^^^ 1uy
                ServerEndorsement.FromBytes(ReadOnlySpan bytes)

            let cases = [
                "valid", Some valid, trust, None
                "no endorsement", None, trust, Some HybridErrorCode.EndorsementMissing
                "expired",
                Some(endorse authority key [ "127.0.0.1" ] (now () - hour - hour) (now () - hour)),
                trust,
                Some HybridErrorCode.EndorsementExpired
                "not yet valid (the client's clock is a day early)",
                Some valid,
                ServerAuthentication.Authority(
                    [ authority.PublicKey ],
                    clock = FixedClock(now () - TimeSpan.FromDays 1.0)
                ),
                Some HybridErrorCode.EndorsementNotYetValid
                "wrong host",
                Some(endorse authority key [ "10.9.9.9"; "*.fleet.example" ] (now () - hour) (now () + hour)),
                trust,
                Some HybridErrorCode.EndorsementWrongHost
                "wrong port",
                Some(endorse authority key [ "127.0.0.1:1" ] (now () - hour) (now () + hour)),
                trust,
                Some HybridErrorCode.EndorsementWrongHost
                "unknown authority",
                Some valid,
                ServerAuthentication.Authority [ stranger.PublicKey ],
                Some HybridErrorCode.UnknownAuthority
                "revoked server key",
                Some valid,
                ServerAuthentication.Authority([ authority.PublicKey ], revokedServerKeys = [ key.PublicKey ]),
                // A revoked server key is refused before its endorsement is read, as everywhere (PROTOCOL.md §6a).
                Some HybridErrorCode.KeyRevoked
                "revoked authority",
                Some valid,
                ServerAuthentication.Authority([ authority.PublicKey ], revokedAuthorities = [ authority.PublicKey ]),
                Some HybridErrorCode.EndorsementRevoked
                "tampered endorsement", Some tampered, trust, Some HybridErrorCode.BadEndorsement
            ]

            for name, endorsement, auth, expected in cases do
                Expect.equal (clientCode (serving key endorsement) (clientOptions auth)) expected name
        }

        test "a refusal is an authentication exception whose message says what to do" {
            use authority = AuthoritySigningKey.Generate()
            use key = PrivateKey.Generate()

            let expired =
                endorse authority key [ "127.0.0.1" ] (now () - hour - hour) (now () - hour)

            match
                handshake
                    (serving key (Some expired))
                    (clientOptions (ServerAuthentication.Authority [ authority.PublicKey ]))
                    id
                    id
            with
            | Error e, s ->
                ignore (Result.map (fun (s: SecureConnection) -> s.Dispose()) s)
                Expect.isTrue (e :? Security.Authentication.AuthenticationException) $"{e.GetType().Name}"
                Expect.stringContains e.Message "expired" "says what"
                Expect.stringContains e.Message "endorse the key again" "says what to do"
            | other -> failtestf "%A" other
        }

        test "a server refuses to send an endorsement of another key (InvalidArgument)" {
            use authority = AuthoritySigningKey.Generate()
            use key = PrivateKey.Generate()
            use other = PrivateKey.Generate()

            let forOther =
                endorse authority other [ "127.0.0.1" ] (now () - hour) (now () + hour)

            match
                handshake
                    (serving key (Some forOther))
                    (clientOptions (ServerAuthentication.Authority [ authority.PublicKey ]))
                    id
                    id
            with
            | c, Error(HybridError h) ->
                ignore (Result.map (fun (c: SecureConnection) -> c.Dispose()) c)
                Expect.equal h.Code HybridErrorCode.InvalidArgument "the server's code"
            | other -> failtestf "%A" other
        }

        test
            "keys and endorsement replaced together while handshakes run: every handshake presents a key with its own endorsement" {
            // A reload (the Kestrel endpoint's KeyFileReloader) replaces the keys and the endorsement together; a
            // handshake that read them in two reads could pair the new key with the old endorsement (InvalidArgument).
            use authority = AuthoritySigningKey.Generate()
            use first = PrivateKey.Generate()
            use second = PrivateKey.Generate()

            let endorsed key =
                endorse authority key [ "127.0.0.1" ] (now () - hour) (now () + hour)

            let pairs = [| [| first |], endorsed first; [| second |], endorsed second |]
            let options = serving first (Some(endorsed first))
            let client = clientOptions (ServerAuthentication.Authority [ authority.PublicKey ])
            client.PostQuantum <- PostQuantumMode.Classical
            use stop = new Threading.CancellationTokenSource()

            let flipper =
                Threading.Tasks.Task.Factory.StartNew(
                    (fun () ->
                        let mutable i = 0

                        while not stop.IsCancellationRequested do
                            let keys, endorsement = pairs[i % 2]
                            options.Replace(keys, endorsement)
                            i <- i + 1

                        i),
                    Threading.Tasks.TaskCreationOptions.LongRunning
                )

            use listener = listen ()
            let seen = Collections.Generic.HashSet<PublicKey>()

            try
                for attempt in 1..200 do
                    match handshakeOn listener options client id id with
                    | Ok c, Ok s ->
                        seen.Add(nonNull c.RemotePublicKey) |> ignore
                        c.Dispose()
                        s.Dispose()
                    | c, s -> failtestf "handshake %d: client %A, server %A" attempt c s
            finally
                stop.Cancel()

            Expect.isGreaterThan flipper.Result 200 "the identity was replaced throughout"
            Expect.equal seen.Count 2 "both keys were served"
        }

        test
            "a known-hosts @authority line accepts an endorsed key without recording it, refuses a bad endorsement, and leaves other servers to trust on first use" {
            use authority = AuthoritySigningKey.Generate()
            use endorsed = PrivateKey.Generate()
            use plain = PrivateKey.Generate()
            let path = tempFile ()

            try
                File.WriteAllText(path, $"@authority 127.0.0.1 {authority.PublicKey} fleet\n")

                let auth () =
                    ServerAuthentication.KnownHostsFile path

                let valid =
                    endorse authority endorsed [ "127.0.0.1" ] (now () - hour) (now () + hour)

                Expect.equal (clientCode (serving endorsed (Some valid)) (clientOptions (auth ()))) None "endorsed"
                Expect.equal (File.ReadAllLines path).Length 1 "nothing recorded for an endorsed key"

                let expired =
                    endorse authority endorsed [ "127.0.0.1" ] (now () - hour - hour) (now () - hour)

                Expect.equal
                    (clientCode (serving endorsed (Some expired)) (clientOptions (auth ())))
                    (Some HybridErrorCode.EndorsementExpired)
                    "expired"

                Expect.equal
                    (clientCode (serving plain None) (clientOptions (auth ())))
                    None
                    "no endorsement: trust on first use"

                Expect.equal (File.ReadAllLines path).Length 2 "the plain server's key was recorded"
            finally
                File.Delete path
        }
    ]
