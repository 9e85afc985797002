using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Kernels.Tests.Generator;

/// <summary>Which rules get an optimizer object, the diagnostics that say why not (KRN0013) or what is misused (KRN0014), and names that must not collide.</summary>
public class OptimizerGenerationTests
{
    private static GeneratorHarness.Result Run(string source) => GeneratorHarness.Run(GeneratorHarness.Usings + source);

    private static string Rule(string parameters, string body = "p -= g;", string attributes = "[UpdateRule]", string members = "") =>
        "public static partial class R\n{\n" + members + "\n    " + attributes + "\n    public static void U(" + parameters + ")\n    {\n        " + body + "\n    }\n}\n";

    private static bool HasOptimizer(GeneratorHarness.Result result) =>
        result.Sources.Any(s => s.HintName.EndsWith(".Optimizer.g.cs", System.StringComparison.Ordinal));

    [Fact]
    public void RuleShapedLikeAnUpdate_GetsAnOptimizer_NamedAfterTheMethod()
    {
        GeneratorHarness.Result result = Run(Rule("ref float p, in float g, ref float m, int step, float lr = 0.1f", "m = m * 0.9f + g; p -= lr * m;"));
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompileErrors);
        string source = result.Sources.Single(s => s.HintName.EndsWith(".Optimizer.g.cs", System.StringComparison.Ordinal)).SourceText.ToString();
        Assert.Contains("public sealed class UOptimizer", source);
        Assert.Contains("public sealed class UOptions", source);
        Assert.Contains("checked((int)__batch.Step)", source);   // the step count is supplied, not a hyperparameter
        Assert.DoesNotContain("public int Step", source);
    }

    [Fact]
    public void KRN0013_TwoReadOnlyInputs_AndGenerateOptimizerFalseSilencesIt()
    {
        GeneratorHarness.Result result = Run(Rule("ref float p, in float g, in float h", "p -= g * h;"));
        Diagnostic info = Assert.Single(result.GeneratorDiagnostics);
        Assert.Equal("KRN0013", info.Id);
        Assert.Equal(DiagnosticSeverity.Info, info.Severity);
        Assert.Contains("exactly one", info.GetMessage());
        Assert.Empty(result.CompileErrors);
        Assert.False(HasOptimizer(result));

        GeneratorHarness.Result silenced = Run(Rule("ref float p, in float g, in float h", "p -= g * h;", "[UpdateRule(GenerateOptimizer = false)]"));
        Assert.Empty(silenced.GeneratorDiagnostics);
        Assert.False(HasOptimizer(silenced));
    }

    [Fact]
    public void KRN0013_TypeAlreadyHasAMemberNamedLikeTheOptimizer()
    {
        GeneratorHarness.Result result = Run(Rule("ref float p, in float g", members: "    public static int UOptimizer;"));
        Assert.Equal("KRN0013", Assert.Single(result.GeneratorDiagnostics).Id);
        Assert.Empty(result.CompileErrors);
    }

    [Theory]
    [InlineData("ref float p, in float g, [TensorState(\"Missing\")] double s", "p -= g * (float)s;", "no static method 'Missing'")]
    [InlineData("ref float p, in float g, [StepCount] float t", "p -= g * t;", "[StepCount]")]
    [InlineData("[InitialValue(1.0)] ref float p, in float g", "p -= g;", "[InitialValue]")]
    [InlineData("ref float p, in float g, [InitialValue(\"nope\")] ref float m", "m += g; p -= m;", "numeric hyperparameter")]
    [InlineData("ref float p, in float g, [TensorState(nameof(Next))] double s", "p -= g * (float)s;", "'other'")]
    [InlineData("ref float p, [NonNegative] in float g", "p -= g;", "[NonNegative]")]
    [InlineData("[NonNegative] ref float p, in float g", "p -= g;", "[NonNegative]")]
    public void KRN0014_MisusedAttribute(string parameters, string body, string messagePart)
    {
        const string next = "    public static double Next(double previous, double other) => previous;";
        GeneratorHarness.Result result = Run(Rule(parameters, body, members: next));
        Diagnostic error = Assert.Single(result.GeneratorDiagnostics, d => d.Id == "KRN0014");
        Assert.Equal(DiagnosticSeverity.Error, error.Severity);
        Assert.Contains(messagePart, error.GetMessage());
        Assert.False(HasOptimizer(result));
        Assert.Empty(result.CompileErrors);   // the span overloads are still generated and compile
    }

    [Fact]
    public void HyperparametersNamedLikeGeneratedMembers_CompileClean()
    {
        GeneratorHarness.Result result = Run(Rule(
            "ref float p, in float g, float options = 1, float parameters = 2, float stepOptions = 3, float names = 4, float index = 5, float value = 6, double __options = 7, bool copy = false, int uOptions = 1, float statePrecision = 8",
            "p -= g * options * parameters * stepOptions * names * index * value * (float)__options * uOptions * statePrecision + (copy ? 1 : 0);"));
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompileErrors);
        string source = result.Sources.Single(s => s.HintName.EndsWith(".Optimizer.g.cs", System.StringComparison.Ordinal)).SourceText.ToString();
        Assert.Contains("public float Names_ {", source);
        Assert.Contains("public bool Copy_ {", source);
        Assert.Contains("public int UOptions_ {", source);
    }
}
