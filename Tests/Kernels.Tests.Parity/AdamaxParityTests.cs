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

public sealed class AdamaxParityTests(ITestOutputHelper output)
{
    private const double Lr = 1e-2, Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8;

    /// <summary>weight decay x maximize.</summary>
    public static IEnumerable<object[]> Configs()
    {
        foreach (double weightDecay in new[] { 0.0, 1e-2 })
            foreach (bool maximize in new[] { false, true })
                yield return new object[] { weightDecay, maximize };
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void MatchesTorch(double weightDecay, bool maximize)
    {
        ParityRunner.Run(new ParityCase
        {
            Optimizer = "Adamax",
            Config = $"weight_decay={weightDecay}, maximize={maximize}",
            Buffers = ["param", "exp_avg", "exp_inf"],
            Kernel = (p, spans) => new KernelStepper(p, ["exp_avg", "exp_inf"], (t, g, k) =>
            {
                float[] param = k["param"], m = k["exp_avg"], u = k["exp_inf"];
                if (spans)
                {
                    K.Adamax.Step(param, g, m, u, t, Lr, Beta1, Beta2, Eps, weightDecay, maximize);
                    return;
                }
                for (int i = 0; i < param.Length; i++)
                    K.Adamax.Step(ref param[i], g[i], ref m[i], ref u[i], t, Lr, Beta1, Beta2, Eps, weightDecay, maximize);
            }),
            // torch/optim/adamax.py, _single_tensor_adamax
            Reference = p => new TorchStepper(p, ["exp_avg", "exp_inf"], (t, g, s) =>
            {
                var param = s["param"];
                var grad = MaybeNegate(g, maximize);
                if (weightDecay != 0)
                    grad = grad.add(param, alpha: weightDecay);
                Lerp_(s["exp_avg"], grad, 1 - Beta1);
                s["exp_inf"].copy_(torch.maximum(s["exp_inf"].mul_(Beta2), grad.abs().add_(Eps)));
                double clr = Lr / (1 - Math.Pow(Beta1, (float)t));
                param.addcdiv_(s["exp_avg"], s["exp_inf"], value: -clr);
            }),
            // TorchSharp's Adamax has no maximize; it updates exp_avg with mul_/add_ instead of lerp_.
            TorchSharpClass = maximize ? null : p => new TorchSharpOptimizerStepper(p,
                param => torch.optim.Adamax([param], Lr, Beta1, Beta2, Eps, weightDecay),
                (o, n) => n == "exp_avg"
                    ? TorchSharpOptimizerStepper.StateOf<TS.Adamax.State>(o).exp_avg
                    : TorchSharpOptimizerStepper.StateOf<TS.Adamax.State>(o).exp_inf),
        }, output);
    }
}
