using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Training;
using Kernels.Training.Schedules;
using Xunit;

namespace Kernels.Tests.Training.Schedules;

/// <summary>Bad input throws an ArgumentException naming the argument, before the optimizer is changed.</summary>
public class ScheduleArgumentTests
{
    /// <summary>
    /// Each case: the argument the exception must name, and what builds the bad schedule on an optimizer with two groups
    /// (the parts of a composite are built first; the check starts after them).
    /// </summary>
    private static readonly Dictionary<string, (string Param, Func<FakeOptimizer, Action> Prepare)> s_cases = new()
    {
        ["optimizer null"] = ("optimizer", _ => () => new StepLR(null!, 3)),
        ["optimizer without groups"] = ("optimizer", _ => () => new StepLR(new FakeOptimizer(), 3)),
        ["unknown hyperparameter"] = ("hyperparameter", o => () => new StepLR(o, 3, hyperparameter: "learning_rate")),
        ["empty hyperparameter"] = ("hyperparameter", o => () => new ExponentialLR(o, 0.9, hyperparameter: "")),
        ["hyperparameter in one group only"] = ("hyperparameter", _ => () => new ExponentialLR(
            new FakeOptimizer(new() { ["lr"] = 0.1, ["beta1"] = 0.9 }, new() { ["lr"] = 0.1 }), 0.9, hyperparameter: "beta1")),

        ["LambdaLR null factor"] = ("factor", o => () => new LambdaLR(o, (Func<int, double>)null!)),
        ["LambdaLR factors for one group"] = ("factors", o => () => new LambdaLR(o, [t => 1.0])),
        ["LambdaLR null factor in list"] = ("factors", o => () => new LambdaLR(o, [t => 1.0, null!])),
        ["StepLR step size 0"] = ("stepSize", o => () => new StepLR(o, 0)),
        ["StepLR gamma NaN"] = ("gamma", o => () => new StepLR(o, 3, double.NaN)),
        ["StepLR gamma negative"] = ("gamma", o => () => new StepLR(o, 3, -0.5)),
        ["MultiStepLR milestones null"] = ("milestones", o => () => new MultiStepLR(o, null!)),
        ["MultiStepLR milestones not increasing"] = ("milestones", o => () => new MultiStepLR(o, [10, 30, 20])),
        ["MultiStepLR milestone negative"] = ("milestones", o => () => new MultiStepLR(o, [-1, 3])),
        ["ConstantLR factor 0"] = ("factor", o => () => new ConstantLR(o, 0)),
        ["ConstantLR factor above 1"] = ("factor", o => () => new ConstantLR(o, 1.5)),
        ["ConstantLR total iters 0"] = ("totalIters", o => () => new ConstantLR(o, 0.5, 0)),
        ["LinearLR start factor 0"] = ("startFactor", o => () => new LinearLR(o, 0)),
        ["LinearLR end factor above 1"] = ("endFactor", o => () => new LinearLR(o, 0.5, 1.1)),
        ["LinearLR total iters negative"] = ("totalIters", o => () => new LinearLR(o, 0.5, 1, -3)),
        ["ExponentialLR gamma infinite"] = ("gamma", o => () => new ExponentialLR(o, double.PositiveInfinity)),
        ["PolynomialLR total iters 0"] = ("totalIters", o => () => new PolynomialLR(o, 0)),
        ["PolynomialLR power negative"] = ("power", o => () => new PolynomialLR(o, 5, -1)),
        ["CosineAnnealingLR T_max negative"] = ("tMax", o => () => new CosineAnnealingLR(o, -5)),
        ["CosineAnnealingLR T_max 0"] = ("tMax", o => () => new CosineAnnealingLR(o, 0)),
        ["CosineAnnealingLR eta_min NaN"] = ("etaMin", o => () => new CosineAnnealingLR(o, 10, double.NaN)),
        ["CosineAnnealingWarmRestarts T_0 0"] = ("t0", o => () => new CosineAnnealingWarmRestarts(o, 0)),
        ["CosineAnnealingWarmRestarts T_mult 0"] = ("tMult", o => () => new CosineAnnealingWarmRestarts(o, 10, 0)),
        ["CosineAnnealingWarmRestarts negative epoch"] = ("epoch", o =>
        {
            var s = new CosineAnnealingWarmRestarts(o, 10);
            return () => s.Step(-1.0);
        }),
        ["CosineAnnealingWarmRestarts NaN epoch"] = ("epoch", o =>
        {
            var s = new CosineAnnealingWarmRestarts(o, 10);
            return () => s.Step(double.NaN);
        }),
        ["OneCycleLR total steps 0"] = ("totalSteps", o => () => new OneCycleLR(o, 0.1, 0)),
        ["OneCycleLR pct start above 1"] = ("pctStart", o => () => new OneCycleLR(o, 0.1, 100, pctStart: 1.5)),
        ["OneCycleLR max lr negative"] = ("maxLr", o => () => new OneCycleLR(o, -0.1, 100)),
        ["OneCycleLR max lr for one group"] = ("maxLr", o => () => new OneCycleLR(o, [0.1], 100)),
        ["OneCycleLR max lr NaN in list"] = ("maxLr", o => () => new OneCycleLR(o, [0.1, double.NaN], 100)),
        ["OneCycleLR div factor 0"] = ("divFactor", o => () => new OneCycleLR(o, 0.1, 100, divFactor: 0)),
        ["OneCycleLR final div factor negative"] = ("finalDivFactor", o => () => new OneCycleLR(o, 0.1, 100, finalDivFactor: -1)),
        ["OneCycleLR unknown anneal strategy"] = ("annealStrategy", o => () => new OneCycleLR(o, 0.1, 100, annealStrategy: (AnnealStrategy)7)),
        ["OneCycleLR base momentum for one group"] = ("baseMomentum", o => () => new OneCycleLR(o, [0.1, 0.1], 100, baseMomentum: [0.8])),
        ["OneCycleLR no momentum to cycle"] = ("cycleMomentum", _ => () => new OneCycleLR(
            new FakeOptimizer(new() { ["lr"] = 0.1 }, new() { ["lr"] = 0.1, ["momentum"] = 0.9 }), 0.1, 100)),
        ["SequentialLR no schedules"] = ("schedulers", o => () => new SequentialLR(o, [], [])),
        ["SequentialLR milestone count"] = ("milestones", o =>
        {
            LRScheduler a = new LinearLR(o), b = new ExponentialLR(o, 0.9);
            return () => new SequentialLR(o, [a, b], [5, 10]);
        }),
        ["SequentialLR milestones not increasing"] = ("milestones", o =>
        {
            LRScheduler a = new LinearLR(o), b = new ExponentialLR(o, 0.9), c = new StepLR(o, 3);
            return () => new SequentialLR(o, [a, b, c], [10, 10]);
        }),
        ["SequentialLR milestone 0"] = ("milestones", o =>
        {
            LRScheduler a = new LinearLR(o), b = new ExponentialLR(o, 0.9);
            return () => new SequentialLR(o, [a, b], [0]);
        }),
        ["SequentialLR part of another optimizer"] = ("schedulers", o =>
        {
            LRScheduler a = new LinearLR(o), b = new ExponentialLR(FakeOptimizer.Sgd(0.1, 0.1), 0.9);
            return () => new SequentialLR(o, [a, b], [5]);
        }),
        ["SequentialLR part of another hyperparameter"] = ("schedulers", o =>
        {
            LRScheduler a = new LinearLR(o), b = new ExponentialLR(o, 0.9, hyperparameter: "momentum");
            return () => new SequentialLR(o, [a, b], [5]);
        }),
        ["SequentialLR composite after the first part"] = ("schedulers", o =>
        {
            LRScheduler a = new LinearLR(o), b = new ExponentialLR(o, 0.9), c = new ChainedScheduler([b]);
            return () => new SequentialLR(o, [a, c], [5]);
        }),
        ["SequentialLR same part twice"] = ("schedulers", o =>
        {
            LRScheduler a = new LinearLR(o);
            return () => new SequentialLR(o, [a, a], [5]);
        }),
        ["ChainedScheduler no schedules"] = ("schedulers", o => () => new ChainedScheduler([])),
        ["ChainedScheduler part of another optimizer"] = ("schedulers", o =>
        {
            LRScheduler a = new ConstantLR(o), b = new ExponentialLR(FakeOptimizer.Sgd(0.1, 0.1), 0.9);
            return () => new ChainedScheduler([a, b]);
        }),
        ["ReduceLROnPlateau factor 1"] = ("factor", o => () => new ReduceLROnPlateau(o, factor: 1.0)),
        ["ReduceLROnPlateau patience negative"] = ("patience", o => () => new ReduceLROnPlateau(o, patience: -1)),
        ["ReduceLROnPlateau threshold negative"] = ("threshold", o => () => new ReduceLROnPlateau(o, threshold: -1e-4)),
        ["ReduceLROnPlateau cooldown negative"] = ("cooldown", o => () => new ReduceLROnPlateau(o, cooldown: -2)),
        ["ReduceLROnPlateau eps NaN"] = ("eps", o => () => new ReduceLROnPlateau(o, eps: double.NaN)),
        ["ReduceLROnPlateau unknown mode"] = ("mode", o => () => new ReduceLROnPlateau(o, (PlateauMode)5)),
        ["ReduceLROnPlateau unknown threshold mode"] = ("thresholdMode", o => () => new ReduceLROnPlateau(o, thresholdMode: (ThresholdMode)2)),
        ["ReduceLROnPlateau min lr for one group"] = ("minLr", o => () => new ReduceLROnPlateau(o, [1e-5])),
        ["ReduceLROnPlateau min lr NaN"] = ("minLr", o => () => new ReduceLROnPlateau(o, minLr: double.NaN)),
        ["ReduceLROnPlateau unknown hyperparameter"] = ("hyperparameter", o => () => new ReduceLROnPlateau(o, hyperparameter: "rho")),
        ["WarmupStableDecay warmup negative"] = ("warmupSteps", o => () => new WarmupStableDecay(o, -1, 10, 10)),
        ["WarmupStableDecay min ratio above 1"] = ("minRatio", o => () => new WarmupStableDecay(o, 1, 10, 10, minRatio: 2)),
        ["WarmupStableDecay unknown decay"] = ("decay", o => () => new WarmupStableDecay(o, 1, 10, 10, (WsdShape)9)),
        ["WarmupStableDecay num cycles negative"] = ("numCycles", o => () => new WarmupStableDecay(o, 1, 10, 10, numCycles: -0.5)),
        ["BatchSizeWarmup start 0"] = ("startBatchSize", o => () => new BatchSizeWarmup(o, 0, 64, 10)),
        ["BatchSizeWarmup final below start"] = ("finalBatchSize", o => () => new BatchSizeWarmup(o, 64, 32, 10)),
        ["BatchSizeWarmup warmup negative"] = ("warmupSteps", o => () => new BatchSizeWarmup(o, 32, 64, -10)),
        ["BatchSizeWarmup increment 0"] = ("increment", o => () => new BatchSizeWarmup(o, 32, 64, 10, 0)),
    };

