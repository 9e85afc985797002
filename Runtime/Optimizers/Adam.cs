using System;

namespace Kernels.Optimizers;

/// <summary>Adam with L2 weight decay, AMSGrad and maximize (torch.optim.Adam).</summary>
public static partial class Adam
{
    /// <summary>One Adam step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="expAvg">First moment (PyTorch's <c>exp_avg</c>).</param>
    /// <param name="expAvgSq">Second moment (PyTorch's <c>exp_avg_sq</c>).</param>
    /// <param name="maxExpAvgSq">Running maximum of the second moment; only read and written when <paramref name="amsgrad"/> is set (pass an empty span otherwise).</param>
    /// <param name="step">Step count, 1 on the first step (bias corrections).</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="beta2">Second-moment decay.</param>
    /// <param name="eps">Added to the denominator.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient.</param>
    /// <param name="amsgrad">Use the running maximum of the second moment.</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    [UpdateRule]
    public static void Step(
        ref float param, in float grad, ref float expAvg, ref float expAvgSq, ref float maxExpAvgSq,
        int step, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weightDecay = 0, bool amsgrad = false, bool maximize = false)
    {
        float g = maximize ? -grad : grad;
        if (weightDecay != 0)
            g = g + (float)weightDecay * param;

        // exp_avg.lerp_(grad, 1 - beta1): PyTorch's vectorized CPU lerp is one fused multiply-add.
        float weight = (float)(1 - beta1);
        expAvg = Math.Abs(weight) < 0.5f
            ? MathF.FusedMultiplyAdd(weight, g - expAvg, expAvg)
            : MathF.FusedMultiplyAdd(weight - 1, g - expAvg, g);
        expAvgSq = expAvgSq * (float)beta2 + (float)(1 - beta2) * g * g;

        // Bias corrections in double, as PyTorch computes them from Python floats.
        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2Sqrt = Math.Sqrt(1 - Math.Pow(beta2, step));
        float denom;
        if (amsgrad)
        {
            maxExpAvgSq = MathF.Max(maxExpAvgSq, expAvgSq);
            denom = MathF.Sqrt(maxExpAvgSq) / (float)biasCorrection2Sqrt + (float)eps;
        }
        else
        {
            denom = MathF.Sqrt(expAvgSq) / (float)biasCorrection2Sqrt + (float)eps;
        }
        param = param + (float)(-lr / biasCorrection1) * expAvg / denom;
    }
}
