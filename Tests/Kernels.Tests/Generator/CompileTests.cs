using System.Linq;
using Xunit;

namespace Kernels.Tests.Generator;

/// <summary>Rules with awkward but valid shapes generate code that compiles cleanly (no errors, no warnings).</summary>
public class CompileTests
{
    private static void AssertCompilesClean(string source)
    {
        GeneratorHarness.Result result = GeneratorHarness.Run(GeneratorHarness.Usings + source);
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.NotEmpty(result.Sources);
        var problems = result.Output.GetDiagnostics().Where(d => d.Severity >= Microsoft.CodeAnalysis.DiagnosticSeverity.Warning).ToArray();
        Assert.True(problems.Length == 0, string.Join("\n", problems.Select(p => p.ToString())) + "\n" + string.Join("\n", result.Sources.Select(s => s.SourceText.ToString())));
    }

    [Fact]
    public void ParameterNamesThatCollideWithGeneratedNames()
    {
        AssertCompilesClean("""
            namespace N.M;
            public static partial class R
            {
                [UpdateRule]
                internal static void Step(ref float i, in float length, ref float kernel, float options = 1, int threads = 2, bool at = true, float paramRef = 3)
                {
                    float mask = options * threads;
                    i = at ? i - mask * length : kernel;
                    kernel = kernel + paramRef;
                }
            }
            """);
    }

    [Fact]
    public void NestedTypesGlobalNamespaceExpressionBodyAndKeywordNames()
    {
        AssertCompilesClean("""
            public partial class Outer
            {
                public partial struct Inner
                {
                    [UpdateRule]
                    public static void Step(ref double @params, in double @in, double @double = 0.5) => @params -= @double * @in;
                }
            }
            """);
    }

    [Fact]
    public void UniformCodeUsesStaticUsingsAndUserHelpers()
    {
        AssertCompilesClean("""
            using static System.MathF;
            namespace Users
            {
                internal static class Schedules { public static float Warmup(int step) => Min(1f, step / 100f); }

                public static partial class R
                {
                    [UpdateRule]
                    public static void Step(ref float p, in float g, int step = 1, float lr = 0.1f)
                    {
                        float scaled = lr * Schedules.Warmup(step) * Sqrt(2f);
                        p -= scaled * Abs(g);
                    }
                }
            }
            """);
    }
}
