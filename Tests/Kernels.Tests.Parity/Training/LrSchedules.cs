using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Training;

namespace Kernels.Tests.Parity.Training;

/// <summary>The optimizers a learning-rate schedule drives in one run: ours (one or more), the libtorch-op reference, TorchSharp's class.</summary>
/// <param name="Ours">Our optimizers (the one under test and, after the state-dict round trip, the uninterrupted one).</param>
/// <param name="Reference">The libtorch-op reference.</param>
/// <param name="TorchSharp">TorchSharp's optimizer, where the scenario has one.</param>
public sealed record LrTargets(IReadOnlyList<IOptimizer> Ours, TorchReferenceOptimizer? Reference, TorchSharp.torch.optim.Optimizer? TorchSharp);

/// <summary>
/// THE HOOK for learning-rate schedules: before every step (and once before the first), the runner asks the driver to
/// set each group's lr on every side. Today the only drivers compute a closed-form schedule here
/// (<see cref="WarmupCosineSchedule"/>, <see cref="ConstantSchedule"/>) and write the same value to
/// <c>group["lr"]</c> on our side (<see cref="IParamGroup"/>, by name), to the reference's group dictionary, and to
/// TorchSharp's <c>ParamGroups[i].LearningRate</c>.
/// </summary>
/// <remarks>
/// To test PyTorch's scheduler classes once Kernels has them: implement this interface with one scheduler per side
/// (ours over <see cref="LrTargets.Ours"/>, TorchSharp's <c>torch.optim.lr_scheduler.X</c> over
/// <see cref="LrTargets.TorchSharp"/>), step them in <see cref="BeforeStep"/> for every step after the first (PyTorch
/// calls <c>scheduler.step()</c> after <c>optimizer.step()</c>; the constructor sets the first step's lr), and copy
/// the lr TorchSharp's scheduler produced into <see cref="TorchReferenceOptimizer.Groups"/>. The optimizer objects can
/// change during a run (the state-dict round trip at the halfway step replaces ours and TorchSharp's), so attach a
/// scheduler to whatever <see cref="LrTargets"/> holds (and carry its own state across, as a checkpoint would).
/// Then pass <c>() =&gt; new MySchedulerDriver(...)</c> as <see cref="OptimizerScenario.Schedule"/>.
/// </remarks>
public interface ILrScheduleDriver
{
    /// <summary>Sets every group's lr for step <paramref name="step"/> (1 on the first) on every side. Called more than once for a step only with the same result.</summary>
    void BeforeStep(int step, LrTargets targets);
}

/// <summary>A schedule given as one multiplier of each group's base lr per step, written to every side by name.</summary>
public abstract class FactorSchedule : ILrScheduleDriver
{
    private readonly double[] _baseLrs;

    /// <summary>Creates the schedule over groups whose base learning rates are <paramref name="baseLrs"/>.</summary>
    protected FactorSchedule(IEnumerable<double> baseLrs) => _baseLrs = baseLrs.ToArray();

    /// <summary>The multiplier of the base lr on step <paramref name="step"/> (1 on the first).</summary>
    public abstract double Factor(int step);

    /// <summary>Group <paramref name="group"/>'s lr on step <paramref name="step"/>.</summary>
    public double LearningRate(int group, int step) => _baseLrs[group] * Factor(step);

    /// <inheritdoc/>
    public void BeforeStep(int step, LrTargets targets)
    {
        for (int g = 0; g < _baseLrs.Length; g++)
        {
            double lr = LearningRate(g, step);
            foreach (IOptimizer ours in targets.Ours)
                ours.ParamGroups[g]["lr"] = lr;
            if (targets.Reference is not null)
                targets.Reference.Groups[g].Hyperparameters["lr"] = lr;
            if (targets.TorchSharp is not null)
                targets.TorchSharp.ParamGroups.ElementAt(g).LearningRate = lr;
        }
    }
}

/// <summary>
/// Linear warmup over the first <see cref="WarmupSteps"/> steps (base/10, 2·base/10, …, base), then cosine decay to
/// <see cref="MinFactor"/>·base at the last step, in closed form (close to, but not step for step,
/// <c>SequentialLR(LinearLR, CosineAnnealingLR)</c>: a driver over the scheduler classes replaces it, see <see cref="ILrScheduleDriver"/>).
/// </summary>
public sealed class WarmupCosineSchedule(IEnumerable<double> baseLrs, int steps, int warmupSteps = 10, double minFactor = 0.1) : FactorSchedule(baseLrs)
{
    /// <summary>Steps of linear warmup.</summary>
    public int WarmupSteps { get; } = warmupSteps;

    /// <summary>The final multiplier.</summary>
    public double MinFactor { get; } = minFactor;

    /// <inheritdoc/>
    public override double Factor(int step)
    {
        if (step <= WarmupSteps)
            return (double)step / WarmupSteps;
        double progress = (double)(step - WarmupSteps) / (steps - WarmupSteps);
        return MinFactor + (1 - MinFactor) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}

/// <summary>Every group keeps its base lr.</summary>
public sealed class ConstantSchedule(IEnumerable<double> baseLrs) : FactorSchedule(baseLrs)
{
    /// <inheritdoc/>
    public override double Factor(int step) => 1;
}
