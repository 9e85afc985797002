using System;
using System.Linq;
using Kernels.Training.Schedules;
using Xunit;

namespace Kernels.Tests.Training.Schedules;

/// <summary>
/// What each schedule sets, on two groups with different base values. Factors that are powers of two keep the
/// expectations exact; elsewhere the expectation is PyTorch's closed form within a few ulps.
/// </summary>
public class ScheduleValueTests
{
    private static readonly double[] s_lrs = [0.1, 0.03];

    private static double[] Lrs(FakeOptimizer o) => o.Snapshot().Select(g => g[0]).ToArray();

    [Fact]
    public void Constructor_TakesTheInitialStep()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new LinearLR(o, 0.5, 1.0, 4);

        Assert.Equal(0, schedule.LastEpoch);
        Assert.Equal(new[] { 0.05, 0.015 }, Lrs(o));
        Assert.Equal(Lrs(o), schedule.LastValues);
        Assert.Equal(s_lrs, schedule.BaseValues);
        Assert.Equal(0, o.Steps);
    }

    [Fact]
    public void SecondSchedule_TakesTheBaseValuesTheFirstRecorded()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        _ = new ConstantLR(o, 0.5, 10);
        var second = new CosineAnnealingLR(o, 10);

        Assert.Equal(s_lrs, second.BaseValues); // PyTorch's group.setdefault("initial_lr", ...)
        Assert.Equal(new[] { 0.05, 0.015 }, Lrs(o));
    }

    [Fact]
    public void Hyperparameter_EitherSpelling_SharesTheBaseValues()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        _ = new ConstantLR(o, 0.5, 10, hyperparameter: "weightDecay");
        var second = new StepLR(o, 3, hyperparameter: "weight_decay");

        Assert.Equal(new[] { 0.01, 0.01 }, second.BaseValues);
    }

    [Fact]
    public void WeightDecay_IsDriven_AndTheLearningRateIsNot()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new StepLR(o, 2, 0.5, hyperparameter: "weightDecay");
        for (int t = 0; t < 4; t++)
            schedule.Step();

        Assert.Equal(0.0025, o[0]["weightDecay"]);
        Assert.Equal(new[] { 0.0025, 0.0025 }, schedule.LastValues);
        Assert.Equal(s_lrs, Lrs(o));
    }

    [Fact]
    public void StepLR_DecaysEveryStepSizeEpochs()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new StepLR(o, 3, 0.5);
        for (int t = 1; t <= 10; t++)
        {
            schedule.Step();
            double factor = Math.Pow(0.5, t / 3);
            Assert.Equal(new[] { 0.1 * factor, 0.03 * factor }, Lrs(o));
        }
    }

    [Fact]
    public void MultiStepLR_RepeatedMilestone_DecaysOncePerRepetition()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new MultiStepLR(o, [2, 5, 5], 0.5);
        double[] expected = [1, 1, 0.5, 0.5, 0.5, 0.125, 0.125];
        for (int t = 1; t < expected.Length; t++)
        {
            schedule.Step();
            Assert.Equal(new[] { 0.1 * expected[t], 0.03 * expected[t] }, Lrs(o));
        }
    }

    [Fact]
    public void ConstantLR_ScalesUntilTotalIters()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new ConstantLR(o, 0.5, 3);
        Assert.Equal(new[] { 0.05, 0.015 }, Lrs(o));
        schedule.Step();
        schedule.Step();
        Assert.Equal(new[] { 0.05, 0.015 }, Lrs(o));
        schedule.Step();
        Assert.Equal(s_lrs, Lrs(o));
        schedule.Step();
        Assert.Equal(s_lrs, Lrs(o));
    }

    [Fact]
    public void LinearLR_ReachesTheEndFactor_AndStays()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new LinearLR(o, 0.25, 0.75, 20);
        for (int t = 1; t <= 30; t++)
        {
            schedule.Step();
            double factor = 0.25 + 0.5 * Math.Min(t, 20) / 20;
            AssertClose(new[] { 0.1 * factor, 0.03 * factor }, Lrs(o), 1e-15);
        }
    }

    [Fact]
    public void ExponentialLR_MultipliesTheCurrentValue()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new ExponentialLR(o, 0.9);
        double a = 0.1, b = 0.03;
        for (int t = 1; t <= 100; t++)
        {
            schedule.Step();
            (a, b) = (a * 0.9, b * 0.9);
            Assert.Equal(new[] { a, b }, Lrs(o)); // the recursive form, bit for bit
        }
        AssertClose(new[] { 0.1 * Math.Pow(0.9, 100), 0.03 * Math.Pow(0.9, 100) }, Lrs(o), 1e-13);
    }

    [Fact]
    public void PolynomialLR_ReachesZero_AndStays()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new PolynomialLR(o, 10, 2.0);
        for (int t = 1; t <= 15; t++)
        {
            schedule.Step();
            double factor = Math.Pow(1.0 - Math.Min(t, 10) / 10.0, 2.0);
            AssertClose(new[] { 0.1 * factor, 0.03 * factor }, Lrs(o), 1e-15);
        }
        Assert.Equal(new[] { 0.0, 0.0 }, Lrs(o));
    }

    [Fact]
    public void CosineAnnealingLR_FollowsTheCosineDownAndBackUp()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new CosineAnnealingLR(o, 10, 0.001);
        for (int t = 1; t <= 40; t++)
        {
            schedule.Step();
            double[] closed = s_lrs.Select(b => 0.001 + (b - 0.001) * (1 + Math.Cos(Math.PI * t / 10)) / 2).ToArray();
            AssertClose(closed, Lrs(o), 1e-13); // recursive against closed form: a few ulps per step
        }
    }

    [Fact]
    public void CosineAnnealingWarmRestarts_RestartsAtTheBase_EachPeriodTMultTimesLonger()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new CosineAnnealingWarmRestarts(o, 5, 2);
        for (int t = 1; t <= 40; t++)
        {
            schedule.Step();
            if (t is 5 or 15 or 35)
            {
                Assert.Equal(s_lrs, Lrs(o));
                Assert.Equal(0, schedule.TCur);
            }
        }
        Assert.Equal(40, schedule.TI); // periods 5, 10, 20, 40
        Assert.Equal(5, schedule.TCur);
    }

    [Fact]
    public void CosineAnnealingWarmRestarts_FractionalEpoch_SetsTCurWithinThePeriod()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new CosineAnnealingWarmRestarts(o, 5, 2, 0.0);

        schedule.Step(7.5);
        Assert.Equal(2.5, schedule.TCur);
        Assert.Equal(10, schedule.TI);
        Assert.Equal(7, schedule.LastEpoch);
        AssertClose(s_lrs.Select(b => b * (1 + Math.Cos(Math.PI * 0.25)) / 2).ToArray(), Lrs(o), 1e-15);

        schedule.Step();
        Assert.Equal(3.5, schedule.TCur);
        Assert.Equal(8, schedule.LastEpoch);
    }

    [Fact]
    public void OneCycleLR_CyclesBeta1_OppositeToTheValue()
    {
        var o = FakeOptimizer.Adam(s_lrs);
        var schedule = new OneCycleLR(o, [1.0, 0.5], 101, pctStart: 0.5, annealStrategy: AnnealStrategy.Linear);

        Assert.Equal(new[] { "beta1", "beta1" }, schedule.MomentumHyperparameters);
        Assert.Equal(new[] { 1.0 / 25, 0.5 / 25 }, schedule.BaseValues);
        AssertClose(new[] { 1.0 / 25, 0.5 / 25 }, Lrs(o), 1e-15);
        Assert.Equal(0.95, o[0]["beta1"], 15);
        for (int t = 0; t < 50; t++) // phase 1 ends at 0.5 · 101 - 1 = 49.5
            schedule.Step();
        Assert.True(o[0]["beta1"] < 0.852 && o[1]["beta1"] < 0.852);
        for (int t = 50; t < 100; t++)
            schedule.Step();
        // (end - start) · 1 + start, PyTorch's linear anneal, cancels: 1e-12 relative to the tiny end value.
        AssertClose(new[] { 1.0 / 25 / 1e4, 0.5 / 25 / 1e4 }, Lrs(o), 1e-11);
        Assert.Equal(0.95, o[0]["beta1"], 15);
        Assert.Equal(0.999, o[0]["beta2"]);
    }

    [Fact]
    public void OneCycleLR_CyclesMomentum_WhereThereIsNoBeta1()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new OneCycleLR(o, 0.1, 100, baseMomentum: 0.8, maxMomentum: 0.9);

        Assert.Equal(new[] { "momentum", "momentum" }, schedule.MomentumHyperparameters);
        for (int t = 0; t < 29; t++) // the peak: step 0.3 · 100 - 1 = 29
            schedule.Step();
        Assert.Equal(0.1, o[0]["lr"], 15);
        Assert.Equal(0.8, o[0]["momentum"], 15);
    }

    [Fact]
    public void OneCycleLR_WithoutCycleMomentum_LeavesMomentumAlone()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new OneCycleLR(o, 0.1, 100, cycleMomentum: false);
        schedule.Step();
        Assert.Null(schedule.MomentumHyperparameters);
        Assert.Equal(0.9, o[0]["momentum"]);
    }

    [Fact]
    public void SequentialLR_SwitchesAtTheMilestone_ToTheNextPartsEpochZero()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var warmup = new LinearLR(o, 0.5, 1.0, 4);
        var decay = new StepLR(o, 2, 0.5);
        var schedule = new SequentialLR(o, [warmup, decay], [4]);

        Assert.Equal(new[] { 0.05, 0.015 }, Lrs(o));
        for (int t = 0; t < 3; t++)
            schedule.Step();
        Assert.Equal(3, warmup.LastEpoch);
        schedule.Step(); // epoch 4: StepLR at its epoch 0, by its closed form: the base values
        Assert.Equal(s_lrs, Lrs(o));
        Assert.Equal(0, decay.LastEpoch);
        schedule.Step();
        schedule.Step(); // StepLR's epoch 2
        Assert.Equal(new[] { 0.05, 0.015 }, Lrs(o));
        Assert.Equal(6, schedule.LastEpoch);
        Assert.Equal(Lrs(o), schedule.LastValues);
    }

    [Fact]
    public void ChainedScheduler_ComposesItsParts()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new ChainedScheduler([new ConstantLR(o, 0.5, 2), new ExponentialLR(o, 0.5)]);
        Assert.Equal(new[] { 0.05, 0.015 }, Lrs(o));
        schedule.Step();
        Assert.Equal(new[] { 0.025, 0.0075 }, Lrs(o));
        schedule.Step(); // ConstantLR restores (· 2), ExponentialLR halves
        Assert.Equal(new[] { 0.025, 0.0075 }, Lrs(o));
        Assert.Equal(2, schedule.LastEpoch);
    }

    [Fact]
    public void LambdaLR_AppliesEachGroupsFactorToItsBase()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new LambdaLR(o, [t => 1.0 / (t + 1), t => t]);
        Assert.Equal(new[] { 0.1, 0.0 }, Lrs(o));
        schedule.Step();
        Assert.Equal(new[] { 0.05, 0.03 }, Lrs(o));
    }

    [Fact]
    public void ReduceLROnPlateau_ReducesAfterPatience_ThenCoolsDown()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new ReduceLROnPlateau(o, [0.02, 0.0], factor: 0.5, patience: 2, cooldown: 1);
        Assert.Equal(s_lrs, Lrs(o));

        schedule.Step(1.0); // best
        schedule.Step(1.0);
        schedule.Step(1.0);
        Assert.Equal(s_lrs, Lrs(o));
        schedule.Step(1.0); // third bad step > patience 2
        Assert.Equal(new[] { 0.05, 0.015 }, Lrs(o));
        Assert.True(schedule.InCooldown);
        for (int t = 0; t < 3; t++) // one cooldown step, then three bad ones
            schedule.Step(1.0);
        Assert.Equal(new[] { 0.05, 0.015 }, Lrs(o));
        schedule.Step(1.0);
        Assert.Equal(new[] { 0.025, 0.0075 }, Lrs(o));
        for (int t = 0; t < 4; t++)
            schedule.Step(1.0);
        Assert.Equal(new[] { 0.02, 0.00375 }, Lrs(o)); // group 0 stops at its minimum
        Assert.Equal(Lrs(o), schedule.LastValues);
    }

    [Fact]
    public void ReduceLROnPlateau_MaxModeAbsoluteThreshold_CountsOnlyRealImprovements()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new ReduceLROnPlateau(o, PlateauMode.Max, patience: 1, threshold: 0.1, thresholdMode: ThresholdMode.Absolute);
        schedule.Step(0.5);
        schedule.Step(0.55); // not better than 0.5 + 0.1
        Assert.Equal(0.5, schedule.Best);
        schedule.Step(0.7);
        Assert.Equal(0.7, schedule.Best);
        Assert.Equal(s_lrs, Lrs(o));
        schedule.Step(0.75);
        schedule.Step(0.79);
        Assert.Equal(new[] { 0.1 * 0.1, 0.03 * 0.1 }, Lrs(o));
    }

    [Fact]
    public void ReduceLROnPlateau_ReductionBelowEps_IsSkipped()
    {
        var o = FakeOptimizer.Sgd(1e-9, 0.1);
        var schedule = new ReduceLROnPlateau(o, patience: 0);
        schedule.Step(1);
        schedule.Step(1);
        Assert.Equal(new[] { 1e-9, 0.1 * 0.1 }, Lrs(o));
    }

    [Theory]
    [InlineData(WsdShape.Linear)]
    [InlineData(WsdShape.Cosine)]
    [InlineData(WsdShape.OneMinusSqrt)]
    public void WarmupStableDecay_WarmsUpHoldsAndDecaysToTheMinimum(WsdShape shape)
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new WarmupStableDecay(o, 10, 20, 40, shape, minRatio: 0.1, warmup: shape);
        Assert.Equal(new[] { 0.1 * 0.1, 0.03 * 0.1 }, Lrs(o));
        double previous = 0;
        for (int t = 1; t <= 80; t++)
        {
            schedule.Step();
            double factor = schedule.Factor(t);
            Assert.Equal(new[] { 0.1 * factor, 0.03 * factor }, Lrs(o));
            if (t <= 10)
                Assert.True(factor > previous, $"warmup rises at {t}");
            else if (t < 30)
                Assert.Equal(1.0, factor);
            else if (t < 70)
                Assert.True(factor < previous || t == 30, $"decay falls at {t}");
            else
                Assert.Equal(0.1, factor);
            previous = factor;
        }
    }

    [Fact]
    public void WarmupStableDecay_LinearDecay_IsHalfwayAtHalfTheDecay()
    {
        var schedule = new WarmupStableDecay(FakeOptimizer.Sgd(s_lrs), 0, 0, 10, WsdShape.Linear);
        Assert.Equal(1.0, schedule.Factor(0));
        Assert.Equal(0.5, schedule.Factor(5));
        Assert.Equal(0.0, schedule.Factor(10));
    }

    [Fact]
    public void BatchSizeWarmup_RampsTheBatchSizeInIncrements_AndScalesTheValueLinearly()
    {
        var o = FakeOptimizer.Sgd(s_lrs);
        var schedule = new BatchSizeWarmup(o, 32, 1024, 40, 32);
        Assert.Equal(32, schedule.BatchSize);
        Assert.Equal(new[] { 0.1 * 32 / 1024, 0.03 * 32 / 1024 }, Lrs(o));
        for (int t = 1; t <= 50; t++)
        {
            schedule.Step();
            int expected = t >= 40 ? 1024 : 32 + (992 * t / 40) / 32 * 32;
            Assert.Equal(expected, schedule.BatchSize);
            Assert.Equal(0, schedule.BatchSize % 32);
            Assert.Equal(new[] { 0.1 * ((double)expected / 1024), 0.03 * ((double)expected / 1024) }, Lrs(o));
        }
        Assert.Equal(512, schedule.BatchSizeAt(20));
    }

    [Fact]
    public void BatchSizeWarmup_SquareRootScaling_AndNone()
    {
        var sqrt = new BatchSizeWarmup(FakeOptimizer.Sgd(s_lrs), 256, 1024, 10, scaling: BatchSizeScaling.SquareRoot);
        Assert.Equal(new[] { 0.05, 0.015 }, sqrt.LastValues);
        var none = new BatchSizeWarmup(FakeOptimizer.Sgd(s_lrs), 256, 1024, 10, scaling: BatchSizeScaling.None);
        Assert.Equal(s_lrs, none.LastValues);
        Assert.Equal(256, none.BatchSize);
    }

    private static void AssertClose(double[] expected, double[] actual, double rtol)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(actual[i] - expected[i]) <= rtol * Math.Max(Math.Abs(expected[i]), 1e-300) + 1e-18,
                $"group {i}: {actual[i]:R} vs {expected[i]:R}");
    }
}
