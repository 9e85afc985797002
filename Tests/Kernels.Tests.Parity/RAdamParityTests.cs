using System;
using System.Collections.Generic;
using Kernels.Tests.Parity.Harness;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static Kernels.Tests.Parity.Harness.TorchOps;
using K = Kernels.Optimizers;

namespace Kernels.Tests.Parity;

public sealed class RAdamParityTests(ITestOutputHelper output)
{
    private const double Lr = 1e-2, Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8;

    /// <summary>weight decay x decoupled x maximize.</summary>
    public static IEnumerable<object[]> Configs()
    {
        foreach (double weightDecay in new[] { 0.0, 1e-2 })
            foreach (bool decoupled in new[] { false, true })
                foreach (bool maximize in new[] { false, true })
                    yield return new object[] { weightDecay, decoupled, maximize };
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void MatchesTorch(double weightDecay, bool decoupled, bool maximize)
    {
        ParityRunner.Run(new ParityCase
        {
            Optimizer = "RAdam",
            Config = $"weight_decay={weightDecay}, decoupled_weight_decay={decoupled}, maximize={maximize}",
            Buffers = ["param", "exp_avg", "exp_avg_sq"],
            Kernel = (p, spans) => new KernelStepper(p, ["exp_avg", "exp_avg_sq"], (t, g, k) =>
            {
                float[] param = k["param"], m = k["exp_avg"], v = k["exp_avg_sq"];
                if (spans)
                {
                    K.RAdam.Step(param, g, m, v, t, Lr, Beta1, Beta2, Eps, weightDecay, decoupled, maximize);
                    return;
                }
                for (int i = 0; i < param.Length; i++)
                    K.RAdam.Step(ref param[i], g[i], ref m[i], ref v[i], t, Lr, Beta1, Beta2, Eps, weightDecay, decoupled, maximize);
            }),
            // torch/optim/radam.py, _single_tensor_radam. Steps 1-5 (rho_t <= 5) take the unrectified branch.
            Reference = p => new TorchStepper(p, ["exp_avg", "exp_avg_sq"], (t, g, s) =>
            {
                var param = s["param"];
                var grad = MaybeNegate(g, maximize);
                double step = (float)t;
                if (weightDecay != 0)
                {
                    if (decoupled)
                        param.mul_(1 - Lr * weightDecay);
                    else
                        grad = grad.add(param, alpha: weightDecay);
                }
                Lerp_(s["exp_avg"], grad, 1 - Beta1);
                s["exp_avg_sq"].mul_(Beta2).addcmul_(grad, grad, value: 1 - Beta2);
                double biasCorrection1 = 1 - Math.Pow(Beta1, step);
                double biasCorrection2 = 1 - Math.Pow(Beta2, step);
                var biasCorrectedExpAvg = s["exp_avg"].div(biasCorrection1);
                double rhoInf = 2 / (1 - Beta2) - 1;
                double rhoT = rhoInf - 2 * step * Math.Pow(Beta2, step) / biasCorrection2;
                if (rhoT > 5.0)
                {
                    double rect = Math.Pow((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT), 0.5);
                    // (bias_correction2 ** 0.5) / tensor is Tensor.__rtruediv__: tensor.reciprocal() * scalar
                    var adaptiveLr = Sqrt(s["exp_avg_sq"]).add_(Eps).reciprocal().mul(Math.Pow(biasCorrection2, 0.5));
                    param.add_(biasCorrectedExpAvg.mul(Lr).mul(adaptiveLr).mul(rect), alpha: -1.0);
                }
                else
                {
                    param.add_(biasCorrectedExpAvg.mul(Lr), alpha: -1.0);
                }
            }),
            // No TorchSharp comparison: TorchSharp 0.107's RAdam multiplies by lr twice once rho_t > 5
            // (`t6 * lr * adaptive_lr * rect` with t6 = exp_avg / bias_correction1 * lr), and has neither maximize
            // nor decoupled weight decay.
        }, output);
    }
}
