using System;
using System.Collections.Generic;
using System.Collections.ObjectModel;
using System.Text.Json.Nodes;

namespace Kernels.Training.Schedules;

/// <summary>
/// A schedule with the protocol of PyTorch's <c>torch.optim.lr_scheduler.LRScheduler</c>, for any hyperparameter: it
/// sets one hyperparameter of every parameter group of an optimizer (<c>lr</c> unless told otherwise; weight decay,
/// <c>beta1</c> or any other the groups hold) once per <see cref="Step"/>.
/// </summary>
/// <remarks>
/// <para>
/// The constructor records each group's base value (PyTorch's <c>initial_lr</c>; see <see cref="BaseValues"/>) and
/// performs the initial step, so the groups hold the value of epoch 0 and <see cref="LastEpoch"/> is 0. Call
/// <see cref="Step"/> after each optimizer step (or each epoch), as in PyTorch.
/// </para>
/// <para>
/// Values are computed as PyTorch computes them, in doubles as Python floats are, and in the same form: most schedules
/// are <em>recursive</em> (each step scales the group's current value, PyTorch's chainable <c>get_lr</c>), not the closed
/// form <c>base · f(t)</c>, and the two differ in the last ulp. A recursive schedule reads the group's current value,
/// so it composes with anything else that changes the value (<see cref="ChainedScheduler"/>).
/// </para>
/// <para>
/// Like PyTorch's <c>initial_lr</c>, the base values are recorded once per optimizer and hyperparameter: a second
/// schedule built on the same optimizer (as the parts of a <see cref="SequentialLR"/> are) takes the values the first
/// one recorded, not the values the first one has since set.
/// </para>
/// <para>
/// The constructors take no <c>last_epoch</c>: to resume, build the schedule as at the start and load its
/// <see cref="StateDict"/>. A schedule checks its arguments before it changes anything; so does
/// <see cref="LoadStateDict"/>.
/// </para>
/// </remarks>
public abstract class LRScheduler : ISchedule
{
    private double[] _baseValues = [];
    private ReadOnlyCollection<double> _lastValues = ReadOnlyCollection<double>.Empty;
    private bool _isInitial;

    private protected LRScheduler(IOptimizer optimizer, string hyperparameter)
    {
        CheckHyperparameter(optimizer, hyperparameter, nameof(hyperparameter));
        Optimizer = optimizer;
        Hyperparameter = hyperparameter;
        GroupCount = optimizer.ParamGroups.Count;
    }

    /// <summary>The optimizer whose parameter groups this schedule drives.</summary>
    public IOptimizer Optimizer { get; }

    /// <summary>The name of the hyperparameter this schedule sets in every group (<c>lr</c> by default).</summary>
    public string Hyperparameter { get; }

    /// <summary>
    /// The index of the last step taken (PyTorch's <c>last_epoch</c>): 0 after the constructor, one more after each
    /// <see cref="Step"/>.
    /// </summary>
    public int LastEpoch { get; private protected set; } = -1;

    /// <summary>
    /// Each group's base value (PyTorch's <c>base_lrs</c>): the group's value when the first schedule on this optimizer
    /// and hyperparameter was built (PyTorch's <c>initial_lr</c>), or what the schedule defines it to be (OneCycleLR:
    /// <c>max_lr / div_factor</c>).
    /// </summary>
    public IReadOnlyList<double> BaseValues => Array.AsReadOnly(_baseValues);

    /// <summary>The value of each group after the last step, as the group reads it back (PyTorch's <c>get_last_lr()</c>).</summary>
    public IReadOnlyList<double> LastValues => _lastValues;

    /// <summary>PyTorch's <c>_step_count</c>: 1 after the constructor, one more after each <see cref="Step"/>.</summary>
    private protected int StepCount { get; set; }

    /// <summary>Whether the step being computed is the constructor's (PyTorch's <c>_is_initial</c>).</summary>
    private protected bool IsInitial => _isInitial;

    /// <summary>The number of parameter groups when the schedule was built.</summary>
    private protected int GroupCount { get; }

    /// <summary>Advances the schedule by one step and sets the hyperparameter of every group (PyTorch's <c>step()</c>).</summary>
    /// <exception cref="InvalidOperationException">The optimizer's groups were added or removed since the schedule was built.</exception>
    public virtual void Step()
    {
        CheckGroups();
        int savedEpoch = LastEpoch, savedCount = StepCount;
        StepCount++;
        LastEpoch++;
        double[] values;
        try
        {
            values = ComputeValues();
        }
        catch
        {
            LastEpoch = savedEpoch;
            StepCount = savedCount;
            throw;
        }
        Apply(values);
    }

