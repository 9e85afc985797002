using System;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>PyTorch's <c>ExponentialLR</c>: multiplies each group's value by <see cref="Gamma"/> every epoch.</summary>
/// <remarks>Recursive, as PyTorch steps it: <c>value · gamma</c> per step (the closed form <c>base · gamma^t</c> differs in the last ulps).</remarks>
public sealed class ExponentialLR : LRScheduler
{
    /// <summary>Decays by <paramref name="gamma"/> every epoch.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="gamma">The factor per epoch (finite, at least 0).</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public ExponentialLR(IOptimizer optimizer, double gamma, string hyperparameter = "lr")
        : base(optimizer, hyperparameter)
    {
        Checks.NonNegative(gamma, nameof(gamma));
        Gamma = gamma;
        Initialize();
    }

    /// <summary>The factor per epoch.</summary>
    public double Gamma { get; private set; }

    private protected override double[] ComputeValues() =>
        IsInitial ? Unchanged() : ForEachGroup(i => Current(i) * Gamma);

    private protected override double[] ComputeClosedFormValues() =>
        ForEachGroup(i => Base(i) * Math.Pow(Gamma, LastEpoch));

    private protected override void WriteState(JsonObject state) => state["gamma"] = StateJson.Number(Gamma);

    private protected override Action ReadState(JsonObject state)
    {
        double gamma = StateJson.GetDouble(state, "gamma");
        Checks.NonNegative(gamma, nameof(gamma), "gamma");
        return () => Gamma = gamma;
    }
}
