using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Training;
using Xunit;
using Xunit.Abstractions;
using static Kernels.Tests.Parity.Schedules.ScheduleParity;
using K = Kernels.Training.Schedules;
using TL = TorchSharp.torch.optim.lr_scheduler;
using TS = TorchSharp.Modules;

namespace Kernels.Tests.Parity.Schedules;

/// <summary>
/// The schedules against PyTorch, 1,200 steps each on two groups with learning rates 0.1 and 0.03.
/// </summary>
/// <remarks>
/// <para>
/// Two references. (1) TorchSharp 0.107's <c>torch.optim.lr_scheduler</c>: C# ports of PyTorch's
/// <c>lr_scheduler.py</c> that run the same double operations in the same order (the recursive <c>get_lr</c> forms),
/// driving a TorchSharp SGD whose learning rate is read per group after every step; compared bit for bit. (2)
/// PyTorch's formulas written out here, independently of both: the closed forms (<c>_get_closed_form_lr</c>), which
/// differ from the recursive forms PyTorch runs in the last ulps, compared within
/// <see cref="ScheduleParity.RecursiveVsClosedForm"/> of the group's peak; and, for the schedules PyTorch itself
/// computes in closed form (CosineAnnealingWarmRestarts, OneCycleLR, LambdaLR and the LambdaLR-based WSD), that form,
/// compared bit for bit.
/// </para>
/// <para>
/// Where TorchSharp's port differs from PyTorch's Python (a repeated MultiStepLR milestone; in OneCycleLR, the group
/// whose index is that of the last phase) or lacks the schedule (CosineAnnealingWarmRestarts; WSD and batch-size warmup
/// are not PyTorch's), the formula is the reference, and the test pins TorchSharp's difference.
/// </para>
/// </remarks>
public sealed class LRSchedulerParityTests(ITestOutputHelper output)
{
    /// <summary>Runs the Kernels schedule (checking <c>LastValues</c> against the groups at every step) and TorchSharp's.</summary>
    private static (double[][] Kernels, double[][] TorchSharp) Run(Func<IOptimizer, K.LRScheduler> kernels, Func<TS.SGD, TL.LRScheduler>? torchSharp, int steps = Steps)
    {
        GroupsOptimizer ko = KernelsSgd();
        K.LRScheduler ks = kernels(ko);
        double[][] k = Record(ks.Step, () =>
        {
            double[] lrs = ko.Read("lr");
            Assert.Equal(lrs, ks.LastValues);
            return lrs;
        }, steps);
        if (torchSharp is null)
            return (k, []);
        TS.SGD to = TorchSgd();
        TL.LRScheduler ts = torchSharp(to);
        return (k, Record(() => ts.step(), () => TorchLrs(to), steps));
    }

    private void AssertBoth(string name, Func<IOptimizer, K.LRScheduler> kernels, Func<TS.SGD, TL.LRScheduler> torchSharp, Func<int, int, double> closedForm)
    {
        (double[][] k, double[][] t) = Run(kernels, torchSharp);
        AssertBitIdentical($"{name} vs TorchSharp", t, k, output);
        AssertClose($"{name} vs PyTorch's closed form", Formula(closedForm), k, RecursiveVsClosedForm, output);
    }

    [Theory]
    [InlineData(0.25, 1.0, 700)]
    [InlineData(1.0, 0.1, 900)]
    [InlineData(1.0 / 3, 1.0, 5)]
    public void LinearLR_MatchesTorchSharp_BitForBit_AndTheClosedForm(double start, double end, int total) => AssertBoth(
        $"LinearLR({start}, {end}, {total})",
        o => new K.LinearLR(o, start, end, total),
        o => TL.LinearLR(o, start, end, total),
        (s, g) => Lrs[g] * (start + (end - start) * Math.Min(total, s) / total));

    [Theory]
    [InlineData(0.3, 600)]
    [InlineData(1.0 / 3, 5)]
    public void ConstantLR_MatchesTorchSharp_BitForBit_AndTheClosedForm(double factor, int total) => AssertBoth(
        $"ConstantLR({factor}, {total})",
        o => new K.ConstantLR(o, factor, total),
        o => TL.ConstantLR(o, factor, total),
        (s, g) => Lrs[g] * (factor + (s >= total ? 1.0 : 0.0) * (1 - factor)));

