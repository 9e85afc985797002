using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;
using Xunit;

namespace Kernels.Tests.Generator;

/// <summary>
/// One test per diagnostic ID: the ID, its location (marked <c>[|like this|]</c> in the source), that
/// nothing is emitted for the broken rule, and that the generator does not throw.
/// </summary>
public class DiagnosticsTests
{
    private static void AssertDiagnostic(string id, string marked)
    {
        int start = marked.IndexOf("[|", System.StringComparison.Ordinal);
        int end = marked.IndexOf("|]", System.StringComparison.Ordinal) - 2;
        string source = GeneratorHarness.Usings + marked.Replace("[|", "").Replace("|]", "");
        var expected = new TextSpan(start + GeneratorHarness.Usings.Length, end - start);

        GeneratorHarness.Result result = GeneratorHarness.Run(source);

        Diagnostic[] matching = result.GeneratorDiagnostics.Where(d => d.Id == id).ToArray();
        Assert.True(matching.Length > 0, $"expected {id}; got: {string.Join("; ", result.GeneratorDiagnostics)}");
        Assert.Contains(matching, d => d.Location.SourceSpan == expected);
        Diagnostic diagnostic = matching.First(d => d.Location.SourceSpan == expected);
        Assert.Equal(DiagnosticSeverity.Error, diagnostic.Severity);
        Assert.Equal("Rule0.cs", diagnostic.Location.GetLineSpan().Path);
        // A rule with an error gets no loop: at most its overloads' signatures, whose bodies throw (so callers see
        // the KRN error rather than overload-resolution errors).
        Assert.All(result.Sources, source => Assert.Contains("has errors (see its KRN diagnostics)", source.SourceText.ToString()));
    }

    private static string Rule(string body, string parameters = "ref float p, in float g, float lr = 0.1f, bool flag = false") =>
        "public static partial class R\n{\n    [UpdateRule]\n    public static void U(" + parameters + ")\n    {\n" + body + "\n    }\n}\n";

    [Fact]
    public void KRN0001_TypeNotPartial() => AssertDiagnostic("KRN0001",
        "public static class [|R|]\n{\n    [UpdateRule]\n    public static void U(ref float p, in float g) { p -= g; }\n}\n");

    [Fact]
    public void KRN0001_EnclosingTypeNotPartial() => AssertDiagnostic("KRN0001",
        "public static class [|Outer|]\n{\n    public static partial class R\n    {\n        [UpdateRule]\n        public static void U(ref float p, in float g) { p -= g; }\n    }\n}\n");

    [Fact]
    public void KRN0002_RuleNotStatic() => AssertDiagnostic("KRN0002",
        "public partial class R\n{\n    [UpdateRule]\n    public void [|U|](ref float p, in float g) { p -= g; }\n}\n");

    [Fact]
    public void KRN0003_RuleNotVoid() => AssertDiagnostic("KRN0003",
        "public static partial class R\n{\n    [UpdateRule]\n    public static [|float|] U(ref float p, in float g) { p -= g; return p; }\n}\n");

    [Fact]
    public void KRN0004_BadElementType() => AssertDiagnostic("KRN0004",
        Rule("p -= g;", "ref float p, in float g, ref int [|count|]"));

    [Fact]
    public void KRN0005_MixedElementTypes() => AssertDiagnostic("KRN0005",
        Rule("p -= g;", "ref float p, in float g, ref double [|m|]"));

    [Fact]
    public void KRN0006_NoRefParameter() => AssertDiagnostic("KRN0006",
        "public static partial class R\n{\n    [UpdateRule]\n    public static void [|U|](in float g, float lr) { }\n}\n");

    [Fact]
    public void KRN0007_OutParameter() => AssertDiagnostic("KRN0007",
        Rule("p -= g; o = 0;", "ref float p, in float g, out float [|o|]"));

    [Fact]
    public void KRN0008_GenericRule() => AssertDiagnostic("KRN0008",
        "public static partial class R\n{\n    [UpdateRule]\n    public static void [|U|]<T>(ref float p, in float g) { p -= g; }\n}\n");

    [Fact]
    public void KRN0009_TooManyBuffers() => AssertDiagnostic("KRN0009",
        "public static partial class R\n{\n    [UpdateRule]\n    public static void [|U|](ref float a, ref float b, ref float c, ref float d, ref float e, ref float f, ref float g, ref float h, in float i) { a = i; }\n}\n");

