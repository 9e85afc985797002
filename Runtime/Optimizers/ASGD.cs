using System;

namespace Kernels.Optimizers;

/// <summary>Averaged stochastic gradient descent (Polyak and Juditsky 1992) with L2 weight decay and maximize (torch.optim.ASGD).</summary>
/// <remarks>
/// <para>
/// The step size <c>eta</c> and averaging coefficient <c>mu</c> are one value per tensor that PyTorch updates at the
/// end of every step (from that step's count and lr) and uses on the next: uniforms of the rule. The optimizer object
/// (<c>ASGD.Optimizer</c>) carries them per tensor as PyTorch does (<see cref="NextEta"/>, <see cref="NextMu"/> after
/// each step; eta starts at lr, mu at 1), so a schedule that changes lr takes effect on eta one step later, as in
/// PyTorch. With the span overload, <see cref="Schedule"/> gives them for a constant lr:
/// </para>
/// <code>
/// for (int step = 1; ; step++)
/// {
///     var (eta, mu) = ASGD.Schedule(step, lr);
///     ASGD.Step(param, grad, ax, eta, mu);
/// }
/// </code>
/// <para>
/// PyTorch keeps <c>eta</c> and <c>mu</c> in float32 tensors (the default scalar dtype), so both are rounded to float
/// exactly as its state is.
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
    /// <returns><c>Eta</c> and <c>Mu</c> to pass to <see cref="Step(ref float, in float, ref float, double, double, double, double, bool)"/>.</returns>
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

    /// <summary>The <c>eta</c> PyTorch stores at the end of step <paramref name="step"/> (used by the next step): <c>lr / (1 + lambd * lr * step) ** alpha</c>, rounded to float.</summary>
    /// <param name="previous">The eta this step used (not needed: eta follows from the step count and lr).</param>
    /// <param name="step">The step that just ran, 1 on the first.</param>
    /// <param name="lr">That step's learning rate.</param>
    /// <param name="lambd">Decay term.</param>
    /// <param name="alpha">Power for the eta update.</param>
    /// <returns>The next step's eta.</returns>
    public static double NextEta(double previous, long step, double lr = 1e-2, double lambd = 1e-4, double alpha = 0.75)
        => (float)(lr / Math.Pow(1 + lambd * lr * step, alpha));

    /// <summary>The <c>mu</c> PyTorch stores at the end of step <paramref name="step"/> (used by the next step): <c>1 / max(1, step - t0)</c>, rounded to float.</summary>
    /// <param name="previous">The mu this step used (not needed).</param>
    /// <param name="step">The step that just ran, 1 on the first.</param>
    /// <param name="t0">Step at which averaging starts.</param>
    /// <returns>The next step's mu.</returns>
    public static double NextMu(double previous, long step, double t0 = 1e6)
        => (float)(1 / Math.Max(1, step - t0));

    /// <summary>One ASGD step for one element.</summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="grad">Its gradient.</param>
    /// <param name="ax">Running average of the parameter (PyTorch's <c>ax</c>), initially 0.</param>
    /// <param name="eta">This step's step size (from <see cref="Schedule"/>; the optimizer object carries it); used rounded to float, as PyTorch's float32 state holds it.</param>
    /// <param name="mu">This step's averaging coefficient (from <see cref="Schedule"/>; the optimizer object carries it).</param>
    /// <param name="lambd">Decay term (the same as given to <see cref="Schedule"/>).</param>
    /// <param name="weightDecay">L2 penalty added to the gradient.</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    [UpdateRule]
    [Hyperparameter("lr", 1e-2)]
    [Hyperparameter("alpha", 0.75)]
    [Hyperparameter("t0", 1e6)]
    public static void Step(
        ref float param, in float grad, ref float ax,
        [TensorState(nameof(NextEta), InitialHyperparameter = "lr", AfterStep = true)] double eta,
        [TensorState(nameof(NextMu), Initial = 1, AfterStep = true)] double mu,
        double lambd = 1e-4, double weightDecay = 0, bool maximize = false)
    {
        // PyTorch's eta is a float32 tensor (eta starts as lr): a no-op for a value already rounded.
        eta = (float)eta;
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