    [Theory]
    [InlineData(90, 0.7)]
    [InlineData(1, 0.999)]
    public void StepLR_MatchesTorchSharp_BitForBit_AndTheClosedForm(int stepSize, double gamma) => AssertBoth(
        $"StepLR({stepSize}, {gamma})",
        o => new K.StepLR(o, stepSize, gamma),
        o => TL.StepLR(o, stepSize, gamma),
        (s, g) => Lrs[g] * Math.Pow(gamma, s / stepSize));

    [Fact]
    public void MultiStepLR_MatchesTorchSharp_BitForBit_AndTheClosedForm()
    {
        int[] milestones = [100, 250, 600, 601, 1000];
        AssertBoth("MultiStepLR([100, 250, 600, 601, 1000], 0.3)",
            o => new K.MultiStepLR(o, milestones, 0.3),
            o => TL.MultiStepLR(o, milestones, 0.3),
            (s, g) => Lrs[g] * Math.Pow(0.3, milestones.Count(m => m <= s)));
    }

    [Fact]
    public void MultiStepLR_RepeatedMilestone_MatchesPyTorchsCounter_WhereTorchSharpDecaysOnce()
    {
        int[] milestones = [300, 300, 800];
        (double[][] k, double[][] t) = Run(o => new K.MultiStepLR(o, milestones, 0.3), o => TL.MultiStepLR(o, milestones, 0.3));

        // PyTorch keeps the milestones in a Counter and multiplies by gamma ** count; TorchSharp by gamma once.
        AssertClose("MultiStepLR([300, 300, 800], 0.3) vs PyTorch's closed form",
            Formula((s, g) => Lrs[g] * Math.Pow(0.3, milestones.Count(m => m <= s))), k, RecursiveVsClosedForm, output);
        Assert.Equal(t[299], k[299]);
        Assert.Equal(k[300][0] / 0.3, t[300][0], 15);
    }

    [Theory]
    [InlineData(0.995)]
    [InlineData(0.9999)]
    public void ExponentialLR_MatchesTorchSharp_BitForBit_AndTheClosedForm(double gamma) => AssertBoth(
        $"ExponentialLR({gamma})",
        o => new K.ExponentialLR(o, gamma),
        o => TL.ExponentialLR(o, gamma),
        (s, g) => Lrs[g] * Math.Pow(gamma, s));

    [Theory]
    [InlineData(1000, 1.7)]
    [InlineData(1000, 1.0)]
    [InlineData(5, 0.5)]
    public void PolynomialLR_MatchesTorchSharp_BitForBit_AndTheClosedForm(int total, double power) => AssertBoth(
        $"PolynomialLR({total}, {power})",
        o => new K.PolynomialLR(o, total, power),
        o => TL.PolynomialLR(o, total, power),
        (s, g) => Lrs[g] * Math.Pow(1.0 - (double)Math.Min(total, s) / total, power));

    [Theory]
    [InlineData(400, 1e-4)]
    [InlineData(1200, 0.0)]
    [InlineData(7, 1e-3)]
    public void CosineAnnealingLR_MatchesTorchSharp_BitForBit_AndTheClosedForm(int tMax, double etaMin) => AssertBoth(
        $"CosineAnnealingLR({tMax}, {etaMin})",
        o => new K.CosineAnnealingLR(o, tMax, etaMin),
        o => TL.CosineAnnealingLR(o, tMax, etaMin),
        (s, g) => etaMin + (Lrs[g] - etaMin) * (1 + Math.Cos(Math.PI * s / tMax)) / 2);

    [Theory]
    [InlineData(50, 2, 1e-5)]
    [InlineData(100, 1, 0.0)]
    [InlineData(7, 3, 1e-4)]
    public void CosineAnnealingWarmRestarts_MatchesPyTorchsForm_BitForBit(int t0, int tMult, double etaMin)
    {
        // Not in TorchSharp. PyTorch's step(): T_cur += 1; at T_i, T_cur %= T_i and T_i *= T_mult; then the closed form.
        (double[][] k, _) = Run(o => new K.CosineAnnealingWarmRestarts(o, t0, tMult, etaMin), null);
        var expected = new double[Steps + 1][];
        int tCur = 0, tI = t0;
        for (int s = 0; s <= Steps; s++)
        {
            if (s > 0 && ++tCur >= tI)
            {
                tCur %= tI;
                tI *= tMult;
            }
            expected[s] = Lrs.Select(b => etaMin + (b - etaMin) * (1 + Math.Cos(Math.PI * tCur / tI)) / 2).ToArray();
        }
        AssertBitIdentical($"CosineAnnealingWarmRestarts({t0}, {tMult}, {etaMin}) vs PyTorch's step()", expected, k, output);
    }

