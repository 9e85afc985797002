using System;
using System.Collections.Generic;
using System.IO;
using System.Linq;
using Microsoft.CodeAnalysis;
using Xunit;

namespace Kernels.Tests.Generator;

/// <summary>
/// The generated code of every built-in, compared with a reviewed baseline in Baselines/. A missing or
/// different baseline fails. To accept a change after reading its diff, run the tests with
/// KERNELS_UPDATE_BASELINES=1 and review the baseline files' git diff before committing.
/// </summary>
public class SnapshotTests
{
    private static string BaselineDirectory => Path.Combine(GeneratorHarness.RepositoryRoot(), "Tests", "Kernels.Tests", "Baselines");

    private static bool Updating => Environment.GetEnvironmentVariable("KERNELS_UPDATE_BASELINES") == "1";

    /// <summary>The rule files: Runtime/Optimizers itself (Optimizers/Composed holds hand-written optimizers built on their kernels).</summary>
    public static TheoryData<string> BuiltIns()
    {
        var data = new TheoryData<string>();
        foreach (string file in Directory.GetFiles(Path.Combine(GeneratorHarness.RepositoryRoot(), "Runtime", "Optimizers"), "*.cs").OrderBy(f => f, StringComparer.Ordinal))
            data.Add(Path.GetFileName(file));
        return data;
    }

    [Theory, MemberData(nameof(BuiltIns))]
    public void GeneratedCode_MatchesBaseline(string file)
    {
        string source = File.ReadAllText(Path.Combine(GeneratorHarness.RepositoryRoot(), "Runtime", "Optimizers", file));
        GeneratorHarness.Result result = GeneratorHarness.Run(source);
        Assert.Empty(result.GeneratorDiagnostics);
        Assert.Empty(result.CompileErrors);
        Assert.NotEmpty(result.Sources);

        // Rule plans ([assembly: RulePlan], one serialized line per rule) are checked by round trip in Kernels.Tests.Gpu, not by baseline.
        foreach (GeneratedSourceResult generated in result.Sources.Where(s => !s.HintName.EndsWith(".Plan.g.cs", StringComparison.Ordinal)))
        {
            string path = Path.Combine(BaselineDirectory, generated.HintName);
            string actual = generated.SourceText.ToString().ReplaceLineEndings("\n");
            if (Updating)
            {
                Directory.CreateDirectory(BaselineDirectory);
                File.WriteAllText(path, actual);
                continue;
            }
            Assert.True(File.Exists(path), $"No baseline for {generated.HintName}: review the generated code and accept it with KERNELS_UPDATE_BASELINES=1.");
            string expected = File.ReadAllText(path).ReplaceLineEndings("\n");
            if (expected != actual)
            {
                int line = FirstDifferentLine(expected, actual, out string e, out string a);
                Assert.Fail($"{generated.HintName} differs from its baseline at line {line}:\n  baseline: {e}\n  actual:   {a}\nReview the change, then accept it with KERNELS_UPDATE_BASELINES=1.");
            }
        }
    }

    [Fact]
    public void EveryBaselineBelongsToABuiltIn()
    {
        // A baseline left behind by a renamed or removed rule is stale.
        var expected = new HashSet<string>();
        foreach (string file in Directory.GetFiles(Path.Combine(GeneratorHarness.RepositoryRoot(), "Runtime", "Optimizers"), "*.cs"))
        {
            foreach (GeneratedSourceResult generated in GeneratorHarness.Run(File.ReadAllText(file)).Sources)
                expected.Add(generated.HintName);
        }
        string[] baselines = Directory.Exists(BaselineDirectory) ? Directory.GetFiles(BaselineDirectory).Select(f => Path.GetFileName(f)).ToArray() : Array.Empty<string>();
        Assert.Empty(baselines.Except(expected));
    }

    private static int FirstDifferentLine(string expected, string actual, out string e, out string a)
    {
        string[] el = expected.Split('\n'), al = actual.Split('\n');
        for (int i = 0; i < Math.Max(el.Length, al.Length); i++)
        {
            e = i < el.Length ? el[i] : "<end of file>";
            a = i < al.Length ? al[i] : "<end of file>";
            if (e != a)
                return i + 1;
        }
        e = a = "";
        return -1;
    }
}
