using System;

namespace Kernels.Optimizers;

/// <summary>Adamax (Adam with the infinity norm), L2 weight decay and maximize (torch.optim.Adamax).</summary>
/// <remarks>
/// Operation order as PyTorch's single-tensor CPU step: <c>exp_avg.lerp_(grad, 1 - beta1)</c>,
/// <c>torch.maximum(exp_inf.mul_(beta2), grad.abs().add_(eps), out=exp_inf)</c>,
/// <c>param.addcdiv_(exp_avg, exp_inf, value=-lr / (1 - beta1^step))</c>.
/// </remarks>
public static partial class Adamax
{
    /// <summary>One Adamax step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="expAvg">First moment (PyTorch's <c>exp_avg</c>), initially 0.</param>
    /// <param name="expInf">Exponentially weighted infinity norm (PyTorch's <c>exp_inf</c>), initially 0.</param>
    /// <param name="step">Step count, 1 on the first step (bias correction).</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="beta2">Infinity-norm decay.</param>
    /// <param name="eps">Added to the absolute gradient.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient.</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    [UpdateRule]
    public static void Step(
        ref float param, in float grad, ref float expAvg, [NonNegative] ref float expInf,
        int step, double lr = 2e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weightDecay = 0, bool maximize = false)
    {
        float g = maximize ? -grad : grad;
        // grad = grad.add(param, alpha=weight_decay)
        if (weightDecay != 0)
            g = MathF.FusedMultiplyAdd(param, (float)weightDecay, g);
        // exp_avg.lerp_(grad, 1 - beta1)
        float weight = (float)(1 - beta1);
        expAvg = Math.Abs(weight) < 0.5f
            ? MathF.FusedMultiplyAdd(weight, g - expAvg, expAvg)
            : MathF.FusedMultiplyAdd(weight - 1, g - expAvg, g);
        // torch.maximum(exp_inf.mul_(beta2), grad.abs().add_(eps)): NaN propagates, as in MathF.Max
        expInf = MathF.Max(expInf * (float)beta2, MathF.Abs(g) + (float)eps);
        // param.addcdiv_(exp_avg, exp_inf, value=-clr), clr = lr / (1 - beta1^step) in double
        double clr = lr / (1 - Math.Pow(beta1, step));
        param = param + (float)(-clr) * expAvg / expInf;
    }
}