    [Theory]
    [InlineData(10, 2)]
    [InlineData(10, 1)]
    public void CosineAnnealingWarmRestarts_FractionalEpochs_MatchPyTorchsStepEpoch_BitForBit(int t0, int tMult)
    {
        // scheduler.step(epoch + i / iters), as PyTorch's docstring shows, over 120 epochs of 10 iterations.
        const int iters = 10;
        GroupsOptimizer o = KernelsSgd();
        var schedule = new K.CosineAnnealingWarmRestarts(o, t0, tMult, 1e-5);
        var actual = new List<double[]>();
        var expected = new List<double[]>();
        for (int epoch = 0; epoch < Steps / iters; epoch++)
        {
            for (int i = 0; i < iters; i++)
            {
                double e = epoch + (double)i / iters;
                schedule.Step(e);
                actual.Add(o.Read("lr"));
                // PyTorch's explicit-epoch branch, written out.
                double tCur;
                double tI = t0;
                if (e >= t0)
                {
                    if (tMult == 1)
                    {
                        tCur = e % t0;
                    }
                    else
                    {
                        int n = (int)(Math.Log(e / t0 * (tMult - 1) + 1) / Math.Log(tMult));
                        double power = Math.Pow(tMult, n);
                        tCur = e - t0 * (power - 1) / (tMult - 1);
                        tI = t0 * power;
                    }
                }
                else
                {
                    tCur = e;
                }
                expected.Add(Lrs.Select(b => 1e-5 + (b - 1e-5) * (1 + Math.Cos(Math.PI * tCur / tI)) / 2).ToArray());
            }
        }
        AssertBitIdentical($"CosineAnnealingWarmRestarts({t0}, {tMult}).step(epoch + i / {iters}) vs PyTorch", expected.ToArray(), actual.ToArray(), output);
    }

    public static IEnumerable<object[]> OneCycleConfigs() =>
    [
        [0.3, false, false, 25.0, 1e4],
        [0.25, true, true, 25.0, 1e4],
        [0.4, false, true, 10.0, 100.0],
    ];