    /// <summary>
    /// The schedule's state, as PyTorch's <c>state_dict()</c> holds it (<c>last_epoch</c>, <c>base_lrs</c>,
    /// <c>_step_count</c>, <c>_last_lr</c>, the schedule's settings and counters, under PyTorch's names), plus
    /// <c>type</c> and <c>hyperparameter</c>. Non-finite numbers are written as the strings <c>"Infinity"</c>,
    /// <c>"-Infinity"</c> and <c>"NaN"</c>, so the object serializes as plain JSON and reads back bit for bit.
    /// </summary>
    /// <remarks>
    /// The optimizer's hyperparameters are not part of it (in PyTorch they are part of the optimizer's state dict): a
    /// resumed run restores both, and the recursive schedules then continue bit-identically.
    /// </remarks>
    public JsonObject StateDict()
    {
        var state = new JsonObject
        {
            ["type"] = GetType().Name,
            ["hyperparameter"] = Hyperparameter,
            ["last_epoch"] = LastEpoch,
            ["_step_count"] = StepCount,
            ["base_lrs"] = StateJson.Numbers(_baseValues),
            ["_last_lr"] = StateJson.Numbers(_lastValues),
        };
        WriteState(state);
        return state;
    }

    /// <summary>
    /// Restores a state written by <see cref="StateDict"/> of a schedule of the same type, on an optimizer with as many
    /// groups (PyTorch's <c>load_state_dict</c>, which replaces the schedule's settings too). It does not change the
    /// optimizer's hyperparameters: restore those from the optimizer's own checkpoint.
    /// </summary>
    /// <param name="state">The state to restore.</param>
    /// <exception cref="ArgumentException">The state is of another type or hyperparameter, a value is missing or not valid; nothing was changed.</exception>
    public void LoadStateDict(JsonObject state) => PrepareLoad(state)();

    /// <summary>PyTorch's chainable <c>get_lr()</c>: the new value of every group, computed after <see cref="LastEpoch"/> advanced.</summary>
    private protected abstract double[] ComputeValues();

    /// <summary>PyTorch's <c>_get_closed_form_lr()</c>, where the schedule has one; null where it has none.</summary>
    private protected virtual double[]? ComputeClosedFormValues() => null;

    /// <summary>Adds the schedule's own settings and counters to its state dict.</summary>
    private protected virtual void WriteState(JsonObject state)
    {
    }

    /// <summary>
    /// Reads and checks the schedule's own part of a state dict, changing nothing, and returns what assigns it. The base
    /// assigns its own part only after every check has passed.
    /// </summary>
    private protected virtual Action ReadState(JsonObject state) => static () => { };

    /// <summary>The group's base value (PyTorch's <c>base_lrs[i]</c>).</summary>
    private protected double Base(int group) => _baseValues[group];

    /// <summary>The group's current value of the hyperparameter (PyTorch's <c>group["lr"]</c>).</summary>
    private protected double Current(int group) => Optimizer.ParamGroups[group][Hyperparameter];

    /// <summary>
    /// Records the base values and performs the initial step; the last thing a schedule's constructor does, after every
    /// argument was checked (PyTorch's <c>LRScheduler.__init__</c> with <c>last_epoch = -1</c>).
    /// </summary>
    private protected void Initialize()
    {
        _baseValues = new double[GroupCount];
        for (int i = 0; i < GroupCount; i++)
            _baseValues[i] = InitialValues.GetOrAdd(Optimizer, i, Hyperparameter, Current(i));
        LastEpoch = -1;
        InitialStep();
    }

    /// <summary>Takes the base values from the optimizer's recorded initial values (for schedules made of others).</summary>
    private protected void TakeRecordedBaseValues()
    {
        _baseValues = new double[GroupCount];
        for (int i = 0; i < GroupCount; i++)
            _baseValues[i] = InitialValues.GetOrAdd(Optimizer, i, Hyperparameter, Current(i));
    }

    /// <summary>Sets <see cref="LastValues"/> to what the groups hold now.</summary>
    private protected void ReadBackValues()
    {
        var values = new double[GroupCount];
        for (int i = 0; i < GroupCount; i++)
            values[i] = Current(i);
        _lastValues = Array.AsReadOnly(values);
    }

    /// <summary>Sets <see cref="LastValues"/> to another schedule's.</summary>
    private protected void CopyLastValues(LRScheduler from) => _lastValues = from._lastValues;

    /// <summary>PyTorch's <c>_initial_step()</c>: resets the step count and steps once with <see cref="IsInitial"/> set.</summary>
    internal void InitialStep()
    {
        StepCount = 0;
        _isInitial = true;
        try
        {
            Step();
        }
        finally
        {
            _isInitial = false;
        }
    }

