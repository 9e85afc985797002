using System;
using System.Collections.Generic;
using Kernels.Tests.Parity.Harness;
using Xunit;
using Xunit.Abstractions;
using K = Kernels.Optimizers;

namespace Kernels.Tests.Parity;

/// <summary>Lion has no PyTorch kernel: checked against a double-precision reference of the paper's algorithm.</summary>
public sealed class LionParityTests(ITestOutputHelper output)
{
    private const double Lr = 1e-3, Beta1 = 0.9, Beta2 = 0.99;

    /// <summary>weight decay x maximize.</summary>
    public static IEnumerable<object[]> Configs()
    {
        foreach (double weightDecay in new[] { 0.0, 0.1 })
            foreach (bool maximize in new[] { false, true })
                yield return new object[] { weightDecay, maximize };
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void MatchesDoublePrecisionReference(double weightDecay, bool maximize)
    {
        ParityRunner.Run(new ParityCase
        {
            Optimizer = "Lion",
            Config = $"weight_decay={weightDecay}, maximize={maximize}",
            Buffers = ["param", "exp_avg"],
            Kernel = (p, spans) => new KernelStepper(p, ["exp_avg"], (t, g, k) =>
            {
                float[] param = k["param"], m = k["exp_avg"];
                if (spans)
                {
                    K.Lion.Step(param, g, m, Lr, Beta1, Beta2, weightDecay, maximize);
                    return;
                }
                for (int i = 0; i < param.Length; i++)
                    K.Lion.Step(ref param[i], g[i], ref m[i], Lr, Beta1, Beta2, weightDecay, maximize);
            }),
            // Chen et al. 2023, Algorithm 2 (lucidrains/lion-pytorch's update_fn), each step in double from the float32
            // state, with the hyperparameters rounded to float32 where lion-pytorch's tensor ops meet them (F):
            //   p = p * (1 - lr * wd); c = beta1 * m + (1 - beta1) * g; p = p - lr * sign(c); m = beta2 * m + (1 - beta2) * g
            Reference = p => new DoubleStepper(p, ["exp_avg"], (t, g, d) =>
            {
                double[] param = d["param"], m = d["exp_avg"];
                for (int i = 0; i < param.Length; i++)
                {
                    double grad = maximize ? -(double)g[i] : g[i];
                    // The decay is its own in-place op on the float32 parameter (p.data.mul_), so its result is stored.
                    param[i] = (float)(param[i] * DoubleStepper.F(1 - Lr * weightDecay));
                    double c = DoubleStepper.F(Beta1) * m[i] + DoubleStepper.F(1 - Beta1) * grad;
                    param[i] -= DoubleStepper.F(Lr) * Math.Sign(c);
                    m[i] = DoubleStepper.F(Beta2) * m[i] + DoubleStepper.F(1 - Beta2) * grad;
                }
            }),
            ReferenceName = "double-precision reference (Chen et al. 2023; lion-pytorch)",
            ExactUpToSqrtRounding = false,
        }, output);
    }
}
