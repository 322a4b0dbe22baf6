/// Noise §8 protocol names, parsed into typed values and printed back.
namespace HybridProtocol.Core.Noise

open System

/// Noise §12 DH functions this implementation offers.
type DhName = | Curve25519

/// Noise §12 cipher functions we offer, plus the AEGIS extension (specs/NOISE-CORE.md §"AEGIS suites").
type CipherName =
    | ChaChaPoly
    | AESGCM
    | AEGIS256
    | AEGIS128L

/// Noise §12 hash functions we offer (NSec has no BLAKE2s).
type HashName =
    | SHA256
    | SHA512
    | BLAKE2b

/// A parsed protocol name such as Noise_XXpsk0+psk3_25519_ChaChaPoly_BLAKE2b.
type ProtocolName = {
    /// The base pattern with its psk modifiers applied.
    Pattern: HandshakePattern
    /// The base pattern's name, e.g. "XX".
    BasePattern: string
    /// The psk modifier positions in the order written, e.g. [0; 3].
    PskModifiers: int list
    Dh: DhName
    Cipher: CipherName
    Hash: HashName
}

module ProtocolName =
    let dhToString =
        function
        | Curve25519 -> "25519"

    let cipherToString =
        function
        | ChaChaPoly -> "ChaChaPoly"
        | AESGCM -> "AESGCM"
        | AEGIS256 -> "AEGIS256"
        | AEGIS128L -> "AEGIS128L"

    let hashToString =
        function
        | SHA256 -> "SHA256"
        | SHA512 -> "SHA512"
        | BLAKE2b -> "BLAKE2b"

    let private parseDh =
        function
        | "25519" -> Ok Curve25519
        | other -> Error(UnsupportedDh other)

    let private parseCipher =
        function
        | "ChaChaPoly" -> Ok ChaChaPoly
        | "AESGCM" -> Ok AESGCM
        | "AEGIS256" -> Ok AEGIS256
        | "AEGIS128L" -> Ok AEGIS128L
        | other -> Error(UnsupportedCipher other)

    let private parseHash =
        function
        | "SHA256" -> Ok SHA256
        | "SHA512" -> Ok SHA512
        | "BLAKE2b" -> Ok BLAKE2b
        | other -> Error(UnsupportedHash other)

    /// The pattern section (§8.1): a base name followed by modifiers separated by '+',
    /// the first modifier written directly after the base name ("XXpsk0+psk3").
    let private splitPatternSection (section: string) =
        let start = section.IndexOf("psk", StringComparison.Ordinal)

        let baseName, modifiers =
            if start < 0 then
                section, []
            else
                section.Substring(0, start), section.Substring(start).Split('+') |> List.ofArray

        baseName, modifiers

    let private parsePsk (modifier: string) =
        let digits =
            if modifier.StartsWith "psk" then
                modifier.Substring 3
            else
                ""

        // Only canonical decimal numbers: "psk0".."psk99", no sign, no leading zeros.
        if
            digits.Length >= 1
            && digits.Length <= 2
            && Seq.forall Char.IsAsciiDigit digits
            && not (digits.Length > 1 && digits[0] = '0')
        then
            Ok(int digits)
        else
            Error(InvalidModifier modifier)

    let private parsePattern (section: string) =
        let baseName, modifiers = splitPatternSection section

        match HandshakePattern.tryFind baseName with
        | None -> Error(UnknownPattern section)
        | Some basePattern ->
            let rec apply pattern positions =
                function
                | [] -> Ok(pattern, List.rev positions)
                | modifier :: rest ->
                    match parsePsk modifier with
                    | Error e -> Error e
                    | Ok position when List.contains position positions -> Error(InvalidModifier modifier)
                    | Ok position ->
                        match HandshakePattern.applyPsk position pattern with
                        | None -> Error(InvalidModifier modifier)
                        | Some next -> apply next (position :: positions) rest

            match apply basePattern [] modifiers with
            | Error e -> Error e
            | Ok(pattern, positions) ->
                let pattern = { pattern with Name = section }

                if HandshakePattern.satisfiesPskValidity pattern then
                    Ok(baseName, positions, pattern)
                else
                    Error(InvalidModifier section)

    /// Parses "Noise_<pattern>_<dh>_<cipher>_<hash>" (§8).
    let parse (name: string) : Result<ProtocolName, ProtocolNameError> =
        match name.Split '_' with
        | [| prefix; pattern; dh; cipher; hash |] ->
            if prefix <> "Noise" then
                Error NotNoise
            else
                match parsePattern pattern, parseDh dh, parseCipher cipher, parseHash hash with
                | Ok(baseName, positions, pattern), Ok dh, Ok cipher, Ok hash ->
                    Ok {
                        Pattern = pattern
                        BasePattern = baseName
                        PskModifiers = positions
                        Dh = dh
                        Cipher = cipher
                        Hash = hash
                    }
                | Error e, _, _, _
                | _, Error e, _, _
                | _, _, Error e, _
                | _, _, _, Error e -> Error e
        | parts when parts.Length > 0 && parts[0] <> "Noise" -> Error NotNoise
        | _ -> Error MalformedName

    /// The pattern section as written: base name then "pskN" modifiers joined by '+'.
    let patternSection (name: ProtocolName) =
        match name.PskModifiers with
        | [] -> name.BasePattern
        | positions ->
            name.BasePattern
            + (positions |> List.map (sprintf "psk%d") |> String.concat "+")

    /// Prints the name back; `parse (toString n) = Ok n`.
    let toString (name: ProtocolName) =
        String.Join(
            "_",
            [|
                "Noise"
                patternSection name
                dhToString name.Dh
                cipherToString name.Cipher
                hashToString name.Hash
            |]
        )

    /// Builds a name from typed parts (Noise §8), with the checks `parse` makes: the psk modifiers are
    /// placed in the order given (§9.4), none twice, and the result must satisfy the §9.3 validity rule.
    /// `parse (toString n) = Ok n` holds for every name it returns.
    let create
        (basePattern: HandshakePattern)
        (pskModifiers: int list)
        (dh: DhName)
        (cipher: CipherName)
        (hash: HashName)
        : Result<ProtocolName, ProtocolNameError> =
        let section =
            basePattern.Name
            + (pskModifiers |> List.map (sprintf "psk%d") |> String.concat "+")

        let rec apply pattern seen =
            function
            | [] -> Ok pattern
            | position :: _ when List.contains position seen -> Error(InvalidModifier(sprintf "psk%d" position))
            | position :: rest ->
                match HandshakePattern.applyPsk position pattern with
                | None -> Error(InvalidModifier(sprintf "psk%d" position))
                | Some next -> apply next (position :: seen) rest

        match HandshakePattern.tryFind basePattern.Name with
        | Some known when known = basePattern ->
            match apply basePattern [] pskModifiers with
            | Error e -> Error e
            | Ok pattern when not (HandshakePattern.satisfiesPskValidity pattern) -> Error(InvalidModifier section)
            | Ok pattern ->
                Ok {
                    Pattern = { pattern with Name = section }
                    BasePattern = basePattern.Name
                    PskModifiers = pskModifiers
                    Dh = dh
                    Cipher = cipher
                    Hash = hash
                }
        | _ -> Error(UnknownPattern basePattern.Name)
