using System;

namespace Kernels.Optimizers;

/// <summary>Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): sign of an interpolated momentum.</summary>
public static partial class Lion
{
    /// <summary>One Lion step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="expAvg">Momentum (lion-pytorch's <c>exp_avg</c>).</param>
    /// <param name="lr">Learning rate (typically 3-10x smaller than AdamW's).</param>
    /// <param name="beta1">Interpolation factor for the update direction.</param>
    /// <param name="beta2">Momentum decay.</param>
    /// <param name="weightDecay">Decoupled weight decay (typically 3-10x larger than AdamW's).</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    [UpdateRule]
    public static void Step(
        ref float param, in float grad, ref float expAvg,
        double lr = 1e-4, double beta1 = 0.9, double beta2 = 0.99, double weightDecay = 0, bool maximize = false)
    {
        float g = maximize ? -grad : grad;
        param = param * (float)(1 - lr * weightDecay);
        float update = expAvg * (float)beta1 + g * (float)(1 - beta1);
        // sign(update), with sign(0) = 0 and NaN kept NaN (torch.sign); MathF.Sign would throw on NaN.
        float direction = update > 0 ? 1f : update < 0 ? -1f : update;
        param = param - (float)lr * direction;
        expAvg = expAvg * (float)beta2 + g * (float)(1 - beta2);
    }
}