    [Theory]
    [MemberData(nameof(OneCycleConfigs))]
    public void OneCycleLR_MatchesPyTorchsForm_BitForBit_AndTorchSharpWhereItsPortAgrees(double pctStart, bool linear, bool threePhase, double divFactor, double finalDivFactor)
    {
        double[] maxLr = [1.0, 0.4];
        const double baseMomentum = 0.85, maxMomentum = 0.95;
        int total = Steps + 1; // TorchSharp's port cannot take the step numbered total_steps (see below)
        string name = $"OneCycleLR(pct {pctStart}, {(linear ? "linear" : "cos")}, three_phase {threePhase}, div {divFactor}, final {finalDivFactor})";

        GroupsOptimizer ko = KernelsSgd();
        var ks = new K.OneCycleLR(ko, maxLr, total, pctStart, linear ? K.AnnealStrategy.Linear : K.AnnealStrategy.Cosine,
            divFactor: divFactor, finalDivFactor: finalDivFactor, threePhase: threePhase);
        double[][] kLr = [ko.Read("lr")], kMomentum = [ko.Read("momentum")];
        TS.SGD to = TorchSgd();
        TL.LRScheduler ts = TL.OneCycleLR(to, maxLr, total, pct_start: pctStart,
            anneal_strategy: linear ? TL.impl.OneCycleLR.AnnealStrategy.Linear : TL.impl.OneCycleLR.AnnealStrategy.Cos,
            div_factor: divFactor, final_div_factor: finalDivFactor, three_phase: threePhase);
        double[][] tLr = [TorchLrs(to)], tMomentum = [TorchMomenta(to)];
        for (int s = 1; s <= Steps; s++)
        {
            ks.Step();
            ts.step();
            kLr = [.. kLr, ko.Read("lr")];
            kMomentum = [.. kMomentum, ko.Read("momentum")];
            tLr = [.. tLr, TorchLrs(to)];
            tMomentum = [.. tMomentum, TorchMomenta(to)];
        }

        // PyTorch's get_lr, written out: find the phase, then anneal within it.
        (double Lr, double Momentum) Expected(int step, int g)
        {
            double initial = maxLr[g] / divFactor, min = initial / finalDivFactor;
            (double End, double StartLr, double EndLr, double StartM, double EndM)[] phases = threePhase
                ? [(pctStart * total - 1, initial, maxLr[g], maxMomentum, baseMomentum),
                   (2 * pctStart * total - 2, maxLr[g], initial, baseMomentum, maxMomentum),
                   (total - 1, initial, min, maxMomentum, maxMomentum)]
                : [(pctStart * total - 1, initial, maxLr[g], maxMomentum, baseMomentum),
                   (total - 1, maxLr[g], min, baseMomentum, maxMomentum)];
            double startStep = 0;
            for (int p = 0; ; p++)
            {
                if (step <= phases[p].End || p == phases.Length - 1)
                {
                    double pct = (step - startStep) / (phases[p].End - startStep);
                    return (Anneal(phases[p].StartLr, phases[p].EndLr, pct), Anneal(phases[p].StartM, phases[p].EndM, pct));
                }
                startStep = phases[p].End;
            }
        }
        double Anneal(double start, double end, double pct) =>
            linear ? (end - start) * pct + start : end + (start - end) / 2.0 * (Math.Cos(Math.PI * pct) + 1);

        AssertBitIdentical($"{name} lr vs PyTorch's get_lr", Formula((s, g) => Expected(s, g).Lr), kLr, output);
        AssertBitIdentical($"{name} momentum vs PyTorch's get_lr", Formula((s, g) => Expected(s, g).Momentum), kMomentum, output);
        // TorchSharp's port tests the group index where PyTorch tests the phase index (`i == phases.Length - 1`): the
        // group whose index is the last phase's (group 1 with two phases, group 2 with three) always takes the first
        // phase, extrapolated; the others follow PyTorch up to step total_steps - 1 (at total_steps they get 0, where
        // PyTorch extrapolates the last phase).
        int wrong = threePhase ? 2 : 1;
        int[] followed = Enumerable.Range(0, Lrs.Length).Where(g => g != wrong).ToArray();
        AssertBitIdentical($"{name} lr vs TorchSharp, groups [{string.Join(", ", followed)}]",
            tLr.Select(v => followed.Select(g => v[g]).ToArray()).ToArray(), kLr.Select(v => followed.Select(g => v[g]).ToArray()).ToArray(), output);
        AssertBitIdentical($"{name} momentum vs TorchSharp, groups [{string.Join(", ", followed)}]",
            tMomentum.Select(v => followed.Select(g => v[g]).ToArray()).ToArray(), kMomentum.Select(v => followed.Select(g => v[g]).ToArray()).ToArray(), output);
        if (wrong < Lrs.Length)
            Assert.Contains(Enumerable.Range(0, Steps + 1), s => tLr[s][wrong] != kLr[s][wrong]);
    }

    [Fact]
    public void SequentialLR_WarmupThenCosine_MatchesTorchSharp_BitForBit_AndTheClosedForm() => AssertBoth(
        "SequentialLR([LinearLR(0.1, 1, 100), CosineAnnealingLR(1100, 1e-5)], [100])",
        o => new K.SequentialLR(o, [new K.LinearLR(o, 0.1, 1.0, 100), new K.CosineAnnealingLR(o, 1100, 1e-5)], [100]),
        o => TL.SequentialLR(o, [TL.LinearLR(o, 0.1, 1.0, 100), TL.CosineAnnealingLR(o, 1100, 1e-5)], [100]),
        (s, g) => s < 100
            ? Lrs[g] * (0.1 + (1.0 - 0.1) * s / 100)
            : 1e-5 + (Lrs[g] - 1e-5) * (1 + Math.Cos(Math.PI * (s - 100) / 1100)) / 2);

    [Fact]
    public void SequentialLR_ThreeParts_MatchesTorchSharp_BitForBit_AndTheClosedForm() => AssertBoth(
        "SequentialLR([ConstantLR(0.2, 50), ExponentialLR(0.998), StepLR(200, 0.5)], [300, 700])",
        o => new K.SequentialLR(o, [new K.ConstantLR(o, 0.2, 50), new K.ExponentialLR(o, 0.998), new K.StepLR(o, 200, 0.5)], [300, 700]),
        o => TL.SequentialLR(o, [TL.ConstantLR(o, 0.2, 50), TL.ExponentialLR(o, 0.998), TL.StepLR(o, 200, 0.5)], [300, 700]),
        (s, g) => s < 300 ? Lrs[g] * (s < 50 ? 0.2 : 1.0)
            : s < 700 ? Lrs[g] * Math.Pow(0.998, s - 300)
            : Lrs[g] * Math.Pow(0.5, (s - 700) / 200));

