using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Linq;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>Whether <see cref="ReduceLROnPlateau"/> watches for a metric to stop falling or to stop rising.</summary>
public enum PlateauMode
{
    /// <summary>Lower is better (a loss); PyTorch's <c>"min"</c>.</summary>
    Min,

    /// <summary>Higher is better (an accuracy); PyTorch's <c>"max"</c>.</summary>
    Max,
}

/// <summary>How <see cref="ReduceLROnPlateau"/> decides that a metric improved on the best so far.</summary>
public enum ThresholdMode
{
    /// <summary>By a share of the best: <c>best · (1 ∓ threshold)</c>; PyTorch's <c>"rel"</c>.</summary>
    Relative,

    /// <summary>By an amount: <c>best ∓ threshold</c>; PyTorch's <c>"abs"</c>.</summary>
    Absolute,
}

/// <summary>
/// PyTorch's <c>ReduceLROnPlateau</c>: multiplies each group's value by <see cref="Factor"/> (down to its minimum) when
/// a metric has not improved for more than <see cref="Patience"/> steps, then waits <see cref="Cooldown"/> steps
/// before counting again.
/// </summary>
/// <remarks>
/// Unlike the other schedules, it is stepped with the metric (<see cref="Step(double)"/>), so it is not an
/// <see cref="LRScheduler"/> and cannot be part of a <see cref="SequentialLR"/> or <see cref="ChainedScheduler"/>
/// (PyTorch refuses it there too). A reduction smaller than <see cref="Eps"/> is skipped. The constructor changes
/// nothing in the optimizer.
/// </remarks>
public sealed class ReduceLROnPlateau : ISchedule
{
    private double[] _minValues;
    private double? _defaultMinValue;
    private ReadOnlyCollection<double> _lastValues;

