using System;
using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Diagnostics;
using System.Linq;
using System.Text;
using System.Threading.Tasks;
using CsCheck;
using Xunit;
using Xunit.Abstractions;

namespace Kernels.Tests.Fuzzing;

/// <summary>
/// Property-based fuzzing of the generator with random rules (see RuleGrammar). Every failure is grouped
/// into a bug class, the smallest rule of each class is minimized, and the message lists every class with
/// its minimized source, the property broken and the seed to replay.
/// </summary>
/// <remarks>
/// KERNELS_FUZZ_SEED replays a run; KERNELS_FUZZ_CASES sets the number of rules (default 2000).
/// Long campaign: <c>KERNELS_FUZZ_CASES=50000 dotnet test Tests/Kernels.Tests --filter FullyQualifiedName~Fuzz</c>.
/// </remarks>
public class GeneratorFuzzTests
{
    private readonly ITestOutputHelper _output;

    public GeneratorFuzzTests(ITestOutputHelper output) => _output = output;

    // Rules per compilation: a Roslyn compile costs ~100 ms or more whatever its size, so batches amortize it.
    private const int BatchSize = 25;

    private static int Cases(int fallback) =>
        int.TryParse(Environment.GetEnvironmentVariable("KERNELS_FUZZ_CASES"), out int n) && n > 0 ? n : fallback;

    private int Seed(string test)
    {
        int seed = int.TryParse(Environment.GetEnvironmentVariable("KERNELS_FUZZ_SEED"), out int s) ? s : Random.Shared.Next(1, int.MaxValue);
        string line = $"{test}: KERNELS_FUZZ_SEED={seed}";
        Console.WriteLine(line);
        _output.WriteLine(line);
        return seed;
    }

    /// <summary>The batch <paramref name="index"/> of a run: a pure function of the seed, so a seed replays the run.</summary>
    private static T Sample<T>(Gen<T> gen, int seed, int index) => gen.Generate(new PCG((uint)index, (ulong)seed), null, out _);

    [Fact]
    public void Fuzz_ValidRules_CompileCleanAndMatchScalar()
    {
        int seed = Seed(nameof(Fuzz_ValidRules_CompileCleanAndMatchScalar));
        int cases = Cases(2000);
        int batches = (cases + BatchSize - 1) / BatchSize;
        var failures = new ConcurrentBag<(Rule Rule, Failure Failure)>();
        var clock = Stopwatch.StartNew();
        Gen<Rule[]> gen = RuleGrammar.Batch(GrammarOptions.Valid, BatchSize);
        Parallel.For(0, batches, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, b =>
        {
            foreach (var f in RuleRunner.CheckValid(Sample(gen, seed, b), seed + b))
                failures.Add(f);
        });
        Report(seed, cases, clock.Elapsed, failures, (rule, key) => RuleRunner.CheckValidOne(rule, seed) is { } f && f.Key == key,
            rule => RuleRunner.CheckValidOne(rule, seed));
    }

    [Fact]
    public void Fuzz_UnsupportedConstructs_ReportExpectedDiagnostic()
    {
        int seed = Seed(nameof(Fuzz_UnsupportedConstructs_ReportExpectedDiagnostic));
        int cases = Math.Max(1, Cases(2000) / 2);
        var failures = new ConcurrentBag<(Rule Rule, Failure Failure)>();
        var clock = Stopwatch.StartNew();
        Parallel.For(0, cases, new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount }, i =>
        {
            var (rule, id) = Sample(UnsupportedGrammar.Case, seed, i);
            if (RuleRunner.CheckInjected(rule, id) is { } f)
                failures.Add((rule, f));
        });
        // The rule carries its expected ID, so the reducer's smaller rules keep it.
        Report(seed, cases, clock.Elapsed, failures,
            (rule, key) => RuleRunner.CheckInjected(rule, rule.ExpectedId!) is { } f && f.Key == key,
            rule => RuleRunner.CheckInjected(rule, rule.ExpectedId!));
    }

    /// <summary>A grammar smoke check: the printed rules compile on their own (a fuzzer bug otherwise).</summary>
    [Fact]
    public void Fuzz_Grammar_PrintsCompilableRules()
    {
        int seed = Seed(nameof(Fuzz_Grammar_PrintsCompilableRules));
        Rule[] rules = Sample(RuleGrammar.Batch(GrammarOptions.Valid, 40), seed, 0);
        var p0 = RuleRunner.CheckValid(rules, seed).Where(f => f.Failure.Property.StartsWith("P0", StringComparison.Ordinal)).ToList();
        Assert.True(p0.Count == 0, $"seed {seed}: " + string.Join("\n\n", p0.Select(f => f.Failure.Detail + "\n" + RuleRunner.Source(f.Rule))));
    }

    private void Report(int seed, int cases, TimeSpan elapsed, IEnumerable<(Rule Rule, Failure Failure)> failures,
        Func<Rule, string, bool> sameClass, Func<Rule, Failure?> recheck)
    {
        string rate = $"{cases} cases in {elapsed.TotalSeconds:F1} s ({cases / elapsed.TotalSeconds:F1} cases/s)";
        Console.WriteLine(rate);
        _output.WriteLine(rate);
        var classes = failures.GroupBy(f => f.Failure.Key).OrderBy(g => g.Key, StringComparer.Ordinal).ToList();
        if (classes.Count == 0)
            return;
        var sb = new StringBuilder();
        sb.Append($"{classes.Count} bug class(es) in {failures.Count()} failing rules; replay with KERNELS_FUZZ_SEED={seed} KERNELS_FUZZ_CASES={cases}\n");
        // Minimizing costs one compile per try: share ~2 minutes among the classes (a long campaign gets the same).
        var budget = TimeSpan.FromSeconds(Math.Clamp(120.0 / classes.Count, 3, 30));
        foreach (var group in classes)
        {
            Rule smallest = group.Select(f => f.Rule).MinBy(r => r.Print().Length)!;
            Rule minimal = Reducer.Minimize(smallest, r => sameClass(r, group.Key), budget);
            Failure final = recheck(minimal) ?? group.First().Failure;
            sb.Append("\n=== ").Append(group.Key).Append($"  ({group.Count()} rules)\n");
            sb.Append("property: ").Append(final.Property).Append('\n');
            sb.Append("detail:   ").Append(final.Detail.Length > 1500 ? final.Detail.Substring(0, 1500) + "…" : final.Detail).Append('\n');
            sb.Append("seed:     ").Append(seed).Append('\n');
            sb.Append("rule:\n").Append(minimal.Print());
        }
        string message = sb.ToString();
        Console.WriteLine(message);
        _output.WriteLine(message);
        Assert.Fail(message);
    }
}
