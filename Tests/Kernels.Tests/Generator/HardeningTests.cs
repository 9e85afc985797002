using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Kernels.Tests.Generator;

/// <summary>
/// Regression tests for the bug classes the generator fuzzer found: each rule is valid C# and must be
/// generated without a generator error, compile, and leave no warning in the generated files (with XML
/// documentation diagnostics on, as a user building with GenerateDocumentationFile and warnings as errors).
/// </summary>
public class HardeningTests
{
    internal static GeneratorHarness.Result AssertGeneratesClean(string source)
    {
        GeneratorHarness.Result result = GeneratorHarness.Run(GeneratorHarness.Usings + source);
        Assert.True(result.GeneratorDiagnostics.All(d => d.Severity < DiagnosticSeverity.Error),
            "generator errors: " + string.Join("\n", result.GeneratorDiagnostics));
        Assert.NotEmpty(result.Sources);
        HashSet<SyntaxTree> generated = result.Output.SyntaxTrees.Where(t => t.FilePath.EndsWith(".g.cs", System.StringComparison.Ordinal)).ToHashSet();
        Diagnostic[] problems = result.Output.GetDiagnostics()
            .Where(d => d.Severity == DiagnosticSeverity.Error
                     || d.Severity == DiagnosticSeverity.Warning && d.Location.SourceTree is { } tree && generated.Contains(tree))
            .ToArray();
        Assert.True(problems.Length == 0, string.Join("\n", problems.Select(p => p.ToString())) + "\n"
            + string.Join("\n", result.Sources.Select(s => s.SourceText.ToString())));
        return result;
    }

    private static string Rule(string body, string parameters = "ref float p, in float g, float lr = 0.1f, bool flag = false, int k = 1", string name = "U") =>
        "public static partial class R\n{\n    [UpdateRule]\n    public static void " + name + "(" + parameters + ")\n    {\n" + body + "\n    }\n}\n";

    [Fact]
    public void ThrowNewException_InUniformValidation() =>
        AssertGeneratesClean(Rule("if (lr < 0) throw new ArgumentOutOfRangeException(nameof(lr));\np -= lr * g;"));

    [Fact]
    public void DefaultOfStruct_InUniformCode() =>
        AssertGeneratesClean(Rule("TimeSpan t = default(TimeSpan);\nfloat s = (float)t.TotalSeconds;\np -= (lr + s) * g;"));

    [Fact]
    public void ThrowHelper_InUniformCode() =>
        AssertGeneratesClean(Rule("ArgumentOutOfRangeException.ThrowIfNegative(lr);\np -= lr * g;"));

    [Fact]
    public void TupleAssignment_InUniformCode() =>
        AssertGeneratesClean(Rule("float a = lr, b = 2 * lr;\n(a, b) = (b, a);\np -= (a - b) * g;"));

    [Fact]
    public void SameLocal_DeclaredInBothArmsOfUniformIf() =>
        AssertGeneratesClean(Rule("if (flag) { float s = lr * 2; p -= s * g; } else { float s = lr / 2; p += s * g; }"));

    [Fact]
    public void KeywordNamedNamespaceTypeAndMethod() =>
        AssertGeneratesClean("namespace @class.@event\n{\n    public static partial class @struct\n    {\n        [UpdateRule]\n        public static void @for(ref float @in, in float @out, float @float = 1f) => @in -= @float * @out;\n    }\n}\n");

    [Fact]
    public void ParameterNamedNameof() =>
        AssertGeneratesClean(Rule("p -= nameof * g;", "ref float p, in float g, float nameof = 0.1f"));

    [Theory]
    [InlineData("maskThen1")]
    [InlineData("maskElse1")]
    [InlineData("Inputs")]
    [InlineData("Run")]
    [InlineData("Run512")]
    [InlineData("Block512")]
    [InlineData("RunScalar")]
    [InlineData("Execute")]
    [InlineData("ChunkAlignment")]
    [InlineData("UKernel")]
    [InlineData("UGpu")]
    [InlineData("buffers")]
    [InlineData("start")]
    [InlineData("T")]
    [InlineData("TFlag")]
    [InlineData("value")]
    [InlineData("global")]
    public void UserNames_CollidingWithGeneratedNames(string name) =>
        AssertGeneratesClean(Rule($"float {name} = lr * 2;\nif (g > 0) {{ p -= {name} * g; }}\nif (flag) p += {name};",
            $"ref float p, in float g, float lr = 0.1f, bool flag = false") +
            $"public static partial class R2 {{ [UpdateRule] public static void Step(ref float {name}, in float g, bool flag = false) {{ if (g > 0) {name} -= g; if (flag) {name} += 1; }} }}\n" +
            $"public static partial class R3 {{ static int {name}; [UpdateRule] public static void Step(ref float p, in float g, float lr = 1, bool flag = false) {{ if (flag) p -= lr * g; }} }}\n");

    [Fact]
    public void DoubleNegation_IsNotDecrement() =>
        AssertGeneratesClean(Rule("p = -(-g) + -(-(-p));"));

    [Fact]
    public void FloatAndDoubleStaticMath_PerElement() =>
        AssertGeneratesClean(Rule("p = float.Sqrt(float.Abs(g)) + float.Max(p, g) + float.FusedMultiplyAdd(p, g, 1f);") +
            "public static partial class D { [UpdateRule] public static void U(ref double p, in double g) { p = double.Sqrt(double.Abs(g)) + double.Min(p, g); } }\n");

    [Fact]
    public void CastOfMathSign_PerElement() =>
        AssertGeneratesClean(Rule("p -= lr * (float)Math.Sign(g);"));

    [Fact]
    public void UnusedUniformLocal_NoWarningInGeneratedCode() =>
        AssertGeneratesClean(Rule("float unused = 1;\nconst float alsoUnused = 2;\np -= lr * g;"));

    [Fact]
    public void GotoInUniformCode_IsReportedOrKeptWithItsLabel()
    {
        GeneratorHarness.Result result = GeneratorHarness.Run(GeneratorHarness.Usings + Rule("int n = k;\nagain:\nn--;\nif (n > 0) goto again;\np -= lr * n * g;"));
        Assert.Null(result.Run.Exception);
        if (result.GeneratorDiagnostics.Any(d => d.Severity == DiagnosticSeverity.Error))
            Assert.Contains(result.GeneratorDiagnostics, d => d.Id == "KRN0110");
        else
            Assert.Empty(result.CompileErrors);
    }

    /// <summary>G13: short circuits whose right operand calls a checked function, nested in each other, in ?:, under !, in double.</summary>
    [Fact]
    public void ShortCircuit_CheckedRightOperand_NestedForms() =>
        AssertGeneratesClean(Rule(
            "float c = g > 0 || g < -1 && Math.Clamp(p, lo, 1f) > 0 ? Math.Clamp(g, lo, 1f) : (float)Math.Sign(p);\n" +
            "bool b = !(p > 1 || (float)Math.Sign(g) > 0) && (g < 0 || Math.Clamp((double)p, 0.0, (double)lo) > 0.5);\n" +
            "if (b || g == 0 && Math.Clamp(p, 0f, lo) > 0 || p > 2 && float.Clamp(g, lo, 2f) > 1) p -= c;",
            "ref float p, in float g, float lo = 0"));

    [Fact]
    public void MixedFloatDouble_GpuRewriteReachesConversions() =>
        AssertGeneratesClean(Rule("double d = MathF.Max(p, g);\np = (float)(d * 0.5) + MathF.FusedMultiplyAdd(p, g, (float)Math.Max(d, 1.0));"));
}
