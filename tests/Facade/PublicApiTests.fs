/// Public-API tracking (issue 24): the public and protected surface of each library assembly, one line per type and
/// member, is compared with the list checked in under tests/PublicApi. An unintended break (a member removed or
/// changed) or an unreviewed addition fails the suite, which CI runs. After an intended change, regenerate the lists
/// with `HYBRID_UPDATE_PUBLIC_API=1 dotnet run --project tests -c Release -- --filter "Public API"` and review the diff.
module HybridProtocol.Tests.PublicApiTests

open System
open System.IO
open System.Reflection
open Expecto

let private assemblies = [
    typeof<HybridProtocol.Core.Wire.Preamble>.Assembly
    typeof<HybridProtocol.SecureConnection>.Assembly
    typeof<HybridProtocol.AspNetCore.HybridProtocolHttp>.Assembly
    typeof<HybridProtocol.HpkeExtended>.Assembly
]

/// A type as C# would write it, namespaces included, generic arguments by name.
let rec private name (t: Type) : string =
    if t.IsGenericParameter then
        t.Name
    elif t.IsByRef then
        "ref " + name (t.GetElementType() |> nonNull)
    elif t.IsArray then
        name (t.GetElementType() |> nonNull)
        + "["
        + String(',', t.GetArrayRank() - 1)
        + "]"
    elif t.IsPointer then
        name (t.GetElementType() |> nonNull) + "*"
    else
        let full =
            match t.DeclaringType with
            | null ->
                (t.Namespace
                 |> Option.ofObj
                 |> Option.map (fun n -> n + ".")
                 |> Option.defaultValue "")
                + t.Name
            | d -> name d + "." + t.Name

        let plain = full.Split('`')[0]

        if t.IsGenericType then
            plain + "<" + String.Join(", ", t.GetGenericArguments() |> Array.map name) + ">"
        else
            plain

let private flags =
    BindingFlags.Public
    ||| BindingFlags.NonPublic
    ||| BindingFlags.Instance
    ||| BindingFlags.Static
    ||| BindingFlags.DeclaredOnly

let private visible (m: MethodBase | null) =
    match m with
    | null -> false
    | m -> m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly

let private parameters (ps: ParameterInfo[]) =
    String.Join(", ", ps |> Array.map (fun p -> name p.ParameterType))

/// One line per exported type and per visible member, sorted.
let surface (assembly: Assembly) =
    [
        for t in assembly.GetExportedTypes() do
            let n = name t

            let kind =
                if t.IsInterface then "interface"
                elif t.IsEnum then "enum"
                elif t.IsValueType then "struct"
                elif t.IsAbstract && t.IsSealed then "static class"
                elif t.IsAbstract then "abstract class"
                elif t.IsSealed then "sealed class"
                else "class"

            let bases = [
                match t.BaseType with
                | null -> ()
                | b when b = typeof<obj> || b = typeof<ValueType> || b = typeof<Enum> -> ()
                | b -> name b
                for i in t.GetInterfaces() |> Array.sortBy name do
                    name i
            ]

            yield
                $"{kind} {n}"
                + (if bases.IsEmpty then
                       ""
                   else
                       " : " + String.Join(", ", bases))

            for c in t.GetConstructors flags do
                if visible c then
                    yield $"{n}..ctor({parameters (c.GetParameters())})"

            for m in t.GetMethods flags do
                if visible m && not m.IsSpecialName then
                    let generic =
                        if m.IsGenericMethod then
                            "<" + String.Join(", ", m.GetGenericArguments() |> Array.map name) + ">"
                        else
                            ""

                    let isStatic = if m.IsStatic then "static " else ""
                    yield $"{isStatic}{n}.{m.Name}{generic}({parameters (m.GetParameters())}) -> {name m.ReturnType}"

            for p in t.GetProperties flags do
                let get = if visible p.GetMethod then " get;" else ""
                let set = if visible p.SetMethod then " set;" else ""

                if get <> "" || set <> "" then
                    let indexer =
                        match p.GetIndexParameters() with
                        | [||] -> ""
                        | ps -> "[" + parameters ps + "]"

                    yield $"{n}.{p.Name}{indexer} : {name p.PropertyType} {{{get}{set} }}"

            for f in t.GetFields flags do
                if (f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly) && not f.IsSpecialName then
                    let value =
                        if t.IsEnum then
                            $" = {Convert.ToInt64(f.GetRawConstantValue())}"
                        else
                            ""

                    yield $"{n}.{f.Name} : {name f.FieldType}{value}"

            for e in t.GetEvents flags do
                if visible e.AddMethod then
                    yield $"{n}.{e.Name} : event {name (e.EventHandlerType |> nonNull)}"
    ]
    |> List.distinct
    |> List.sortWith (fun a b -> String.CompareOrdinal(a, b))

let private listFile (assembly: Assembly) =
    Path.Combine(TestSupport.repoRoot, "tests", "PublicApi", (assembly.GetName().Name |> nonNull) + ".txt")

[<Tests>]
let tests =
    testList "Public API" [
        for assembly in assemblies do
            let assemblyName = assembly.GetName().Name

            test $"{assemblyName}: the public surface is the checked-in list" {
                let actual = surface assembly
                let file = listFile assembly

                if Environment.GetEnvironmentVariable "HYBRID_UPDATE_PUBLIC_API" = "1" then
                    Directory.CreateDirectory(Path.GetDirectoryName file |> nonNull) |> ignore
                    File.WriteAllLines(file, actual)

                Expect.isTrue (File.Exists file) $"{file} exists (HYBRID_UPDATE_PUBLIC_API=1 writes it)"

                let expected =
                    File.ReadAllLines file |> Array.filter (fun l -> l.Trim() <> "") |> List.ofArray

                let removed = expected |> List.except actual
                let added = actual |> List.except expected
                Expect.isGreaterThan actual.Length 2 "the surface was read"

                let lines (l: string list) = String.Join("\n  ", l)
                let relative = Path.GetRelativePath(TestSupport.repoRoot, file)

                Expect.isTrue
                    (removed.IsEmpty && added.IsEmpty)
                    ($"{assemblyName}'s public API differs from {relative}."
                     + $"\nRemoved (a break for callers):\n  {lines removed}"
                     + $"\nAdded:\n  {lines added}"
                     + "\nIf intended, regenerate with HYBRID_UPDATE_PUBLIC_API=1 and review the diff.")
            }

        test "the crypto providers and test hooks are not public API" {
            let facade = typeof<HybridProtocol.SecureConnection>.Assembly

            for typeName in [ "NSecSuite"; "SodiumKem"; "SodiumSuite" ] do
                let t = facade.GetType($"HybridProtocol.Crypto.{typeName}") |> nonNull
                Expect.isFalse t.IsPublic $"{typeName} is internal"

            for p in typeof<HybridProtocol.Noise.NoiseHandshakeOptions>.GetProperties() do
                if p.Name.Contains "ForTestVectorsOnly" then
                    let hidden =
                        p.GetCustomAttribute<ComponentModel.EditorBrowsableAttribute>()
                        |> Option.ofObj
                        |> Option.exists (fun a -> a.State = ComponentModel.EditorBrowsableState.Never)

                    Expect.isTrue hidden $"{p.Name} is hidden from IntelliSense"
        }
    ]