    /// <summary>PyTorch's <c>_update_lr(epoch)</c>: jumps to <paramref name="epoch"/>, by the closed form where there is one.</summary>
    internal void UpdateToEpoch(int epoch)
    {
        CheckGroups();
        int savedEpoch = LastEpoch;
        LastEpoch = epoch;
        double[] values;
        try
        {
            values = ComputeClosedFormValues() ?? ComputeValues();
        }
        catch
        {
            LastEpoch = savedEpoch;
            throw;
        }
        Apply(values);
    }

    /// <summary>SequentialLR's <c>recursive_undo</c>: takes back the step the constructor took (schedules made of others recurse).</summary>
    internal virtual void UndoInitialStep() => LastEpoch--;

    /// <summary>Whether the schedule is made of others (SequentialLR, ChainedScheduler).</summary>
    internal virtual bool IsComposite => false;

    /// <summary>Checks a whole state dict, changing nothing, and returns what restores it.</summary>
    internal Action PrepareLoad(JsonObject state)
    {
        StateJson.CheckType(state, GetType().Name);
        StateJson.CheckHyperparameter(state, Hyperparameter);
        int lastEpoch = StateJson.GetInt(state, "last_epoch");
        if (lastEpoch < -1) // -1: a part of a SequentialLR that has not started yet
            throw StateJson.Invalid("last_epoch", $"is {lastEpoch}; the least is -1.");
        int stepCount = StateJson.GetInt(state, "_step_count");
        double[] baseValues = StateJson.GetDoubles(state, "base_lrs", GroupCount);
        double[] lastValues = StateJson.GetDoubles(state, "_last_lr", GroupCount);
        CheckGroups();
        Action own = ReadState(state);
        return () =>
        {
            LastEpoch = lastEpoch;
            StepCount = stepCount;
            _baseValues = baseValues;
            _lastValues = Array.AsReadOnly(lastValues);
            own();
        };
    }

    /// <summary>Throws unless the optimizer still has the groups the schedule was built for.</summary>
    private protected void CheckGroups()
    {
        int count = Optimizer.ParamGroups.Count;
        if (count != GroupCount)
            throw new InvalidOperationException($"The optimizer has {count} parameter groups; the schedule was built for {GroupCount}.");
    }

    /// <summary>Throws unless <paramref name="values"/> has one value per group.</summary>
    private protected void CheckPerGroup<T>(IReadOnlyList<T> values, string paramName)
    {
        ArgumentNullException.ThrowIfNull(values, paramName);
        if (values.Count != GroupCount)
            throw new ArgumentException($"{values.Count} values for {GroupCount} parameter groups: give one per group.", paramName);
    }

    /// <summary>Throws unless every group of <paramref name="optimizer"/> holds <paramref name="hyperparameter"/>.</summary>
    internal static void CheckHyperparameter(IOptimizer optimizer, string hyperparameter, string paramName)
    {
        ArgumentNullException.ThrowIfNull(optimizer);
        ArgumentException.ThrowIfNullOrEmpty(hyperparameter, paramName);
        IReadOnlyList<IParamGroup> groups = optimizer.ParamGroups;
        if (groups.Count == 0)
            throw new ArgumentException("The optimizer has no parameter groups.", nameof(optimizer));
        for (int i = 0; i < groups.Count; i++)
        {
            if (!groups[i].Contains(hyperparameter))
                throw new ArgumentException(
                    $"Parameter group {i} has no hyperparameter '{hyperparameter}' (it has {string.Join(", ", groups[i].HyperparameterNames)}).", paramName);
        }
    }

    /// <summary>Sets every group's value, then reads them back into <see cref="LastValues"/> (the end of <c>_update_lr</c>).</summary>
    private void Apply(double[] values)
    {
        IReadOnlyList<IParamGroup> groups = Optimizer.ParamGroups;
        for (int i = 0; i < GroupCount; i++)
            groups[i][Hyperparameter] = values[i];
        ReadBackValues();
    }

    /// <summary>The values of all groups, as PyTorch's list comprehensions over <c>param_groups</c> compute them.</summary>
    private protected double[] ForEachGroup(Func<int, double> value)
    {
        var values = new double[GroupCount];
        for (int i = 0; i < GroupCount; i++)
            values[i] = value(i);
        return values;
    }

    /// <summary>Each group's current value, unchanged (PyTorch's <c>[group["lr"] for group in param_groups]</c>).</summary>
    private protected double[] Unchanged() => ForEachGroup(Current);
}
