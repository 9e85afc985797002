using System;

namespace Kernels.Optimizers;

/// <summary>NAdam (Adam with Nesterov momentum, Dozat 2016) with momentum decay, L2 or decoupled weight decay and maximize (torch.optim.NAdam).</summary>
/// <remarks>
/// <para>
/// The running product of the momentum factors <c>mu_1 * … * mu_t</c> is one value per tensor that PyTorch carries
/// across steps (state <c>mu_product</c>). It is a uniform: the caller carries it and passes it to every step, updated
/// first with <see cref="NextMuProduct"/> (or computed from scratch with <see cref="MuProduct"/>):
/// </para>
/// <code>
/// double muProduct = 1;
/// for (int step = 1; ; step++)
/// {
///     muProduct = NAdam.NextMuProduct(muProduct, step);
///     NAdam.Step(param, grad, expAvg, expAvgSq, step, muProduct);
/// }
/// </code>
/// <para>
/// PyTorch keeps <c>mu_product</c> in a float32 tensor (the default scalar dtype), so the helpers round it to float
/// after every multiplication, exactly as <c>mu_product *= mu</c> does there.
/// </para>
/// </remarks>
public static partial class NAdam
{
    /// <summary>The momentum factor <c>mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentumDecay))</c> of step <paramref name="step"/>.</summary>
    /// <param name="step">Step count, 1 on the first step.</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="momentumDecay">PyTorch's <c>momentum_decay</c>.</param>
    /// <returns>mu_t, in double.</returns>
    public static double Mu(long step, double beta1 = 0.9, double momentumDecay = 4e-3)
        => beta1 * (1.0 - 0.5 * Math.Pow(0.96, step * momentumDecay));

    /// <summary>The running product after step <paramref name="step"/>: <paramref name="previous"/> (the product after step − 1; 1 before the first step) times <c>mu_step</c>, rounded to float as PyTorch's float32 state is.</summary>
    /// <param name="previous">The product after the previous step; 1 before the first step.</param>
    /// <param name="step">Step count of the step about to run, 1 on the first step.</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="momentumDecay">PyTorch's <c>momentum_decay</c>.</param>
    /// <returns>The value to pass as <c>muProduct</c> to <see cref="Step(ref float, in float, ref float, ref float, int, double, double, double, double, double, double, double, bool, bool)"/> for this step.</returns>
    public static double NextMuProduct(double previous, long step, double beta1 = 0.9, double momentumDecay = 4e-3)
        => (float)previous * (float)Mu(step, beta1, momentumDecay);

    /// <summary>The running product <c>mu_1 * … * mu_step</c> computed from scratch (O(step); prefer carrying it with <see cref="NextMuProduct"/>).</summary>
    /// <param name="step">Step count, 1 on the first step.</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="momentumDecay">PyTorch's <c>momentum_decay</c>.</param>
    /// <returns>The value to pass as <c>muProduct</c> for step <paramref name="step"/>.</returns>
    public static double MuProduct(long step, double beta1 = 0.9, double momentumDecay = 4e-3)
    {
        double product = 1;
        for (long t = 1; t <= step; t++)
            product = NextMuProduct(product, t, beta1, momentumDecay);
        return product;
    }

    /// <summary>One NAdam step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="expAvg">First moment (PyTorch's <c>exp_avg</c>), initially 0.</param>
    /// <param name="expAvgSq">Second moment (PyTorch's <c>exp_avg_sq</c>), initially 0.</param>
    /// <param name="step">Step count, 1 on the first step.</param>
    /// <param name="muProduct">Running product <c>mu_1 * … * mu_step</c> including this step's factor (PyTorch's <c>mu_product</c> after its update): carry it with <see cref="NextMuProduct"/>.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="beta2">Second-moment decay.</param>
    /// <param name="eps">Added to the denominator.</param>
    /// <param name="weightDecay">Weight decay: an L2 penalty added to the gradient, or decoupled (<c>param *= 1 - lr * weightDecay</c>) when <paramref name="decoupledWeightDecay"/> is set.</param>
    /// <param name="momentumDecay">PyTorch's <c>momentum_decay</c> (psi): how fast mu_t approaches beta1.</param>
    /// <param name="decoupledWeightDecay">Decoupled (AdamW-style) weight decay (PyTorch's <c>decoupled_weight_decay</c>, NAdamW).</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    [UpdateRule]
    public static void Step(
        ref float param, in float grad, ref float expAvg, [NonNegative] ref float expAvgSq,
        int step, [TensorState(nameof(NextMuProduct), Initial = 1)] double muProduct, double lr = 2e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8,
        double weightDecay = 0, double momentumDecay = 4e-3, bool decoupledWeightDecay = false, bool maximize = false)
    {
        float g = maximize ? -grad : grad;
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        if (weightDecay != 0)
        {
            if (decoupledWeightDecay)
                param = param * (float)(1 - lr * weightDecay);              // param.mul_(1 - lr * weight_decay)
            else
                g = MathF.FusedMultiplyAdd(param, (float)weightDecay, g);   // grad.add(param, alpha=weight_decay)
        }
        // mu_t and mu_{t+1}, in double
        double mu = beta1 * (1.0 - 0.5 * Math.Pow(0.96, step * momentumDecay));
        double muNext = beta1 * (1.0 - 0.5 * Math.Pow(0.96, (step + 1) * momentumDecay));
        double muProductNext = muProduct * muNext;

        // exp_avg.lerp_(grad, 1 - beta1)
        float weight = (float)(1 - beta1);
        expAvg = Math.Abs(weight) < 0.5f
            ? MathF.FusedMultiplyAdd(weight, g - expAvg, expAvg)
            : MathF.FusedMultiplyAdd(weight - 1, g - expAvg, g);
        // exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
        expAvgSq = MathF.FusedMultiplyAdd((float)(1 - beta2) * g, g, expAvgSq * (float)beta2);
        // denom = exp_avg_sq.div(bias_correction2).sqrt().add_(eps)
        float denom = MathF.Sqrt(expAvgSq / (float)biasCorrection2) + (float)eps;
        // param.addcdiv_(grad, denom, value=-lr * (1 - mu) / (1 - mu_product))
        param = param + (float)(-lr * (1.0 - mu) / (1.0 - muProduct)) * g / denom;
        // param.addcdiv_(exp_avg, denom, value=(-lr * mu_next) / (1 - mu_product_next))
        param = param + (float)((-lr * muNext) / (1.0 - muProductNext)) * expAvg / denom;
    }
}
