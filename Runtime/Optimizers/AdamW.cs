using System;

namespace Kernels.Optimizers;

/// <summary>Adam with decoupled weight decay, AMSGrad and maximize (torch.optim.AdamW).</summary>
/// <remarks>The same operation order as <see cref="Adam"/>, with <c>param.mul_(1 - lr * weight_decay)</c> first instead of the L2 term.</remarks>
public static partial class AdamW
{
    /// <summary>One AdamW step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="expAvg">First moment (PyTorch's <c>exp_avg</c>), initially 0.</param>
    /// <param name="expAvgSq">Second moment (PyTorch's <c>exp_avg_sq</c>), initially 0.</param>
    /// <param name="maxExpAvgSq">Running maximum of the second moment (PyTorch's <c>max_exp_avg_sq</c>), initially 0; only read and written when <paramref name="amsgrad"/> is set (pass an empty span otherwise).</param>
    /// <param name="step">Step count, 1 on the first step (bias corrections).</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="beta2">Second-moment decay.</param>
    /// <param name="eps">Added to the denominator.</param>
    /// <param name="weightDecay">Decoupled weight decay: <c>param *= 1 - lr * weightDecay</c> before the update (PyTorch's default 1e-2).</param>
    /// <param name="amsgrad">Use the running maximum of the second moment.</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    [UpdateRule]
    public static void Step(
        ref float param, in float grad, ref float expAvg, [NonNegative] ref float expAvgSq, [NonNegative] ref float maxExpAvgSq,
        int step, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weightDecay = 1e-2, bool amsgrad = false, bool maximize = false)
    {
        float g = maximize ? -grad : grad;
        // param.mul_(1 - lr * weight_decay)
        if (weightDecay != 0)
            param = param * (float)(1 - lr * weightDecay);

        // exp_avg.lerp_(grad, 1 - beta1)
        float weight = (float)(1 - beta1);
        expAvg = Math.Abs(weight) < 0.5f
            ? MathF.FusedMultiplyAdd(weight, g - expAvg, expAvg)
            : MathF.FusedMultiplyAdd(weight - 1, g - expAvg, g);
        // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        expAvgSq = MathF.FusedMultiplyAdd((float)(1 - beta2) * g, g, expAvgSq * (float)beta2);

        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2Sqrt = Math.Pow(1 - Math.Pow(beta2, step), 0.5);
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
        // param.addcdiv_(exp_avg, denom, value=-lr / bias_correction1)
        param = param + (float)(-lr / biasCorrection1) * expAvg / denom;
    }
}