    [Fact]
    public void KRN0010_DuplicateRuleName() => AssertDiagnostic("KRN0010",
        "public static partial class R\n{\n    [UpdateRule]\n    public static void [|U|](ref float p, in float g) { p -= g; }\n    [UpdateRule]\n    public static void U(ref double p, in double g) { p -= g; }\n}\n");

    [Fact]
    public void KRN0011_MissingBody() => AssertDiagnostic("KRN0011",
        "public static partial class R\n{\n    [UpdateRule]\n    public static extern void [|U|](ref float p, in float g);\n}\n");

    [Fact]
    public void KRN0101_LoopOverElements() => AssertDiagnostic("KRN0101",
        Rule("        [|for|] (int k = 0; k < 3; k++) p -= lr * g;"));

    [Fact]
    public void KRN0102_Return() => AssertDiagnostic("KRN0102",
        Rule("        p -= g;\n        if (flag) [|return;|]"));

    [Fact]
    public void KRN0103_ThrowPerElement() => AssertDiagnostic("KRN0103",
        Rule("        if (g > 0) [|throw new InvalidOperationException();|]\n        p -= g;"));

    [Fact]
    public void KRN0103_Try() => AssertDiagnostic("KRN0103",
        Rule("        [|try { p -= g; } finally { }|]"));

    [Fact]
    public void KRN0104_UnknownMethod() => AssertDiagnostic("KRN0104",
        Rule("        p -= [|MathF.Pow(g, 2.5f)|];"));

    [Fact]
    public void KRN0105_RefLocal() => AssertDiagnostic("KRN0105",
        Rule("        [|ref float r = ref p;|]\n        r -= g;"));

    [Fact]
    public void KRN0106_Allocation() => AssertDiagnostic("KRN0106",
        Rule("        p -= g * [|new float[] { lr }|][0];"));

    [Fact]
    public void KRN0107_UnsupportedOperator() => AssertDiagnostic("KRN0107",
        Rule("        p = p [|%|] g;"));

    [Fact]
    public void KRN0108_UnsupportedElementValueType() => AssertDiagnostic("KRN0108",
        Rule("        int [|k = (int)g|];\n        p -= k;"));

    [Fact]
    public void KRN0110_UnsupportedStatement() => AssertDiagnostic("KRN0110",
        Rule("        [|switch (g > 0) { case true: p -= g; break; }|]"));

    [Fact]
    public void KRN0111_UnsupportedExpression() => AssertDiagnostic("KRN0111",
        Rule("        p -= [|g is > 0|] ? lr : 0;"));

    [Fact]
    public void KRN0113_SideEffect() => AssertDiagnostic("KRN0113",
        Rule("        [|Console.WriteLine(g)|];\n        p -= g;"));

    [Fact]
    public void KRN0113_UniformSideEffect() => AssertDiagnostic("KRN0113",
        Rule("        [|Console.WriteLine(lr);|]\n        p -= g;"));

