using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using System.Runtime.Loader;
using System.Text;
using Kernels.Generator;
using Kernels.Precision;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Text;

namespace Kernels.Tests.Fuzzing;

/// <summary>A property a rule broke. <see cref="Key"/> groups failures into bug classes (and must stay stable while reducing).</summary>
public sealed record Failure(string Property, string Key, string Detail);

/// <summary>Compiles rules with the generator, then checks the properties (see GeneratorFuzzTests).</summary>
public static class RuleRunner
{
    public const string Usings = "using System;\nusing Kernels;\n";

    // Documentation mode on, so malformed generated XML docs (CS1570, CS1574, …) surface.
    private static readonly CSharpParseOptions s_parse = new(LanguageVersion.Latest, DocumentationMode.Diagnose);

    private static readonly MetadataReference[] s_refs = Basic.Reference.Assemblies.Net100.References.All
        .Append(MetadataReference.CreateFromFile(typeof(UpdateRuleAttribute).Assembly.Location)).ToArray();

    private static readonly CSharpCompilationOptions s_options = new(OutputKind.DynamicallyLinkedLibrary,
        nullableContextOptions: NullableContextOptions.Enable, optimizationLevel: OptimizationLevel.Release);

    private static int s_counter;

    private static CSharpCompilation Compile(IEnumerable<SyntaxTree> trees) =>
        CSharpCompilation.Create("FuzzRules" + System.Threading.Interlocked.Increment(ref s_counter), trees, s_refs, s_options);

    public static string Source(Rule r) => Usings + Strip(r.Print(), out _);

    /// <summary>Removes the <c>[|…|]</c> markers; <paramref name="span"/> is the marked range in the stripped text.</summary>
    public static string Strip(string marked, out TextSpan? span)
    {
        int start = marked.IndexOf("[|", StringComparison.Ordinal);
        span = null;
        if (start < 0) return marked;
        int end = marked.IndexOf("|]", StringComparison.Ordinal) - 2;
        span = new TextSpan(start, end - start);
        return marked.Replace("[|", "").Replace("|]", "");
    }

