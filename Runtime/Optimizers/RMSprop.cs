using System;

namespace Kernels.Optimizers;

/// <summary>RMSprop with centering, momentum, L2 weight decay and maximize (torch.optim.RMSprop).</summary>
/// <remarks>
/// eps is added outside the square root, as in PyTorch (TensorFlow-style variants put it inside). Operation order as
/// PyTorch's single-tensor CPU step: <c>square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)</c>,
/// <c>grad_avg.lerp_(grad, 1 - alpha)</c>, <c>avg = square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_().add_(eps)</c>,
/// then either <c>buf.mul_(momentum).addcdiv_(grad, avg); param.add_(buf, alpha=-lr)</c> or
/// <c>param.addcdiv_(grad, avg, value=-lr)</c>.
/// </remarks>
public static partial class RMSprop
{
    /// <summary>One RMSprop step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="squareAvg">Running average of the squared gradient (PyTorch's <c>square_avg</c>), initially 0.</param>
    /// <param name="gradAvg">Running average of the gradient (PyTorch's <c>grad_avg</c>), initially 0; only read and written when <paramref name="centered"/> is set (pass an empty span otherwise).</param>
    /// <param name="momentumBuffer">PyTorch's <c>momentum_buffer</c>, initially 0; only read and written when <paramref name="momentum"/> &gt; 0 (pass an empty span otherwise).</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="alpha">Smoothing constant of the running averages.</param>
    /// <param name="eps">Added to the denominator (outside the square root).</param>
    /// <param name="weightDecay">L2 penalty added to the gradient.</param>
    /// <param name="momentum">Momentum factor.</param>
    /// <param name="centered">Normalize by an estimate of the gradient's variance instead of its second moment.</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    [UpdateRule]
    public static void Step(
        ref float param, in float grad, [NonNegative] ref float squareAvg, ref float gradAvg, ref float momentumBuffer,
        double lr = 1e-2, double alpha = 0.99, double eps = 1e-8, double weightDecay = 0, double momentum = 0,
        bool centered = false, bool maximize = false)
    {
        float g = maximize ? -grad : grad;
        // grad = grad.add(param, alpha=weight_decay)
        if (weightDecay != 0)
            g = MathF.FusedMultiplyAdd(param, (float)weightDecay, g);
        // square_avg.mul_(alpha).addcmul_(grad, grad, value=1 - alpha)
        squareAvg = MathF.FusedMultiplyAdd((float)(1 - alpha) * g, g, squareAvg * (float)alpha);

        float avg;
        if (centered)
        {
            // grad_avg.lerp_(grad, 1 - alpha)
            float weight = (float)(1 - alpha);
            gradAvg = Math.Abs(weight) < 0.5f
                ? MathF.FusedMultiplyAdd(weight, g - gradAvg, gradAvg)
                : MathF.FusedMultiplyAdd(weight - 1, g - gradAvg, g);
            // square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_().add_(eps)
            avg = MathF.Sqrt(MathF.FusedMultiplyAdd(-gradAvg, gradAvg, squareAvg)) + (float)eps;
        }
        else
        {
            // square_avg.sqrt().add_(eps)
            avg = MathF.Sqrt(squareAvg) + (float)eps;
        }

        if (momentum > 0)
        {
            // buf.mul_(momentum).addcdiv_(grad, avg); param.add_(buf, alpha=-lr)
            momentumBuffer = momentumBuffer * (float)momentum + g / avg;
            param = MathF.FusedMultiplyAdd(momentumBuffer, (float)(-lr), param);
        }
        else
        {
            // param.addcdiv_(grad, avg, value=-lr)
            param = param + (float)(-lr) * g / avg;
        }
    }
}
