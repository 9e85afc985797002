using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>
/// PyTorch's <c>SequentialLR</c>: runs one schedule after another, switching at each milestone epoch (a warmup, then a
/// decay).
/// </summary>
/// <remarks>
/// <para>
/// As in PyTorch: the constructor sets every group back to its base value (<c>initial_lr</c>), takes back the initial
/// step each part took when it was built, and performs the first part's initial step. At milestone <c>m</c> the next
/// part starts over at its epoch 0 (by its closed form where it has one, PyTorch's <c>_update_lr(0)</c>); between
/// milestones the current part steps as usual.
/// </para>
/// <para>
/// The parts must drive the same optimizer and hyperparameter. Only the first may itself be a
/// <see cref="SequentialLR"/> or <see cref="ChainedScheduler"/>: PyTorch cannot restart one of those at a milestone.
/// </para>
/// </remarks>
public sealed class SequentialLR : LRScheduler
{
    private readonly LRScheduler[] _schedulers;
    private int[] _milestones;

    /// <summary>Runs <paramref name="schedulers"/> in turn, switching at <paramref name="milestones"/>.</summary>
    /// <param name="optimizer">The optimizer the parts drive.</param>
    /// <param name="schedulers">The parts, in order (at least one), built on <paramref name="optimizer"/>.</param>
    /// <param name="milestones">The epochs at which the next part starts: one fewer than the parts, at least 1, increasing.</param>
    public SequentialLR(IOptimizer optimizer, IReadOnlyList<LRScheduler> schedulers, IReadOnlyList<int> milestones)
        : base(optimizer, FirstOf(schedulers).Hyperparameter)
    {
        CheckParts(optimizer, schedulers, Hyperparameter, allowCompositeAfterFirst: false);
        ArgumentNullException.ThrowIfNull(milestones);
        int[] m = milestones.ToArray();
        CheckMilestones(m, schedulers.Count, fromState: false);
        _schedulers = schedulers.ToArray();
        _milestones = m;

        LastEpoch = 0;
        TakeRecordedBaseValues();
        for (int i = 0; i < GroupCount; i++)
            Optimizer.ParamGroups[i][Hyperparameter] = Base(i);
        UndoInitialStep();
        _schedulers[0].InitialStep();
        CopyLastValues(_schedulers[0]);
    }

    /// <summary>The parts, in order.</summary>
    public IReadOnlyList<LRScheduler> Schedulers => Array.AsReadOnly(_schedulers);

    /// <summary>The epochs at which the next part starts.</summary>
    public IReadOnlyList<int> Milestones => Array.AsReadOnly(_milestones);

    internal override bool IsComposite => true;

    /// <summary>Advances by one epoch: the current part steps, or, at a milestone, the next part starts at its epoch 0.</summary>
    /// <exception cref="InvalidOperationException">The optimizer's groups were added or removed since the schedule was built.</exception>
    public override void Step()
    {
        CheckGroups();
        int epoch = LastEpoch + 1;
        int idx = _milestones.Count(m => m <= epoch); // bisect_right
        LRScheduler scheduler = _schedulers[idx];
        if (idx > 0 && _milestones[idx - 1] == epoch)
            scheduler.UpdateToEpoch(0);
        else
            scheduler.Step();
        LastEpoch = epoch;
        CopyLastValues(scheduler);
    }

    internal override void UndoInitialStep()
    {
        foreach (LRScheduler s in _schedulers)
            s.UndoInitialStep();
    }

    private protected override double[] ComputeValues() => throw new NotSupportedException("A SequentialLR steps its parts.");

    private protected override void WriteState(JsonObject state)
    {
        state["_milestones"] = StateJson.Integers(_milestones);
        state["_schedulers"] = new JsonArray(_schedulers.Select(s => (JsonNode)s.StateDict()).ToArray());
    }

