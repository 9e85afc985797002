using System;

namespace Kernels.Optimizers;

/// <summary>
/// Sophia-G (Liu et al. 2023, "Sophia: A Scalable Stochastic Second-order Optimizer for Language Model
/// Pre-training"; Liuhong99/Sophia's <c>SophiaG</c>): clipped, Hessian-preconditioned momentum with decoupled weight
/// decay, and a Gauss-Newton-Bartlett estimate of the Hessian diagonal refreshed every k steps.
/// </summary>
/// <remarks>
/// Two rules share the <c>hessian</c> state buffer: <see cref="Step(ref float, in float, ref float, in float, double, double, double, double, double, bool)"/> on every step (it only reads
/// the estimate) and <see cref="UpdateHessian(ref float, in float, double)"/> every k steps (10 in the paper), with the gradient of
/// the loss on labels sampled from the model's own output distribution. A typical loop:
/// <code>
/// if (iteration % k == k - 1) { /* backward on sampled labels into hessianGrad */ SophiaG.UpdateHessian(hessian, hessianGrad); }
/// SophiaG.Step(param, grad, expAvg, hessian, batchSize: tokensPerBatch);
/// </code>
/// </remarks>
public static partial class SophiaG
{
    /// <summary>One Sophia-G step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="expAvg">Momentum (the reference's <c>exp_avg</c>), initially 0.</param>
    /// <param name="hessian">The Hessian-diagonal estimate maintained by <see cref="UpdateHessian(ref float, in float, double)"/> (the reference's <c>hessian</c>), initially 0; read only here.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="beta1">Momentum decay.</param>
    /// <param name="rho">Clipping scale: the preconditioned step <c>|m| / (rho * batchSize * h)</c> is clipped to 1.</param>
    /// <param name="weightDecay">Decoupled weight decay: <c>param *= 1 - lr * weightDecay</c> before the update.</param>
    /// <param name="batchSize">The reference's <c>bs</c>: the number of samples (tokens) per batch, which scales the Gauss-Newton-Bartlett estimate.</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    [UpdateRule(GenerateOptimizer = false)]
    public static void Step(
        ref float param, in float grad, ref float expAvg, in float hessian,
        double lr = 1e-4, double beta1 = 0.965, double rho = 0.04, double weightDecay = 1e-1, double batchSize = 5120,
        bool maximize = false)
    {
        float g = maximize ? -grad : grad;
        // param.mul_(1 - lr * weight_decay)
        if (weightDecay != 0)
            param = param * (float)(1 - lr * weightDecay);
        // exp_avg.mul_(beta1).add_(grad, alpha=1 - beta1)
        expAvg = MathF.FusedMultiplyAdd(g, (float)(1 - beta1), expAvg * (float)beta1);
        // ratio = (exp_avg.abs() / (rho * bs * hess + 1e-15)).clamp(None, 1)
        float ratio = MathF.Min(MathF.Abs(expAvg) / ((float)(rho * batchSize) * hessian + 1e-15f), 1f);
        // param.addcmul_(exp_avg.sign(), ratio, value=-lr)
        float direction = expAvg > 0 ? 1f : expAvg < 0 ? -1f : 0f;
        param = MathF.FusedMultiplyAdd((float)(-lr) * direction, ratio, param);
    }

    /// <summary>Refreshes the Hessian-diagonal estimate for one element (the reference's <c>update_hessian</c>): <c>h = beta2 * h + (1 - beta2) * g * g</c>.</summary>
    /// <param name="hessian">The Hessian-diagonal estimate, updated in place; initially 0.</param>
    /// <param name="grad">The gradient of the loss on labels sampled from the model (Gauss-Newton-Bartlett estimator).</param>
    /// <param name="beta2">Decay of the estimate.</param>
    [UpdateRule(GenerateOptimizer = false)]
    public static void UpdateHessian(ref float hessian, in float grad, double beta2 = 0.99)
    {
        // hessian.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        hessian = MathF.FusedMultiplyAdd((float)(1 - beta2) * grad, grad, hessian * (float)beta2);
    }
}
