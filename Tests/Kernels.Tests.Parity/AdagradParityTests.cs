using System;
using System.Collections.Generic;
using Kernels.Tests.Parity.Harness;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static Kernels.Tests.Parity.Harness.TorchOps;
using K = Kernels.Optimizers;
using TS = TorchSharp.Modules;

namespace Kernels.Tests.Parity;

public sealed class AdagradParityTests(ITestOutputHelper output)
{
    private const double Lr = 1e-2, Eps = 1e-10;

    /// <summary>lr_decay x initial_accumulator_value x weight decay x maximize.</summary>
    public static IEnumerable<object[]> Configs()
    {
        foreach (double lrDecay in new[] { 0.0, 1e-2 })
            foreach (double initial in new[] { 0.0, 0.1 })
                foreach (double weightDecay in new[] { 0.0, 1e-2 })
                    foreach (bool maximize in new[] { false, true })
                        yield return new object[] { lrDecay, initial, weightDecay, maximize };
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void MatchesTorch(double lrDecay, double initialAccumulatorValue, double weightDecay, bool maximize)
    {
        // initial_accumulator_value is the caller's initial value of `sum` (PyTorch: full_like(p, value), float32).
        var initial = new Dictionary<string, float> { ["sum"] = (float)initialAccumulatorValue };
        ParityRunner.Run(new ParityCase
        {
            Optimizer = "Adagrad",
            Config = $"lr_decay={lrDecay}, initial_accumulator_value={initialAccumulatorValue}, weight_decay={weightDecay}, maximize={maximize}",
            Buffers = ["param", "sum"],
            Kernel = (p, spans) => new KernelStepper(p, ["sum"], (t, g, k) =>
            {
                float[] param = k["param"], sum = k["sum"];
                if (spans)
                {
                    K.Adagrad.Step(param, g, sum, t, Lr, lrDecay, weightDecay, Eps, maximize);
                    return;
                }
                for (int i = 0; i < param.Length; i++)
                    K.Adagrad.Step(ref param[i], g[i], ref sum[i], t, Lr, lrDecay, weightDecay, Eps, maximize);
            }, initial),
            // torch/optim/adagrad.py, _single_tensor_adagrad
            Reference = p => new TorchStepper(p, ["sum"], (t, g, s) =>
            {
                var param = s["param"];
                double step = (float)t;
                var grad = MaybeNegate(g, maximize);
                if (weightDecay != 0)
                    grad = grad.add(param, alpha: weightDecay);
                double clr = Lr / (1 + (step - 1) * lrDecay);
                s["sum"].addcmul_(grad, grad, value: 1);
                var std = Sqrt(s["sum"]).add_(Eps);
                param.addcdiv_(grad, std, value: -clr);
            }, initial),
            // TorchSharp's Adagrad has no maximize.
            TorchSharpClass = maximize ? null : p => new TorchSharpOptimizerStepper(p,
                param => torch.optim.Adagrad([param], Lr, lrDecay, weightDecay, initialAccumulatorValue, Eps),
                (o, n) => TorchSharpOptimizerStepper.StateOf<TS.Adagrad.State>(o).sum),
        }, output);
    }
}
