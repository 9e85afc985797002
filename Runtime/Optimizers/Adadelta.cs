using System;

namespace Kernels.Optimizers;

/// <summary>Adadelta with L2 weight decay and maximize (torch.optim.Adadelta).</summary>
/// <remarks>
/// Operation order as PyTorch's single-tensor CPU step: <c>square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)</c>,
/// <c>std = square_avg.add(eps).sqrt_()</c>, <c>delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)</c>,
/// <c>acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)</c>, <c>param.add_(delta, alpha=-lr)</c>.
/// </remarks>
public static partial class Adadelta
{
    /// <summary>One Adadelta step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="squareAvg">Running average of the squared gradient (PyTorch's <c>square_avg</c>), initially 0.</param>
    /// <param name="accDelta">Running average of the squared update (PyTorch's <c>acc_delta</c>), initially 0.</param>
    /// <param name="lr">Coefficient that scales the update.</param>
    /// <param name="rho">Decay of the running averages.</param>
    /// <param name="eps">Added inside both square roots.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient.</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    [UpdateRule]
    public static void Step(
        ref float param, in float grad, [NonNegative] ref float squareAvg, [NonNegative] ref float accDelta,
        double lr = 1.0, double rho = 0.9, double eps = 1e-6, double weightDecay = 0, bool maximize = false)
    {
        float g = maximize ? -grad : grad;
        // grad = grad.add(param, alpha=weight_decay)
        if (weightDecay != 0)
            g = MathF.FusedMultiplyAdd(param, (float)weightDecay, g);
        // square_avg.mul_(rho).addcmul_(grad, grad, value=1 - rho)
        squareAvg = MathF.FusedMultiplyAdd((float)(1 - rho) * g, g, squareAvg * (float)rho);
        // std = square_avg.add(eps).sqrt_(); delta = acc_delta.add(eps).sqrt_().div_(std).mul_(grad)
        float std = MathF.Sqrt(squareAvg + (float)eps);
        float delta = MathF.Sqrt(accDelta + (float)eps) / std * g;
        // acc_delta.mul_(rho).addcmul_(delta, delta, value=1 - rho)
        accDelta = MathF.FusedMultiplyAdd((float)(1 - rho) * delta, delta, accDelta * (float)rho);
        // param.add_(delta, alpha=-lr)
        param = MathF.FusedMultiplyAdd(delta, (float)(-lr), param);
    }
}