    [Fact]
    public void ChainedScheduler_MatchesTorchSharp_BitForBit_AndTheClosedForm() => AssertBoth(
        "ChainedScheduler([ConstantLR(0.5, 300), ExponentialLR(0.999), MultiStepLR([400, 800], 0.3)])",
        o => new K.ChainedScheduler([new K.ConstantLR(o, 0.5, 300), new K.ExponentialLR(o, 0.999), new K.MultiStepLR(o, [400, 800], 0.3)]),
        o => TL.ChainedLR([TL.ConstantLR(o, 0.5, 300), TL.ExponentialLR(o, 0.999), TL.MultiStepLR(o, [400, 800], 0.3)]),
        (s, g) => Lrs[g] * (s < 300 ? 0.5 : 1.0) * Math.Pow(0.999, s) * Math.Pow(0.3, (s >= 400 ? 1 : 0) + (s >= 800 ? 1 : 0)));

    [Fact]
    public void ChainedScheduler_WarmupTimesCosine_MatchesTorchSharp_BitForBit_AndTheClosedForm() => AssertBoth(
        "ChainedScheduler([LinearLR(0.2, 1, 200), CosineAnnealingLR(1000)])",
        o => new K.ChainedScheduler([new K.LinearLR(o, 0.2, 1.0, 200), new K.CosineAnnealingLR(o, 1000)]),
        o => TL.ChainedLR([TL.LinearLR(o, 0.2, 1.0, 200), TL.CosineAnnealingLR(o, 1000)]),
        (s, g) => Lrs[g] * (0.2 + (1.0 - 0.2) * Math.Min(200, s) / 200) * (1 + Math.Cos(Math.PI * s / 1000)) / 2);

    public static IEnumerable<object[]> PlateauConfigs() =>
    [
        ["min", "rel", 0.5, 10, 1e-4, 5, new[] { 1e-4, 1e-6 }, 1e-8],
        ["max", "abs", 0.3, 20, 1e-3, 0, new[] { 0.0, 0.0 }, 1e-8],
        ["min", "abs", 0.1, 0, 0.0, 3, new[] { 1e-3, 1e-3 }, 1e-4],
    ];

    [Theory]
    [MemberData(nameof(PlateauConfigs))]
    public void ReduceLROnPlateau_MatchesTorchSharp_BitForBit(string mode, string thresholdMode, double factor, int patience, double threshold, int cooldown, double[] minLr, double eps)
    {
        // A loss that falls in plateaus, with noise: 1 / (1 + floor(i / 150)) + 0.001 sin(0.7 i); max mode watches its negation.
        double[] metrics = Enumerable.Range(0, Steps).Select(i => 1.0 / (1 + Math.Floor(i / 150.0)) + 0.001 * Math.Sin(0.7 * i))
            .Select(m => mode == "max" ? -m : m).ToArray();

        GroupsOptimizer ko = KernelsSgd();
        var ks = new K.ReduceLROnPlateau(ko, minLr, mode == "min" ? K.PlateauMode.Min : K.PlateauMode.Max, factor, patience, threshold,
            thresholdMode == "rel" ? K.ThresholdMode.Relative : K.ThresholdMode.Absolute, cooldown, eps);
        TS.SGD to = TorchSgd();
        TL.LRScheduler ts = TL.ReduceLROnPlateau(to, mode, factor, patience, threshold, thresholdMode, cooldown, minLr, eps);
        int kStep = 0, tStep = 0;
        double[][] k = Record(() => ks.Step(metrics[kStep++]), () =>
        {
            double[] lrs = ko.Read("lr");
            Assert.Equal(lrs, ks.LastValues);
            return lrs;
        });
        double[][] t = Record(() => ts.step(metrics[tStep++]), () => TorchLrs(to));

        AssertBitIdentical($"ReduceLROnPlateau({mode}, {thresholdMode}, factor {factor}, patience {patience}, threshold {threshold}, cooldown {cooldown}) vs TorchSharp", t, k, output);
        Assert.True(k[^1][0] < Lrs[0], "the run reduces the learning rate");
    }

    [Fact]
    public void LambdaLR_PerGroup_MatchesTorchSharp_BitForBit()
    {
        Func<int, double>[] factors = [s => 1.0 / (1 + 0.01 * s), s => Math.Pow(0.999, s) * (1 + Math.Sin(s / 50.0))];
        (double[][] k, double[][] t) = Run(o => new K.LambdaLR(o, factors), o => new TL.impl.LambdaLR(o, factors));
        AssertBitIdentical("LambdaLR(per group) vs TorchSharp", t, k, output);
        AssertBitIdentical("LambdaLR(per group) vs base · lambda(t)", Formula((s, g) => Lrs[g] * factors[g](s)), k, output);
    }

