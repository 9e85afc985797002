using System.Collections.Immutable;
using System.Linq;
using Kernels.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Kernels.Tests.Gpu;

/// <summary>The GPU part is emitted only for compilations that reference ILGPU and Kernels.Gpu, and compiles cleanly there.</summary>
public sealed class GeneratorTests
{
    private const string Rule = """
        using System;
        using Kernels;
        namespace User
        {
            public static partial class Momentum
            {
                [UpdateRule]
                public static void Step(ref float p, in float g, ref float m, ref float extra, float lr = 0.1f, bool useExtra = false)
                {
                    m = MathF.FusedMultiplyAdd(0.9f, m, g);
                    if (useExtra)
                        extra = MathF.Max(extra, m);
                    p -= lr * (g > 0 ? m : MathF.Abs(m));
                }
            }
        }
        """;

    private static (GeneratorRunResult Run, ImmutableArray<Diagnostic> Errors) Generate(bool withIlgpu)
    {
        var references = Basic.Reference.Assemblies.Net100.References.All
            .Append(MetadataReference.CreateFromFile(typeof(UpdateRuleAttribute).Assembly.Location));
        if (withIlgpu)
        {
            references = references.Append(MetadataReference.CreateFromFile(typeof(ILGPU.Runtime.Accelerator).Assembly.Location))
                .Append(MetadataReference.CreateFromFile(typeof(Kernels.Gpu.GpuKernels).Assembly.Location));
        }
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        CSharpCompilation compilation = CSharpCompilation.Create("User", new[] { CSharpSyntaxTree.ParseText(Rule, parse) }, references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new UpdateRuleGenerator().AsSourceGenerator() }, parseOptions: parse)
            .RunGeneratorsAndUpdateCompilation(compilation, out Compilation output, out _);
        GeneratorRunResult run = driver.GetRunResult().Results.Single();
        Assert.Null(run.Exception);
        // CS1701/CS1702 (ILGPU is built against System.Runtime 7.0) are the unification notes the SDK silences too.
        return (run, output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning && d.Id is not ("CS1701" or "CS1702")).ToImmutableArray());
    }

    [Fact]
    public void Without_ilgpu_only_the_span_overload_is_emitted_and_it_compiles()
    {
        (GeneratorRunResult run, ImmutableArray<Diagnostic> errors) = Generate(withIlgpu: false);
        Assert.Equal(new[] { "User.Momentum.Step.Optimizer.g.cs", "User.Momentum.Step.Plan.g.cs", "User.Momentum.Step.Storage.g.cs", "User.Momentum.Step.g.cs" }, run.GeneratedSources.Select(s => s.HintName).OrderBy(h => h, System.StringComparer.Ordinal));
        Assert.Empty(errors);
    }

    [Fact]
    public void With_ilgpu_the_gpu_part_is_emitted_beside_it_and_compiles_without_warnings()
    {
        (GeneratorRunResult run, ImmutableArray<Diagnostic> errors) = Generate(withIlgpu: true);
        // The rule's own GPU part only: the built-ins' launchers (planned in Kernels.dll) are already in Kernels.Gpu.dll.
        Assert.Equal(new[] { "User.Momentum.Step.Gpu.g.cs", "User.Momentum.Step.Optimizer.g.cs", "User.Momentum.Step.Plan.g.cs", "User.Momentum.Step.Storage.g.cs", "User.Momentum.Step.g.cs" }, run.GeneratedSources.Select(s => s.HintName).OrderBy(h => h, System.StringComparer.Ordinal));
        Assert.Empty(errors);
        string gpu = run.GeneratedSources.Single(s => s.HintName.EndsWith(".Gpu.g.cs")).SourceText.ToString();
        Assert.Contains("public static void Step(global::ILGPU.Runtime.AcceleratorStream stream, global::ILGPU.ArrayView<float> p, global::ILGPU.ArrayView<float> g, global::ILGPU.ArrayView<float> m, global::ILGPU.ArrayView<float> extra, float lr = 0.1f, bool useExtra = false, global::Kernels.StepOptions options = default)", gpu);
        // The storage launchers: the CPU storage overloads' type arguments (p is the parameter, g the read-only buffer, m and extra the state).
        Assert.Contains("public static void Step<TParam, TGrad, TState>(global::ILGPU.Runtime.AcceleratorStream stream, global::ILGPU.ArrayView<TParam> p, global::ILGPU.ArrayView<TGrad> g, global::ILGPU.ArrayView<TState> m, global::ILGPU.ArrayView<TState> extra, float lr = 0.1f, bool useExtra = false, global::Kernels.StepOptions options = default)", gpu);
        Assert.Contains("public static void StorageKernel<TParam, TParamStorage, TGrad, TGradStorage, TState, TStateStorage>(", gpu);
        Assert.Contains("global::Kernels.Gpu.GpuTensorTable tensors", gpu);
        Assert.Contains("global::Kernels.Gpu.GpuMath.FusedMultiplyAdd(", gpu);
        Assert.Contains("global::Kernels.Gpu.GpuMath.Max(", gpu);
        Assert.DoesNotContain("global::System.MathF.FusedMultiplyAdd(", gpu);
    }

    [Fact]
    public void Adding_an_unrelated_file_does_not_regenerate_the_gpu_part()
    {
        var parse = new CSharpParseOptions(LanguageVersion.Latest);
        var references = Basic.Reference.Assemblies.Net100.References.All
            .Append(MetadataReference.CreateFromFile(typeof(UpdateRuleAttribute).Assembly.Location))
            .Append(MetadataReference.CreateFromFile(typeof(ILGPU.Runtime.Accelerator).Assembly.Location))
            .Append(MetadataReference.CreateFromFile(typeof(Kernels.Gpu.GpuKernels).Assembly.Location));
        CSharpCompilation compilation = CSharpCompilation.Create("User", new[] { CSharpSyntaxTree.ParseText(Rule, parse) }, references,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary));
        GeneratorDriver driver = CSharpGeneratorDriver.Create(new[] { new UpdateRuleGenerator().AsSourceGenerator() }, parseOptions: parse,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        driver = driver.RunGenerators(compilation);
        driver = driver.RunGenerators(compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("namespace User { public class Unrelated { } }", parse)));

        GeneratorRunResult run = driver.GetRunResult().Results.Single();
        Assert.Equal(5, run.GeneratedSources.Length);   // span overloads, storage overloads, optimizer object, plan, GPU part
        var outputs = run.TrackedOutputSteps.SelectMany(step => step.Value).SelectMany(step => step.Outputs).ToList();
        Assert.NotEmpty(outputs);
        Assert.All(outputs, output => Assert.True(output.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, output.Reason.ToString()));
    }
}
