using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>
/// PyTorch's <c>ChainedScheduler</c>: steps several schedules of the same optimizer and hyperparameter together, each
/// step of it one step of each, in order; their effects compose (for the recursive schedules, multiply).
/// </summary>
/// <remarks>
/// Its constructor steps nothing: each part took its initial step when it was built. <see cref="LRScheduler.LastEpoch"/>
/// counts its steps (PyTorch's ChainedScheduler has none); <see cref="LRScheduler.BaseValues"/> are the optimizer's
/// recorded initial values.
/// </remarks>
public sealed class ChainedScheduler : LRScheduler
{
    private readonly LRScheduler[] _schedulers;

    /// <summary>Chains <paramref name="schedulers"/>, which must drive the same optimizer and hyperparameter.</summary>
    /// <param name="schedulers">The schedules, in the order they step (at least one).</param>
    public ChainedScheduler(IReadOnlyList<LRScheduler> schedulers)
        : base(SequentialLR.FirstOf(schedulers).Optimizer, SequentialLR.FirstOf(schedulers).Hyperparameter)
    {
        SequentialLR.CheckParts(Optimizer, schedulers, Hyperparameter, allowCompositeAfterFirst: true);
        _schedulers = schedulers.ToArray();
        LastEpoch = 0;
        TakeRecordedBaseValues();
        ReadBackValues();
    }

    /// <summary>The schedules, in the order they step.</summary>
    public IReadOnlyList<LRScheduler> Schedulers => Array.AsReadOnly(_schedulers);

    internal override bool IsComposite => true;

    /// <summary>Steps every schedule once, in order.</summary>
    /// <exception cref="InvalidOperationException">The optimizer's groups were added or removed since the schedule was built.</exception>
    public override void Step()
    {
        CheckGroups();
        foreach (LRScheduler s in _schedulers)
            s.Step();
        LastEpoch++;
        ReadBackValues();
    }

    internal override void UndoInitialStep()
    {
        foreach (LRScheduler s in _schedulers)
            s.UndoInitialStep();
    }

    private protected override double[] ComputeValues() => throw new NotSupportedException("A ChainedScheduler steps its parts.");

    private protected override void WriteState(JsonObject state) =>
        state["_schedulers"] = new JsonArray(_schedulers.Select(s => (JsonNode)s.StateDict()).ToArray());

    private protected override Action ReadState(JsonObject state) => SequentialLR.ReadParts(state, _schedulers);
}
