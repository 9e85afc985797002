using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Training;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using TS = TorchSharp.Modules;

namespace Kernels.Tests.Parity.Schedules;

/// <summary>
/// Runs a Kernels schedule and its references side by side on two parameter groups with different learning rates,
/// recording each group's value after the constructor and after every step.
/// </summary>
internal static class ScheduleParity
{
    /// <summary>Steps per run (PyTorch schedules run per iteration in long trainings: 1,000 and more).</summary>
    public const int Steps = 1200;

    /// <summary>The groups' initial learning rates.</summary>
    public static readonly double[] Lrs = [0.1, 0.03];

    /// <summary>The initial momentum of both groups (OneCycleLR cycles it).</summary>
    public const double Momentum = 0.9;

    /// <summary>
    /// Bound for a recursive schedule against PyTorch's closed form: |kernel - closed| &lt;= this x the group's peak
    /// value. The recursion rounds once or twice per step (at most about 1.1e-16 of the value each), so 1,200 steps drift
    /// by at most about 3e-13 of the peak; CosineAnnealingLR's quotient <c>(1 + cos a) / (1 + cos b)</c> loses more
    /// near the bottom of each half cosine, where both terms are tiny, and carries it back up. Seen: at most 3.2e-13
    /// (CosineAnnealingLR with T_max 7: 170 half cosines in 1,200 steps), 6.4e-15 for every other schedule.
    /// </summary>
    public const double RecursiveVsClosedForm = 1e-12;

    /// <summary>A TorchSharp SGD over two one-element parameters, one group each, with <see cref="Lrs"/>.</summary>
    public static TS.SGD TorchSgd()
    {
        var groups = Lrs.Select(lr => new TS.SGD.ParamGroup([new TS.Parameter(torch.zeros(1))], lr, Momentum)).ToArray();
        return torch.optim.SGD(groups, Lrs[0], Momentum);
    }

    /// <summary>The TorchSharp optimizer's learning rate per group.</summary>
    public static double[] TorchLrs(TS.SGD optimizer) => optimizer.ParamGroups.Select(g => g.LearningRate).ToArray();

    /// <summary>The TorchSharp optimizer's momentum per group.</summary>
    public static double[] TorchMomenta(TS.SGD optimizer) => optimizer.ParamGroups.Select(g => ((torch.optim.IMomentum)g).Momentum).ToArray();

    /// <summary>The Kernels-side optimizer: groups with <c>lr</c>, <c>momentum</c> and <c>weightDecay</c>.</summary>
    public static GroupsOptimizer KernelsSgd() => new(Lrs.Select(lr => new Dictionary<string, double> { ["lr"] = lr, ["momentum"] = Momentum, ["weightDecay"] = 0 }));

    /// <summary>Records <paramref name="read"/> after construction and after each of <paramref name="steps"/> steps.</summary>
    public static double[][] Record(Action step, Func<double[]> read, int steps = Steps)
    {
        var values = new double[steps + 1][];
        values[0] = read();
        for (int t = 1; t <= steps; t++)
        {
            step();
            values[t] = read();
        }
        return values;
    }

    /// <summary>A sequence computed by <paramref name="value"/>(step, group).</summary>
    public static double[][] Formula(Func<int, int, double> value, int steps = Steps) =>
        Enumerable.Range(0, steps + 1).Select(t => Enumerable.Range(0, Lrs.Length).Select(g => value(t, g)).ToArray()).ToArray();

    /// <summary>Asserts that two sequences are identical bit for bit.</summary>
    public static void AssertBitIdentical(string what, double[][] expected, double[][] actual, ITestOutputHelper output)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int t = 0; t < expected.Length; t++)
            for (int g = 0; g < expected[t].Length; g++)
                Assert.True(BitConverter.DoubleToInt64Bits(expected[t][g]) == BitConverter.DoubleToInt64Bits(actual[t][g]),
                    $"{what}: step {t}, group {g}: {actual[t][g]:R}, expected {expected[t][g]:R}");
        output.WriteLine($"{what}: {expected.Length} values x {expected[0].Length} groups bit-identical");
    }

    /// <summary>Asserts |actual - expected| &lt;= <paramref name="tolerance"/> x the group's largest expected value.</summary>
    public static void AssertClose(string what, double[][] expected, double[][] actual, double tolerance, ITestOutputHelper output)
    {
        Assert.Equal(expected.Length, actual.Length);
        int groups = expected[0].Length;
        double worst = 0;
        int differing = 0;
        for (int g = 0; g < groups; g++)
        {
            double peak = expected.Max(v => Math.Abs(v[g]));
            for (int t = 0; t < expected.Length; t++)
            {
                double error = Math.Abs(actual[t][g] - expected[t][g]) / peak;
                if (actual[t][g] != expected[t][g])
                    differing++;
                worst = Math.Max(worst, error);
                Assert.True(error <= tolerance,
                    $"{what}: step {t}, group {g}: {actual[t][g]:R}, expected {expected[t][g]:R} (error {error:E2} of the peak {peak:R}; allowed {tolerance:E0})");
            }
        }
        output.WriteLine($"{what}: {differing} of {expected.Length * groups} values differ; worst {worst:E2} of the group's peak (allowed {tolerance:E0})");
    }
}

/// <summary>An optimizer that is only its parameter groups, each a dictionary of hyperparameters.</summary>
internal sealed class GroupsOptimizer(IEnumerable<Dictionary<string, double>> groups) : IOptimizer
{
    private readonly Group[] _groups = groups.Select(g => new Group(g)).ToArray();

    public IReadOnlyList<IParamGroup> ParamGroups => _groups;

    public void Step()
    {
    }

    public void ZeroGrad()
    {
    }

    public double[] Read(string name) => _groups.Select(g => g[name]).ToArray();

    private sealed class Group(Dictionary<string, double> values) : IParamGroup
    {
        public IReadOnlyList<Parameter> Parameters => [];

        public IReadOnlyList<string> HyperparameterNames => values.Keys.ToArray();

        public bool Contains(string name) => values.ContainsKey(name);

        public double this[string name]
        {
            get => values.TryGetValue(name, out double v) ? v : throw new ArgumentException($"No hyperparameter '{name}'.", nameof(name));
            set => values[Contains(name) ? name : throw new ArgumentException($"No hyperparameter '{name}'.", nameof(name))] = value;
        }
    }
}
