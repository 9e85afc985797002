using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Tests.Parity.Harness;
using TorchSharp;
using Xunit;
using Xunit.Abstractions;
using static Kernels.Tests.Parity.Harness.TorchOps;
using K = Kernels.Optimizers;
using TS = TorchSharp.Modules;

namespace Kernels.Tests.Parity;

public sealed class RmspropParityTests(ITestOutputHelper output)
{
    private const double Lr = 1e-2, Alpha = 0.99, Eps = 1e-8;

    /// <summary>centered x momentum x weight decay x maximize.</summary>
    public static IEnumerable<object[]> Configs()
    {
        foreach (bool centered in new[] { false, true })
            foreach (double momentum in new[] { 0.0, 0.9 })
                foreach (double weightDecay in new[] { 0.0, 1e-2 })
                    foreach (bool maximize in new[] { false, true })
                        yield return new object[] { centered, momentum, weightDecay, maximize };
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void MatchesTorch(bool centered, double momentum, double weightDecay, bool maximize)
    {
        var state = new List<string> { "square_avg" };
        if (centered) state.Add("grad_avg");
        if (momentum > 0) state.Add("momentum_buffer");
        ParityRunner.Run(new ParityCase
        {
            Optimizer = "RMSprop",
            Config = $"centered={centered}, momentum={momentum}, weight_decay={weightDecay}, maximize={maximize}",
            Buffers = ["param", .. state],
            Kernel = (p, spans) => new KernelStepper(p, state, (t, g, k) =>
            {
                float[] param = k["param"], squareAvg = k["square_avg"];
                if (spans)
                {
                    K.RMSprop.Step(param, g, squareAvg,
                        centered ? k["grad_avg"] : Span<float>.Empty,
                        momentum > 0 ? k["momentum_buffer"] : Span<float>.Empty,
                        Lr, Alpha, Eps, weightDecay, momentum, centered, maximize);
                    return;
                }
                float[] gradAvg = centered ? k["grad_avg"] : new float[param.Length];
                float[] buffer = momentum > 0 ? k["momentum_buffer"] : new float[param.Length];
                for (int i = 0; i < param.Length; i++)
                    K.RMSprop.Step(ref param[i], g[i], ref squareAvg[i], ref gradAvg[i], ref buffer[i], Lr, Alpha, Eps, weightDecay, momentum, centered, maximize);
            }),
            // torch/optim/rmsprop.py, _single_tensor_rmsprop
            Reference = p => new TorchStepper(p, state, (t, g, s) =>
            {
                var param = s["param"];
                var grad = MaybeNegate(g, maximize);
                if (weightDecay != 0)
                    grad = grad.add(param, alpha: weightDecay);
                s["square_avg"].mul_(Alpha).addcmul_(grad, grad, value: 1 - Alpha);
                torch.Tensor avg;
                if (centered)
                {
                    Lerp_(s["grad_avg"], grad, 1 - Alpha);
                    avg = Sqrt_(s["square_avg"].addcmul(s["grad_avg"], s["grad_avg"], value: -1));
                }
                else
                {
                    avg = Sqrt(s["square_avg"]);
                }
                avg = avg.add_(Eps);
                if (momentum > 0)
                {
                    s["momentum_buffer"].mul_(momentum).addcdiv_(grad, avg);
                    param.add_(s["momentum_buffer"], alpha: -Lr);
                }
                else
                {
                    param.addcdiv_(grad, avg, value: -Lr);
                }
            }),
            // TorchSharp's RMSProp updates grad_avg with mul_/add_ instead of lerp_: equal up to rounding.
            TorchSharpClass = p => new TorchSharpOptimizerStepper(p,
                param => torch.optim.RMSProp([param], Lr, Alpha, Eps, weightDecay, momentum, centered, maximize),
                (o, n) => n switch
                {
                    "square_avg" => TorchSharpOptimizerStepper.StateOf<TS.RMSProp.State>(o).square_avg,
                    "grad_avg" => TorchSharpOptimizerStepper.StateOf<TS.RMSProp.State>(o).grad_avg,
                    _ => TorchSharpOptimizerStepper.StateOf<TS.RMSProp.State>(o).momentum_buffer,
                }),
        }, output);
    }
}
