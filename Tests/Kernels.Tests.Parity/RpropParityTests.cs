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

public sealed class RpropParityTests(ITestOutputHelper output)
{
    private const double Lr = 1e-2;

    /// <summary>maximize x (default etas and step sizes, or narrow ones that make the clamp bite both ways).</summary>
    public static IEnumerable<object[]> Configs()
    {
        foreach (bool maximize in new[] { false, true })
        {
            yield return new object[] { 0.5, 1.2, 1e-6, 50.0, maximize };
            yield return new object[] { 0.3, 1.5, 5e-3, 2e-2, maximize };
        }
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void MatchesTorch(double etaMinus, double etaPlus, double stepSizeMin, double stepSizeMax, bool maximize)
    {
        // PyTorch's lr is the initial step size: full_like(grad, lr), float32; prev starts at 0.
        var initial = new Dictionary<string, float> { ["step_size"] = (float)Lr };
        ParityRunner.Run(new ParityCase
        {
            Optimizer = "Rprop",
            Config = $"etas=({etaMinus}, {etaPlus}), step_sizes=({stepSizeMin}, {stepSizeMax}), maximize={maximize}",
            Buffers = ["param", "prev", "step_size"],
            Kernel = (p, spans) => new KernelStepper(p, ["prev", "step_size"], (t, g, k) =>
            {
                float[] param = k["param"], prev = k["prev"], stepSize = k["step_size"];
                if (spans)
                {
                    K.Rprop.Step(param, g, prev, stepSize, etaMinus, etaPlus, stepSizeMin, stepSizeMax, maximize);
                    return;
                }
                for (int i = 0; i < param.Length; i++)
                    K.Rprop.Step(ref param[i], g[i], ref prev[i], ref stepSize[i], etaMinus, etaPlus, stepSizeMin, stepSizeMax, maximize);
            }, initial),
            // torch/optim/rprop.py, _single_tensor_rprop
            Reference = p => new TorchStepper(p, ["prev", "step_size"], (t, g, s) =>
            {
                var param = s["param"];
                var grad = MaybeNegate(g, maximize);
                var sign = grad.mul(s["prev"]).sign();
                sign.masked_fill_(sign.gt(0), etaPlus);
                sign.masked_fill_(sign.lt(0), etaMinus);
                sign.masked_fill_(sign.eq(0), 1);
                s["step_size"].mul_(sign).clamp_(stepSizeMin, stepSizeMax);
                grad = grad.clone();
                grad.masked_fill_(sign.eq(etaMinus), 0);
                param.addcmul_(grad.sign(), s["step_size"], value: -1);
                s["prev"].copy_(grad);
            }, initial),
            TorchSharpClass = p => new TorchSharpOptimizerStepper(p,
                param => torch.optim.Rprop([param], Lr, etaMinus, etaPlus, stepSizeMin, stepSizeMax, maximize),
                (o, n) => n == "prev"
                    ? TorchSharpOptimizerStepper.StateOf<TS.Rprop.State>(o).prev
                    : TorchSharpOptimizerStepper.StateOf<TS.Rprop.State>(o).step_size),
        }, output);
    }
}
