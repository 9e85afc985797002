using System;
using System.Collections.Generic;
using Kernels.Tests.Parity.Harness;
using Xunit;
using Xunit.Abstractions;
using K = Kernels.Optimizers;

namespace Kernels.Tests.Parity;

/// <summary>
/// Sophia-G has no PyTorch kernel: checked against a double-precision reference of the paper's Algorithm 3 with
/// the Gauss-Newton-Bartlett estimator, as Liuhong99/Sophia's SophiaG implements it. Its two rules share the
/// hessian buffer: <c>Step</c> every step, <c>UpdateHessian</c> after every k-th step (the reference training loop
/// refreshes the estimate when iter_num % k == k - 1, counting from 0).
/// </summary>
public sealed class SophiaGParityTests(ITestOutputHelper output)
{
    private const double Lr = 1e-3, Beta1 = 0.965, Beta2 = 0.99, Rho = 0.04, BatchSize = 5120;
    private const int HessianInterval = 10;

    /// <summary>weight decay x maximize.</summary>
    public static IEnumerable<object[]> Configs()
    {
        foreach (double weightDecay in new[] { 0.0, 0.1 })
            foreach (bool maximize in new[] { false, true })
                yield return new object[] { weightDecay, maximize };
    }

    /// <summary>The sampled-label gradient fed to the Hessian estimate after step <paramref name="step"/>.</summary>
    private static float[] HessianGradient(int step, int length)
        => ParityRunner.Normal(new Random(7919 * step), length, 0.5, zeros: true);

    [Theory]
    [MemberData(nameof(Configs))]
    public void MatchesDoublePrecisionReference(double weightDecay, bool maximize)
    {
        ParityRunner.Run(new ParityCase
        {
            Optimizer = "SophiaG",
            Config = $"weight_decay={weightDecay}, maximize={maximize}, hessian every {HessianInterval} steps",
            Buffers = ["param", "exp_avg", "hessian"],
            Kernel = (p, spans) => new KernelStepper(p, ["exp_avg", "hessian"], (t, g, k) =>
            {
                float[] param = k["param"], m = k["exp_avg"], h = k["hessian"];
                float[]? gh = t % HessianInterval == 0 ? HessianGradient(t, param.Length) : null;
                if (spans)
                {
                    K.SophiaG.Step(param, g, m, h, Lr, Beta1, Rho, weightDecay, BatchSize, maximize);
                    if (gh is not null)
                        K.SophiaG.UpdateHessian(h, gh, Beta2);
                    return;
                }
                for (int i = 0; i < param.Length; i++)
                    K.SophiaG.Step(ref param[i], g[i], ref m[i], h[i], Lr, Beta1, Rho, weightDecay, BatchSize, maximize);
                if (gh is not null)
                {
                    for (int i = 0; i < param.Length; i++)
                        K.SophiaG.UpdateHessian(ref h[i], gh[i], Beta2);
                }
            }),
            // Each step in double from the float32 state, hyperparameters rounded to float32 where SophiaG's tensor
            // ops meet them (F):
            //   p = p * (1 - lr * wd); m = beta1 * m + (1 - beta1) * g
            //   p = p - lr * sign(m) * min(|m| / (rho * bs * h + 1e-15), 1)
            //   every k steps: h = beta2 * h + (1 - beta2) * gh * gh
            Reference = p => new DoubleStepper(p, ["exp_avg", "hessian"], (t, g, d) =>
            {
                double[] param = d["param"], m = d["exp_avg"], h = d["hessian"];
                for (int i = 0; i < param.Length; i++)
                {
                    double grad = maximize ? -(double)g[i] : g[i];
                    // The decay is its own in-place op on the float32 parameter (param.mul_), so its result is stored.
                    param[i] = (float)(param[i] * DoubleStepper.F(1 - Lr * weightDecay));
                    m[i] = DoubleStepper.F(Beta1) * m[i] + DoubleStepper.F(1 - Beta1) * grad;
                    double ratio = Math.Min(Math.Abs(m[i]) / (DoubleStepper.F(Rho * BatchSize) * h[i] + DoubleStepper.F(1e-15)), 1);
                    param[i] -= DoubleStepper.F(Lr) * Math.Sign(m[i]) * ratio;
                }
                if (t % HessianInterval == 0)
                {
                    float[] gh = HessianGradient(t, param.Length);
                    for (int i = 0; i < param.Length; i++)
                        h[i] = DoubleStepper.F(Beta2) * h[i] + DoubleStepper.F(1 - Beta2) * gh[i] * (double)gh[i];
                }
            }),
            ReferenceName = "double-precision reference (Liu et al. 2023; Liuhong99/Sophia SophiaG)",
            ExactUpToSqrtRounding = false,
        }, output);
    }
}
