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

public sealed class SgdParityTests(ITestOutputHelper output)
{
    private const double Lr = 1e-2;

    /// <summary>momentum x dampening x nesterov (only where PyTorch allows it) x weight decay x maximize.</summary>
    public static IEnumerable<object[]> Configs()
    {
        foreach (double momentum in new[] { 0.0, 0.9 })
            foreach (double dampening in new[] { 0.0, 0.1 })
                foreach (bool nesterov in new[] { false, true })
                    foreach (double weightDecay in new[] { 0.0, 1e-2 })
                        foreach (bool maximize in new[] { false, true })
                        {
                            if (nesterov && (momentum == 0 || dampening != 0))
                                continue; // PyTorch: "Nesterov momentum requires a momentum and zero dampening"
                            yield return new object[] { momentum, dampening, nesterov, weightDecay, maximize };
                        }
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void MatchesTorch(double momentum, double dampening, bool nesterov, double weightDecay, bool maximize)
    {
        string[] state = momentum != 0 ? ["momentum_buffer"] : [];
        ParityRunner.Run(new ParityCase
        {
            Optimizer = "SGD",
            Config = $"momentum={momentum}, dampening={dampening}, nesterov={nesterov}, weight_decay={weightDecay}, maximize={maximize}",
            Buffers = ["param", .. state],
            Kernel = (p, spans) => new KernelStepper(p, state, (t, g, k) =>
            {
                float[] param = k["param"];
                if (spans)
                {
                    // A buffer the rule only touches under momentum != 0 may be empty.
                    K.SGD.Step(param, g, momentum != 0 ? k["momentum_buffer"] : Span<float>.Empty, Lr, t, momentum, dampening, weightDecay, nesterov, maximize);
                    return;
                }
                float[] buffer = momentum != 0 ? k["momentum_buffer"] : new float[param.Length];
                for (int i = 0; i < param.Length; i++)
                    K.SGD.Step(ref param[i], g[i], ref buffer[i], Lr, t, momentum, dampening, weightDecay, nesterov, maximize);
            }),
            // torch/optim/sgd.py, _single_tensor_sgd
            Reference = p => new TorchStepper(p, state, (t, g, s) =>
            {
                var param = s["param"];
                var grad = MaybeNegate(g, maximize);
                if (weightDecay != 0)
                    grad = grad.add(param, alpha: weightDecay);
                if (momentum != 0)
                {
                    var buf = s["momentum_buffer"];
                    if (t == 1)
                        buf.copy_(grad); // momentum_buffer is None: buf = clone(grad)
                    else
                        buf.mul_(momentum).add_(grad, alpha: 1 - dampening);
                    grad = nesterov ? grad.add(buf, alpha: momentum) : buf;
                }
                param.add_(grad, alpha: -Lr);
            }),
            // TorchSharp's SGD adds the weight decay before negating for maximize (and keeps the momentum buffer
            // un-negated), unlike torch.optim.SGD: compared only without maximize.
            TorchSharpClass = maximize ? null : p => new TorchSharpOptimizerStepper(p,
                param => torch.optim.SGD([param], Lr, momentum, dampening, weightDecay, nesterov, maximize),
                (o, name) => TorchSharpOptimizerStepper.StateOf<TS.SGD.State>(o).momentum_buffer),
        }, output);
    }
}
