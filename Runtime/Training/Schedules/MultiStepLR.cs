using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>PyTorch's <c>MultiStepLR</c>: multiplies each group's value by <see cref="Gamma"/> at each milestone epoch.</summary>
/// <remarks>
/// Recursive, as PyTorch steps it. A milestone listed <c>k</c> times multiplies by <c>gamma^k</c> there (PyTorch keeps the
/// milestones in a <c>Counter</c>).
/// </remarks>
public sealed class MultiStepLR : LRScheduler
{
    private int[] _milestones;

    /// <summary>Decays by <paramref name="gamma"/> at each of <paramref name="milestones"/>.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="milestones">The epochs of the decays: at least 0 and in increasing order (a repeated milestone decays once per repetition).</param>
    /// <param name="gamma">The factor of each decay (finite, at least 0).</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public MultiStepLR(IOptimizer optimizer, IEnumerable<int> milestones, double gamma = 0.1, string hyperparameter = "lr")
        : base(optimizer, hyperparameter)
    {
        ArgumentNullException.ThrowIfNull(milestones);
        int[] m = milestones.ToArray();
        Check(m, gamma, fromState: false);
        _milestones = m;
        Gamma = gamma;
        Initialize();
    }

    /// <summary>The epochs of the decays, in increasing order.</summary>
    public IReadOnlyList<int> Milestones => Array.AsReadOnly(_milestones);

    /// <summary>The factor of each decay.</summary>
    public double Gamma { get; private set; }

    private protected override double[] ComputeValues()
    {
        int count = Count(LastEpoch);
        return count == 0 ? Unchanged() : ForEachGroup(i => Current(i) * Math.Pow(Gamma, count));
    }

    private protected override double[] ComputeClosedFormValues()
    {
        int passed = _milestones.Count(m => m <= LastEpoch); // bisect_right over the sorted milestones
        return ForEachGroup(i => Base(i) * Math.Pow(Gamma, passed));
    }

    private protected override void WriteState(JsonObject state)
    {
        state["milestones"] = StateJson.Integers(_milestones);
        state["gamma"] = StateJson.Number(Gamma);
    }

    private protected override Action ReadState(JsonObject state)
    {
        int[] milestones = StateJson.GetInts(state, "milestones");
        double gamma = StateJson.GetDouble(state, "gamma");
        Check(milestones, gamma, fromState: true);
        return () => (_milestones, Gamma) = (milestones, gamma);
    }

    private int Count(int epoch) => _milestones.Count(m => m == epoch);

    private static void Check(int[] milestones, double gamma, bool fromState)
    {
        for (int i = 0; i < milestones.Length; i++)
        {
            Checks.AtLeast(milestones[i], 0, nameof(milestones), fromState ? "milestones" : null, label: $"milestones[{i}]");
            if (i > 0 && milestones[i] < milestones[i - 1])
                throw Checks.Bad(nameof(milestones), fromState ? "milestones" : null, $"[{string.Join(", ", milestones)}]",
                    $"milestones must be in increasing order (milestones[{i}] = {milestones[i]} comes after {milestones[i - 1]})");
        }
        Checks.NonNegative(gamma, nameof(gamma), fromState ? "gamma" : null);
    }
}
