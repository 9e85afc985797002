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

public sealed class AsgdParityTests(ITestOutputHelper output)
{
    private const double Lr = 1e-2, Alpha = 0.75;

    /// <summary>lambd (slow or fast eta decay) x t0 (no averaging within the run, or averaging from step 21) x weight decay x maximize.</summary>
    public static IEnumerable<object[]> Configs()
    {
        foreach (double lambd in new[] { 1e-4, 0.5 })
            foreach (double t0 in new[] { 1e6, 20 })
                foreach (double weightDecay in new[] { 0.0, 1e-2 })
                    foreach (bool maximize in new[] { false, true })
                        yield return new object[] { lambd, t0, weightDecay, maximize };
    }

    [Fact]
    public void Schedule_FirstStepUsesLrAndNoAveraging()
    {
        Assert.Equal(((double)(float)Lr, 1.0), K.ASGD.Schedule(1, Lr));
        var (eta, mu) = K.ASGD.Schedule(32, Lr, lambd: 1e-4, alpha: Alpha, t0: 20);
        Assert.Equal((double)(float)(Lr / Math.Pow(1 + 1e-4 * Lr * 31, Alpha)), eta);
        Assert.Equal((double)(float)(1.0 / 11), mu);
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void MatchesTorch(double lambd, double t0, double weightDecay, bool maximize)
    {
        ParityRunner.Run(new ParityCase
        {
            Optimizer = "ASGD",
            Config = $"lambd={lambd}, t0={t0}, weight_decay={weightDecay}, maximize={maximize}",
            Buffers = ["param", "ax"],
            Kernel = (p, spans) => new KernelStepper(p, ["ax"], (t, g, k) =>
            {
                var (eta, mu) = K.ASGD.Schedule(t, Lr, lambd, Alpha, t0);
                float[] param = k["param"], ax = k["ax"];
                if (spans)
                {
                    K.ASGD.Step(param, g, ax, eta, mu, lambd, weightDecay, maximize);
                    return;
                }
                for (int i = 0; i < param.Length; i++)
                    K.ASGD.Step(ref param[i], g[i], ref ax[i], eta, mu, lambd, weightDecay, maximize);
            }),
            // torch/optim/asgd.py, _single_tensor_asgd; eta and mu are float32 0-dim tensors there.
            Reference = p =>
            {
                var eta = torch.tensor((float)Lr);
                var mu = torch.tensor(1f);
                var stepper = new TorchStepper(p, ["ax"], (t, g, s) =>
                {
                    var param = s["param"];
                    var grad = MaybeNegate(g, maximize);
                    double step = (float)t;
                    if (weightDecay != 0)
                        grad = grad.add(param, alpha: weightDecay);
                    double etaValue = eta.item<float>();
                    param.mul_(1 - lambd * etaValue);
                    param.add_(grad, alpha: -etaValue);
                    if (mu.item<float>() != 1)
                        s["ax"].add_(param.sub(s["ax"]).mul_(mu));
                    else
                        s["ax"].copy_(param);
                    using var newEta = torch.tensor(Lr / Math.Pow(1 + lambd * Lr * step, Alpha));
                    eta.copy_(newEta);
                    using var newMu = torch.tensor(1 / Math.Max(1, step - t0));
                    mu.copy_(newMu);
                });
                stepper.Scalars["eta"] = eta;
                stepper.Scalars["mu"] = mu;
                return stepper;
            },
            // TorchSharp's ASGD keeps eta and mu in double rather than float32 tensors: equal up to rounding.
            TorchSharpClass = p => new TorchSharpOptimizerStepper(p,
                param => torch.optim.ASGD([param], Lr, lambd, Alpha, t0, weightDecay, maximize),
                (o, n) => TorchSharpOptimizerStepper.StateOf<TS.ASGD.State>(o).ax),
        }, output);
    }
}