    [Fact]
    public void KRN0114_IsNoLongerReported_SameNameInBothArmsIsRenamed()
    {
        GeneratorHarness.Result result = GeneratorHarness.Run(GeneratorHarness.Usings +
            Rule("        if (flag) { float t = lr; p -= t * g; } else { float t = 2 * lr; p += t * g; }"));
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompileErrors);
    }

    [Fact]
    public void EveryProblemIsReportedAtOnce()
    {
        GeneratorHarness.Result result = GeneratorHarness.Run(GeneratorHarness.Usings + Rule(
            "        p -= MathF.Pow(g, 2.5f);\n        p = p % g;\n        for (int k = 0; k < 2; k++) p -= g;\n        Console.WriteLine(g);"));
        Assert.Equal(new[] { "KRN0101", "KRN0104", "KRN0107", "KRN0113" }, result.GeneratorDiagnostics.Select(d => d.Id).OrderBy(x => x));
    }

    [Fact]
    public void KRN0116_RecursiveHelper() => AssertDiagnostic("KRN0116",
        Rule("        p -= F(g);") + "public static partial class R { static float F(float x) => x > 1 ? [|F(x / 2)|] : x; }\n");

    [Fact]
    public void KRN0116_HelperWithTwoReturns() => AssertDiagnostic("KRN0116",
        Rule("        p -= [|F(g)|];") + "public static partial class R { static float F(float x) { if (x > 0) return x; return -x; } }\n");

    [Fact]
    public void KRN0117_SwitchSectionWithoutBreak() => AssertDiagnostic("KRN0117",
        Rule("        switch (k)\n        {\n            [|case 1:|]\n                p -= g;\n                throw new InvalidOperationException();\n            default:\n                p += g;\n                break;\n        }", "ref float p, in float g, int k = 0"));

    [Fact]
    public void KRN0118_ReductionUnderElementCondition() => AssertDiagnostic("KRN0118",
        Rule("        if (g > 0)\n            p -= [|Reduce.Sum(g)|];"));

    [Fact]
    public void KRN0118_ReductionUnderUniformCondition() => AssertDiagnostic("KRN0118",
        Rule("        if (flag)\n            p -= [|Reduce.Sum(g)|];"));

    [Fact]
    public void KRN0118_ReductionInAnArmOfConditional() => AssertDiagnostic("KRN0118",
        Rule("        p -= g > 0 ? [|Reduce.Sum(g)|] : 0f;"));

    [Fact]
    public void KRN0118_ReductionRightOfShortCircuit() => AssertDiagnostic("KRN0118",
        Rule("        bool b = g > 0 && [|Reduce.Max(g)|] > 1;\n        p -= b ? g : 0f;"));

    [Fact]
    public void KRN0118_ReductionInAHelper() => AssertDiagnostic("KRN0118",
        Rule("        p -= F(g);") + "public static partial class R { static float F(float x) => x / [|Reduce.Sum(x)|]; }\n");

    [Fact]
    public void KRN0118_ReductionOfAnotherReductionsResult() => AssertDiagnostic("KRN0118",
        Rule("        float s = Reduce.Sum(g);\n        float t = [|Reduce.Sum(g - s)|];\n        p -= t;"));

    [Fact]
    public void KRN0118_ReductionOverTheOtherFloatingType() => AssertDiagnostic("KRN0118",
        Rule("        p -= (float)[|Reduce.Sum((double)g)|];"));

    [Fact]
    public void KRN0118_MoreThanFourReductions() => AssertDiagnostic("KRN0118",
        Rule("        p -= Reduce.Sum(g) + Reduce.Sum(p) + Reduce.Max(g) + Reduce.Max(p) + [|Reduce.Sum(g * p)|];"));

    [Fact]
    public void Reduction_AtTheTopLevel_CompilesWithoutDiagnostics()
    {
        GeneratorHarness.Result result = GeneratorHarness.Run(GeneratorHarness.Usings
            + Rule("        float n = MathF.Sqrt(Reduce.Sum(g * g));\n        p -= n > 0 ? lr * g / n : 0f;"));
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompileErrors);
        Assert.Contains(result.Sources, s => s.SourceText.ToString().Contains("IReductionKernel<float>"));
    }

    [Fact]
    public void KRN0012_NoPerElementInput_IsAWarningAndTheRuleIsGenerated()
    {
        GeneratorHarness.Result result = GeneratorHarness.Run(GeneratorHarness.Usings + Rule("        p -= lr * grad;", "ref float p, float grad, float lr = 0.1f"));
        Diagnostic warning = Assert.Single(result.GeneratorDiagnostics);
        Assert.Equal("KRN0012", warning.Id);
        Assert.Equal(DiagnosticSeverity.Warning, warning.Severity);
        Assert.Contains("'in float grad'", warning.GetMessage());
        Assert.Empty(result.CompileErrors);
        Assert.Contains(result.Sources, s => s.SourceText.ToString().Contains("private readonly struct UKernel"));
    }

    [Fact]
    public void RuleWithAnError_KeepsItsOverloadSignatures_SoCallersSeeOnlyTheKrnError()
    {
        // A caller of the span overload of a broken rule compiles (no CS1620/CS1503 noise); only KRN0104 is reported.
        GeneratorHarness.Result result = GeneratorHarness.Run(GeneratorHarness.Usings + Rule("        p -= g % 2f;")
            + "public static class Caller { public static void Call(float[] p, float[] g) => R.U(p, g, lr: 0.5f); }\n");
        Assert.Equal(new[] { "KRN0107" }, result.GeneratorDiagnostics.Select(d => d.Id).Distinct());
        Assert.Empty(result.CompileErrors);
    }

    // The descriptors themselves (docs, help links, severities, ranges, release tracking): DiagnosticDescriptorTests.
}
