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

public sealed class NAdamParityTests(ITestOutputHelper output)
{
    private const double Lr = 1e-2, Beta1 = 0.9, Beta2 = 0.999, Eps = 1e-8, MomentumDecay = 4e-3;

    /// <summary>weight decay x decoupled x maximize.</summary>
    public static IEnumerable<object[]> Configs()
    {
        foreach (double weightDecay in new[] { 0.0, 1e-2 })
            foreach (bool decoupled in new[] { false, true })
                foreach (bool maximize in new[] { false, true })
                    yield return new object[] { weightDecay, decoupled, maximize };
    }

    [Fact]
    public void MuProduct_MatchesCarriedProduct()
    {
        double carried = 1;
        for (int step = 1; step <= 50; step++)
        {
            carried = K.NAdam.NextMuProduct(carried, step, Beta1, MomentumDecay);
            Assert.Equal(carried, K.NAdam.MuProduct(step, Beta1, MomentumDecay));
        }
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void MatchesTorch(double weightDecay, bool decoupled, bool maximize)
    {
        ParityRunner.Run(new ParityCase
        {
            Optimizer = "NAdam",
            Config = $"weight_decay={weightDecay}, decoupled_weight_decay={decoupled}, maximize={maximize}",
            Buffers = ["param", "exp_avg", "exp_avg_sq"],
            Kernel = (p, spans) =>
            {
                double muProduct = 1; // the caller's per-tensor uniform state
                return new KernelStepper(p, ["exp_avg", "exp_avg_sq"], (t, g, k) =>
                {
                    muProduct = K.NAdam.NextMuProduct(muProduct, t, Beta1, MomentumDecay);
                    float[] param = k["param"], m = k["exp_avg"], v = k["exp_avg_sq"];
                    if (spans)
                    {
                        K.NAdam.Step(param, g, m, v, t, muProduct, Lr, Beta1, Beta2, Eps, weightDecay, MomentumDecay, decoupled, maximize);
                        return;
                    }
                    for (int i = 0; i < param.Length; i++)
                        K.NAdam.Step(ref param[i], g[i], ref m[i], ref v[i], t, muProduct, Lr, Beta1, Beta2, Eps, weightDecay, MomentumDecay, decoupled, maximize);
                });
            },
            // torch/optim/nadam.py, _single_tensor_nadam; mu_product is a float32 0-dim tensor there.
            Reference = p =>
            {
                var muProduct = torch.tensor(1f);
                var stepper = new TorchStepper(p, ["exp_avg", "exp_avg_sq"], (t, g, s) =>
                {
                    var param = s["param"];
                    var grad = MaybeNegate(g, maximize);
                    double step = (float)t;
                    double biasCorrection2 = 1 - Math.Pow(Beta2, step);
                    if (weightDecay != 0)
                    {
                        if (decoupled)
                            param.mul_(1 - Lr * weightDecay);
                        else
                            grad = grad.add(param, alpha: weightDecay);
                    }
                    double mu = Beta1 * (1.0 - 0.5 * Math.Pow(0.96, step * MomentumDecay));
                    double muNext = Beta1 * (1.0 - 0.5 * Math.Pow(0.96, (step + 1) * MomentumDecay));
                    muProduct.mul_(mu);
                    Lerp_(s["exp_avg"], grad, 1 - Beta1);
                    s["exp_avg_sq"].mul_(Beta2).addcmul_(grad, grad, value: 1 - Beta2);
                    var denom = Sqrt(s["exp_avg_sq"].div(biasCorrection2));
                    double product = muProduct.item<float>();
                    double productNext = product * muNext;
                    denom.add_(Eps);
                    param.addcdiv_(grad, denom, value: -Lr * (1.0 - mu) / (1.0 - product));
                    param.addcdiv_(s["exp_avg"], denom, value: (-Lr * muNext) / (1.0 - productNext));
                });
                stepper.Scalars["mu_product"] = muProduct;
                return stepper;
            },
            // TorchSharp's NAdam has neither maximize nor decoupled weight decay; it keeps mu_product in double and
            // updates exp_avg with mul_/add_ instead of lerp_.
            TorchSharpClass = maximize || decoupled ? null : p => new TorchSharpOptimizerStepper(p,
                param => torch.optim.NAdam([param], Lr, Beta1, Beta2, Eps, weightDecay, MomentumDecay),
                (o, n) => n == "exp_avg"
                    ? TorchSharpOptimizerStepper.StateOf<TS.NAdam.State>(o).exp_avg
                    : TorchSharpOptimizerStepper.StateOf<TS.NAdam.State>(o).exp_avg_sq),
        }, output);
    }
}
