/// The .NET exception families of HybridProtocol's failures (issue 24): connection, protocol and authentication
/// failures are IOExceptions, a caller's bad argument, option or key is an ArgumentException (with the option's name),
/// a call in the wrong state is an InvalidOperationException (ObjectDisposedException after dispose), and every one of
/// them carries its HybridErrorCode through IHybridProtocolError.
module HybridProtocol.Tests.ExceptionFamilies

open System
open System.IO
open System.Net.Sockets
open System.Threading.Tasks
open Expecto
open HybridProtocol
open HybridProtocol.Tests.Loopback

/// What `f` throws (unwrapping one AggregateException); fails the test when it returns.
let private thrown (f: unit -> unit) : exn =
    try
        f ()
        failtest "expected an exception, but the call returned"
    with
    | :? AggregateException as a when a.InnerExceptions.Count = 1 -> a.InnerExceptions[0]
    | e -> e

let private codeOf (e: exn) =
    match box e with
    | :? IHybridProtocolError as h -> h.Code
    | _ -> failtestf "expected an IHybridProtocolError, got %s: %s" (e.GetType().Name) e.Message

let private pair () =
    let key = PrivateKey.Generate()
    connected (serverOptions key) (clientOptions (ServerAuthentication.Pinned key.PublicKey))