    /// <summary>Reduces on a plateau, with the same minimum for every group.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="mode">Whether lower or higher values of the metric are better.</param>
    /// <param name="factor">The factor of each reduction: at least 0, less than 1.</param>
    /// <param name="patience">The number of steps without improvement tolerated (at least 0).</param>
    /// <param name="threshold">How much better than the best a metric must be to count as an improvement (finite, at least 0).</param>
    /// <param name="thresholdMode">Whether <paramref name="threshold"/> is relative or absolute.</param>
    /// <param name="cooldown">The number of steps after a reduction during which bad steps are not counted (at least 0).</param>
    /// <param name="minLr">The least value of every group (PyTorch's <c>min_lr</c>; finite).</param>
    /// <param name="eps">A reduction smaller than this is skipped (finite, at least 0).</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public ReduceLROnPlateau(IOptimizer optimizer, PlateauMode mode = PlateauMode.Min, double factor = 0.1, int patience = 10, double threshold = 1e-4,
        ThresholdMode thresholdMode = ThresholdMode.Relative, int cooldown = 0, double minLr = 0, double eps = 1e-8, string hyperparameter = "lr")
        : this(optimizer, null, minLr, mode, factor, patience, threshold, thresholdMode, cooldown, eps, hyperparameter)
    {
    }

    /// <summary>Reduces on a plateau, with a minimum per group.</summary>
    /// <param name="optimizer">The optimizer whose groups are driven.</param>
    /// <param name="minLr">The least value of each group (PyTorch's <c>min_lr</c> as a list; finite).</param>
    /// <param name="mode">Whether lower or higher values of the metric are better.</param>
    /// <param name="factor">The factor of each reduction: at least 0, less than 1.</param>
    /// <param name="patience">The number of steps without improvement tolerated (at least 0).</param>
    /// <param name="threshold">How much better than the best a metric must be to count as an improvement (finite, at least 0).</param>
    /// <param name="thresholdMode">Whether <paramref name="threshold"/> is relative or absolute.</param>
    /// <param name="cooldown">The number of steps after a reduction during which bad steps are not counted (at least 0).</param>
    /// <param name="eps">A reduction smaller than this is skipped (finite, at least 0).</param>
    /// <param name="hyperparameter">The hyperparameter driven.</param>
    public ReduceLROnPlateau(IOptimizer optimizer, IReadOnlyList<double> minLr, PlateauMode mode = PlateauMode.Min, double factor = 0.1, int patience = 10,
        double threshold = 1e-4, ThresholdMode thresholdMode = ThresholdMode.Relative, int cooldown = 0, double eps = 1e-8, string hyperparameter = "lr")
        : this(optimizer, minLr ?? throw new ArgumentNullException(nameof(minLr)), 0, mode, factor, patience, threshold, thresholdMode, cooldown, eps, hyperparameter)
    {
    }

    private ReduceLROnPlateau(IOptimizer optimizer, IReadOnlyList<double>? minLrs, double minLr, PlateauMode mode, double factor, int patience,
        double threshold, ThresholdMode thresholdMode, int cooldown, double eps, string hyperparameter)
    {
        LRScheduler.CheckHyperparameter(optimizer, hyperparameter, nameof(hyperparameter));
        int groups = optimizer.ParamGroups.Count;
        if (minLrs is not null && minLrs.Count != groups)
            throw new ArgumentException($"{minLrs.Count} values for {groups} parameter groups: give one per group.", nameof(minLr));
        double[] minValues = minLrs?.ToArray() ?? Enumerable.Repeat(minLr, groups).ToArray();
        Checks.Each(minValues, (v, p, k, l) => Checks.Finite(v, p, k, minLrs is null ? null : l), nameof(minLr));
        CheckSettings(mode, factor, patience, threshold, thresholdMode, cooldown, eps, fromState: false);

        Optimizer = optimizer;
        Hyperparameter = hyperparameter;
        (Mode, Factor, Patience, Threshold, ThresholdMode, Cooldown, Eps) = (mode, factor, patience, threshold, thresholdMode, cooldown, eps);
        _minValues = minValues;
        _defaultMinValue = minLrs is null ? minLr : null;
        LastEpoch = 0;
        _lastValues = ReadValues();
        Best = ModeWorse;
    }

    /// <summary>The optimizer whose groups this schedule drives.</summary>
    public IOptimizer Optimizer { get; }

    /// <summary>The name of the hyperparameter this schedule sets in every group (<c>lr</c> by default).</summary>
    public string Hyperparameter { get; }

    /// <summary>Whether lower or higher values of the metric are better.</summary>
    public PlateauMode Mode { get; private set; }

    /// <summary>The factor of each reduction.</summary>
    public double Factor { get; private set; }

    /// <summary>The number of steps without improvement tolerated.</summary>
    public int Patience { get; private set; }

    /// <summary>How much better than the best a metric must be to count as an improvement.</summary>
    public double Threshold { get; private set; }

    /// <summary>Whether <see cref="Threshold"/> is relative or absolute.</summary>
    public ThresholdMode ThresholdMode { get; private set; }

    /// <summary>The number of steps after a reduction during which bad steps are not counted.</summary>
    public int Cooldown { get; private set; }

    /// <summary>A reduction smaller than this is skipped.</summary>
    public double Eps { get; private set; }

    /// <summary>The least value of each group (PyTorch's <c>min_lrs</c>).</summary>
    public IReadOnlyList<double> MinValues => Array.AsReadOnly(_minValues);

    /// <summary>The number of steps taken (PyTorch's <c>last_epoch</c>; 0 after the constructor).</summary>
    public int LastEpoch { get; private set; }

    /// <summary>The best metric so far (infinitely bad before the first step).</summary>
    public double Best { get; private set; }

    /// <summary>The number of steps since the metric last improved, not counting cooldown steps.</summary>
    public int NumBadEpochs { get; private set; }

    /// <summary>The number of cooldown steps left.</summary>
    public int CooldownCounter { get; private set; }

    /// <summary>Whether the schedule is cooling down after a reduction.</summary>
    public bool InCooldown => CooldownCounter > 0;

    /// <summary>The value of each group after the last step (PyTorch's <c>get_last_lr()</c>).</summary>
    public IReadOnlyList<double> LastValues => _lastValues;

    private double ModeWorse => Mode == PlateauMode.Min ? double.PositiveInfinity : double.NegativeInfinity;

    /// <summary>Records one value of the metric and reduces the groups' values if it has stopped improving.</summary>
    /// <param name="metric">The metric (a NaN never improves on the best).</param>
    /// <exception cref="InvalidOperationException">
    /// The optimizer's groups were added or removed since the schedule was built and a minimum was given per group.
    /// </exception>
    public void Step(double metric)
    {
        int groups = Optimizer.ParamGroups.Count;
        if (groups != _minValues.Length && _defaultMinValue is null)
            throw new InvalidOperationException(
                $"The optimizer has {groups} parameter groups; the schedule was given minimum values for {_minValues.Length}. Set them for every group again.");
        int epoch = LastEpoch + 1;
        LastEpoch = epoch;

        if (IsBetter(metric, Best))
        {
            Best = metric;
            NumBadEpochs = 0;
        }
        else
        {
            NumBadEpochs++;
        }

        if (InCooldown)
        {
            CooldownCounter--;
            NumBadEpochs = 0; // bad epochs in cooldown are not counted
        }

        if (NumBadEpochs > Patience)
        {
            ReduceValues();
            CooldownCounter = Cooldown;
            NumBadEpochs = 0;
        }

        _lastValues = ReadValues();
    }

    /// <summary>
    /// The schedule's state, as PyTorch's <c>state_dict()</c> holds it (<c>best</c>, <c>num_bad_epochs</c>,
    /// <c>cooldown_counter</c>, <c>last_epoch</c>, the settings, under PyTorch's names), plus <c>type</c> and
    /// <c>hyperparameter</c>; infinities are written as the strings <c>"Infinity"</c> and <c>"-Infinity"</c>.
    /// </summary>
    public JsonObject StateDict() => new()
    {
        ["type"] = nameof(ReduceLROnPlateau),
        ["hyperparameter"] = Hyperparameter,
        ["factor"] = StateJson.Number(Factor),
        ["min_lrs"] = StateJson.Numbers(_minValues),
        ["default_min_lr"] = _defaultMinValue is double d ? StateJson.Number(d) : null,
        ["patience"] = Patience,
        ["cooldown"] = Cooldown,
        ["cooldown_counter"] = CooldownCounter,
        ["mode"] = Mode == PlateauMode.Min ? "min" : "max",
        ["threshold"] = StateJson.Number(Threshold),
        ["threshold_mode"] = ThresholdMode == ThresholdMode.Relative ? "rel" : "abs",
        ["best"] = StateJson.Number(Best),
        ["num_bad_epochs"] = NumBadEpochs,
        ["mode_worse"] = StateJson.Number(ModeWorse),
        ["eps"] = StateJson.Number(Eps),
        ["last_epoch"] = LastEpoch,
        ["_last_lr"] = StateJson.Numbers(_lastValues),
    };

    /// <summary>Restores a state written by <see cref="StateDict"/> (PyTorch's <c>load_state_dict</c>, settings included).</summary>
    /// <param name="state">The state to restore.</param>
    /// <exception cref="ArgumentException">A value is missing or not valid; nothing was changed.</exception>
    public void LoadStateDict(JsonObject state)
    {
        StateJson.CheckType(state, nameof(ReduceLROnPlateau));
        StateJson.CheckHyperparameter(state, Hyperparameter);
        double factor = StateJson.GetDouble(state, "factor");
        double[] minValues = StateJson.GetDoubles(state, "min_lrs");
        double? defaultMin = StateJson.GetNullableDouble(state, "default_min_lr");
        int patience = StateJson.GetInt(state, "patience");
        int cooldown = StateJson.GetInt(state, "cooldown");
        int cooldownCounter = StateJson.GetInt(state, "cooldown_counter");
        PlateauMode mode = StateJson.GetChoice(state, "mode", "min", "max") == "min" ? PlateauMode.Min : PlateauMode.Max;
        double threshold = StateJson.GetDouble(state, "threshold");
        ThresholdMode thresholdMode = StateJson.GetChoice(state, "threshold_mode", "rel", "abs") == "rel" ? ThresholdMode.Relative : ThresholdMode.Absolute;
        double best = StateJson.GetDouble(state, "best");
        int numBadEpochs = StateJson.GetInt(state, "num_bad_epochs");
        double eps = StateJson.GetDouble(state, "eps");
        int lastEpoch = StateJson.GetInt(state, "last_epoch");
        double[] lastValues = StateJson.GetDoubles(state, "_last_lr");

        CheckSettings(mode, factor, patience, threshold, thresholdMode, cooldown, eps, fromState: true);
        Checks.Each(minValues, (v, p, k, l) => Checks.Finite(v, p, k, l), "minLr", "min_lrs");
        if (defaultMin is double dm)
            Checks.Finite(dm, "minLr", "default_min_lr");
        else if (minValues.Length != Optimizer.ParamGroups.Count)
            throw StateJson.Invalid("min_lrs", $"holds {minValues.Length} values; the optimizer has {Optimizer.ParamGroups.Count} parameter groups.");
        Checks.AtLeast(cooldownCounter, 0, "cooldownCounter", "cooldown_counter");
        Checks.AtLeast(numBadEpochs, 0, "numBadEpochs", "num_bad_epochs");
        Checks.AtLeast(lastEpoch, 0, "lastEpoch", "last_epoch");

        (Mode, Factor, Patience, Threshold, ThresholdMode, Cooldown, Eps) = (mode, factor, patience, threshold, thresholdMode, cooldown, eps);
        (_minValues, _defaultMinValue) = (minValues, defaultMin);
        (CooldownCounter, Best, NumBadEpochs, LastEpoch) = (cooldownCounter, best, numBadEpochs, lastEpoch);
        _lastValues = Array.AsReadOnly(lastValues);
    }

    private bool IsBetter(double a, double best) => (Mode, ThresholdMode) switch
    {
        (PlateauMode.Min, ThresholdMode.Relative) => a < best * (1.0 - Threshold),
        (PlateauMode.Min, ThresholdMode.Absolute) => a < best - Threshold,
        (PlateauMode.Max, ThresholdMode.Relative) => a > best * (Threshold + 1.0),
        _ => a > best + Threshold,
    };

    private void ReduceValues()
    {
        IReadOnlyList<IParamGroup> groups = Optimizer.ParamGroups;
        if (groups.Count != _minValues.Length)
            _minValues = Enumerable.Repeat(_defaultMinValue!.Value, groups.Count).ToArray(); // PyTorch re-expands a single min_lr
        for (int i = 0; i < groups.Count; i++)
        {
            double oldValue = groups[i][Hyperparameter];
            double reduced = oldValue * Factor;
            double newValue = _minValues[i] > reduced ? _minValues[i] : reduced; // Python's max(reduced, min_lr)
            if (oldValue - newValue > Eps)
                groups[i][Hyperparameter] = newValue;
        }
    }

    private ReadOnlyCollection<double> ReadValues()
    {
        IReadOnlyList<IParamGroup> groups = Optimizer.ParamGroups;
        var values = new double[groups.Count];
        for (int i = 0; i < values.Length; i++)
            values[i] = groups[i][Hyperparameter];
        return Array.AsReadOnly(values);
    }

    private static void CheckSettings(PlateauMode mode, double factor, int patience, double threshold, ThresholdMode thresholdMode, int cooldown, double eps, bool fromState)
    {
        Checks.Defined(mode, nameof(mode), fromState ? "mode" : null);
        if (!(factor >= 0 && factor < 1))
            throw Checks.Bad(nameof(factor), fromState ? "factor" : null, factor, "factor must be at least 0 and less than 1");
        Checks.AtLeast(patience, 0, nameof(patience), fromState ? "patience" : null);
        Checks.NonNegative(threshold, nameof(threshold), fromState ? "threshold" : null);
        Checks.Defined(thresholdMode, nameof(thresholdMode), fromState ? "threshold_mode" : null);
        Checks.AtLeast(cooldown, 0, nameof(cooldown), fromState ? "cooldown" : null);
        Checks.NonNegative(eps, nameof(eps), fromState ? "eps" : null);
    }
}
