using System;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>
/// PyTorch's <c>ConstantLR</c>: multiplies each group's value by <see cref="Factor"/> until epoch
/// <see cref="TotalIters"/>, then restores it.
/// </summary>
/// <remarks>
/// Recursive, as PyTorch steps it: <c>value · factor</c> at epoch 0, <c>value · (1 / factor)</c> at
/// <see cref="TotalIters"/> (so the restored value may differ from the base in the last ulp, as in PyTorch). A factor of 0,
/// which PyTorch accepts and which turns the value into NaN at <see cref="TotalIters"/> (0 · ∞), is refused.
/// </remarks>
public sealed class ConstantLR : LRScheduler
{
    /// <summary>Scales by <paramref name="factor"/> for the first <paramref name="totalIters"/> epochs.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="factor">The factor, greater than 0 and at most 1.</param>
    /// <param name="totalIters">The number of epochs scaled (at least 1).</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public ConstantLR(IOptimizer optimizer, double factor = 1.0 / 3, int totalIters = 5, string hyperparameter = "lr")
        : base(optimizer, hyperparameter)
    {
        Check(factor, totalIters, fromState: false);
        Factor = factor;
        TotalIters = totalIters;
        Initialize();
    }

    /// <summary>The factor applied until <see cref="TotalIters"/>.</summary>
    public double Factor { get; private set; }

    /// <summary>The epoch at which the value is restored.</summary>
    public int TotalIters { get; private set; }

    private protected override double[] ComputeValues()
    {
        if (LastEpoch == 0)
            return ForEachGroup(i => Current(i) * Factor);
        if (LastEpoch != TotalIters)
            return Unchanged();
        return ForEachGroup(i => Current(i) * (1.0 / Factor));
    }

    private protected override double[] ComputeClosedFormValues() =>
        ForEachGroup(i => Base(i) * (Factor + (LastEpoch >= TotalIters ? 1.0 : 0.0) * (1 - Factor)));

    private protected override void WriteState(JsonObject state)
    {
        state["factor"] = StateJson.Number(Factor);
        state["total_iters"] = TotalIters;
    }

    private protected override Action ReadState(JsonObject state)
    {
        double factor = StateJson.GetDouble(state, "factor");
        int totalIters = StateJson.GetInt(state, "total_iters");
        Check(factor, totalIters, fromState: true);
        return () => (Factor, TotalIters) = (factor, totalIters);
    }

    private static void Check(double factor, int totalIters, bool fromState)
    {
        Checks.InRange(factor, 0, 1, nameof(factor), fromState ? "factor" : null, minExclusive: true);
        Checks.AtLeast(totalIters, 1, nameof(totalIters), fromState ? "total_iters" : null);
    }
}
