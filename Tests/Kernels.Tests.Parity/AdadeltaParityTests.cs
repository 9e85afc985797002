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

public sealed class AdadeltaParityTests(ITestOutputHelper output)
{
    private const double Lr = 1.0, Rho = 0.9, Eps = 1e-6;

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
            Optimizer = "Adadelta",
            Config = $"weight_decay={weightDecay}, maximize={maximize}",
            Buffers = ["param", "square_avg", "acc_delta"],
            Kernel = (p, spans) => new KernelStepper(p, ["square_avg", "acc_delta"], (t, g, k) =>
            {
                float[] param = k["param"], squareAvg = k["square_avg"], accDelta = k["acc_delta"];
                if (spans)
                {
                    K.Adadelta.Step(param, g, squareAvg, accDelta, Lr, Rho, Eps, weightDecay, maximize);
                    return;
                }
                for (int i = 0; i < param.Length; i++)
                    K.Adadelta.Step(ref param[i], g[i], ref squareAvg[i], ref accDelta[i], Lr, Rho, Eps, weightDecay, maximize);
            }),
            // torch/optim/adadelta.py, _single_tensor_adadelta
            Reference = p => new TorchStepper(p, ["square_avg", "acc_delta"], (t, g, s) =>
            {
                var param = s["param"];
                var grad = MaybeNegate(g, maximize);
                if (weightDecay != 0)
                    grad = grad.add(param, alpha: weightDecay);
                s["square_avg"].mul_(Rho).addcmul_(grad, grad, value: 1 - Rho);
                var std = Sqrt_(s["square_avg"].add(Eps));
                var delta = Sqrt_(s["acc_delta"].add(Eps));
                delta.div_(std).mul_(grad);
                s["acc_delta"].mul_(Rho).addcmul_(delta, delta, value: 1 - Rho);
                param.add_(delta, alpha: -Lr);
            }),
            TorchSharpClass = p => new TorchSharpOptimizerStepper(p,
                param => torch.optim.Adadelta([param], Lr, Rho, Eps, weightDecay, maximize),
                (o, n) => n == "square_avg"
                    ? TorchSharpOptimizerStepper.StateOf<TS.Adadelta.State>(o).square_avg
                    : TorchSharpOptimizerStepper.StateOf<TS.Adadelta.State>(o).acc_delta),
        }, output);
    }
}
