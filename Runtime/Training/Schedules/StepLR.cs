using System;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>PyTorch's <c>StepLR</c>: multiplies each group's value by <see cref="Gamma"/> every <see cref="StepSize"/> epochs.</summary>
/// <remarks>Recursive, as PyTorch steps it: at every multiple of the step size, <c>value · gamma</c>.</remarks>
public sealed class StepLR : LRScheduler
{
    /// <summary>Decays by <paramref name="gamma"/> every <paramref name="stepSize"/> epochs.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="stepSize">The period of the decay, in epochs (at least 1).</param>
    /// <param name="gamma">The factor of each decay (finite, at least 0).</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public StepLR(IOptimizer optimizer, int stepSize, double gamma = 0.1, string hyperparameter = "lr")
        : base(optimizer, hyperparameter)
    {
        Check(stepSize, gamma, fromState: false);
        StepSize = stepSize;
        Gamma = gamma;
        Initialize();
    }

    /// <summary>The period of the decay, in epochs.</summary>
    public int StepSize { get; private set; }

    /// <summary>The factor of each decay.</summary>
    public double Gamma { get; private set; }

    private protected override double[] ComputeValues() =>
        LastEpoch == 0 || LastEpoch % StepSize != 0 ? Unchanged() : ForEachGroup(i => Current(i) * Gamma);

    private protected override double[] ComputeClosedFormValues() =>
        ForEachGroup(i => Base(i) * Math.Pow(Gamma, LastEpoch / StepSize));

    private protected override void WriteState(JsonObject state)
    {
        state["step_size"] = StepSize;
        state["gamma"] = StateJson.Number(Gamma);
    }

    private protected override Action ReadState(JsonObject state)
    {
        int stepSize = StateJson.GetInt(state, "step_size");
        double gamma = StateJson.GetDouble(state, "gamma");
        Check(stepSize, gamma, fromState: true);
        return () => (StepSize, Gamma) = (stepSize, gamma);
    }

    private static void Check(int stepSize, double gamma, bool fromState)
    {
        Checks.AtLeast(stepSize, 1, nameof(stepSize), fromState ? "step_size" : null);
        Checks.NonNegative(gamma, nameof(gamma), fromState ? "gamma" : null);
    }
}
