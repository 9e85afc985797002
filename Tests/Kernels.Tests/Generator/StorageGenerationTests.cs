using System;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Kernels.Tests.Generator;

/// <summary>
/// The storage overloads' file (<c>….Storage.g.cs</c>): emitted for float rules only, clean whatever the rule's names,
/// callable beside the float overloads without ambiguity, and kept as signatures when the rule has an error.
/// </summary>
public class StorageGenerationTests
{
    private static GeneratorHarness.Result Run(params string[] sources) =>
        GeneratorHarness.Run(sources.Select(s => GeneratorHarness.Usings + "using Kernels.Precision;\n" + s).ToArray());

    private static void AssertClean(GeneratorHarness.Result result)
    {
        Diagnostic[] problems = result.Output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToArray();
        Assert.True(problems.Length == 0, string.Join("\n", problems.Select(p => p.ToString())));
    }

    [Fact]
    public void FloatRule_GetsStorageFile_DoubleRuleDoesNot()
    {
        GeneratorHarness.Result result = Run("""
            public static partial class F { [UpdateRule] public static void Step(ref float p, in float g, float lr = 0.1f) => p -= lr * g; }
            public static partial class D { [UpdateRule] public static void Step(ref double p, in double g, double lr = 0.1) => p -= lr * g; }
            """);
        Assert.Empty(result.GeneratorDiagnostics);
        AssertClean(result);
        string[] hints = result.Sources.Select(s => s.HintName).ToArray();
        Assert.Contains("F.Step.Storage.g.cs", hints);
        Assert.DoesNotContain("D.Step.Storage.g.cs", hints);
    }

    [Fact]
    public void NamesThatCollideWithStorageNames()
    {
        // Parameters, locals and members named like the storage file's type parameters, locals, fields and struct.
        AssertClean(Run("""
            namespace N;
            public static partial class R
            {
                public static int UpdateStorageKernel;
                public static int TStochasticRounding;

                [UpdateRule]
                internal static void Update(ref float TParam, in float TGrad, ref float TState, ref float storage, float rounding = 1, int position = 2, bool pinned = true, float TParamValue = 3)
                {
                    float kernel = rounding * position;
                    TParam = pinned ? TParam - kernel * TGrad : TState;
                    TState = TState + TParamValue;
                    storage = MathF.Max(storage, TGrad);
                }
            }
            """));
    }

    [Fact]
    public void FloatAndStorageOverloads_ResolveWithoutAmbiguity()
    {
        // Float spans and arrays bind the float overload (non-generic wins the tie); 16-bit buffers bind the storage overload.
        // The harness compiles C# 13 (Roslyn 4.14's latest), which infers type arguments from spans of the exact parameter
        // types only; C# 14 also infers them from arrays and from Span for ReadOnlySpan (StorageBitExactTests call them so).
        AssertClean(Run("""
            public static partial class R
            {
                [UpdateRule]
                public static void Step(ref float p, in float g, ref float m, ref float unused, float lr = 0.1f, bool useUnused = false)
                {
                    m = 0.9f * m + g;
                    p -= lr * m;
                    if (useUnused)
                        unused = p;
                }
            }

            public static class Caller
            {
                public static void Call(float[] p, float[] g, float[] m, BFloat16[] pb, BFloat16[] gb, Half[] mh)
                {
                    R.Step(p, g, m, default, lr: 0.2f);
                    R.Step(p.AsSpan(), g, m.AsSpan(), Span<float>.Empty);
                    R.Step(pb.AsSpan(), (ReadOnlySpan<BFloat16>)gb, m.AsSpan(), default, options: new StepOptions { Rounding = new StochasticRounding(1, 2) });
                    R.Step(pb.AsSpan(), (ReadOnlySpan<BFloat16>)gb, mh.AsSpan(), default, 0.1f, false, StepOptions.SingleThreaded);
                    R.Step<BFloat16, BFloat16, Half>(pb, gb, mh, default);
                    R.Step(new ReadOnlySpan<Memory<BFloat16>>(new[] { new Memory<BFloat16>(pb) }), new ReadOnlySpan<ReadOnlyMemory<BFloat16>>(new[] { new ReadOnlyMemory<BFloat16>(gb) }), new ReadOnlySpan<Memory<float>>(new[] { new Memory<float>(m) }), default);
                    R.Step(new[] { new Memory<float>(p) }, new[] { new ReadOnlyMemory<float>(g) }, new[] { new Memory<float>(m) }, default);
                }
            }
            """));
    }

    [Fact]
    public void RuleWithError_KeepsStorageSignatures_WithoutLoops()
    {
        GeneratorHarness.Result result = Run("""
            public static partial class Broken
            {
                [UpdateRule]
                public static void Update(ref float p, in float g) { p = p % g; }
            }

            public static class Caller
            {
                public static void Call(BFloat16[] p, BFloat16[] g) => Broken.Update(p.AsSpan(), (ReadOnlySpan<BFloat16>)g);
            }
            """);
        Assert.Contains(result.GeneratorDiagnostics, d => d.Severity == DiagnosticSeverity.Error && d.Id.StartsWith("KRN", StringComparison.Ordinal));
        // Only the KRN error: the caller binds to the kept signature.
        Assert.Empty(result.CompileErrors);
        string storage = result.Sources.Single(s => s.HintName.EndsWith(".Storage.g.cs", StringComparison.Ordinal)).SourceText.ToString();
        Assert.Contains("has errors (see its KRN diagnostics)", storage);
        Assert.DoesNotContain("StorageKernel", storage);
    }
}