    public static IEnumerable<object[]> Cases() => s_cases.Keys.Select(k => new object[] { k });

    [Theory]
    [MemberData(nameof(Cases))]
    public void BadArgument_NamesTheArgument_AndChangesNothing(string name)
    {
        (string param, Func<FakeOptimizer, Action> prepare) = s_cases[name];
        var optimizer = FakeOptimizer.Sgd(0.1, 0.03);
        Action build = prepare(optimizer);
        double[][] before = optimizer.Snapshot();
        int writes = optimizer[0].Writes + optimizer[1].Writes;

        var e = Assert.ThrowsAny<ArgumentException>(build);

        Assert.Equal(param, e.ParamName);
        Assert.Equal(before, optimizer.Snapshot());
        Assert.Equal(writes, optimizer[0].Writes + optimizer[1].Writes);
    }

    [Fact]
    public void FailedConstructor_RecordsNoBaseValue()
    {
        var optimizer = FakeOptimizer.Sgd(0.1, 0.03);
        Assert.ThrowsAny<ArgumentException>(() => new OneCycleLR(optimizer, 1.0, totalSteps: 0));
        Assert.ThrowsAny<ArgumentException>(() => new StepLR(optimizer, 0));
        optimizer[0]["lr"] = 0.5;

        var schedule = new ExponentialLR(optimizer, 0.9);

        Assert.Equal(new[] { 0.5, 0.03 }, schedule.BaseValues);
    }

