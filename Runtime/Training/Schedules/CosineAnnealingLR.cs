using System;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>
/// PyTorch's <c>CosineAnnealingLR</c>: anneals each group's value from its base to <see cref="EtaMin"/> over
/// <see cref="TMax"/> epochs along half a cosine, <c>eta_min + (base - eta_min)(1 + cos(π t / T_max)) / 2</c>, and (as
/// PyTorch's does, without restarts) back up over the next <see cref="TMax"/>, and so on.
/// </summary>
/// <remarks>
/// Recursive, as PyTorch steps it: each step computes
/// <c>(1 + cos(π t / T_max)) / (1 + cos(π (t - 1) / T_max)) · (value - eta_min) + eta_min</c>, and at the bottom of each
/// cosine (where that quotient would divide by 0) adds <c>(base - eta_min)(1 - cos(π / T_max)) / 2</c>. It differs from
/// the closed form in the last ulps.
/// </remarks>
public sealed class CosineAnnealingLR : LRScheduler
{
    /// <summary>Anneals to <paramref name="etaMin"/> over <paramref name="tMax"/> epochs.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="tMax">The number of epochs from the base value down to <paramref name="etaMin"/> (at least 1).</param>
    /// <param name="etaMin">The value at the bottom of the cosine (finite).</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public CosineAnnealingLR(IOptimizer optimizer, int tMax, double etaMin = 0.0, string hyperparameter = "lr")
        : base(optimizer, hyperparameter)
    {
        Check(tMax, etaMin, fromState: false);
        TMax = tMax;
        EtaMin = etaMin;
        Initialize();
    }

    /// <summary>The number of epochs from the base value down to <see cref="EtaMin"/> (PyTorch's <c>T_max</c>).</summary>
    public int TMax { get; private set; }

    /// <summary>The value at the bottom of the cosine (PyTorch's <c>eta_min</c>).</summary>
    public double EtaMin { get; private set; }

    private protected override double[] ComputeValues()
    {
        int t = LastEpoch;
        if (IsInitial)
            return Unchanged();
        if (StepCount == 1 && t > 0) // only after a resume from a state whose first step is still to come
            return ForEachGroup(i => EtaMin + (Base(i) - EtaMin) * (1 + Math.Cos(t * Math.PI / TMax)) / 2);
        if ((t - 1 - TMax) % (2L * TMax) == 0)
            return ForEachGroup(i => Current(i) + (Base(i) - EtaMin) * (1 - Math.Cos(Math.PI / TMax)) / 2);
        double ratio = (1 + Math.Cos(Math.PI * t / TMax)) / (1 + Math.Cos(Math.PI * (t - 1) / TMax));
        return ForEachGroup(i => ratio * (Current(i) - EtaMin) + EtaMin);
    }

    private protected override double[] ComputeClosedFormValues() =>
        ForEachGroup(i => EtaMin + (Base(i) - EtaMin) * (1 + Math.Cos(Math.PI * LastEpoch / TMax)) / 2);

    private protected override void WriteState(JsonObject state)
    {
        state["T_max"] = TMax;
        state["eta_min"] = StateJson.Number(EtaMin);
    }

    private protected override Action ReadState(JsonObject state)
    {
        int tMax = StateJson.GetInt(state, "T_max");
        double etaMin = StateJson.GetDouble(state, "eta_min");
        Check(tMax, etaMin, fromState: true);
        return () => (TMax, EtaMin) = (tMax, etaMin);
    }

    private static void Check(int tMax, double etaMin, bool fromState)
    {
        Checks.AtLeast(tMax, 1, nameof(tMax), fromState ? "T_max" : null);
        Checks.Finite(etaMin, nameof(etaMin), fromState ? "eta_min" : null);
    }
}
