using System;

namespace Kernels.Optimizers;

/// <summary>Stochastic gradient descent with momentum, dampening, Nesterov momentum, L2 weight decay and maximize (torch.optim.SGD).</summary>
public static partial class SGD
{
    /// <summary>One SGD step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="momentumBuffer">PyTorch's <c>momentum_buffer</c>; only read and written when <paramref name="momentum"/> is not 0 (pass an empty span then).</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="step">1 on the first step: the first step copies the gradient into the momentum buffer.</param>
    /// <param name="momentum">Momentum factor.</param>
    /// <param name="dampening">Dampening for momentum (not applied on the first step).</param>
    /// <param name="weightDecay">L2 penalty added to the gradient.</param>
    /// <param name="nesterov">Nesterov momentum (needs momentum &gt; 0 and dampening 0).</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    [UpdateRule]
    public static void Step(
        ref float param, in float grad, ref float momentumBuffer,
        double lr, int step = 1, double momentum = 0, double dampening = 0, double weightDecay = 0,
        bool nesterov = false, bool maximize = false)
    {
        float g = maximize ? -grad : grad;
        if (weightDecay != 0)
            g = g + (float)weightDecay * param;
        if (momentum != 0)
        {
            if (step == 1)
                momentumBuffer = g;
            else
                momentumBuffer = (float)momentum * momentumBuffer + (float)(1 - dampening) * g;
            g = nesterov ? g + (float)momentum * momentumBuffer : momentumBuffer;
        }
        param = param - (float)lr * g;
    }
}
