using System;

namespace Kernels.Optimizers;

/// <summary>Rprop (resilient backpropagation, Riedmiller and Braun 1993) with maximize (torch.optim.Rprop).</summary>
/// <remarks>
/// PyTorch's <c>lr</c> is only the initial per-element step size: the caller fills <c>stepSize</c> with it before the
/// first step (<see cref="DefaultLearningRate"/>, PyTorch's default) and <c>prev</c> with 0. Operation order as
/// PyTorch's single-tensor CPU step: <c>sign = grad.mul(prev).sign()</c> mapped to etaplus / etaminus / 1,
/// <c>step_size.mul_(sign).clamp_(min, max)</c>, the gradient zeroed where the sign flipped,
/// <c>param.addcmul_(grad.sign(), step_size, value=-1)</c>, <c>prev.copy_(grad)</c>.
/// </remarks>
public static partial class Rprop
{
    /// <summary>PyTorch's default <c>lr</c>: the initial value of every element of <c>stepSize</c>.</summary>
    public const float DefaultLearningRate = 1e-2f;

    /// <summary>One Rprop step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="prev">The previous step's gradient, zeroed where its sign flipped (PyTorch's <c>prev</c>), initially 0.</param>
    /// <param name="stepSize">Per-element step size (PyTorch's <c>step_size</c>); before the first step the caller fills it with PyTorch's <c>lr</c> (default 1e-2).</param>
    /// <param name="etaMinus">Multiplicative decrease factor when the gradient's sign flips (PyTorch's <c>etas[0]</c>).</param>
    /// <param name="etaPlus">Multiplicative increase factor when it keeps its sign (PyTorch's <c>etas[1]</c>).</param>
    /// <param name="stepSizeMin">Smallest step size (PyTorch's <c>step_sizes[0]</c>).</param>
    /// <param name="stepSizeMax">Largest step size (PyTorch's <c>step_sizes[1]</c>).</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    [UpdateRule]
    [Hyperparameter("lr", 1e-2)]
    public static void Step(
        ref float param, in float grad, ref float prev, [NonNegative] [InitialValue("lr")] ref float stepSize,
        double etaMinus = 0.5, double etaPlus = 1.2, double stepSizeMin = 1e-6, double stepSizeMax = 50, bool maximize = false)
    {
        float g = maximize ? -grad : grad;
        // sign = grad.mul(prev).sign(); sign[sign > 0] = etaplus; sign[sign < 0] = etaminus; sign[sign == 0] = 1
        float product = g * prev;
        float factor = product > 0 ? (float)etaPlus : product < 0 ? (float)etaMinus : 1f;
        // step_size.mul_(sign).clamp_(step_size_min, step_size_max)
        stepSize = MathF.Min(MathF.Max(stepSize * factor, (float)stepSizeMin), (float)stepSizeMax);
        // grad[sign.eq(etaminus)] = 0
        float masked = factor == (float)etaMinus ? 0f : g;
        // param.addcmul_(grad.sign(), step_size, value=-1)
        float direction = masked > 0 ? 1f : masked < 0 ? -1f : 0f;
        param = MathF.FusedMultiplyAdd(-direction, stepSize, param);
        // prev.copy_(grad)
        prev = masked;
    }
}