    /// <summary>Generator run over a set of user trees: the run result, the output compilation and the generator's diagnostics.</summary>
    private static (GeneratorRunResult Run, Compilation Output, ImmutableArray<Diagnostic> Diags) Generate(CSharpCompilation c)
    {
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new UpdateRuleGenerator().AsSourceGenerator() }, parseOptions: s_parse)
            .RunGeneratorsAndUpdateCompilation(c, out Compilation output, out ImmutableArray<Diagnostic> diags);
        return (driver.GetRunResult().Results.Single(), output, diags);
    }

    // ------------------------------------------------------------------------------------------------
    // Unsupported constructs: exactly one diagnostic, with the expected ID, at the marked span.
    // ------------------------------------------------------------------------------------------------
    public static Failure? CheckInjected(Rule rule, string expectedId)
    {
        string stripped = Strip(rule.Print(), out TextSpan? marked);
        if (marked is null)
            return new Failure("reducer removed the injected construct", "no marker", "");
        var expected = new TextSpan(marked!.Value.Start + Usings.Length, marked.Value.Length);
        SyntaxTree tree = CSharpSyntaxTree.ParseText(Usings + stripped, s_parse, path: "Rule0.cs");
        CSharpCompilation c = Compile(new[] { tree });
        Diagnostic[] userErrors = c.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToArray();
        if (userErrors.Length > 0)
            return new Failure("P0 fuzzer: the printed rule must compile", "P0 " + userErrors[0].Id, string.Join("\n", userErrors.Take(3)));
        var (run, _, diags) = Generate(c);
        if (run.Exception is { } ex)
            return new Failure("P1 generator never throws", "P1 throws " + ex.GetType().Name, ex.ToString());
        if (diags.FirstOrDefault(d => d.Id == "KRN0900") is { } internalError)
            return new Failure("P1 no KRN0900", "P1 KRN0900 " + Shorten(internalError.GetMessage()), internalError.ToString());
        Diagnostic[] errors = diags.Where(d => d.Severity == DiagnosticSeverity.Error).ToArray();
        string got = errors.Length == 0 ? "nothing" : string.Join("; ", errors.Select(d => $"{d.Id} at {d.Location.SourceSpan} '{SpanText(d)}': {d.GetMessage()}"));
        string want = $"{expectedId} at {expected} '{(Usings + stripped).Substring(expected.Start, expected.Length)}'";
        if (!errors.Any(d => d.Id == expectedId))
            return new Failure("P4 unsupported construct reports its documented ID", $"P4 {expectedId} missing, got {string.Join(",", errors.Select(d => d.Id).Distinct().OrderBy(x => x))}", $"expected {want}; got {got}");
        if (!errors.Any(d => d.Id == expectedId && d.Location.SourceSpan == expected))
            return new Failure("P4 diagnostic at the construct's span", $"P4 {expectedId} wrong span", $"expected {want}; got {got}");
        if (errors.Length != 1)
            return new Failure("P4 exactly one diagnostic", $"P4 {expectedId} plus other errors (see FOUND.md: the host rule's own false errors)", $"expected {want}; got {got}");
        // A rule with an error keeps only its overloads' signatures (bodies that throw), so callers see the KRN error alone.
        GeneratedSourceResult[] loops = run.GeneratedSources.Where(s => !s.SourceText.ToString().Contains("has errors (see its KRN diagnostics)")).ToArray();
        if (loops.Length > 0)
            return new Failure("P4 no loop emitted for a rule with an error", $"P4 {expectedId} emitted code", string.Join(", ", loops.Select(s => s.HintName)));
        return null;
    }

    private static string SpanText(Diagnostic d, SyntaxTree tree) => tree.GetText().ToString(d.Location.SourceSpan);

    /// <summary>The construct a diagnostic points at, without the rule's own names: "float.Clamp(…)", "switch", "(…) = …", "name(…)".</summary>
    private static string Shape(string text)
    {
        text = text.Trim();
        if (text.StartsWith('(')) return text.Contains('=') ? "(…) = (…) tuple assignment" : "(…)";
        var word = System.Text.RegularExpressions.Regex.Match(text, "^[A-Za-z0-9_.@]+").Value;
        string rest = text.Length > word.Length && text[word.Length] == '(' ? "(…)" : "";
        if (word.Contains('.') || SyntaxFacts.GetKeywordKind(word) != SyntaxKind.None) return word + rest;
        return "name" + rest + (text.Contains('=') ? " = …" : "");
    }

    private static string SpanText(Diagnostic d) => d.Location.SourceTree?.GetText().ToString(d.Location.SourceSpan) ?? "";

    /// <summary>How many constructs of the rule can throw (checked per-element functions, throws, throw helpers).</summary>
    private static int ThrowingConstructs(Rule rule)
    {
        string text = rule.Print();
        int Count(string what)
        {
            int n = 0;
            for (int at = text.IndexOf(what, StringComparison.Ordinal); at >= 0; at = text.IndexOf(what, at + what.Length, StringComparison.Ordinal))
                n++;
            return n;
        }
        return Count(".Clamp(") + Count(".Sign(") + Count("throw ") + Count(".ThrowIf");
    }

    /// <summary>
    /// Diagnostics the documented contract requires for a valid rule: KRN0012 (a warning) when it has no <c>in</c>
    /// parameter, and KRN0110 at a <c>goto</c> that leaves the uniform statement it is in (hoisting moves statements
    /// one by one, so such a jump is rejected rather than mis-generated).
    /// </summary>
    private static bool Expected(Rule rule, Diagnostic d, SyntaxTree tree) => d.Id switch
    {
        "KRN0012" => rule.Params.All(p => p.Kind != ParamKind.In),
        "KRN0110" => rule.Features().Contains("expect:KRN0110") && SpanText(d, tree) == "goto",
        _ => false,
    };

    private static string Shorten(string s) => s.Length > 90 ? s.Substring(0, 90) : s;

    // ------------------------------------------------------------------------------------------------
    // Valid rules: generator clean, output clean, span and multi-tensor overloads equal the scalar rule.
    // ------------------------------------------------------------------------------------------------

    /// <summary>
    /// Checks a batch in one compilation. A failure that cannot be pinned on one rule (generator exception,
    /// a diagnostic in generated code, a failed emit) splits the batch in halves until it can.
    /// </summary>
    public static List<(Rule Rule, Failure Failure)> CheckValid(IReadOnlyList<Rule> rules, int seed)
    {
        var result = new List<(Rule, Failure)>();
        rules = Disambiguate(rules);
        BatchOutcome outcome = RunBatch(rules, seed);
        result.AddRange(outcome.Attributed);
        if (outcome.Retry && outcome.Remaining.Count > 0)
            result.AddRange(CheckValid(outcome.Remaining, seed));
        if (outcome.Unattributed is { } f)
        {
            if (outcome.Remaining.Count == 1)
                result.Add((outcome.Remaining[0], f));
            else if (outcome.Remaining.Count > 1)
            {
                int half = outcome.Remaining.Count / 2;
                result.AddRange(CheckValid(outcome.Remaining.Take(half).ToArray(), seed));
                result.AddRange(CheckValid(outcome.Remaining.Skip(half).ToArray(), seed));
            }
        }
        return result;
    }

    public static Failure? CheckValidOne(Rule rule, int seed) => CheckValid(new[] { rule }, seed).Select(x => x.Failure).FirstOrDefault();

    /// <summary>Rules of one batch must not merge: two rules whose outermost types coincide get distinct outer names.</summary>
    private static IReadOnlyList<Rule> Disambiguate(IReadOnlyList<Rule> rules)
    {
        // A global type must not share its name with a namespace either (CS0101).
        var seen = rules.Where(r => r.Namespace is not null).Select(r => "::" + r.Namespace!.Split('.')[0].TrimStart('@')).ToHashSet();
        var result = new List<Rule>();
        foreach (Rule r in rules)
        {
            Rule x = r;
            for (int i = 2; !seen.Add((x.Namespace ?? "") + "::" + x.Types[0].Name.TrimStart('@')); i++)
                x = r with { Types = r.Types.SetItem(0, r.Types[0] with { Name = r.Types[0].Name.TrimStart('@') + "_" + i }) };
            result.Add(x);
        }
        return result;
    }

    private sealed record BatchOutcome(List<(Rule, Failure)> Attributed, Failure? Unattributed, List<Rule> Remaining, bool Retry = false);

    private static List<Rule> Except(List<Rule> live, HashSet<int> rejected) => live.Where((_, k) => !rejected.Contains(k)).ToList();

    private static string HintName(Rule r) =>
        string.Join(".", (r.Namespace is null ? Array.Empty<string>() : r.Namespace.Split('.')).Concat(r.Types.Select(t => t.Name)).Append(r.Method).Select(n => n.TrimStart('@'))) + ".g.cs";

    private static BatchOutcome RunBatch(IReadOnlyList<Rule> rules, int seed)
    {
        try
        {
            return RunBatchCore(rules, seed);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Roslyn itself has crashed on generated trees (e.g. a NullReferenceException in the binder): still the generator's output.
            Exception inner = e is AggregateException a ? a.Flatten().InnerExceptions[0] : e;
            return new BatchOutcome(new List<(Rule, Failure)>(), new Failure("P2 generated code compiles (the compiler must not crash on it)",
                "P2 compiler crash " + inner.GetType().Name + " in " + inner.StackTrace?.Split('\n')[0].Trim(), inner.ToString()), rules.ToList());
        }
    }

    private static BatchOutcome RunBatchCore(IReadOnlyList<Rule> rules, int seed)
    {
        var attributed = new List<(Rule, Failure)>();
        var live = rules.ToList();
        List<SyntaxTree> trees;
        CSharpCompilation user;
        // P0: the fuzzer's own rule must compile without the generator (else the grammar is wrong).
        while (true)
        {
            trees = live.Select((r, i) => CSharpSyntaxTree.ParseText(Source(r), s_parse, path: $"Rule{i}.cs")).ToList();
            user = Compile(trees);
            var bad = user.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error && d.Location.SourceTree is not null)
                .GroupBy(d => trees.IndexOf(d.Location.SourceTree!)).Where(g => g.Key >= 0).ToList();
            if (bad.Count == 0) break;
            foreach (var g in bad.OrderByDescending(g => g.Key))
            {
                attributed.Add((live[g.Key], new Failure("P0 fuzzer: the printed rule must compile", "P0 " + g.First().Id, string.Join("\n", g.Take(3)))));
                live.RemoveAt(g.Key);
            }
            if (live.Count == 0) return new BatchOutcome(attributed, null, live);
        }
        var userDiags = user.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        var userIds = userDiags.Select(d => d.Id).ToHashSet();
        var userKeys = userDiags.Select(Key).ToHashSet();

        var (run, output, genDiags) = Generate(user);
        if (run.Exception is { } ex)
            return new BatchOutcome(attributed, new Failure("P1 generator never throws", "P1 throws " + ex.GetType().Name + ": " + Shorten(Normalize(ex.Message)), ex.ToString()), live);

        var rejected = new HashSet<int>();
        foreach (Diagnostic d in genDiags)
        {
            // The generator re-creates locations from file path and span, so match the file by path.
            int k = trees.FindIndex(t => t.FilePath == d.Location.GetLineSpan().Path);
            if (k < 0) return new BatchOutcome(attributed, new Failure("P1 generator diagnostics point into the rule", "P1 unlocated " + d.Id, d.ToString()), live);
            if (d.Id == "KRN0900")
                attributed.Add((live[k], new Failure("P1 no KRN0900", "P1 KRN0900 " + Shorten(Normalize(d.GetMessage())), d.ToString())));
            else if (Expected(live[k], d, trees[k]))
            {
                // A documented diagnostic this rule must get: a warning leaves the rule runnable, an error does not.
                if (d.Severity != DiagnosticSeverity.Error)
                    continue;
            }
            else if (d.Id == "KRN0013" && d.Severity == DiagnosticSeverity.Info)
            {
                // Informational: the rule is valid and runs; it only gets no optimizer object (e.g. two 'in' parameters).
                continue;
            }
            else if (d.Severity == DiagnosticSeverity.Error)
                attributed.Add((live[k], new Failure("P2 a valid rule gets no generator error", $"P2 {d.Id} on {Shape(SpanText(d, trees[k]))}", $"{d.Id} at '{SpanText(d, trees[k])}' ({FeatureOf(live[k])}): {d.GetMessage()}")));
            else
                attributed.Add((live[k], new Failure("P2 no generator warnings on a valid rule", $"P2 {d.Id}", d.ToString())));
            rejected.Add(k);
        }

        // P2: nothing the generator added may produce a warning or error: in generated trees, or new ones in user files.
        var generatedTrees = output.SyntaxTrees.Except(trees).ToHashSet();
        bool retry = false;
        var outDiags = output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        foreach (Diagnostic d in outDiags)
        {
            SyntaxTree? t = d.Location.SourceTree;
            if (t is not null && generatedTrees.Contains(t))
            {
                // A warning the user's own declaration also gets (e.g. CS8981 for a lower-case type name) is mirrored, not caused, by the redeclaration.
                if (d.Severity == DiagnosticSeverity.Warning && userIds.Contains(d.Id)) continue;
                var failure = new Failure("P2 generated code compiles without errors or warnings",
                    $"P2 {d.Id} in generated code: {Shorten(Normalize(d.GetMessage()))}", $"{d}\n  line: {Line(d)}");
                // Generated files are named <Namespace>.<Types>.<Method>.g.cs: pin the file on its rule when the name is unambiguous.
                int[] owners = Enumerable.Range(0, live.Count).Where(k => t.FilePath.EndsWith("/" + HintName(live[k]), StringComparison.Ordinal)
                    || t.FilePath.EndsWith("/" + HintName(live[k]).Replace(".g.cs", ".Storage.g.cs"), StringComparison.Ordinal)).ToArray();
                if (owners.Length != 1)
                    return new BatchOutcome(attributed, failure, Except(live, rejected));
                if (rejected.Add(owners[0]))
                    attributed.Add((live[owners[0]], failure));
                retry = true;
                continue;
            }
            if (!userKeys.Contains(Key(d)))
            {
                int k = t is null ? -1 : trees.IndexOf(t);
                var f = new Failure("P2 the generated code adds no diagnostics to the user's file", $"P2 {d.Id} in user file: {Shorten(Normalize(d.GetMessage()))}", d.ToString());
                if (k < 0) return new BatchOutcome(attributed, f, Except(live, rejected));
                attributed.Add((live[k], f));
                rejected.Add(k);
            }
        }

        // Rules whose generated code is broken cannot run: check the others again without them.
        if (retry)
            return new BatchOutcome(attributed, null, Enumerable.Range(0, live.Count).Where(k => !rejected.Contains(k)).Select(k => live[k]).ToList(), Retry: true);

        // P3: run. Drivers call the overloads with arrays (reflection cannot pass spans).
        var runnable = Enumerable.Range(0, live.Count).Where(k => !rejected.Contains(k)).ToList();
        if (runnable.Count == 0) return new BatchOutcome(attributed, null, live);
        SyntaxTree driverTree = CSharpSyntaxTree.ParseText(string.Join("\n", runnable.Select(k => Driver(live[k], k))), s_parse, path: "Drivers.cs");
        Compilation withDrivers = output.AddSyntaxTrees(driverTree);
        using var ms = new MemoryStream();
        var emit = withDrivers.Emit(ms);
        if (!emit.Success)
        {
            var driverErrors = emit.Diagnostics.Where(d => d.Severity == DiagnosticSeverity.Error && d.Location.SourceTree == driverTree).ToList();
            if (driverErrors.Count > 0)
                return new BatchOutcome(attributed, new Failure("P3 the span and multi-tensor overloads exist with the rule's parameters", $"P3 overload not callable: {driverErrors[0].Id}", string.Join("\n", driverErrors.Take(3))), Except(live, rejected));
            return new BatchOutcome(attributed, new Failure("P2 output compiles", "P2 emit failed " + emit.Diagnostics.First(d => d.Severity == DiagnosticSeverity.Error).Id, string.Join("\n", emit.Diagnostics.Take(3))), Except(live, rejected));
        }
        ms.Position = 0;
        var alc = new AssemblyLoadContext("fuzz", isCollectible: true);
        try
        {
            Assembly asm = alc.LoadFromStream(ms);
            foreach (int k in runnable)
            {
                Type driver = asm.GetType("FuzzDriver" + k)!;
                Failure? f = Execute(live[k], driver, seed * 7919 + k);
                if (f is not null) attributed.Add((live[k], f));
            }
        }
        finally
        {
            alc.Unload();
        }
        return new BatchOutcome(attributed, null, live);
    }

    private static string Key(Diagnostic d) => d.Id + "@" + d.Location.SourceTree?.FilePath + d.Location.SourceSpan;

    /// <summary>Messages name the rule's identifiers; keep only their shape so one bug is one class.</summary>
    private static string Normalize(string s) => System.Text.RegularExpressions.Regex.Replace(s, "'[^']*'", "'…'");

    private static string Line(Diagnostic d)
    {
        if (d.Location.SourceTree is not { } t) return "";
        return t.GetText().Lines.GetLineFromPosition(d.Location.SourceSpan.Start).ToString().Trim();
    }

    private static string FeatureOf(Rule r)
    {
        var f = r.Features().Where(x => x.StartsWith("future:", StringComparison.Ordinal)).OrderBy(x => x).ToArray();
        return f.Length > 0 ? string.Join(" + ", f) : "today-valid rule";
    }

    // ------------------------------------------------------------------------------------------------
    // Drivers and execution
    // ------------------------------------------------------------------------------------------------
    private static string Driver(Rule r, int k)
    {
        string T = RuleGrammar.TypeName(r.Elem);
        string target = r.QualifiedType() + "." + r.Method;
        var scalar = new List<string>();
        var spans = new List<string>();
        var multi = new List<string>();
        // The storage overloads (float rules): every buffer bfloat16; the reference widens, calls the rule, rounds every ref back.
        const string B = "global::Kernels.Precision.BFloat16";
        var storageLoads = new List<string>();
        var storageScalar = new List<string>();
        var storageStores = new List<string>();
        var storageSpans = new List<string>();
        var storageMulti = new List<string>();
        int b = 0, u = 0;
        bool param = true;
        foreach (Param p in r.Params)
        {
            if (p.Kind == ParamKind.Uniform)
            {
                string v = $"({RuleGrammar.TypeName(p.Type)})u[{u++}]";
                scalar.Add(v); spans.Add(v); multi.Add(v);
                storageScalar.Add(v); storageSpans.Add(v); storageMulti.Add(v);
                continue;
            }
            bool isRef = p.Kind == ParamKind.Ref;
            scalar.Add(isRef ? $"ref a[{b}][i]" : $"a[{b}][i]");
            spans.Add(isRef ? $"new global::System.Span<{T}>(a[{b}], off, len)" : $"new global::System.ReadOnlySpan<{T}>(a[{b}], off, len)");
            multi.Add(isRef ? $"new global::System.ReadOnlySpan<global::System.Memory<{T}>>(Tensors(a[{b}], cuts))" : $"new global::System.ReadOnlySpan<global::System.ReadOnlyMemory<{T}>>(ReadOnlyTensors(a[{b}], cuts))");
            storageLoads.Add($"float v{b} = (float)a[{b}][i];");
            storageScalar.Add(isRef ? $"ref v{b}" : $"v{b}");
            if (isRef)
            {
                // The parameter (first ref) is rounded stochastically, keyed by its index in the step; the others to nearest.
                storageStores.Add(param
                    ? $"a[{b}][i] = {B}.RoundStochastic(v{b}, global::Kernels.Precision.RandomStream.Bits16(seed, step, (ulong)(i - off)));"
                    : $"a[{b}][i] = ({B})v{b};");
                param = false;
            }
            storageSpans.Add(isRef ? $"new global::System.Span<{B}>(a[{b}], off, len)" : $"new global::System.ReadOnlySpan<{B}>(a[{b}], off, len)");
            storageMulti.Add(isRef ? $"new global::System.ReadOnlySpan<global::System.Memory<{B}>>(Tensors(a[{b}], cuts))" : $"new global::System.ReadOnlySpan<global::System.ReadOnlyMemory<{B}>>(ReadOnlyTensors(a[{b}], cuts))");
            b++;
        }
        string storage = r.Elem != Ty.Float ? "" : $$"""

                public static void StorageScalar(object buffers, int i, int off, object[] u, ulong seed, ulong step) { var a = ({{B}}[][])buffers; {{string.Join(" ", storageLoads)}} {{target}}({{string.Join(", ", storageScalar)}}); {{string.Join(" ", storageStores)}} }
                public static void StorageSpans(object buffers, int off, int len, object[] u, global::Kernels.StepOptions o) { var a = ({{B}}[][])buffers; {{target}}({{string.Join(", ", storageSpans.Append("o"))}}); }
                public static void StorageMulti(object buffers, int[] cuts, object[] u, global::Kernels.StepOptions o) { var a = ({{B}}[][])buffers; {{target}}({{string.Join(", ", storageMulti.Append("o"))}}); }
            """;
        return $$"""
            public static class FuzzDriver{{k}}
            {
                public static void Scalar(object buffers, int i, object[] u) { var a = ({{T}}[][])buffers; {{target}}({{string.Join(", ", scalar)}}); }
                public static void Spans(object buffers, int off, int len, object[] u, global::Kernels.StepOptions o) { var a = ({{T}}[][])buffers; {{target}}({{string.Join(", ", spans.Append("o"))}}); }
                public static void Multi(object buffers, int[] cuts, object[] u, global::Kernels.StepOptions o) { var a = ({{T}}[][])buffers; {{target}}({{string.Join(", ", multi.Append("o"))}}); }{{storage}}
                private static global::System.Memory<E>[] Tensors<E>(E[] x, int[] cuts) { var r = new global::System.Memory<E>[cuts.Length - 1]; for (int t = 0; t < r.Length; t++) r[t] = new global::System.Memory<E>(x, cuts[t], cuts[t + 1] - cuts[t]); return r; }
                private static global::System.ReadOnlyMemory<E>[] ReadOnlyTensors<E>(E[] x, int[] cuts) { var r = new global::System.ReadOnlyMemory<E>[cuts.Length - 1]; for (int t = 0; t < r.Length; t++) r[t] = new global::System.ReadOnlyMemory<E>(x, cuts[t], cuts[t + 1] - cuts[t]); return r; }
            }
            """;
    }

    private static readonly int[] s_lengths = { 1, 2, 3, 7, 15, 16, 17, 31, 33, 64, 65, 100, 257 };

    private static readonly StepOptions[] s_stepOptions =
    {
        StepOptions.SingleThreaded, default, new(maxDegreeOfParallelism: 2, parallelThreshold: 1), new(maxDegreeOfParallelism: 3, parallelThreshold: 1), new(maxDegreeOfParallelism: 7, parallelThreshold: 16),
    };

    private static Failure? Execute(Rule rule, Type driver, int seed)
    {
        var scalar = driver.GetMethod("Scalar")!.CreateDelegate<Action<object, int, object[]>>();
        var spans = driver.GetMethod("Spans")!.CreateDelegate<Action<object, int, int, object[], StepOptions>>();
        var multi = driver.GetMethod("Multi")!.CreateDelegate<Action<object, int[], object[], StepOptions>>();
        var features = rule.Features();
        // Exp/Log: the loops compute KernelMath's (≤ 1 ulp), the scalar rule the C runtime's; Pow(x, n): the loops
        // multiply (documented), the C runtime's pow rounds once — both within the tolerance of Same().
        bool ulp = features.Contains("ulp");
        // MathF.Pow(x, n) per element: the loops multiply (documented, like KernelMath.Pow), the scalar rule calls the C
        // runtime's pow, and a last-bit difference can grow through later arithmetic: values are not compared, only
        // exceptions. The grammar also writes KernelMath.Pow, which must match bit for bit.
        // The same for MathF.Exp/Log: the loops compute KernelMath's (≤ 1 ulp), the scalar rule the C runtime's, and
        // `1 - exp(x)` turns a last-bit difference into many ulp; KernelMath.Exp/Log rules are compared bit for bit.
        bool pow = features.Contains("pow") || features.Contains("ulp");
        var random = new Random(seed);
        // Two trials: edge-heavy data and uniforms, then ordinary values (so ordinary branches run too).
        for (int trial = 0; trial < 2; trial++)
        {
            bool edgy = trial == 0;
            int n = random.Next(60) == 0 ? StepOptions.DefaultParallelThreshold + random.Next(1, 3000) : s_lengths[random.Next(s_lengths.Length)];
            int off = new[] { 0, 1, 3 }[random.Next(3)];
            StepOptions options = n >= StepOptions.DefaultParallelThreshold ? default : s_stepOptions[random.Next(s_stepOptions.Length)];
            int total = n + off + 3;
            int buffers = rule.Params.Count(p => p.Kind is ParamKind.Ref or ParamKind.In);
            object[] uniforms = rule.Params.Where(p => p.Kind == ParamKind.Uniform).Select(p => Value(random, p.Type, edgy)).ToArray();
            // Sign of a per-element NaN throws in every form now (CheckedVectorMath), so NaN inputs stay in.
            Array[] original = Enumerable.Range(0, buffers).Select(_ => Fill(random, rule.Elem, total, edgy)).ToArray();

            Array[] expected = Clone(original), actual = Clone(original), viaMulti = Clone(original);
            Exception? scalarEx = null, spanEx = null, multiEx = null;
            object e = Typed(expected, rule.Elem), a = Typed(actual, rule.Elem), m = Typed(viaMulti, rule.Elem);
            try { for (int i = off; i < off + n; i++) scalar(e, i, uniforms); }
            catch (Exception x) { scalarEx = x; }
            try { spans(a, off, n, uniforms, options); }
            catch (Exception x) { spanEx = x; }
            int[] cuts = Cuts(random, off, n);
            try { multi(m, cuts, uniforms, options); }
            catch (Exception x) { multiEx = x; }

            string Context() => $"n={n}, offset={off}, options=({options.MaxDegreeOfParallelism} threads, threshold {options.ParallelThreshold}), uniforms=({string.Join(", ", rule.Params.Where(p => p.Kind == ParamKind.Uniform).Select((p, j) => p.Name + "=" + Show(uniforms[j])))})";

            // Documented: with several constructs that can throw per element, a vector block runs statement by statement,
            // so when two elements would throw different exceptions the span overload may throw the other one first —
            // but it throws if and only if the scalar loop does.
            bool bothThrew = scalarEx is not null && spanEx is not null;
            if (scalarEx?.GetType() != spanEx?.GetType() && !(bothThrew && ThrowingConstructs(rule) > 1))
                return new Failure("P3 span overload throws exactly when the scalar loop throws (same type)",
                    $"P3 exception {scalarEx?.GetType().Name ?? "none"} (scalar) vs {spanEx?.GetType().Name ?? "none"} (span)",
                    $"scalar: {scalarEx?.GetType().Name ?? "no exception"} {scalarEx?.Message}; span overload: {spanEx?.GetType().Name ?? "no exception"} {spanEx?.Message}; {Context()}");
            if (scalarEx is null && spanEx is null && !pow && Compare(rule, expected, actual, original, ulp, "scalar", "span") is { } diff)
                return new Failure("P3 span overload bit-identical to the scalar rule", $"P3 values differ{(ulp ? " (beyond 4 ulp)" : "")}", diff + "; " + Context());
            if (multiEx?.GetType() != spanEx?.GetType() && !(multiEx is not null && spanEx is not null && ThrowingConstructs(rule) > 1))
                return new Failure("P3 multi-tensor overload throws exactly when the span overload throws",
                    $"P3 multi-tensor exception {multiEx?.GetType().Name ?? "none"} vs span {spanEx?.GetType().Name ?? "none"}",
                    $"span: {spanEx?.Message}; multi: {multiEx?.GetType().Name} {multiEx?.Message}; cuts={string.Join(",", cuts)}; {Context()}");
            if (spanEx is null && multiEx is null && Compare(rule, actual, viaMulti, original, ulp, "span", "multi-tensor") is { } diff2)
                return new Failure("P3 multi-tensor overload bit-identical to the span overload", "P3 multi-tensor values differ", diff2 + $"; cuts={string.Join(",", cuts)}; " + Context());
            if (rule.Elem == Ty.Float && CheckStorage(rule, driver, original, uniforms, off, n, cuts, options with { Rounding = new StochasticRounding((ulong)seed, (ulong)trial + 1) }, pow, Context) is { } storageFailure)
                return storageFailure;
        }
        return null;
    }

    /// <summary>
    /// P5: a float rule's storage overloads with every buffer bfloat16 (the parameter rounded stochastically) equal the
    /// reference — the rule element by element on the widened values, every ref buffer rounded back — and throw exactly when it does.
    /// </summary>
    private static Failure? CheckStorage(Rule rule, Type driver, Array[] original, object[] uniforms, int off, int n, int[] cuts, StepOptions options, bool pow, Func<string> context)
    {
        var scalar = driver.GetMethod("StorageScalar")!.CreateDelegate<Action<object, int, int, object[], ulong, ulong>>();
        var spans = driver.GetMethod("StorageSpans")!.CreateDelegate<Action<object, int, int, object[], StepOptions>>();
        var multi = driver.GetMethod("StorageMulti")!.CreateDelegate<Action<object, int[], object[], StepOptions>>();
        Array[] stored = original.Select(x => (Array)((float[])x).Select(f => (BFloat16)f).ToArray()).ToArray();
        Array[] expected = Clone(stored), actual = Clone(stored), viaMulti = Clone(stored);
        Exception? scalarEx = null, spanEx = null, multiEx = null;
        object e = expected.Cast<BFloat16[]>().ToArray(), a = actual.Cast<BFloat16[]>().ToArray(), m = viaMulti.Cast<BFloat16[]>().ToArray();
        try { for (int i = off; i < off + n; i++) scalar(e, i, off, uniforms, options.Rounding.Seed, options.Rounding.Step); }
        catch (Exception x) { scalarEx = x; }
        try { spans(a, off, n, uniforms, options); }
        catch (Exception x) { spanEx = x; }
        try { multi(m, cuts, uniforms, options); }
        catch (Exception x) { multiEx = x; }
        bool several = ThrowingConstructs(rule) > 1;
        if (scalarEx?.GetType() != spanEx?.GetType() && !(scalarEx is not null && spanEx is not null && several))
            return new Failure("P5 storage span overload throws exactly when the reference loop throws (same type)",
                $"P5 exception {scalarEx?.GetType().Name ?? "none"} (reference) vs {spanEx?.GetType().Name ?? "none"} (storage span)",
                $"reference: {scalarEx?.GetType().Name ?? "no exception"} {scalarEx?.Message}; storage span overload: {spanEx?.GetType().Name ?? "no exception"} {spanEx?.Message}; {context()}");
        if (scalarEx is null && spanEx is null && !pow && Compare(rule, expected, actual, stored, ulp: false, "reference", "storage span") is { } diff)
            return new Failure("P5 storage span overload (bfloat16) bit-identical to the widen-rule-round reference", "P5 storage values differ", diff + "; " + context());
        if (multiEx?.GetType() != spanEx?.GetType() && !(multiEx is not null && spanEx is not null && several))
            return new Failure("P5 storage multi-tensor overload throws exactly when the storage span overload throws",
                $"P5 storage multi-tensor exception {multiEx?.GetType().Name ?? "none"} vs span {spanEx?.GetType().Name ?? "none"}",
                $"span: {spanEx?.Message}; multi: {multiEx?.GetType().Name} {multiEx?.Message}; cuts={string.Join(",", cuts)}; {context()}");
        if (spanEx is null && multiEx is null && Compare(rule, actual, viaMulti, stored, ulp: false, "storage span", "storage multi-tensor") is { } diff2)
            return new Failure("P5 storage multi-tensor overload bit-identical to the storage span overload", "P5 storage multi-tensor values differ", diff2 + $"; cuts={string.Join(",", cuts)}; " + context());
        return null;
    }

    private static int[] Cuts(Random random, int off, int n)
    {
        int tensors = Math.Min(n, random.Next(1, 4));
        var inner = Enumerable.Range(0, tensors - 1).Select(_ => off + random.Next(1, n)).Distinct().OrderBy(x => x);
        return new[] { off }.Concat(inner).Append(off + n).ToArray();
    }

    private static object Typed(Array[] arrays, Ty elem) => elem == Ty.Float ? arrays.Cast<float[]>().ToArray() : arrays.Cast<double[]>().ToArray();

    private static Array[] Clone(Array[] a) => a.Select(x => (Array)x.Clone()).ToArray();

    private static string Show(object o) => o switch { float f => f.ToString("R") + "f", double d => d.ToString("R"), BFloat16 b => $"bf16 0x{b.Bits:X4} ({(float)b:R})", _ => o.ToString()! };

    private static string? Compare(Rule rule, Array[] expected, Array[] actual, Array[] original, bool ulp, string left, string right)
    {
        string[] names = rule.Params.Where(p => p.Kind is ParamKind.Ref or ParamKind.In).Select(p => p.Name).ToArray();
        bool signedZero = rule.Features().Contains("signedzero");
        bool copySign = rule.Features().Contains("copysign");
        for (int b = 0; b < expected.Length; b++)
        {
            for (int i = 0; i < expected[b].Length; i++)
            {
                object x = expected[b].GetValue(i)!, y = actual[b].GetValue(i)!;
                if (Same(x, y, ulp, signedZero)) continue;
                // The documented NaN allowance made visible by CopySign: IEEE 754 leaves a NaN's sign unspecified (the
                // NaN of an invalid operation such as Sqrt(-1), or the one chosen among two NaN operands), and the
                // JIT-compiled scalar rule (constant folding included) and the generated loops may pick different
                // signs; CopySign turns that sign into ±1, which the rule's later arithmetic carries into any value
                // (found by the campaign of seed 71002: `@class -= MathF.CopySign(1f, eps + -MathF.Sqrt(-1f))`).
                // So a rule calling CopySign may differ anywhere; every other property still holds for it.
                if (copySign) continue;
                string inputs = string.Join(", ", names.Select((n, j) => n + "=" + Show(original[j].GetValue(i)!)));
                return $"{names[b]}[{i}]: {left} {Show(x)} vs {right} {Show(y)} (inputs at {i}: {inputs})";
            }
        }
        return null;
    }

    // Any NaN equals any NaN (IEEE leaves the choice among input NaNs open); otherwise bit for bit, or ≤ 4 ulp for rules with Exp/Log (≤ 1 + 1) or Pow (chain of up to 3 roundings vs 1).

    private static bool Same(object x, object y, bool ulp, bool signedZero)
    {
        // bfloat16 (the storage overloads): as the float it widens to, exactly (its bits shifted).
        if (x is BFloat16 xb)
            x = (float)xb;
        if (y is BFloat16 yb)
            y = (float)yb;
        // A known .NET 10 JIT folding of Math.Min/Max with a constant ±0 operand (see the grammar's "signedzero").
        if (signedZero && x is float or double && Convert.ToDouble(x) == 0 && Convert.ToDouble(y) == 0)
            return true;
        long bx, by;
        if (x is float f)
        {
            float g = (float)y;
            if (float.IsNaN(f) || float.IsNaN(g)) return float.IsNaN(f) && float.IsNaN(g);
            bx = BitConverter.SingleToInt32Bits(f); by = BitConverter.SingleToInt32Bits(g);
        }
        else
        {
            double d = (double)x, h = (double)y;
            if (double.IsNaN(d) || double.IsNaN(h)) return double.IsNaN(d) && double.IsNaN(h);
            bx = BitConverter.DoubleToInt64Bits(d); by = BitConverter.DoubleToInt64Bits(h);
        }
        if (bx == by) return true;
        return ulp && (bx < 0) == (by < 0) && Math.Abs(bx - by) <= 4;
    }

    private static readonly float[] s_edgeFloats = { 0f, -0f, 1f, -1f, float.NaN, float.PositiveInfinity, float.NegativeInfinity, float.Epsilon, -1e-40f, 1e30f, -3e38f, float.MaxValue, 1e-7f, 0.5f, 2f, 100f };

    private static Array Fill(Random r, Ty elem, int total, bool edgy)
    {
        if (elem == Ty.Float)
        {
            var a = new float[total];
            for (int i = 0; i < total; i++)
                a[i] = edgy && r.Next(4) == 0 ? s_edgeFloats[r.Next(s_edgeFloats.Length)] : (float)((r.NextDouble() * 2 - 1) * Math.Pow(10, r.Next(-3, 3)));
            return a;
        }
        var d = new double[total];
        for (int i = 0; i < total; i++)
            d[i] = edgy && r.Next(4) == 0 ? (r.Next(8) == 0 ? double.MaxValue : s_edgeFloats[r.Next(s_edgeFloats.Length)]) : (r.NextDouble() * 2 - 1) * Math.Pow(10, r.Next(-3, 3));
        return d;
    }

    private static object Value(Random r, Ty t, bool edgy)
    {
        bool edge = edgy && r.Next(3) == 0;
        return t switch
        {
            Ty.Float => edge ? s_edgeFloats[r.Next(s_edgeFloats.Length)] : (float)(r.NextDouble() * 2 - 0.5),
            Ty.Double => edge ? (double)s_edgeFloats[r.Next(s_edgeFloats.Length)] : r.NextDouble() * 2 - 0.5,
            Ty.Int => edge ? new[] { 0, -1, int.MaxValue, int.MinValue, 1000 }[r.Next(5)] : r.Next(-1, 6),
            Ty.Long => edge ? new[] { 0L, -1L, long.MaxValue, long.MinValue }[r.Next(4)] : (long)r.Next(-1, 6),
            _ => r.Next(2) == 0,
        };
    }
}
