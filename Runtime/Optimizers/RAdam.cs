using System;

namespace Kernels.Optimizers;

/// <summary>RAdam (Rectified Adam, Liu et al. 2019) with L2 or decoupled weight decay and maximize (torch.optim.RAdam).</summary>
/// <remarks>
/// While the approximated SMA length <c>rho_t</c> is at most 5 (the first steps) the update is bias-corrected
/// momentum SGD; after that, Adam's adaptive step times the variance rectification term. Operation order as PyTorch's
/// single-tensor CPU step: <c>exp_avg / bias_correction1 * lr * (sqrt(bias_correction2) / (exp_avg_sq.sqrt() + eps)) * rect</c>,
/// where the scalar-by-tensor division is <c>reciprocal() * scalar</c> (Tensor.__rtruediv__).
/// </remarks>
public static partial class RAdam
{
    /// <summary>One RAdam step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="expAvg">First moment (PyTorch's <c>exp_avg</c>), initially 0.</param>
    /// <param name="expAvgSq">Second moment (PyTorch's <c>exp_avg_sq</c>), initially 0.</param>
    /// <param name="step">Step count, 1 on the first step.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="beta2">Second-moment decay.</param>
    /// <param name="eps">Added to the denominator.</param>
    /// <param name="weightDecay">Weight decay: an L2 penalty added to the gradient, or decoupled (<c>param *= 1 - lr * weightDecay</c>) when <paramref name="decoupledWeightDecay"/> is set.</param>
    /// <param name="decoupledWeightDecay">Decoupled (AdamW-style) weight decay (PyTorch's <c>decoupled_weight_decay</c>).</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    [UpdateRule]
    public static void Step(
        ref float param, in float grad, ref float expAvg, [NonNegative] ref float expAvgSq,
        int step, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weightDecay = 0, bool decoupledWeightDecay = false, bool maximize = false)
    {
        float g = maximize ? -grad : grad;
        if (weightDecay != 0)
        {
            if (decoupledWeightDecay)
                param = param * (float)(1 - lr * weightDecay);              // param.mul_(1 - lr * weight_decay)
            else
                g = MathF.FusedMultiplyAdd(param, (float)weightDecay, g);   // grad.add(param, alpha=weight_decay)
        }
        // exp_avg.lerp_(grad, 1 - beta1)
        float weight = (float)(1 - beta1);
        expAvg = Math.Abs(weight) < 0.5f
            ? MathF.FusedMultiplyAdd(weight, g - expAvg, expAvg)
            : MathF.FusedMultiplyAdd(weight - 1, g - expAvg, g);
        // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        expAvgSq = MathF.FusedMultiplyAdd((float)(1 - beta2) * g, g, expAvgSq * (float)beta2);

        // Bias corrections and the SMA lengths, in double.
        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        double rhoInf = 2 / (1 - beta2) - 1;
        double rhoT = rhoInf - 2.0 * step * Math.Pow(beta2, step) / biasCorrection2;

        // bias_corrected_exp_avg = exp_avg / bias_correction1
        float biasCorrectedExpAvg = expAvg / (float)biasCorrection1;
        if (rhoT > 5.0)
        {
            double rect = Math.Pow((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT), 0.5);
            // adaptive_lr = bias_correction2 ** 0.5 / exp_avg_sq.sqrt().add_(eps)  (= reciprocal() * scalar)
            float adaptiveLr = 1f / (MathF.Sqrt(expAvgSq) + (float)eps) * (float)Math.Pow(biasCorrection2, 0.5);
            // param.add_(bias_corrected_exp_avg * lr * adaptive_lr * rect, alpha=-1.0)
            param = param - biasCorrectedExpAvg * (float)lr * adaptiveLr * (float)rect;
        }
        else
        {
            // param.add_(bias_corrected_exp_avg * lr, alpha=-1.0)
            param = param - biasCorrectedExpAvg * (float)lr;
        }
    }
}
