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

public sealed class AdamParityTests(ITestOutputHelper output)
{
    private const double Lr = 1e-2, Beta2 = 0.999, Eps = 1e-8;

    /// <summary>amsgrad x maximize x weight decay, plus beta1 = 0.3 (lerp weight 0.7: ATen's other lerp form).</summary>
    public static IEnumerable<object[]> Configs()
    {
        foreach (bool amsgrad in new[] { false, true })
            foreach (bool maximize in new[] { false, true })
                foreach (double weightDecay in new[] { 0.0, 1e-2 })
                    yield return new object[] { 0.9, amsgrad, maximize, weightDecay };
        yield return new object[] { 0.3, true, false, 1e-2 };
    }

    [Theory]
    [MemberData(nameof(Configs))]
    public void Adam_MatchesTorch(double beta1, bool amsgrad, bool maximize, double weightDecay)
        => Run("Adam", decoupled: false, beta1, amsgrad, maximize, weightDecay);

    [Theory]
    [MemberData(nameof(Configs))]
    public void AdamW_MatchesTorch(double beta1, bool amsgrad, bool maximize, double weightDecay)
        => Run("AdamW", decoupled: true, beta1, amsgrad, maximize, weightDecay);

    private void Run(string name, bool decoupled, double beta1, bool amsgrad, bool maximize, double weightDecay)
    {
        string[] state = amsgrad ? ["exp_avg", "exp_avg_sq", "max_exp_avg_sq"] : ["exp_avg", "exp_avg_sq"];
        ParityRunner.Run(new ParityCase
        {
            Optimizer = name,
            Config = $"beta1={beta1}, amsgrad={amsgrad}, maximize={maximize}, weight_decay={weightDecay}",
            Buffers = ["param", .. state],
            Kernel = (p, spans) => new KernelStepper(p, state, (t, g, k) =>
            {
                float[] param = k["param"], m = k["exp_avg"], v = k["exp_avg_sq"];
                if (spans)
                {
                    Span<float> max = amsgrad ? k["max_exp_avg_sq"] : Span<float>.Empty;
                    if (decoupled)
                        K.AdamW.Step(param, g, m, v, max, t, Lr, beta1, Beta2, Eps, weightDecay, amsgrad, maximize);
                    else
                        K.Adam.Step(param, g, m, v, max, t, Lr, beta1, Beta2, Eps, weightDecay, amsgrad, maximize);
                    return;
                }
                float[] vmax = amsgrad ? k["max_exp_avg_sq"] : new float[param.Length];
                for (int i = 0; i < param.Length; i++)
                {
                    if (decoupled)
                        K.AdamW.Step(ref param[i], g[i], ref m[i], ref v[i], ref vmax[i], t, Lr, beta1, Beta2, Eps, weightDecay, amsgrad, maximize);
                    else
                        K.Adam.Step(ref param[i], g[i], ref m[i], ref v[i], ref vmax[i], t, Lr, beta1, Beta2, Eps, weightDecay, amsgrad, maximize);
                }
            }),
            // torch/optim/adam.py, _single_tensor_adam (AdamW: decoupled_weight_decay=True)
            Reference = p => new TorchStepper(p, state, (t, g, s) =>
            {
                var param = s["param"];
                var grad = MaybeNegate(g, maximize);
                if (weightDecay != 0)
                {
                    if (decoupled)
                        param.mul_(1 - Lr * weightDecay);
                    else
                        grad = grad.add(param, alpha: weightDecay);
                }
                Lerp_(s["exp_avg"], grad, 1 - beta1);
                s["exp_avg_sq"].mul_(Beta2).addcmul_(grad, grad, value: 1 - Beta2);
                double step = (float)t; // state_steps are float32 tensors; .item() gives a Python float
                double biasCorrection1 = 1 - Math.Pow(beta1, step);
                double biasCorrection2 = 1 - Math.Pow(Beta2, step);
                double stepSize = Lr / biasCorrection1;
                double biasCorrection2Sqrt = Math.Pow(biasCorrection2, 0.5);
                torch.Tensor denom;
                if (amsgrad)
                {
                    s["max_exp_avg_sq"].copy_(torch.maximum(s["max_exp_avg_sq"], s["exp_avg_sq"]));
                    denom = Sqrt(s["max_exp_avg_sq"]).div(biasCorrection2Sqrt).add_(Eps);
                }
                else
                {
                    denom = Sqrt(s["exp_avg_sq"]).div(biasCorrection2Sqrt).add_(Eps);
                }
                param.addcdiv_(s["exp_avg"], denom, value: -stepSize);
            }),
            // TorchSharp's Adam/AdamW update exp_avg with mul_(beta1).add_(grad, 1 - beta1) instead of lerp_: the
            // same value up to rounding, compared with the same tolerance.
            TorchSharpClass = p => new TorchSharpOptimizerStepper(p,
                param => decoupled
                    ? torch.optim.AdamW([param], Lr, beta1, Beta2, Eps, weightDecay, amsgrad, maximize)
                    : torch.optim.Adam([param], Lr, beta1, Beta2, Eps, weightDecay, amsgrad, maximize),
                (o, n) => decoupled
                    ? n switch
                    {
                        "exp_avg" => TorchSharpOptimizerStepper.StateOf<TS.AdamW.State>(o).exp_avg,
                        "exp_avg_sq" => TorchSharpOptimizerStepper.StateOf<TS.AdamW.State>(o).exp_avg_sq,
                        _ => TorchSharpOptimizerStepper.StateOf<TS.AdamW.State>(o).max_exp_avg_sq,
                    }
                    : n switch
                    {
                        "exp_avg" => TorchSharpOptimizerStepper.StateOf<TS.Adam.State>(o).exp_avg,
                        "exp_avg_sq" => TorchSharpOptimizerStepper.StateOf<TS.Adam.State>(o).exp_avg_sq,
                        _ => TorchSharpOptimizerStepper.StateOf<TS.Adam.State>(o).max_exp_avg_sq,
                    }),
        }, output);
    }
}
