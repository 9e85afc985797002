using System;

namespace Kernels.Optimizers;

/// <summary>Lion (Chen et al. 2023, "Symbolic Discovery of Optimization Algorithms"): sign of an interpolated momentum.</summary>
/// <remarks>
/// Follows lucidrains/lion-pytorch's update: decoupled weight decay, the sign of
/// <c>beta1 * m + (1 - beta1) * g</c>, then the momentum update <c>m = beta2 * m + (1 - beta2) * g</c>. The torch
/// operations it is written with (<c>mul_</c> then <c>add(…, alpha)</c>) are a multiply and a fused multiply-add on the CPU.
/// </remarks>
public static partial class Lion
{
    /// <summary>One Lion step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="expAvg">Momentum (lion-pytorch's <c>exp_avg</c>), initially 0.</param>
    /// <param name="lr">Learning rate (typically 3-10x smaller than AdamW's).</param>
    /// <param name="beta1">Interpolation factor for the update direction.</param>
    /// <param name="beta2">Momentum decay.</param>
    /// <param name="weightDecay">Decoupled weight decay (typically 3-10x larger than AdamW's).</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it (not in lion-pytorch; negates the gradient first, as torch.optim does).</param>
    [UpdateRule]
    public static void Step(
        ref float param, in float grad, ref float expAvg,
        double lr = 1e-4, double beta1 = 0.9, double beta2 = 0.99, double weightDecay = 0, bool maximize = false)
    {
        float g = maximize ? -grad : grad;
        // p.mul_(1 - lr * wd)
        if (weightDecay != 0)
            param = param * (float)(1 - lr * weightDecay);
        // update = exp_avg.clone().mul_(beta1).add(grad, alpha=1 - beta1).sign_()
        float update = MathF.FusedMultiplyAdd(g, (float)(1 - beta1), expAvg * (float)beta1);
        // torch.sign: sign(0) = 0 and sign(NaN) = 0; MathF.Sign would throw on NaN.
        float direction = update > 0 ? 1f : update < 0 ? -1f : 0f;
        // p.add_(update, alpha=-lr)
        param = MathF.FusedMultiplyAdd(direction, (float)(-lr), param);
        // exp_avg.mul_(beta2).add_(grad, alpha=1 - beta2)
        expAvg = MathF.FusedMultiplyAdd(g, (float)(1 - beta2), expAvg * (float)beta2);
    }
}
