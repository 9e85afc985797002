using System;

namespace Kernels.Optimizers;

/// <summary>Averaged stochastic gradient descent (Polyak and Juditsky 1992) with L2 weight decay and maximize (torch.optim.ASGD).</summary>
/// <remarks>
/// <para>
/// The step size <c>eta</c> and averaging coefficient <c>mu</c> are one value per tensor that PyTorch updates at the
/// end of every step from the step count (<see cref="Schedule"/>): the rule computes them from <c>step</c> in its
/// step-invariant part, once per call, so the caller passes only the step count.
/// </para>
/// <para>
/// PyTorch keeps <c>eta</c> and <c>mu</c> in float32 tensors (the default scalar dtype), so <see cref="Schedule"/>
/// rounds them to float exactly as its state does.
/// </para>
/// </remarks>
public static partial class ASGD
{
    /// <summary>The <c>eta</c> and <c>mu</c> that PyTorch's ASGD uses on step <paramref name="step"/> (the values it stored at the end of step − 1; <c>eta = lr</c>, <c>mu = 1</c> on the first step).</summary>
    /// <param name="step">Step count of the step about to run, 1 on the first step.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="lambd">Decay term.</param>
    /// <param name="alpha">Power for the eta update.</param>
    /// <param name="t0">Step at which averaging starts.</param>
    /// <returns><c>Eta</c> and <c>Mu</c> (what <see cref="Step(ref float, in float, ref float, int, double, double, double, double, double, bool)"/> computes from its step count).</returns>
    public static (double Eta, double Mu) Schedule(long step, double lr = 1e-2, double lambd = 1e-4, double alpha = 0.75, double t0 = 1e6)
    {
        if (step < 1)
            throw new ArgumentOutOfRangeException(nameof(step), step, "The first step is 1.");
        if (step == 1)
            return ((float)lr, 1.0);
        // After step s = step - 1: eta = lr / (1 + lambd * lr * s) ** alpha, mu = 1 / max(1, s - t0).
        long s = step - 1;
        double eta = lr / Math.Pow(1 + lambd * lr * s, alpha);
        double mu = 1 / Math.Max(1, s - t0);
        return ((float)eta, (float)mu);
    }

    /// <summary>One ASGD step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="ax">Running average of the parameter (PyTorch's <c>ax</c>), initially 0.</param>
    /// <param name="step">Step count, 1 on the first step (eta and mu follow from it, see <see cref="Schedule"/>).</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="lambd">Decay term.</param>
    /// <param name="alpha">Power for the eta update.</param>
    /// <param name="t0">Step at which averaging starts.</param>
    /// <param name="weightDecay">L2 penalty added to the gradient.</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    [UpdateRule]
    public static void Step(
        ref float param, in float grad, ref float ax,
        int step, double lr = 1e-2, double lambd = 1e-4, double alpha = 0.75, double t0 = 1e6, double weightDecay = 0, bool maximize = false)
    {
        (double eta, double mu) = Schedule(step, lr, lambd, alpha, t0);
        float g = maximize ? -grad : grad;
        // grad = grad.add(param, alpha=weight_decay)
        if (weightDecay != 0)
            g = MathF.FusedMultiplyAdd(param, (float)weightDecay, g);
        // param.mul_(1 - lambd * eta); param.add_(grad, alpha=-eta)
        param = param * (float)(1 - lambd * eta);
        param = MathF.FusedMultiplyAdd(g, (float)(-eta), param);
        // ax.add_(param.sub(ax).mul_(mu)) while mu != 1, else ax.copy_(param)
        if (mu != 1)
            ax = ax + (param - ax) * (float)mu;
        else
            ax = param;
    }
}