    private protected override Action ReadState(JsonObject state)
    {
        int[] milestones = StateJson.GetInts(state, "_milestones");
        CheckMilestones(milestones, _schedulers.Length, fromState: true);
        Action parts = ReadParts(state, _schedulers);
        return () =>
        {
            _milestones = milestones;
            parts();
        };
    }

    /// <summary>The first of <paramref name="schedulers"/>, checked to exist (for the base constructor call).</summary>
    internal static LRScheduler FirstOf(IReadOnlyList<LRScheduler> schedulers)
    {
        ArgumentNullException.ThrowIfNull(schedulers);
        if (schedulers.Count == 0)
            throw new ArgumentException("Give at least one schedule.", nameof(schedulers));
        return schedulers[0] ?? throw new ArgumentNullException(nameof(schedulers), "Schedule 0 is null.");
    }

    /// <summary>Checks that every part exists and drives <paramref name="optimizer"/>'s <paramref name="hyperparameter"/>.</summary>
    internal static void CheckParts(IOptimizer optimizer, IReadOnlyList<LRScheduler> schedulers, string hyperparameter, bool allowCompositeAfterFirst)
    {
        for (int i = 0; i < schedulers.Count; i++)
        {
            LRScheduler s = schedulers[i] ?? throw new ArgumentNullException(nameof(schedulers), $"Schedule {i} is null.");
            if (!ReferenceEquals(s.Optimizer, optimizer))
                throw new ArgumentException($"Schedule {i} ({s.GetType().Name}) drives another optimizer: all must drive the same one.", nameof(schedulers));
            if (InitialValues.Canonical(s.Hyperparameter) != InitialValues.Canonical(hyperparameter))
                throw new ArgumentException($"Schedule {i} ({s.GetType().Name}) drives '{s.Hyperparameter}', schedule 0 '{hyperparameter}': all must drive the same hyperparameter.", nameof(schedulers));
            if (!allowCompositeAfterFirst && i > 0 && s.IsComposite)
                throw new ArgumentException($"Schedule {i} is a {s.GetType().Name}, which cannot start over at a milestone: only the first part may be one.", nameof(schedulers));
            for (int j = 0; j < i; j++)
            {
                if (ReferenceEquals(schedulers[j], s))
                    throw new ArgumentException($"Schedules {j} and {i} are the same object.", nameof(schedulers));
            }
        }
    }

    /// <summary>Checks the parts' states in a composite's state dict and returns what restores them all.</summary>
    internal static Action ReadParts(JsonObject state, LRScheduler[] schedulers)
    {
        JsonArray parts = StateJson.GetArray(state, "_schedulers");
        if (parts.Count != schedulers.Length)
            throw StateJson.Invalid("_schedulers", $"holds {parts.Count} states; the schedule has {schedulers.Length} parts.");
        var loads = new Action[schedulers.Length];
        for (int i = 0; i < schedulers.Length; i++)
            loads[i] = schedulers[i].PrepareLoad(StateJson.GetObject(parts[i], $"_schedulers[{i}]"));
        return () =>
        {
            foreach (Action load in loads)
                load();
        };
    }

    private static void CheckMilestones(int[] milestones, int schedulerCount, bool fromState)
    {
        string? key = fromState ? "_milestones" : null;
        if (milestones.Length != schedulerCount - 1)
            throw Checks.Bad(nameof(milestones), key, $"[{string.Join(", ", milestones)}]",
                $"{schedulerCount} schedules need {schedulerCount - 1} milestones, not {milestones.Length}");
        for (int i = 0; i < milestones.Length; i++)
        {
            Checks.AtLeast(milestones[i], 1, nameof(milestones), key, label: $"milestones[{i}]");
            if (i > 0 && milestones[i] <= milestones[i - 1])
                throw Checks.Bad(nameof(milestones), key, $"[{string.Join(", ", milestones)}]",
                    $"milestones must be increasing (milestones[{i}] = {milestones[i]} comes after {milestones[i - 1]})");
        }
    }
}
