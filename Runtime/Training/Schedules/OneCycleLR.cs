using System;
using System.Collections.Generic;
using System.Linq;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>How <see cref="OneCycleLR"/> moves between two values within a phase (PyTorch's <c>anneal_strategy</c>).</summary>
public enum AnnealStrategy
{
    /// <summary><c>end + (start - end) / 2 · (cos(π · pct) + 1)</c> (PyTorch's <c>"cos"</c>).</summary>
    Cosine,

    /// <summary><c>(end - start) · pct + start</c> (PyTorch's <c>"linear"</c>).</summary>
    Linear,
}

/// <summary>
/// PyTorch's <c>OneCycleLR</c> (the 1cycle policy): each group's value rises from <c>max_lr / div_factor</c> to
/// <c>max_lr</c> over the first <see cref="PctStart"/> of <see cref="TotalSteps"/>, then falls to
/// <c>max_lr / div_factor / final_div_factor</c>; the momentum (a group's <c>beta1</c> if it has one, else its
/// <c>momentum</c>) moves the opposite way between <c>base_momentum</c> and <c>max_momentum</c>.
/// </summary>
/// <remarks>
/// <para>
/// PyTorch computes this one from the step number, not recursively, and so does this class. It sets each group's
/// base value (PyTorch's <c>initial_lr</c>) to <c>max_lr / div_factor</c>, replacing any recorded before. With
/// <c>threePhase</c>, a third phase brings the value from <c>max_lr / div_factor</c> down to the minimum, after a
/// second one symmetric to the first (the original paper's schedule); without it, the fall is one phase (fastai's).
/// </para>
/// <para>
/// It may be stepped <see cref="TotalSteps"/> times; one more step throws. PyTorch derives the total from
/// <c>epochs · steps_per_epoch</c> when <c>total_steps</c> is not given: pass that product.
/// </para>
/// </remarks>
public sealed class OneCycleLR : LRScheduler
{
    private const int InitialLr = 0, MaxLr = 1, MinLr = 2; // rows of _lrs
    private const int MaxMomentum = 0, BaseMomentum = 1;   // rows of _momentums
    private static readonly string[] s_lrNames = ["initial_lr", "max_lr", "min_lr"];
    private static readonly string[] s_momentumNames = ["max_momentum", "base_momentum"];

    private double[][] _lrs = [];
    private double[][] _momentums = [];
    private string[]? _momentumHyperparameters;
    private Phase[] _phases = [];

    /// <summary>The 1cycle policy with the same <paramref name="maxLr"/> and momenta for every group.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="maxLr">The peak value (finite, at least 0).</param>
    /// <param name="totalSteps">The number of steps in the cycle (at least 1).</param>
    /// <param name="pctStart">The share of the cycle spent rising, from 0 to 1.</param>
    /// <param name="annealStrategy">How values move within a phase.</param>
    /// <param name="cycleMomentum">Whether to cycle each group's momentum (<c>beta1</c> or <c>momentum</c>) the opposite way.</param>
    /// <param name="baseMomentum">The momentum at the peak of the value (finite).</param>
    /// <param name="maxMomentum">The momentum at the start and end of the cycle (finite).</param>
    /// <param name="divFactor">The start value is <c>maxLr / divFactor</c> (finite, greater than 0).</param>
    /// <param name="finalDivFactor">The end value is the start value <c>/ finalDivFactor</c> (finite, greater than 0).</param>
    /// <param name="threePhase">Whether to use three phases (up, symmetric down, then down to the minimum).</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public OneCycleLR(IOptimizer optimizer, double maxLr, int totalSteps, double pctStart = 0.3, AnnealStrategy annealStrategy = AnnealStrategy.Cosine,
        bool cycleMomentum = true, double baseMomentum = 0.85, double maxMomentum = 0.95, double divFactor = 25.0, double finalDivFactor = 1e4,
        bool threePhase = false, string hyperparameter = "lr")
        : base(optimizer, hyperparameter)
    {
        Setup(Repeat(maxLr), totalSteps, pctStart, annealStrategy, cycleMomentum, Repeat(baseMomentum), Repeat(maxMomentum), divFactor, finalDivFactor, threePhase);
    }

    /// <summary>The 1cycle policy with a peak value, and optionally momenta, per group.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="maxLr">The peak value of each group (finite, at least 0).</param>
    /// <param name="totalSteps">The number of steps in the cycle (at least 1).</param>
    /// <param name="pctStart">The share of the cycle spent rising, from 0 to 1.</param>
    /// <param name="annealStrategy">How values move within a phase.</param>
    /// <param name="cycleMomentum">Whether to cycle each group's momentum (<c>beta1</c> or <c>momentum</c>) the opposite way.</param>
    /// <param name="baseMomentum">The momentum of each group at the peak of the value; null: 0.85 for every group.</param>
    /// <param name="maxMomentum">The momentum of each group at the start and end of the cycle; null: 0.95 for every group.</param>
    /// <param name="divFactor">The start value is <c>maxLr / divFactor</c> (finite, greater than 0).</param>
    /// <param name="finalDivFactor">The end value is the start value <c>/ finalDivFactor</c> (finite, greater than 0).</param>
    /// <param name="threePhase">Whether to use three phases (up, symmetric down, then down to the minimum).</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public OneCycleLR(IOptimizer optimizer, IReadOnlyList<double> maxLr, int totalSteps, double pctStart = 0.3, AnnealStrategy annealStrategy = AnnealStrategy.Cosine,
        bool cycleMomentum = true, IReadOnlyList<double>? baseMomentum = null, IReadOnlyList<double>? maxMomentum = null, double divFactor = 25.0,
        double finalDivFactor = 1e4, bool threePhase = false, string hyperparameter = "lr")
        : base(optimizer, hyperparameter)
    {
        CheckPerGroup(maxLr, nameof(maxLr));
        if (baseMomentum is not null)
            CheckPerGroup(baseMomentum, nameof(baseMomentum));
        if (maxMomentum is not null)
            CheckPerGroup(maxMomentum, nameof(maxMomentum));
        Setup(maxLr.ToArray(), totalSteps, pctStart, annealStrategy, cycleMomentum, baseMomentum?.ToArray() ?? Repeat(0.85),
            maxMomentum?.ToArray() ?? Repeat(0.95), divFactor, finalDivFactor, threePhase);
    }

    /// <summary>The number of steps in the cycle.</summary>
    public int TotalSteps { get; private set; }

    /// <summary>The share of the cycle spent rising.</summary>
    public double PctStart { get; private set; }

    /// <summary>How values move within a phase.</summary>
    public AnnealStrategy AnnealStrategy { get; private set; }

    /// <summary>Whether the schedule uses three phases.</summary>
    public bool ThreePhase => _phases.Length == 3;

    /// <summary>
    /// The hyperparameter whose momentum is cycled in each group (<c>beta1</c> where the group has it, else
    /// <c>momentum</c>); null when momentum is not cycled.
    /// </summary>
    public IReadOnlyList<string>? MomentumHyperparameters => _momentumHyperparameters is null ? null : Array.AsReadOnly(_momentumHyperparameters);

    private double[] Repeat(double value) => Enumerable.Repeat(value, GroupCount).ToArray();

    private void Setup(double[] maxLr, int totalSteps, double pctStart, AnnealStrategy annealStrategy, bool cycleMomentum,
        double[] baseMomentum, double[] maxMomentum, double divFactor, double finalDivFactor, bool threePhase)
    {
        // Every check first: the constructor changes the groups only after all of them pass.
        Checks.AtLeast(totalSteps, 1, nameof(totalSteps));
        Checks.InRange(pctStart, 0, 1, nameof(pctStart));
        Checks.Defined(annealStrategy, nameof(annealStrategy));
        Checks.Each(maxLr, (v, p, k, l) => Checks.NonNegative(v, p, k, l), nameof(maxLr));
        Checks.Positive(divFactor, nameof(divFactor));
        Checks.Positive(finalDivFactor, nameof(finalDivFactor));
        string[]? momentumNames = null;
        if (cycleMomentum)
        {
            Checks.Each(baseMomentum, (v, p, k, l) => Checks.Finite(v, p, k, l), nameof(baseMomentum));
            Checks.Each(maxMomentum, (v, p, k, l) => Checks.Finite(v, p, k, l), nameof(maxMomentum));
            momentumNames = new string[GroupCount];
            for (int i = 0; i < GroupCount; i++)
            {
                IParamGroup group = Optimizer.ParamGroups[i];
                momentumNames[i] = group.Contains("beta1") ? "beta1" : group.Contains("momentum") ? "momentum"
                    : throw new ArgumentException(
                        $"Parameter group {i} has neither 'beta1' nor 'momentum' to cycle (it has {string.Join(", ", group.HyperparameterNames)}); pass cycleMomentum: false.",
                        nameof(cycleMomentum));
            }
        }

        TotalSteps = totalSteps;
        PctStart = pctStart;
        AnnealStrategy = annealStrategy;
        _phases = threePhase
            ?
            [
                new(pctStart * totalSteps - 1, InitialLr, MaxLr, MaxMomentum, BaseMomentum),
                new(2 * pctStart * totalSteps - 2, MaxLr, InitialLr, BaseMomentum, MaxMomentum),
                new(totalSteps - 1, InitialLr, MinLr, MaxMomentum, MaxMomentum),
            ]
            :
            [
                new(pctStart * totalSteps - 1, InitialLr, MaxLr, MaxMomentum, BaseMomentum),
                new(totalSteps - 1, MaxLr, MinLr, BaseMomentum, MaxMomentum),
            ];
        double[] initial = maxLr.Select(m => m / divFactor).ToArray();
        _lrs = [initial, maxLr, initial.Select(v => v / finalDivFactor).ToArray()];
        for (int i = 0; i < GroupCount; i++)
            InitialValues.Set(Optimizer, i, Hyperparameter, initial[i]);
        _momentumHyperparameters = momentumNames;
        if (momentumNames is not null)
        {
            _momentums = [maxMomentum, baseMomentum];
            for (int i = 0; i < GroupCount; i++)
                Optimizer.ParamGroups[i][momentumNames[i]] = maxMomentum[i];
        }
        Initialize();
    }

    private protected override double[] ComputeValues()
    {
        int stepNum = LastEpoch;
        if (stepNum > TotalSteps)
            throw new InvalidOperationException($"Tried to step {stepNum} times; the cycle has {TotalSteps} steps.");
        var values = new double[GroupCount];
        for (int i = 0; i < GroupCount; i++)
        {
            double startStep = 0.0, lr = 0, momentum = 0;
            for (int p = 0; p < _phases.Length; p++)
            {
                Phase phase = _phases[p];
                if (stepNum <= phase.EndStep || p == _phases.Length - 1)
                {
                    if (phase.EndStep == startStep)
                        throw new InvalidOperationException($"Phase {p} of the cycle has no length (it ends at step {phase.EndStep}, where it starts): PyTorch divides by zero here.");
                    double pct = (stepNum - startStep) / (phase.EndStep - startStep);
                    lr = Anneal(_lrs[phase.StartLr][i], _lrs[phase.EndLr][i], pct);
                    if (_momentumHyperparameters is not null)
                        momentum = Anneal(_momentums[phase.StartMomentum][i], _momentums[phase.EndMomentum][i], pct);
                    break;
                }
                startStep = phase.EndStep;
            }
            values[i] = lr;
            if (_momentumHyperparameters is not null)
                Optimizer.ParamGroups[i][_momentumHyperparameters[i]] = momentum; // PyTorch sets it while computing the values
        }
        return values;
    }

    private double Anneal(double start, double end, double pct)
    {
        if (AnnealStrategy == AnnealStrategy.Linear)
            return (end - start) * pct + start;
        double cosOut = Math.Cos(Math.PI * pct) + 1;
        return end + (start - end) / 2.0 * cosOut;
    }

    private protected override void WriteState(JsonObject state)
    {
        state["total_steps"] = TotalSteps;
        state["pct_start"] = StateJson.Number(PctStart);
        state["_anneal_func_type"] = AnnealStrategy == AnnealStrategy.Cosine ? "cos" : "linear";
        state["_schedule_phases"] = new JsonArray(_phases.Select(p => (JsonNode)new JsonObject
        {
            ["end_step"] = StateJson.Number(p.EndStep),
            ["start_lr"] = s_lrNames[p.StartLr],
            ["end_lr"] = s_lrNames[p.EndLr],
            ["start_momentum"] = s_momentumNames[p.StartMomentum],
            ["end_momentum"] = s_momentumNames[p.EndMomentum],
        }).ToArray());
        state["cycle_momentum"] = _momentumHyperparameters is not null;
        // PyTorch keeps these in the optimizer's param groups; IParamGroup has no place for them.
        for (int r = 0; r < s_lrNames.Length; r++)
            state[s_lrNames[r]] = StateJson.Numbers(_lrs[r]);
        if (_momentumHyperparameters is not null)
        {
            state["momentum_hyperparameters"] = new JsonArray(_momentumHyperparameters.Select(n => (JsonNode)JsonValue.Create(n)).ToArray());
            for (int r = 0; r < s_momentumNames.Length; r++)
                state[s_momentumNames[r]] = StateJson.Numbers(_momentums[r]);
        }
    }

    private protected override Action ReadState(JsonObject state)
    {
        int totalSteps = StateJson.GetInt(state, "total_steps");
        Checks.AtLeast(totalSteps, 1, nameof(totalSteps), "total_steps");
        double pctStart = StateJson.GetDouble(state, "pct_start");
        Checks.InRange(pctStart, 0, 1, nameof(pctStart), "pct_start");
        AnnealStrategy anneal = StateJson.GetChoice(state, "_anneal_func_type", "cos", "linear") == "cos" ? AnnealStrategy.Cosine : AnnealStrategy.Linear;
        JsonArray phaseArray = StateJson.GetArray(state, "_schedule_phases");
        if (phaseArray.Count is not (2 or 3))
            throw StateJson.Invalid("_schedule_phases", $"holds {phaseArray.Count} phases; a cycle has 2 or 3.");
        var phases = new Phase[phaseArray.Count];
        for (int p = 0; p < phases.Length; p++)
        {
            JsonObject o = StateJson.GetObject(phaseArray[p], $"_schedule_phases[{p}]");
            double endStep = StateJson.GetDouble(o, "end_step");
            Checks.Finite(endStep, "endStep", $"_schedule_phases[{p}].end_step");
            phases[p] = new Phase(endStep,
                Array.IndexOf(s_lrNames, StateJson.GetChoice(o, "start_lr", s_lrNames)),
                Array.IndexOf(s_lrNames, StateJson.GetChoice(o, "end_lr", s_lrNames)),
                Array.IndexOf(s_momentumNames, StateJson.GetChoice(o, "start_momentum", s_momentumNames)),
                Array.IndexOf(s_momentumNames, StateJson.GetChoice(o, "end_momentum", s_momentumNames)));
        }
        double[][] lrs = s_lrNames.Select(n => StateJson.GetDoubles(state, n, GroupCount)).ToArray();
        for (int r = 0; r < lrs.Length; r++)
            Checks.Each(lrs[r], (v, p, k, l) => Checks.Finite(v, p, k, l), s_lrNames[r], s_lrNames[r]);
        bool cycleMomentum = StateJson.GetBool(state, "cycle_momentum");
        string[]? names = null;
        double[][] momentums = [];
        if (cycleMomentum)
        {
            JsonArray nameArray = StateJson.GetArray(state, "momentum_hyperparameters", GroupCount);
            names = new string[GroupCount];
            for (int i = 0; i < GroupCount; i++)
            {
                names[i] = nameArray[i] is JsonValue v && v.TryGetValue(out string? n) ? n
                    : throw StateJson.Invalid($"momentum_hyperparameters[{i}]", "is not a string.");
                if (!Optimizer.ParamGroups[i].Contains(names[i]))
                    throw StateJson.Invalid($"momentum_hyperparameters[{i}]", $"is '{names[i]}', which parameter group {i} does not have.");
            }
            momentums = s_momentumNames.Select(n => StateJson.GetDoubles(state, n, GroupCount)).ToArray();
            for (int r = 0; r < momentums.Length; r++)
                Checks.Each(momentums[r], (v, p, k, l) => Checks.Finite(v, p, k, l), s_momentumNames[r], s_momentumNames[r]);
        }
        return () =>
        {
            (TotalSteps, PctStart, AnnealStrategy, _phases, _lrs) = (totalSteps, pctStart, anneal, phases, lrs);
            (_momentumHyperparameters, _momentums) = (names, momentums);
        };
    }

    /// <summary>One phase of the cycle: it ends at <see cref="EndStep"/> and moves between the rows named.</summary>
    private readonly record struct Phase(double EndStep, int StartLr, int EndLr, int StartMomentum, int EndMomentum);
}