[<Tests>]
let tests =
    testList "Exceptions: .NET families" [
        test "MaxMessageSize = -1 is an ArgumentException naming MaxMessageSize, with code InvalidArgument" {
            let e = thrown (fun () -> SecureClientOptions(MaxMessageSize = -1) |> ignore)
            Expect.isTrue (e :? ArgumentException) $"an ArgumentException, not {e.GetType().Name}"
            Expect.equal (e :?> ArgumentException).ParamName "MaxMessageSize" "the parameter name"
            Expect.equal (codeOf e) HybridErrorCode.InvalidArgument "the code"
            Expect.isFalse (e :? IOException) "not an IOException"
        }

        test "every option setter's refusal names its option" {
            for name, set in
                [
                    "HandshakeTimeout",
                    (fun () -> SecureServerOptions(HandshakeTimeout = TimeSpan.FromSeconds -1.0) |> ignore)
                    "MaxRecordData", (fun () -> SecureServerOptions(MaxRecordData = 0) |> ignore)
                    "ServerKey", (fun () -> SecureServerOptions(ServerKey = null) |> ignore)
                    "ServerAuthentication", (fun () -> SecureClientOptions(ServerAuthentication = null) |> ignore)
                ] do
                match thrown set with
                | :? HybridArgumentException as e ->
                    Expect.equal e.ParamName name name
                    Expect.equal e.Code HybridErrorCode.InvalidArgument name
                | e -> failtestf "%s: expected HybridArgumentException, got %O" name e
        }

        test "a malformed key is an ArgumentException with code InvalidKey" {
            let e = thrown (fun () -> PrivateKey.FromPem "not a key" |> ignore)
            Expect.isTrue (e :? ArgumentException) $"an ArgumentException, not {e.GetType().Name}"
            Expect.equal (codeOf e) HybridErrorCode.InvalidKey "the code"

            let raw =
                thrown (fun () -> PrivateKey.FromRawBytes(ReadOnlySpan(Array.zeroCreate<byte> 5)) |> ignore)

            Expect.isTrue (raw :? HybridArgumentException) $"raw bytes of the wrong length: {raw.GetType().Name}"
        }

        test "a refused key is an AuthenticationException with code AuthenticationFailed, as SslStream's" {
            let key = PrivateKey.Generate()
            use other = PrivateKey.Generate()

            match handshake (serverOptions key) (clientOptions (ServerAuthentication.Pinned other.PublicKey)) id id with
            | Error client, _ ->
                Expect.isTrue
                    (client :? Security.Authentication.AuthenticationException)
                    $"an AuthenticationException, not {client.GetType().Name}"

                Expect.isTrue (client :? HybridAuthenticationException) "a HybridAuthenticationException"
                Expect.equal (codeOf client) HybridErrorCode.AuthenticationFailed "the code"
            | Ok c, _ ->
                c.Dispose()
                failtest "the wrong pinned key was accepted"
        }

        test "a refused TCP connection is an IOException with code TransportFailed" {
            let port =
                use l = listen ()
                portOf l

            let e =
                thrown (fun () ->
                    SecureConnection.ConnectAsync(
                        "127.0.0.1",
                        port,
                        clientOptions (ServerAuthentication.DangerousAcceptAnyServerKey())
                    )
                    |> run
                    |> ignore)

            Expect.isTrue (e :? IOException) $"an IOException, not {e.GetType().Name}"
            Expect.equal (codeOf e) HybridErrorCode.TransportFailed "the code"
            Expect.isTrue (e.InnerException :? SocketException) "the socket error is the cause"
        }

        test "sending after close is an InvalidOperationException; after dispose an ObjectDisposedException" {
            let client, server = pair ()
            use server = server
            let _ = run (client.CloseAsync())

            let closed =
                thrown (fun () -> runUnit (client.SendAsync(ReadOnlyMemory(text "late")).AsTask()))

            Expect.isTrue
                (closed :? InvalidOperationException)
                $"after close: {closed.GetType().Name}: {closed.Message}"

            Expect.equal (codeOf closed) HybridErrorCode.InvalidState "after close: the code"
            client.Dispose()

            let disposed =
                thrown (fun () -> runUnit (client.SendAsync(ReadOnlyMemory(text "late")).AsTask()))

            Expect.isTrue
                (disposed :? ObjectDisposedException)
                $"after dispose: {disposed.GetType().Name}: {disposed.Message}"

            Expect.equal (codeOf disposed) HybridErrorCode.InvalidState "after dispose: the code"
        }

        test "a listener used before Start is an InvalidOperationException with code InvalidState" {
            use key = PrivateKey.Generate()
            let listener = new SecureListener(Net.IPEndPoint(loopback, 0), serverOptions key)
            let e = thrown (fun () -> listener.AcceptAsync() |> run |> ignore)
            runUnit (listener.DisposeAsync().AsTask())
            Expect.isTrue (e :? InvalidOperationException) $"an InvalidOperationException, not {e.GetType().Name}"
            Expect.equal (codeOf e) HybridErrorCode.InvalidState "the code"
        }

        test "every code has the family the docs give it" {
            for code in Enum.GetValues<HybridErrorCode>() do
                let e = HybridErrors.Create(code, "m")
                Expect.equal (codeOf e) code $"{code}: the code is kept"

                match code with
                | HybridErrorCode.InvalidArgument
                | HybridErrorCode.InvalidKey -> Expect.isTrue (e :? ArgumentException) $"{code}"
                | HybridErrorCode.InvalidState -> Expect.isTrue (e :? InvalidOperationException) $"{code}"
                | HybridErrorCode.AuthenticationFailed
                | HybridErrorCode.ServerKeyChanged
                | HybridErrorCode.EndorsementMissing
                | HybridErrorCode.BadEndorsement
                | HybridErrorCode.UnknownAuthority
                | HybridErrorCode.EndorsementKeyMismatch
                | HybridErrorCode.EndorsementRevoked
                | HybridErrorCode.EndorsementNotYetValid
                | HybridErrorCode.EndorsementExpired
                | HybridErrorCode.EndorsementWrongHost ->
                    Expect.isTrue (e :? Security.Authentication.AuthenticationException) $"{code}"
                | _ -> Expect.isTrue (e :? IOException) $"{code}"
        }

        test "no C# source builds a HybridProtocolException with an argument or state code" {
            let offenders =
                [ "facade-csharp"; "facade-aspnetcore"; "facade-csharp-extended"; "cli" ]
                |> List.collect (fun d ->
                    Directory.GetFiles(Path.Combine(TestSupport.repoRoot, d), "*.cs", SearchOption.AllDirectories)
                    |> List.ofArray)
                |> List.filter (fun f ->
                    let text = File.ReadAllText f

                    Text.RegularExpressions.Regex.IsMatch(
                        text,
                        @"new HybridProtocolException\(\s*HybridErrorCode\.(InvalidArgument|InvalidKey|InvalidState|AuthenticationFailed|ServerKeyChanged)\b"
                    ))

            Expect.isEmpty
                offenders
                "use HybridArgumentException / HybridInvalidOperationException (or HybridErrors.Create)"
        }
    ]
