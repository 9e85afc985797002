using System;
using System.Collections.Generic;

namespace Kernels.Optimizers;

/// <summary>
/// LAMB, Layer-wise Adaptive Moments for Batch training (You et al. 2020, as NVIDIA apex's <c>FusedLAMB</c>): Adam's
/// moments and bias correction, decoupled weight decay inside the update, and a per-tensor trust ratio
/// ‖p‖ / ‖u‖ that scales each tensor's step:
/// <code>
/// m = beta1 · m + (1 − beta1) · g;  v = beta2 · v + (1 − beta2) · g²
/// u = (m / bc1) / (sqrt(v / bc2) + eps) + weightDecay · p
/// ratio = ‖p‖ &gt; 0 and ‖u‖ &gt; 0 ? ‖p‖ / ‖u‖ : 1          (norms over the whole tensor)
/// p = p − lr · ratio · u
/// </code>
/// </summary>
/// <remarks>
/// <para>
/// <see cref="Step(ref float, in float, ref float, ref float, int, double, double, double, double, double, bool)"/> is
/// the whole step as one rule: the trust ratio's norms are <see cref="Reduce.Sum(float)"/>s, so the generator runs it
/// as a reduction pass (moments and <c>u</c> computed, nothing written, ‖p‖² and ‖u‖² summed in the fixed order: the
/// same bits for any thread count and vector width) and an update pass (everything again, then written). The optimizer
/// object, <c>Lamb.Optimizer</c>, runs it.
/// </para>
/// <para>
/// <c>UpdateMoments</c> and <c>ApplyUpdate</c> are the same step as two element-wise rules around a reduction the
/// caller makes (the moments and <c>u</c> written by the first, the ratio passed to the second): the form with GPU
/// kernels until reductions run on the GPU.
/// </para>
/// </remarks>
public static partial class Lamb
{
    /// <summary>One LAMB step for one element of a tensor (the norms of the trust ratio are over the whole tensor).</summary>
    /// <param name="param">The parameter, updated.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="expAvg">First moment, updated.</param>
    /// <param name="expAvgSq">Second moment, updated.</param>
    /// <param name="step">The step count, from 1.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="beta2">Second-moment decay.</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">Decoupled weight decay, inside <c>u</c>.</param>
    /// <param name="biasCorrection">Divide the moments by <c>1 − beta^step</c>.</param>
    [UpdateRule(GenerateOptimizer = false)]
    public static void Step(
        ref float param, in float grad, ref float expAvg, ref float expAvgSq,
        int step, double lr, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-6, double weightDecay = 0.01, bool biasCorrection = true)
    {
        expAvg = MathF.FusedMultiplyAdd((float)beta1, expAvg, (float)(1 - beta1) * grad);
        expAvgSq = MathF.FusedMultiplyAdd((float)beta2, expAvgSq, (float)(1 - beta2) * grad * grad);
        float correction1 = biasCorrection ? (float)(1 - Math.Pow(beta1, step)) : 1f;
        float correction2 = biasCorrection ? (float)(1 - Math.Pow(beta2, step)) : 1f;
        float update = Update(expAvg, expAvgSq, param, correction1, correction2, (float)eps, (float)weightDecay);
        float paramNorm = MathF.Sqrt(Reduce.Sum(param * param));
        float updateNorm = MathF.Sqrt(Reduce.Sum(update * update));
        float ratio = paramNorm > 0 && updateNorm > 0 ? paramNorm / updateNorm : 1f;
        param = MathF.FusedMultiplyAdd(-(float)lr * ratio, update, param);
    }

    /// <summary>
    /// Pass 1 for one element: the moments, then the update <c>u</c> (written to <paramref name="update"/>, which the
    /// optimizer sums the squares of).
    /// </summary>
    /// <param name="expAvg">First moment, updated.</param>
    /// <param name="grad">The gradient.</param>
    /// <param name="expAvgSq">Second moment, updated.</param>
    /// <param name="update">Receives <c>u</c>.</param>
    /// <param name="param">The parameter (read only: its weight-decay term).</param>
    /// <param name="step">The step count, from 1.</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="beta2">Second-moment decay.</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">Decoupled weight decay, inside <c>u</c>.</param>
    /// <param name="biasCorrection">Divide the moments by <c>1 − beta^step</c>.</param>
    [UpdateRule(GenerateOptimizer = false)]
    public static void UpdateMoments(
        ref float expAvg, in float grad, ref float expAvgSq, ref float update, ref float param,
        int step, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-6, double weightDecay = 0.01, bool biasCorrection = true)
    {
        expAvg = MathF.FusedMultiplyAdd((float)beta1, expAvg, (float)(1 - beta1) * grad);
        expAvgSq = MathF.FusedMultiplyAdd((float)beta2, expAvgSq, (float)(1 - beta2) * grad * grad);
        float correction1 = biasCorrection ? (float)(1 - Math.Pow(beta1, step)) : 1f;
        float correction2 = biasCorrection ? (float)(1 - Math.Pow(beta2, step)) : 1f;
        update = Update(expAvg, expAvgSq, param, correction1, correction2, (float)eps, (float)weightDecay);
    }

    /// <summary>
    /// Pass 2 for one element: <c>u</c> again from the new moments (the same operations as pass 1, so the same bits),
    /// then <c>p −= lr · ratio · u</c>.
    /// </summary>
    /// <param name="param">The parameter, updated.</param>
    /// <param name="expAvg">First moment (after pass 1).</param>
    /// <param name="expAvgSq">Second moment (after pass 1).</param>
    /// <param name="step">The step count, from 1.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="trustRatio">The tensor's ‖p‖ / ‖u‖ (or 1).</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="beta2">Second-moment decay.</param>
    /// <param name="eps">Denominator term.</param>
    /// <param name="weightDecay">Decoupled weight decay, inside <c>u</c>.</param>
    /// <param name="biasCorrection">Divide the moments by <c>1 − beta^step</c>.</param>
    [UpdateRule(GenerateOptimizer = false)]
    public static void ApplyUpdate(
        ref float param, in float expAvg, in float expAvgSq, int step, double lr, double trustRatio,
        double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-6, double weightDecay = 0.01, bool biasCorrection = true)
    {
        float correction1 = biasCorrection ? (float)(1 - Math.Pow(beta1, step)) : 1f;
        float correction2 = biasCorrection ? (float)(1 - Math.Pow(beta2, step)) : 1f;
        float update = Update(expAvg, expAvgSq, param, correction1, correction2, (float)eps, (float)weightDecay);
        param = MathF.FusedMultiplyAdd((float)(-lr * trustRatio), update, param);
    }

    /// <summary><c>u = (m / bc1) / (sqrt(v / bc2) + eps) + weightDecay · p</c>, shared by both passes (inlined into each).</summary>
    private static float Update(float expAvg, float expAvgSq, float param, float correction1, float correction2, float eps, float weightDecay) =>
        MathF.FusedMultiplyAdd(weightDecay, param, expAvg / correction1 / (MathF.Sqrt(expAvgSq / correction2) + eps));

    /// <summary>The trust ratio from the squared norms (apex's rule: 1 when either norm is 0).</summary>
    /// <param name="paramSquaredNorm">‖p‖².</param>
    /// <param name="updateSquaredNorm">‖u‖².</param>
    /// <returns><c>‖p‖ / ‖u‖</c>, or 1.</returns>
    public static double TrustRatio(double paramSquaredNorm, double updateSquaredNorm) =>
        paramSquaredNorm > 0 && updateSquaredNorm > 0 ? Math.Sqrt(paramSquaredNorm) / Math.Sqrt(updateSquaredNorm) : 1;
}