    [Fact]
    public void GroupAdded_StepThrows_AndChangesNothing()
    {
        var optimizer = FakeOptimizer.Sgd(0.1, 0.03);
        var schedule = new ExponentialLR(optimizer, 0.5);
        optimizer.AddGroup(new() { ["lr"] = 0.2 });
        double[][] before = optimizer.Snapshot();

        var e = Assert.Throws<InvalidOperationException>(schedule.Step);

        Assert.Contains("3 parameter groups", e.Message);
        Assert.Equal(before, optimizer.Snapshot());
        Assert.Equal(0, schedule.LastEpoch);
    }

    [Fact]
    public void OneCycleLR_SteppedPastItsEnd_Throws_AndChangesNothing()
    {
        var optimizer = FakeOptimizer.Adam(0.1, 0.03);
        var schedule = new OneCycleLR(optimizer, [0.4, 0.2], totalSteps: 10);
        for (int t = 0; t < 10; t++)
            schedule.Step();
        double[][] before = optimizer.Snapshot();

        Assert.Throws<InvalidOperationException>(schedule.Step);

        Assert.Equal(10, schedule.LastEpoch);
        Assert.Equal(before, optimizer.Snapshot());
    }

    [Fact]
    public void ReduceLROnPlateau_AfterAGroupWasAdded_ReexpandsAScalarMinimum_ButNotAList()
    {
        var scalar = FakeOptimizer.Sgd(0.1, 0.03);
        var withScalar = new ReduceLROnPlateau(scalar, patience: 0, minLr: 0.05);
        scalar.AddGroup(new() { ["lr"] = 0.2 });
        withScalar.Step(1);
        withScalar.Step(2);
        Assert.Equal(new[] { 0.05, 0.03, 0.05 }, scalar.Snapshot().Select(g => g[0]));

        var list = FakeOptimizer.Sgd(0.1, 0.03);
        var withList = new ReduceLROnPlateau(list, [0.01, 0.001], patience: 0);
        list.AddGroup(new() { ["lr"] = 0.2 });
        Assert.Throws<InvalidOperationException>(() => withList.Step(1));
        Assert.Equal(0, withList.LastEpoch);
    }
}
