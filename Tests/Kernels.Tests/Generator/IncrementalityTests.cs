using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Kernels.Generator;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Kernels.Tests.Generator;

/// <summary>The pipeline caches: unrelated edits re-emit nothing, rule edits re-emit, and the model holds no compiler objects.</summary>
public class IncrementalityTests
{
    private const string RuleSource = GeneratorHarness.Usings + """
        namespace Users;
        public static partial class Momentum
        {
            [UpdateRule]
            public static void Update(ref float param, in float grad, ref float buf, float lr = 0.1f, float beta = 0.9f)
            {
                buf = beta * buf + grad;
                param -= lr * buf;
            }
        }
        """;

    private static (GeneratorDriver Driver, CSharpCompilation Compilation) RunOnce(params string[] sources)
    {
        CSharpCompilation compilation = GeneratorHarness.Compile(sources);
        return (GeneratorHarness.CreateDriver().RunGenerators(compilation), compilation);
    }

    private static IncrementalStepRunReason[] OutputReasons(GeneratorDriver driver) =>
        driver.GetRunResult().Results.Single().TrackedOutputSteps
            .SelectMany(step => step.Value)
            .SelectMany(run => run.Outputs)
            .Select(output => output.Reason)
            .ToArray();

    [Fact]
    public void AddingUnrelatedFile_DoesNotRegenerateSource()
    {
        (GeneratorDriver driver, CSharpCompilation compilation) = RunOnce(RuleSource);
        CSharpCompilation edited = compilation.AddSyntaxTrees(CSharpSyntaxTree.ParseText("public class Unrelated { public int X; }", GeneratorHarness.ParseOptions, path: "Other.cs"));

        driver = driver.RunGenerators(edited);

        IncrementalStepRunReason[] reasons = OutputReasons(driver);
        Assert.NotEmpty(reasons);
        Assert.All(reasons, r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, r.ToString()));
    }

    [Fact]
    public void EditingComment_DoesNotRegenerateSource()
    {
        (GeneratorDriver driver, CSharpCompilation compilation) = RunOnce(RuleSource);
        SyntaxTree old = compilation.SyntaxTrees.Single();
        SyntaxTree commented = CSharpSyntaxTree.ParseText(
            RuleSource.Replace("buf = beta * buf + grad;", "// heavy-ball momentum\n        buf = beta * buf + grad;"), GeneratorHarness.ParseOptions, path: old.FilePath);

        driver = driver.RunGenerators(compilation.ReplaceSyntaxTree(old, commented));

        // The rule's file changed, so it is parsed again, but the model compares equal and nothing is re-emitted.
        IncrementalStepRunReason[] parse = driver.GetRunResult().Results.Single().TrackedSteps[UpdateRuleGenerator.ParseStep]
            .SelectMany(s => s.Outputs).Select(o => o.Reason).ToArray();
        Assert.Equal(new[] { IncrementalStepRunReason.Unchanged }, parse);
        Assert.All(OutputReasons(driver), r => Assert.True(r is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, r.ToString()));
    }

    [Fact]
    public void ChangingRule_RegeneratesSource()
    {
        (GeneratorDriver driver, CSharpCompilation compilation) = RunOnce(RuleSource);
        SyntaxTree old = compilation.SyntaxTrees.Single();
        SyntaxTree changed = CSharpSyntaxTree.ParseText(RuleSource.Replace("beta * buf + grad", "beta * buf + (1 - beta) * grad"), GeneratorHarness.ParseOptions, path: old.FilePath);

        driver = driver.RunGenerators(compilation.ReplaceSyntaxTree(old, changed));

        Assert.Contains(IncrementalStepRunReason.Modified, OutputReasons(driver));
        string[] kernels = { ".Plan.g.cs", ".Optimizer.g.cs", ".Storage.g.cs" };
        string source = driver.GetRunResult().GeneratedTrees.Single(t => !kernels.Any(k => t.FilePath.EndsWith(k, StringComparison.Ordinal))).ToString();
        Assert.Contains("oneMinusBeta", source);
        // The storage kernel reads the same prepared values.
        string storage = driver.GetRunResult().GeneratedTrees.Single(t => t.FilePath.EndsWith(".Storage.g.cs", StringComparison.Ordinal)).ToString();
        Assert.Contains("oneMinusBeta", storage);
    }

    [Fact]
    public void Model_HoldsNoSymbolsSyntaxOrCompilations()
    {
        (GeneratorDriver driver, _) = RunOnce(RuleSource, GeneratorHarness.Usings + """
            public static partial class Broken
            {
                [UpdateRule]
                public static void Update(ref float p, in float g) { p = p % g; }
            }
            """);

        object?[] models = driver.GetRunResult().Results.Single().TrackedSteps[UpdateRuleGenerator.ParseStep]
            .SelectMany(s => s.Outputs).Select(o => o.Value).ToArray();
        Assert.Equal(2, models.Length);   // one valid spec, one with diagnostics: both walked
        foreach (object? model in models)
            Walk(model, "model", new HashSet<object>(ReferenceEqualityComparer.Instance));
    }

    private static void Walk(object? value, string path, HashSet<object> seen)
    {
        if (value is null || value is string || value.GetType().IsPrimitive || value.GetType().IsEnum)
            return;
        if (value is ISymbol or SyntaxNode or SyntaxTree or SemanticModel or Compilation or Location or SyntaxToken)
            Assert.Fail($"{path} holds a {value.GetType().Name}: the pipeline model must be plain data or incremental caching breaks");
        if (!value.GetType().IsValueType && !seen.Add(value))
            return;
        if (value is IEnumerable sequence)
        {
            int i = 0;
            foreach (object? item in sequence)
                Walk(item, $"{path}[{i++}]", seen);
        }
        foreach (FieldInfo field in value.GetType().GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic))
            Walk(field.GetValue(value), path + "." + field.Name, seen);
    }
}
