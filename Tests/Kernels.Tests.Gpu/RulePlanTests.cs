using System;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.IO;
using System.Linq;
using System.Reflection;
using Kernels.CompilerServices;
using Kernels.Generator;
using Kernels.Generator.Model;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Kernels.Tests.Gpu;

/// <summary>
/// Rule plans: every rule's model travels as <c>[assembly: RulePlan]</c> and reads back equal, and a compilation that
/// references ILGPU and Kernels.Gpu emits the GPU launchers of a referenced assembly's rules (static extension members
/// of the rule's type), exactly once.
/// </summary>
public sealed class RulePlanTests
{
    private static readonly CSharpParseOptions s_parse = new(LanguageVersion.Latest);

    private static IEnumerable<MetadataReference> CpuReferences => Basic.Reference.Assemblies.Net100.References.All
        .Append(MetadataReference.CreateFromFile(typeof(UpdateRuleAttribute).Assembly.Location));

    private static IEnumerable<MetadataReference> GpuReferences => CpuReferences
        .Append(MetadataReference.CreateFromFile(typeof(ILGPU.Runtime.Accelerator).Assembly.Location))
        .Append(MetadataReference.CreateFromFile(typeof(Kernels.Gpu.GpuKernels).Assembly.Location));

    /// <summary>The models the generator builds for every rule of <paramref name="files"/> (one compilation per file).</summary>
    private static List<RuleSpec> Specs(IEnumerable<string> files)
    {
        var specs = new List<RuleSpec>();
        foreach (string file in files)
        {
            // A built-in's hand-written companions (Optimizers/Composed/X.*.cs) are part of its type: they change the names the generator avoids.
            string composed = Path.Combine(Path.GetDirectoryName(file)!, "Composed");
            string[] companions = Directory.Exists(composed) ? Directory.GetFiles(composed, Path.GetFileNameWithoutExtension(file) + ".*.cs") : Array.Empty<string>();
            CSharpCompilation compilation = CSharpCompilation.Create("Rules", companions.Prepend(file).Select(f => CSharpSyntaxTree.ParseText(File.ReadAllText(f), s_parse, path: f)),
                GpuReferences, new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
            GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new UpdateRuleGenerator().AsSourceGenerator() }, parseOptions: s_parse,
                driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true)).RunGenerators(compilation);
            GeneratorRunResult run = driver.GetRunResult().Results.Single();
            Assert.Null(run.Exception);
            specs.AddRange(run.TrackedSteps[UpdateRuleGenerator.ParseStep].SelectMany(s => s.Outputs)
                .Select(o => ((RuleParseResult)o.Value).Spec).OfType<RuleSpec>());
        }
        return specs;
    }

    public static TheoryData<string> RuleFiles()
    {
        string root = PtxTests.RepositoryRoot();
        var data = new TheoryData<string>();
        foreach (string file in Directory.GetFiles(Path.Combine(root, "Runtime", "Optimizers"), "*.cs")
            .Concat(Directory.GetFiles(Path.Combine(root, "Tests", "Kernels.Tests.Gpu", "Rules"), "*.cs"))
            .Concat(Directory.GetFiles(Path.Combine(root, "Tests", "Kernels.Tests", "Rules"), "*.cs"))
            .OrderBy(f => f, StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(root, file));
        return data;
    }

    [Theory, MemberData(nameof(RuleFiles))]
    public void Every_rule_model_round_trips_through_its_plan(string file)
    {
        List<RuleSpec> specs = Specs(new[] { Path.Combine(PtxTests.RepositoryRoot(), file) });
        Assert.NotEmpty(specs);
        foreach (RuleSpec spec in specs)
        {
            string plan = RuleSpecSerializer.Serialize(spec);
            RuleSpec? back = RuleSpecSerializer.TryDeserialize(plan);
            Assert.NotNull(back);
            Assert.Equal(spec, back);                                   // record equality, IR included
            Assert.Equal(plan, RuleSpecSerializer.Serialize(back!));    // deterministic
        }
    }

    [Fact]
    public void The_plans_in_Kernels_dll_are_the_built_ins_models()
    {
        RulePlanAttribute[] plans = typeof(Kernels.Optimizers.AdamW).Assembly.GetCustomAttributes<RulePlanAttribute>().ToArray();
        Assert.Equal(20, plans.Length);
        Dictionary<string, RuleSpec> fromSource = Specs(Directory.GetFiles(Path.Combine(PtxTests.RepositoryRoot(), "Runtime", "Optimizers"), "*.cs"))
            .ToDictionary(s => s.ContainingTypes.Last().Name + "." + s.MethodName);
        foreach (RulePlanAttribute plan in plans)
        {
            RuleSpec? spec = RuleSpecSerializer.TryDeserialize(plan.Plan);
            Assert.NotNull(spec);
            Assert.Equal(plan.RuleType.Name, spec!.ContainingTypes.Last().Name);
            Assert.Equal(plan.Method, spec.MethodName);
            Assert.True(spec.ExportsPlan);
            Assert.Equal(fromSource[plan.RuleType.Name + "." + plan.Method], spec);
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("KRP")]
    [InlineData("KRP2;")]                 // another format version: ignored, never guessed at
    [InlineData("KRP1;3:Ns")]             // truncated
    [InlineData("XYZ1;")]
    public void A_plan_of_another_version_or_malformed_is_rejected(string plan) =>
        Assert.Null(RuleSpecSerializer.TryDeserialize(plan));

    [Fact]
    public void A_plan_with_trailing_text_is_rejected()
    {
        RuleSpec spec = Specs(new[] { Path.Combine(PtxTests.RepositoryRoot(), "Runtime", "Optimizers", "SGD.cs") }).Single();
        Assert.Null(RuleSpecSerializer.TryDeserialize(RuleSpecSerializer.Serialize(spec) + "0"));
    }

    // ---- Cross-assembly launchers ---------------------------------------------------------------

    private const string Library = """
        using System;
        using Kernels;
        namespace User.Optim
        {
            public static partial class Momentum
            {
                [UpdateRule]
                public static void Step(ref float p, in float g, ref float m, ref float extra, float lr = 0.1f, bool useExtra = false, int step = 1)
                {
                    float decay = 1 - MathF.Pow(0.9f, step);
                    m = MathF.FusedMultiplyAdd(0.9f, m, g);
                    if (useExtra)
                        extra = MathF.Max(extra, m);
                    p -= lr / decay * (g > 0 ? m : MathF.Abs(m));
                }
            }

            public partial class Outer
            {
                public static partial class Inner
                {
                    [UpdateRule]
                    public static void Update(ref double p, in double g, double lr = 0.5) => p -= lr * g;
                }

                private static partial class Hidden
                {
                    [UpdateRule]
                    public static void Update(ref float p, in float g) => p -= g;
                }
            }

            public static partial class WithPrivate
            {
                private static double Warmup(int step) => Math.Min(1.0, step / 100.0);

                [UpdateRule]
                public static void Update(ref float p, in float g, double lr = 0.1, int step = 1) => p -= (float)(lr * Warmup(step)) * g;
            }

            internal static partial class NotVisible
            {
                [UpdateRule]
                public static void Update(ref float p, in float g) => p -= g;
            }
        }
        """;

    /// <summary>A library of rules built without ILGPU (as a CPU-only package would be), as a metadata reference.</summary>
    private static (MetadataReference Reference, string[] HintNames) BuildLibrary()
    {
        CSharpCompilation compilation = CSharpCompilation.Create("UserRules", new[] { CSharpSyntaxTree.ParseText(Library, s_parse) }, CpuReferences,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new UpdateRuleGenerator().AsSourceGenerator() }, parseOptions: s_parse)
            .RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out ImmutableArray<Diagnostic> diagnostics);
        Assert.Empty(diagnostics);
        using var image = new MemoryStream();
        Microsoft.CodeAnalysis.Emit.EmitResult emitted = output.Emit(image);
        Assert.True(emitted.Success, string.Join("\n", emitted.Diagnostics));
        string[] hints = driver.GetRunResult().Results.Single().GeneratedSources.Select(s => s.HintName).OrderBy(h => h, StringComparer.Ordinal).ToArray();
        return (MetadataReference.CreateFromImage(image.ToArray()), hints);
    }

    private static (GeneratorRunResult Run, ImmutableArray<Diagnostic> Problems) BuildApp(MetadataReference library, string source, LanguageVersion language = LanguageVersion.Preview)
    {
        // Extension blocks are C# 14: the SDK's compiler has them; the 4.14 compiler these tests host still calls them preview.
        var parse = new CSharpParseOptions(language);
        CSharpCompilation compilation = CSharpCompilation.Create("App", new[] { CSharpSyntaxTree.ParseText(source, parse) }, GpuReferences.Append(library),
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new UpdateRuleGenerator().AsSourceGenerator() }, parseOptions: parse)
            .RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out _);
        GeneratorRunResult run = driver.GetRunResult().Results.Single();
        Assert.Null(run.Exception);
        // CS1701/CS1702 (ILGPU is built against System.Runtime 7.0) are the unification notes the SDK silences too.
        return (run, output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning && d.Id is not ("CS1701" or "CS1702")).ToImmutableArray());
    }

    [Fact]
    public void A_library_built_without_ilgpu_carries_plans_for_the_rules_other_assemblies_can_name()
    {
        (_, string[] hints) = BuildLibrary();
        Assert.Equal(new[]
        {
            "User.Optim.Momentum.Step.Plan.g.cs", "User.Optim.Momentum.Step.g.cs",
            "User.Optim.NotVisible.Update.Plan.g.cs", "User.Optim.NotVisible.Update.g.cs",
            "User.Optim.Outer.Hidden.Update.g.cs",              // a private type cannot be named by typeof at assembly level: no plan
            "User.Optim.Outer.Inner.Update.Plan.g.cs", "User.Optim.Outer.Inner.Update.g.cs",
            "User.Optim.WithPrivate.Update.Plan.g.cs", "User.Optim.WithPrivate.Update.g.cs",
        }, hints.Where(h => !h.EndsWith(".Optimizer.g.cs", System.StringComparison.Ordinal) && !h.EndsWith(".Storage.g.cs", System.StringComparison.Ordinal)));   // optimizer objects and storage overloads: Kernels.Tests
    }

    [Fact]
    public void A_gpu_compilation_gets_extension_launchers_for_a_referenced_librarys_rules()
    {
        (MetadataReference library, _) = BuildLibrary();
        (GeneratorRunResult run, ImmutableArray<Diagnostic> problems) = BuildApp(library, """
            using ILGPU;
            using ILGPU.Runtime;
            using Kernels.Gpu;
            using User.Optim;
            public static class App
            {
                public static void Run(AcceleratorStream stream, ArrayView<float> p, ArrayView<float> g, ArrayView<float> m, GpuTensorTable table, ArrayView<double> dp, ArrayView<double> dg)
                {
                    // The call site of a rule of another assembly is the same as for a rule of this one.
                    Momentum.Step(stream, p, g, m, default, lr: 0.01f, step: 3);
                    Momentum.Step(stream, table, p, g, m, default, new[] { MomentumStepGpu.Prepare(lr: 0.01f), MomentumStepGpu.Prepare(useExtra: false) });
                    Outer.Inner.Update(stream, dp, dg, lr: 0.25);
                    // The CPU overload is still the library's own.
                    Momentum.Step(new float[1], new float[1], new float[1], default, step: 2);
                }
            }
            """);
        Assert.Empty(problems);
        // Internal and private rules are not callable here, and WithPrivate's prologue calls its private helper: no launchers.
        // The built-ins' launchers are Kernels.Gpu's: not emitted again.
        Assert.Equal(new[] { "User.Optim.MomentumStepGpu.g.cs", "User.Optim.OuterInnerUpdateGpu.g.cs" },
            run.GeneratedSources.Select(s => s.HintName).OrderBy(h => h, StringComparer.Ordinal));
        string source = run.GeneratedSources.First().SourceText.ToString();
        Assert.Contains("public static class MomentumStepGpu", source);
        Assert.Contains("extension(global::User.Optim.Momentum)", source);
        Assert.Contains("public static Inputs Prepare(float lr = 0.1f, bool useExtra = false, int step = 1)", source);
    }

    [Fact]
    public void Before_csharp_14_no_extension_launchers_are_emitted()
    {
        (MetadataReference library, _) = BuildLibrary();
        (GeneratorRunResult run, ImmutableArray<Diagnostic> problems) = BuildApp(library, "public static class App { }", LanguageVersion.CSharp13);
        Assert.Empty(problems);
        Assert.Empty(run.GeneratedSources);
    }

    [Fact]
    public void A_cpu_only_compilation_referencing_the_library_gets_no_gpu_code()
    {
        (MetadataReference library, _) = BuildLibrary();
        CSharpCompilation compilation = CSharpCompilation.Create("CpuApp", new[] { CSharpSyntaxTree.ParseText("public static class App { }", s_parse) },
            CpuReferences.Append(library), new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new UpdateRuleGenerator().AsSourceGenerator() }, parseOptions: s_parse).RunGenerators(compilation);
        Assert.Empty(driver.GetRunResult().Results.Single().GeneratedSources);
    }

    [Fact]
    public void Editing_the_gpu_compilation_does_not_regenerate_the_referenced_rules_launchers()
    {
        (MetadataReference library, _) = BuildLibrary();
        var parse = new CSharpParseOptions(LanguageVersion.Preview);
        CSharpCompilation compilation = CSharpCompilation.Create("App", new[] { CSharpSyntaxTree.ParseText("public static class App { }", parse) },
            GpuReferences.Append(library), new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new UpdateRuleGenerator().AsSourceGenerator() }, parseOptions: parse,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        driver = driver.RunGenerators(compilation);
        driver = driver.RunGenerators(compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("public class Unrelated { }", parse)));
        GeneratorRunResult run = driver.GetRunResult().Results.Single();
        Assert.Equal(2, run.GeneratedSources.Length);
        var outputs = run.TrackedOutputSteps.SelectMany(step => step.Value).SelectMany(step => step.Outputs).ToList();
        Assert.NotEmpty(outputs);
        Assert.All(outputs, output => Assert.True(output.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, output.Reason.ToString()));
    }
}