    public static IEnumerable<object[]> WsdConfigs() =>
    [
        [100, 600, 500, K.WsdShape.Linear, 0.1, K.WsdShape.Linear, 0.5],
        [50, 700, 300, K.WsdShape.Cosine, 0.0, K.WsdShape.Cosine, 0.5],
        [120, 480, 400, K.WsdShape.OneMinusSqrt, 0.05, K.WsdShape.OneMinusSqrt, 0.5],
        [0, 200, 1000, K.WsdShape.Cosine, 0.02, K.WsdShape.Linear, 1.0],
    ];

    [Theory]
    [MemberData(nameof(WsdConfigs))]
    public void WarmupStableDecay_MatchesHuggingFacesLambda_InTorchSharpsLambdaLR_BitForBit(int warmup, int stable, int decay, K.WsdShape decayShape, double minRatio, K.WsdShape warmupShape, double numCycles)
    {
        // transformers.optimization._get_wsd_scheduler_lambda, written out; TorchSharp's LambdaLR computes base · lambda(t).
        double Lambda(int step)
        {
            double factor;
            if (step < warmup)
            {
                double progress = (double)step / Math.Max(1, warmup);
                factor = warmupShape switch
                {
                    K.WsdShape.Linear => progress,
                    K.WsdShape.Cosine => 0.5 * (1.0 - Math.Cos(Math.PI * progress)),
                    _ => 1.0 - Math.Sqrt(1.0 - progress),
                };
                factor = factor * (1.0 - minRatio) + minRatio;
                return Math.Max(0.0, factor);
            }
            if (step < warmup + stable)
                return 1.0;
            if (step < warmup + stable + decay)
            {
                double progress = (double)(step - warmup - stable) / Math.Max(1, decay);
                factor = decayShape switch
                {
                    K.WsdShape.Linear => 1.0 - progress,
                    K.WsdShape.Cosine => 0.5 * (1.0 + Math.Cos(Math.PI * numCycles * 2.0 * progress)),
                    _ => 1.0 - Math.Sqrt(progress),
                };
                factor = factor * (1.0 - minRatio) + minRatio;
                return Math.Max(0.0, factor);
            }
            return minRatio;
        }

        (double[][] k, double[][] t) = Run(o => new K.WarmupStableDecay(o, warmup, stable, decay, decayShape, minRatio, warmupShape, numCycles), o => TL.LambdaLR(o, Lambda));
        AssertBitIdentical($"WarmupStableDecay({warmup}, {stable}, {decay}, {warmupShape}/{decayShape}, min {minRatio}) vs LambdaLR(HF lambda) in TorchSharp", t, k, output);
    }

    [Theory]
    [InlineData(64, 2048, 800, 64, K.BatchSizeScaling.Linear)]
    [InlineData(128, 1024, 1000, 1, K.BatchSizeScaling.SquareRoot)]
    public void BatchSizeWarmup_MatchesItsRampInTorchSharpsLambdaLR_BitForBit(int start, int final, int warmupSteps, int increment, K.BatchSizeScaling scaling)
    {
        // Not in PyTorch: the ramp, written out, as a LambdaLR factor.
        int Batch(int step) => step >= warmupSteps ? final : start + (int)((long)(final - start) * step / warmupSteps / increment * increment);
        double Lambda(int step) => scaling == K.BatchSizeScaling.Linear ? (double)Batch(step) / final : Math.Sqrt((double)Batch(step) / final);

        GroupsOptimizer probe = KernelsSgd();
        var schedule = new K.BatchSizeWarmup(probe, start, final, warmupSteps, increment, scaling);
        for (int s = 1; s <= Steps; s++)
        {
            schedule.Step();
            Assert.Equal(Batch(s), schedule.BatchSize);
        }

        (double[][] k, double[][] t) = Run(o => new K.BatchSizeWarmup(o, start, final, warmupSteps, increment, scaling), o => TL.LambdaLR(o, Lambda));
        AssertBitIdentical($"BatchSizeWarmup({start} -> {final} over {warmupSteps}, by {increment}, {scaling}) vs LambdaLR in TorchSharp", t, k, output);
    }
}
