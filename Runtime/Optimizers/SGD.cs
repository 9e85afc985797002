using System;

namespace Kernels.Optimizers;

/// <summary>Stochastic gradient descent with momentum, dampening, Nesterov momentum, L2 weight decay and maximize (torch.optim.SGD).</summary>
/// <remarks>
/// Matches PyTorch's single-tensor CPU step operation for operation: <c>Tensor.add(other, alpha)</c> is one fused
/// multiply-add in ATen's CPU kernel, so each <c>add(…, alpha)</c> below is <see cref="MathF.FusedMultiplyAdd"/>;
/// every hyperparameter is rounded to float once, where it meets a tensor.
/// </remarks>
public static partial class SGD
{
    /// <summary>One SGD step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="momentumBuffer">PyTorch's <c>momentum_buffer</c>; only read and written when <paramref name="momentum"/> is not 0 (pass an empty span then).</param>
    /// <param name="lr">Learning rate (required, as in PyTorch).</param>
    /// <param name="step">1 on the first step: the first step copies the (decayed, maximized) gradient into the momentum buffer, as PyTorch does while <c>momentum_buffer</c> is still <c>None</c>.</param>
    /// <param name="momentum">Momentum factor.</param>
    /// <param name="dampening">Dampening for momentum (not applied on the first step).</param>
    /// <param name="weightDecay">L2 penalty added to the gradient.</param>
    /// <param name="nesterov">Nesterov momentum (needs momentum &gt; 0 and dampening 0).</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    [UpdateRule]
    public static void Step(
        ref float param, in float grad, ref float momentumBuffer,
        double lr, int step, double momentum = 0, double dampening = 0, double weightDecay = 0,
        bool nesterov = false, bool maximize = false)
    {
        float g = maximize ? -grad : grad;
        // grad = grad.add(param, alpha=weight_decay)
        if (weightDecay != 0)
            g = MathF.FusedMultiplyAdd(param, (float)weightDecay, g);
        if (momentum != 0)
        {
            // buf = clone(grad) on the first step, else buf.mul_(momentum).add_(grad, alpha=1 - dampening)
            if (step == 1)
                momentumBuffer = g;
            else
                momentumBuffer = MathF.FusedMultiplyAdd(g, (float)(1 - dampening), momentumBuffer * (float)momentum);
            // grad = grad.add(buf, alpha=momentum) (Nesterov) or buf
            g = nesterov ? MathF.FusedMultiplyAdd(momentumBuffer, (float)momentum, g) : momentumBuffer;
        }
        // param.add_(grad, alpha=-lr)
        param = MathF.FusedMultiplyAdd(g, (float)(-lr), param);
    }
}
