using System;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>
/// PyTorch's <c>LinearLR</c> (linear warmup or decay): the factor on each group's base value goes linearly from
/// <see cref="StartFactor"/> to <see cref="EndFactor"/> over <see cref="TotalIters"/> epochs, then stays.
/// </summary>
/// <remarks>
/// Recursive, as PyTorch steps it: each step multiplies the current value by
/// <c>1 + (end - start) / (total · start + (t - 1) · (end - start))</c>.
/// </remarks>
public sealed class LinearLR : LRScheduler
{
    /// <summary>Ramps the factor from <paramref name="startFactor"/> to <paramref name="endFactor"/> over <paramref name="totalIters"/> epochs.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="startFactor">The factor at epoch 0: greater than 0, at most 1.</param>
    /// <param name="endFactor">The factor from epoch <paramref name="totalIters"/> on: at least 0, at most 1.</param>
    /// <param name="totalIters">The number of epochs of the ramp (at least 1).</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public LinearLR(IOptimizer optimizer, double startFactor = 1.0 / 3, double endFactor = 1.0, int totalIters = 5, string hyperparameter = "lr")
        : base(optimizer, hyperparameter)
    {
        Check(startFactor, endFactor, totalIters, fromState: false);
        StartFactor = startFactor;
        EndFactor = endFactor;
        TotalIters = totalIters;
        Initialize();
    }

    /// <summary>The factor at epoch 0.</summary>
    public double StartFactor { get; private set; }

    /// <summary>The factor from <see cref="TotalIters"/> on.</summary>
    public double EndFactor { get; private set; }

    /// <summary>The number of epochs of the ramp.</summary>
    public int TotalIters { get; private set; }

    private protected override double[] ComputeValues()
    {
        if (LastEpoch == 0)
            return ForEachGroup(i => Current(i) * StartFactor);
        if (IsInitial || LastEpoch > TotalIters)
            return Unchanged();
        double factor = 1.0 + (EndFactor - StartFactor) / (TotalIters * StartFactor + (LastEpoch - 1) * (EndFactor - StartFactor));
        return ForEachGroup(i => Current(i) * factor);
    }

    private protected override double[] ComputeClosedFormValues() =>
        ForEachGroup(i => Base(i) * (StartFactor + (EndFactor - StartFactor) * Math.Min(TotalIters, LastEpoch) / TotalIters));

    private protected override void WriteState(JsonObject state)
    {
        state["start_factor"] = StateJson.Number(StartFactor);
        state["end_factor"] = StateJson.Number(EndFactor);
        state["total_iters"] = TotalIters;
    }

    private protected override Action ReadState(JsonObject state)
    {
        double start = StateJson.GetDouble(state, "start_factor");
        double end = StateJson.GetDouble(state, "end_factor");
        int totalIters = StateJson.GetInt(state, "total_iters");
        Check(start, end, totalIters, fromState: true);
        return () => (StartFactor, EndFactor, TotalIters) = (start, end, totalIters);
    }

    private static void Check(double startFactor, double endFactor, int totalIters, bool fromState)
    {
        Checks.InRange(startFactor, 0, 1, nameof(startFactor), fromState ? "start_factor" : null, minExclusive: true);
        Checks.InRange(endFactor, 0, 1, nameof(endFactor), fromState ? "end_factor" : null);
        Checks.AtLeast(totalIters, 1, nameof(totalIters), fromState ? "total_iters" : null);
    }
}
