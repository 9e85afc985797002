using System;

namespace Kernels.Optimizers;

/// <summary>Adagrad with learning-rate decay, L2 weight decay and maximize (torch.optim.Adagrad).</summary>
/// <remarks>
/// PyTorch's <c>initial_accumulator_value</c> is the value the caller fills <c>sum</c> with before the first step
/// (<see cref="DefaultInitialAccumulatorValue"/>). Operation order as PyTorch's single-tensor CPU step:
/// <c>sum.addcmul_(grad, grad, value=1)</c> is a fused multiply-add, <c>std = sum.sqrt().add_(eps)</c>,
/// <c>param.addcdiv_(grad, std, value=-clr)</c>.
/// </remarks>
public static partial class Adagrad
{
    /// <summary>PyTorch's default <c>initial_accumulator_value</c>: the initial value of every element of <c>sum</c>.</summary>
    public const float DefaultInitialAccumulatorValue = 0f;

    /// <summary>One Adagrad step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="sum">Sum of squared gradients (PyTorch's <c>sum</c>); before the first step the caller fills it with PyTorch's <c>initial_accumulator_value</c> (default 0).</param>
    /// <param name="step">Step count, 1 on the first step (learning-rate decay).</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="lrDecay">Learning-rate decay: the step uses <c>lr / (1 + (step - 1) * lrDecay)</c>.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient.</param>
    /// <param name="eps">Added to the denominator.</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    [UpdateRule]
    [Hyperparameter("initialAccumulatorValue", 0.0)]
    public static void Step(
        ref float param, in float grad, [NonNegative] [InitialValue("initialAccumulatorValue")] ref float sum,
        int step, double lr = 1e-2, double lrDecay = 0, double weightDecay = 0, double eps = 1e-10, bool maximize = false)
    {
        float g = maximize ? -grad : grad;
        // grad = grad.add(param, alpha=weight_decay)
        if (weightDecay != 0)
            g = MathF.FusedMultiplyAdd(param, (float)weightDecay, g);
        // clr = lr / (1 + (step - 1) * lr_decay), in double
        double clr = lr / (1 + (step - 1) * lrDecay);
        // state_sum.addcmul_(grad, grad, value=1)
        sum = MathF.FusedMultiplyAdd(g, g, sum);
        // std = state_sum.sqrt().add_(eps)
        float std = MathF.Sqrt(sum) + (float)eps;
        // param.addcdiv_(grad, std, value=-clr)
        param = param + (float)(-clr) * g / std;
    }
}
