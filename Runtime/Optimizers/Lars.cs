using System;

namespace Kernels.Optimizers;

/// <summary>
/// LARS, layer-wise adaptive rate scaling (You, Gitman and Ginsburg 2017, "Large Batch Training of Convolutional
/// Networks", Algorithm 1): SGD with momentum whose step for each tensor is scaled by a local learning rate
/// <c>η ‖w‖ / (‖∇L‖ + β ‖w‖)</c>, so every layer moves by a similar fraction of its own norm.
/// </summary>
/// <remarks>
/// Declared with <see cref="Reduce"/>: the two norms are tensor-wide sums in the reduction's fixed order, so the step
/// is bit-identical for any thread count and vector width. As in the common implementations (NVIDIA's LARC, torchlars),
/// the ratio falls back to 1 when either norm is 0 and <c>eps</c> guards the denominator. Usually applied to weight
/// matrices and convolution kernels only: put biases and normalization gains in a group of their own (plain SGD,
/// say). A negative hyperparameter throws <see cref="ArgumentOutOfRangeException"/> before anything is written.
/// </remarks>
public static partial class Lars
{
    /// <summary>One LARS step for one element of a tensor (the norms are over the whole tensor).</summary>
    /// <param name="param">The parameter w, updated in place.</param>
    /// <param name="grad">Its gradient ∇L(w).</param>
    /// <param name="momentumBuffer">The momentum v (starts at 0).</param>
    /// <param name="lr">Global learning rate γ (required).</param>
    /// <param name="momentum">Momentum m.</param>
    /// <param name="weightDecay">Weight decay β, added to the gradient and to the denominator of the local rate.</param>
    /// <param name="trustCoefficient">η: how far a step may move a tensor relative to its norm.</param>
    /// <param name="eps">Added to the denominator of the local rate.</param>
    [UpdateRule]
    public static void Step(
        ref float param, in float grad, ref float momentumBuffer,
        double lr, double momentum = 0.9, double weightDecay = 0, double trustCoefficient = 0.001, double eps = 1e-8)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(lr);
        ArgumentOutOfRangeException.ThrowIfNegative(momentum);
        ArgumentOutOfRangeException.ThrowIfNegative(weightDecay);
        ArgumentOutOfRangeException.ThrowIfNegative(trustCoefficient);
        ArgumentOutOfRangeException.ThrowIfNegative(eps);
        float weightNorm = MathF.Sqrt(Reduce.Sum(param * param));
        float gradNorm = MathF.Sqrt(Reduce.Sum(grad * grad));
        float localLr = weightNorm > 0 && gradNorm > 0
            ? (float)trustCoefficient * weightNorm / (gradNorm + (float)weightDecay * weightNorm + (float)eps)
            : 1f;
        float direction = grad + (float)weightDecay * param;
        momentumBuffer = (float)momentum * momentumBuffer + (float)lr * localLr * direction;
        param -= momentumBuffer;
    }
}
