using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Training.Schedules;

namespace Kernels.Tests.Training.Schedules;

/// <summary>One configuration of every schedule, on an optimizer with two groups of different base values.</summary>
internal static class ScheduleCatalog
{
    public static readonly Dictionary<string, Func<FakeOptimizer, LRScheduler>> Factories = new()
    {
        ["LambdaLR"] = o => new LambdaLR(o, [t => 1.0 / (1 + t), t => Math.Pow(0.99, t)]),
        ["StepLR"] = o => new StepLR(o, 7, 0.3),
        ["MultiStepLR"] = o => new MultiStepLR(o, [3, 10, 10, 40], 0.3),
        ["ConstantLR"] = o => new ConstantLR(o, 0.3, 50),
        ["LinearLR"] = o => new LinearLR(o, 0.1, 0.9, 60),
        ["ExponentialLR"] = o => new ExponentialLR(o, 0.97),
        ["PolynomialLR"] = o => new PolynomialLR(o, 80, 2.0),
        ["CosineAnnealingLR"] = o => new CosineAnnealingLR(o, 13, 1e-4),
        ["CosineAnnealingWarmRestarts"] = o => new CosineAnnealingWarmRestarts(o, 5, 2, 1e-5),
        ["OneCycleLR"] = o => new OneCycleLR(o, [0.5, 0.2], 100, threePhase: true),
        ["SequentialLR"] = o => new SequentialLR(o, [new LinearLR(o, 0.1, 1, 10), new CosineAnnealingLR(o, 40), new ExponentialLR(o, 0.95)], [10, 60]),
        ["ChainedScheduler"] = o => new ChainedScheduler([new ConstantLR(o, 0.5, 48), new ExponentialLR(o, 0.98), new CosineAnnealingLR(o, 30)]),
        ["WarmupStableDecay"] = o => new WarmupStableDecay(o, 10, 20, 50, WsdShape.OneMinusSqrt, 0.1),
        ["BatchSizeWarmup"] = o => new BatchSizeWarmup(o, 32, 1024, 60, 32),
        ["CosineAnnealingLR of weight_decay"] = o => new CosineAnnealingLR(o, 25, 0, hyperparameter: "weight_decay"),
    };

    public static IEnumerable<object[]> Names() => Factories.Keys.Select(k => new object[] { k });
}
