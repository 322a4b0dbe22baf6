namespace HybridProtocol.Core.Noise

open System

type DhName = | Curve25519

type KemName = | MLKEM768

type PatternModifier =
    | PskModifier of position: int
    | HfsModifier

type CipherName =
    | ChaChaPoly
    | AESGCM
    | AEGIS256
    | AEGIS128L

type HashName =
    | SHA256
    | SHA512
    | BLAKE2b

type ProtocolName = {
    Pattern: HandshakePattern
    BasePattern: string
    Modifiers: PatternModifier list
    Dh: DhName
    Kem: KemName option
    Cipher: CipherName
    Hash: HashName
    Text: string
} with

    member this.PskModifiers =
        this.Modifiers
        |> List.choose (function
            | PskModifier position -> Some position
            | HfsModifier -> None)

    member this.IsHfs = List.contains HfsModifier this.Modifiers

module ProtocolName =
    let dhToString =
        function
        | Curve25519 -> "25519"

    let kemToString =
        function
        | MLKEM768 -> "MLKEM768"

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

    /// The DH section (Noise HFS §5): the DH name, then for hfs a '+' and the KEM name.
    let private parseDhSection (section: string) =
        match section.Split '+' with
        | [| dh |] -> parseDh dh |> Result.map (fun dh -> dh, None)
        | [| dh; kem |] ->
            match parseDh dh, kem with
            | Error e, _ -> Error e
            | Ok dh, "MLKEM768" -> Ok(dh, Some MLKEM768)
            | Ok _, other -> Error(UnsupportedKem other)
        | _ -> Error(UnsupportedDh section)

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
    /// the first modifier written directly after the base name ("XXpsk0+psk3", "XXhfs+psk3").
    let private splitPatternSection (section: string) =
        let starts =
            [ "psk"; "hfs" ]
            |> List.map (fun m -> section.IndexOf(m, StringComparison.Ordinal))
            |> List.filter (fun i -> i >= 0)

        match starts with
        | [] -> section, []
        | _ ->
            let start = List.min starts
            section.Substring(0, start), section.Substring(start).Split('+') |> List.ofArray

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

    let private parseModifier (modifier: string) =
        if modifier = "hfs" then
            Ok HfsModifier
        else
            parsePsk modifier |> Result.map PskModifier

    let private applyModifier modifier pattern =
        match modifier with
        | PskModifier position -> HandshakePattern.applyPsk position pattern
        | HfsModifier -> HandshakePattern.applyHfs pattern

    let private modifierToString =
        function
        | PskModifier position -> "psk" + position.ToString(System.Globalization.CultureInfo.InvariantCulture)
        | HfsModifier -> "hfs"

    let private parsePattern (section: string) =
        let baseName, modifiers = splitPatternSection section

        match HandshakePattern.tryFind baseName with
        | None -> Error(UnknownPattern section)
        | Some basePattern ->
            let rec apply pattern applied =
                function
                | [] -> Ok(pattern, List.rev applied)
                | text :: rest ->
                    match parseModifier text with
                    | Error e -> Error e
                    | Ok modifier when List.contains modifier applied -> Error(InvalidModifier text)
                    | Ok modifier ->
                        match applyModifier modifier pattern with
                        | None -> Error(InvalidModifier text)
                        | Some next -> apply next (modifier :: applied) rest

            match apply basePattern [] modifiers with
            | Error e -> Error e
            | Ok(pattern, applied) ->
                let pattern = { pattern with Name = section }

                if HandshakePattern.satisfiesPskValidity pattern then
                    Ok(baseName, applied, pattern)
                else
                    Error(InvalidModifier section)

    let patternSection (name: ProtocolName) =
        name.BasePattern
        + (name.Modifiers |> List.map modifierToString |> String.concat "+")

    let dhSection (name: ProtocolName) =
        match name.Kem with
        | None -> dhToString name.Dh
        | Some kem -> dhToString name.Dh + "+" + kemToString kem

    // The name as written, from its parts; made once, when a name is parsed or created (`Text`).
    let private format (name: ProtocolName) =
        String.Join(
            "_",
            [|
                "Noise"
                patternSection name
                dhSection name
                cipherToString name.Cipher
                hashToString name.Hash
            |]
        )

    let toString (name: ProtocolName) = name.Text

    let private parseExact (name: string) : Result<ProtocolName, ProtocolNameError> =
        match name.Split '_' with
        | [| prefix; pattern; dh; cipher; hash |] ->
            if prefix <> "Noise" then
                Error NotNoise
            else
                match parsePattern pattern, parseDhSection dh, parseCipher cipher, parseHash hash with
                | Ok(_, modifiers, _), Ok(_, None), _, _ when List.contains HfsModifier modifiers -> Error MissingKem
                | Ok(_, modifiers, _), Ok(_, Some _), _, _ when not (List.contains HfsModifier modifiers) ->
                    Error KemWithoutHfs
                | Ok(baseName, modifiers, pattern), Ok(dh, kem), Ok cipher, Ok hash ->
                    Ok {
                        Pattern = pattern
                        BasePattern = baseName
                        Modifiers = modifiers
                        Dh = dh
                        Kem = kem
                        Cipher = cipher
                        Hash = hash
                        // Parsed exactly as written: in the canonical order this is `format` of the parts.
                        Text = name
                    }
                | Error e, _, _, _
                | _, Error e, _, _
                | _, _, Error e, _
                | _, _, _, Error e -> Error e
        | parts when parts.Length > 0 && parts[0] <> "Noise" -> Error NotNoise
        | _ -> Error MalformedName

    // Canonical names (specs/NOISE-CORE.md, "Canonical names"): hfs, the one modifier that is not psk, first,
    // then the psk modifiers by ascending position (Noise §9: "psk0+psk2"); every section in the case the specs
    // write it. A name that only differs from a canonical one in these ways is refused with that name.
    let private canonicalOrder (modifiers: PatternModifier list) =
        let psks =
            modifiers
            |> List.choose (function
                | PskModifier position -> Some position
                | HfsModifier -> None)
            |> List.sort
            |> List.map PskModifier

        (modifiers |> List.filter (fun m -> m = HfsModifier)) @ psks

    let private requireCanonicalOrder (name: ProtocolName) =
        let ordered = canonicalOrder name.Modifiers

        if ordered = name.Modifiers then
            Ok name
        else
            // The reordered modifiers add the same tokens at the same places: only the name (and so h) differs.
            Error(NonCanonical(format { name with Modifiers = ordered }))

    let private foldCase (spellings: string list) (text: string) =
        spellings
        |> List.tryFind (fun spelling -> String.Equals(spelling, text, StringComparison.OrdinalIgnoreCase))
        |> Option.defaultValue text

    // The name with each section in the specs' case: base pattern upper case, modifiers lower case, the
    // suite names as the specs write them.
    let private caseFolded (parts: string array) =
        let section = parts[1]
        let lower = section.ToLowerInvariant()

        let pattern =
            match
                [ "psk"; "hfs" ]
                |> List.map (fun m -> lower.IndexOf(m, StringComparison.Ordinal))
                |> List.filter (fun i -> i >= 0)
            with
            | [] -> section.ToUpperInvariant()
            | starts ->
                let start = List.min starts
                section.Substring(0, start).ToUpperInvariant() + lower.Substring start

        let dh =
            parts[2].Split '+'
            |> Array.map (foldCase [ dhToString Curve25519; kemToString MLKEM768 ])
            |> String.concat "+"

        let cipher =
            foldCase (List.map cipherToString [ ChaChaPoly; AESGCM; AEGIS256; AEGIS128L ]) parts[3]

        let hash = foldCase (List.map hashToString [ SHA256; SHA512; BLAKE2b ]) parts[4]
        String.Join("_", [| foldCase [ "Noise" ] parts[0]; pattern; dh; cipher; hash |])

    let parse (name: string) : Result<ProtocolName, ProtocolNameError> =
        match parseExact name with
        | Ok parsed -> requireCanonicalOrder parsed
        | Error error ->
            let parts = name.Split '_'

            if parts.Length <> 5 then
                Error error
            else
                let folded = caseFolded parts

                if folded = name then
                    Error error
                else
                    match parseExact folded |> Result.bind requireCanonicalOrder with
                    | Ok canonical -> Error(NonCanonical(toString canonical))
                    | Error(NonCanonical canonical) -> Error(NonCanonical canonical)
                    | Error _ -> Error error

    let createWithModifiers
        (basePattern: HandshakePattern)
        (modifiers: PatternModifier list)
        (dh: DhName)
        (kem: KemName option)
        (cipher: CipherName)
        (hash: HashName)
        : Result<ProtocolName, ProtocolNameError> =
        let section =
            basePattern.Name + (modifiers |> List.map modifierToString |> String.concat "+")

        let rec apply pattern seen =
            function
            | [] -> Ok pattern
            | modifier :: _ when List.contains modifier seen -> Error(InvalidModifier(modifierToString modifier))
            | modifier :: rest ->
                match applyModifier modifier pattern with
                | None -> Error(InvalidModifier(modifierToString modifier))
                | Some next -> apply next (modifier :: seen) rest

        let hfs = List.contains HfsModifier modifiers

        match HandshakePattern.tryFind basePattern.Name with
        | Some known when known = basePattern ->
            match apply basePattern [] modifiers with
            | Error e -> Error e
            | Ok pattern when not (HandshakePattern.satisfiesPskValidity pattern) -> Error(InvalidModifier section)
            | Ok _ when hfs && kem.IsNone -> Error MissingKem
            | Ok _ when not hfs && kem.IsSome -> Error KemWithoutHfs
            | Ok pattern ->
                let name = {
                    Pattern = { pattern with Name = section }
                    BasePattern = basePattern.Name
                    Modifiers = modifiers
                    Dh = dh
                    Kem = kem
                    Cipher = cipher
                    Hash = hash
                    Text = ""
                }

                requireCanonicalOrder { name with Text = format name }
        | _ -> Error(UnknownPattern basePattern.Name)

    let create
        (basePattern: HandshakePattern)
        (pskModifiers: int list)
        (dh: DhName)
        (cipher: CipherName)
        (hash: HashName)
        : Result<ProtocolName, ProtocolNameError> =
        createWithModifiers basePattern (List.map PskModifier pskModifiers) dh None cipher hash
