using System;
using System.Collections.Generic;
using System.ComponentModel;
using System.Linq;
using Kernels.CompilerServices;
using Kernels.Precision;

namespace Kernels.Training;

/// <summary>
/// The optimizer machinery every generated optimizer shares: groups, per-parameter state and step counts, batching of
/// tensors that share a step count into one multi-tensor call, state dicts. The generated subclass describes its rule
/// (state buffers, their initial values, per-tensor state) and runs it in <see cref="StepTensors"/>.
/// </summary>
/// <typeparam name="T">
/// The rule's element type (<see cref="float"/> or <see cref="double"/>). An optimizer of a float rule whose subclass
/// supports it (every generated one) also takes parameters stored as <see cref="BFloat16"/> or <see cref="Half"/>, alone or
/// mixed with float ones, and updates them in float (<see cref="Training.ParameterPrecision"/>).
/// </typeparam>
/// <typeparam name="TOptions">The rule's generated hyperparameter class.</typeparam>
public abstract class Optimizer<T, TOptions> : Optimizer
    where T : unmanaged
    where TOptions : Hyperparameters
{
    private readonly List<ParamGroup<T, TOptions>> _groups = new();
    private readonly List<Parameter> _parameters = new();
    private readonly List<Slot> _slots = new();
    private readonly List<ParamGroup<T, TOptions>> _groupOf = new();   // aligned with _parameters
    private readonly List<long> _offsets = new();   // aligned with _parameters: elements of the parameters before it
    private readonly Dictionary<Parameter, int> _indexOf = new(ReferenceEqualityComparer.Instance);
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);
    private readonly OptimizerBatch<T> _batch;

    /// <summary>Creates the optimizer with one group over <paramref name="parameters"/>.</summary>
    /// <param name="parameters">The first group's parameters (more groups: <see cref="AddParamGroup"/>).</param>
    /// <param name="defaults">The hyperparameters every group starts from.</param>
    /// <param name="stepOptions">Threading of the step.</param>
    protected Optimizer(IEnumerable<Parameter> parameters, TOptions defaults, StepOptions stepOptions)
        : this(parameters, defaults, stepOptions, null)
    {
    }

    /// <summary>Creates the optimizer with one group over <paramref name="parameters"/> and a choice of state storage.</summary>
    /// <param name="parameters">The first group's parameters (more groups: <see cref="AddParamGroup"/>).</param>
    /// <param name="defaults">The hyperparameters every group starts from.</param>
    /// <param name="stepOptions">Threading of the step.</param>
    /// <param name="statePrecision">How state buffers are stored; <see langword="null"/>: <see cref="Training.StatePrecision.Full"/>.</param>
    /// <param name="parameterPrecision">How parameters stored in 16 bits are rounded; <see langword="null"/>: <see cref="Training.ParameterPrecision.Nearest"/>.</param>
    /// <exception cref="ArgumentException">
    /// 8-bit state for a rule whose element type is not <see cref="float"/>; stochastic rounding together with master
    /// weights; a parameter this optimizer cannot update (see <see cref="AddParamGroup"/>).
    /// </exception>
    protected Optimizer(IEnumerable<Parameter> parameters, TOptions defaults, StepOptions stepOptions, StatePrecision? statePrecision, ParameterPrecision? parameterPrecision = null)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        Defaults = defaults;
        StepOptions = stepOptions;
        StatePrecision = CheckPrecision(statePrecision);
        ParameterPrecision = CheckPrecision(parameterPrecision);
        _batch = new OptimizerBatch<T>(AllocateState, QuantizedStateOf, AllocateMaster, AllocateCompensation);
        AddParamGroup(parameters);
    }

    /// <summary>
    /// Creates the optimizer with no group yet, for a subclass whose constructor adds its own groups (e.g. one per kind
    /// of parameter); it must add at least one before returning.
    /// </summary>
    /// <param name="defaults">The hyperparameters <see cref="AddParamGroup"/> starts from.</param>
    /// <param name="stepOptions">Threading of the step.</param>
    protected Optimizer(TOptions defaults, StepOptions stepOptions)
    {
        ArgumentNullException.ThrowIfNull(defaults);
        Defaults = defaults;
        StepOptions = stepOptions;
        StatePrecision = StatePrecision.Full;
        ParameterPrecision = ParameterPrecision.Nearest;
        _batch = new OptimizerBatch<T>(AllocateState);
    }

    /// <summary>How this optimizer stores its state buffers (fixed at construction).</summary>
    public StatePrecision StatePrecision { get; }

    /// <summary>How this optimizer rounds the parameters it holds in 16 bits, and whether it keeps fp32 master copies of them (fixed at construction).</summary>
    public ParameterPrecision ParameterPrecision { get; }

    private static ParameterPrecision CheckPrecision(ParameterPrecision? precision)
    {
        precision ??= ParameterPrecision.Nearest;
        if (!Enum.IsDefined(precision.Rounding))
            throw new ArgumentOutOfRangeException("parameterPrecision", precision.Rounding, "Not a ParameterRounding.");
        if (precision.MasterWeights && precision.Rounding != ParameterRounding.Nearest)
            throw new ArgumentException("Master weights are written back rounded to nearest: stochastic rounding does not combine with them.", "parameterPrecision");
        if (precision.Compensation && precision.MasterWeights)
            throw new ArgumentException("Compensation and master weights are two answers to the same rounding loss: choose one.", "parameterPrecision");
        if (precision.Compensation && precision.Rounding != ParameterRounding.Nearest)
            throw new ArgumentException("A compensated parameter and its compensation are rounded to nearest: stochastic rounding does not combine with compensation.", "parameterPrecision");
        return precision;
    }

    /// <summary>
    /// Whether the subclass's step takes parameters stored as <see cref="BFloat16"/> or <see cref="Half"/> (a generated
    /// optimizer of a float rule runs its rule's storage kernels on them); false by default.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected virtual bool SupportsLowPrecisionParameters => false;

    private static StatePrecision CheckPrecision(StatePrecision? precision)
    {
        precision ??= StatePrecision.Full;
        if (!Enum.IsDefined(precision.Storage))
            throw new ArgumentOutOfRangeException("statePrecision", precision.Storage, "Not a StateStorage.");
        if (precision.MinElements < 0)
            throw new ArgumentOutOfRangeException("statePrecision", precision.MinElements, "MinElements must be 0 or more.");
        if (precision.Storage == StateStorage.Blockwise8Bit && typeof(T) != typeof(float))
            throw new ArgumentException($"8-bit state is for float rules; this rule computes in {typeof(T).Name}.", "statePrecision");
        return precision;
    }

    /// <summary>The hyperparameters new groups start from (the constructor's arguments).</summary>
    public TOptions Defaults { get; }

    /// <summary>The parameter groups, strongly typed.</summary>
    public IReadOnlyList<ParamGroup<T, TOptions>> Groups => _groups;

    /// <inheritdoc/>
    public override IReadOnlyList<IParamGroup> ParamGroups => _groups;

    /// <inheritdoc/>
    public override IReadOnlyList<Parameter> Parameters => _parameters;

    /// <summary>
    /// Adds a group (PyTorch's <c>add_param_group</c>): its hyperparameters start as a copy of <see cref="Defaults"/>,
    /// then <paramref name="configure"/> changes what differs, e.g. <c>g =&gt; g.WeightDecay = 0</c>.
    /// </summary>
    /// <param name="parameters">
    /// The group's parameters: of the rule's element type <typeparamref name="T"/>, and for a float rule whose optimizer
    /// supports it (every generated one) also <see cref="Parameter{T}"/> of <see cref="BFloat16"/> or <see cref="Half"/>,
    /// in any mix (as PyTorch's optimizers take tensors of any dtype).
    /// </param>
    /// <param name="configure">Changes the group's copy of the hyperparameters.</param>
    /// <returns>The new group.</returns>
    /// <exception cref="ArgumentException">
    /// No parameters, a parameter already in a group, a name already used, a parameter of an element type this optimizer
    /// cannot update, or an fp16 parameter under stochastic rounding (bfloat16 only).
    /// </exception>
    public ParamGroup<T, TOptions> AddParamGroup(IEnumerable<Parameter> parameters, Action<TOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        Parameter[] list = parameters.ToArray();
        if (list.Length == 0)
            throw new ArgumentException("A parameter group needs at least one parameter.", nameof(parameters));
        var names = new HashSet<string>(StringComparer.Ordinal);
        var seen = new HashSet<Parameter>(ReferenceEqualityComparer.Instance);
        foreach (Parameter? p in list)
        {
            if (p is null)
                throw new ArgumentException("The list holds a null parameter.", nameof(parameters));
            if (_indexOf.ContainsKey(p) || !seen.Add(p))
                throw new ArgumentException($"Parameter '{p.Name}' appears in more than one parameter group.", nameof(parameters));
            if (_names.Contains(p.Name) || !names.Add(p.Name))
                throw new ArgumentException($"Two parameters are named '{p.Name}'; names are the keys of checkpoints and must be unique.", nameof(parameters));
            CheckElementType(p);
            CheckParameter(p);
        }
        var options = (TOptions)Defaults.Copy();
        configure?.Invoke(options);

        var group = new ParamGroup<T, TOptions>(list, options);
        _groups.Add(group);
        foreach (Parameter p in list)
        {
            _indexOf.Add(p, _parameters.Count);
            _names.Add(p.Name);
            _offsets.Add(_parameters.Count == 0 ? 0 : _offsets[^1] + _parameters[^1].Length);
            _parameters.Add(p);
            _slots.Add(new Slot(StateBufferNames.Length, TensorStateNames.Length));
            _groupOf.Add(group);
        }
        return group;
    }

    private void CheckElementType(Parameter p)
    {
        if (p.ElementType == typeof(T))
            return;
        bool lowPrecision = p.ElementType == typeof(BFloat16) || p.ElementType == typeof(Half);
        bool accepted = lowPrecision && typeof(T) == typeof(float) && SupportsLowPrecisionParameters;
        if (!accepted)
        {
            string takes = typeof(T) == typeof(float) && SupportsLowPrecisionParameters ? "float, BFloat16 or Half" : typeof(T).Name;
            throw new ArgumentException($"Parameter '{p.Name}' is stored as {p.ElementType.Name}; this optimizer updates parameters of {takes}.", "parameters");
        }
        if (p.ElementType == typeof(Half) && ParameterPrecision.Rounding == ParameterRounding.Stochastic)
            throw new ArgumentException($"Parameter '{p.Name}' is fp16 (Half); stochastic rounding is for BFloat16 parameters (use fp32 master weights or round to nearest for fp16).", "parameters");
    }

    /// <inheritdoc/>
    public override IReadOnlyList<string> StateNames =>
        ParameterPrecision.MasterWeights ? StateBufferNames.Append(ParameterPrecision.MasterStateName).ToArray()
        : ParameterPrecision.Compensation ? StateBufferNames.Append(ParameterPrecision.CompensationStateName).ToArray()
        : StateBufferNames;

    // ---- What the generated subclass describes --------------------------------------------------

    /// <summary>The rule's state buffers (its <c>ref</c> parameters after the parameter itself), in order.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected abstract string[] StateBufferNames { get; }

    /// <summary>The rule's per-tensor values carried across steps, in order.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected virtual string[] TensorStateNames => Array.Empty<string>();

    /// <summary>The value state buffer <paramref name="buffer"/> starts with in a group with <paramref name="options"/> (0 unless the rule says).</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected virtual T InitialStateValue(int buffer, TOptions options) => default;

    /// <summary>Whether state buffer <paramref name="buffer"/> never holds negative values (<c>[NonNegative]</c>): 8-bit storage then uses the unsigned map.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected virtual bool IsStateNonNegative(int buffer) => false;

    /// <summary>The value per-tensor state <paramref name="index"/> has before the first step, in a group with <paramref name="options"/>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected virtual double InitialTensorState(int index, TOptions options) => 0;

    /// <summary>
    /// Checks a parameter before it joins a group (a shape the optimizer needs, e.g. Muon's 2-D matrices) and throws an
    /// <see cref="ArgumentException"/> naming it if it cannot; nothing by default. Runs before the group is added, also
    /// from the constructor: an override must not rely on the subclass's own fields.
    /// </summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected virtual void CheckParameter(Parameter parameter)
    {
    }

    /// <summary>Runs the rule once over <paramref name="batch"/> with the group's <paramref name="options"/>.</summary>
    [EditorBrowsable(EditorBrowsableState.Never)]
    protected abstract void StepTensors(TOptions options, OptimizerBatch<T> batch);

    // ---- Step ------------------------------------------------------------------------------------

    /// <inheritdoc/>
    public override void Step()
    {
        T scale = TakeGradScale(out bool skip);
        if (skip)
            return;
        foreach (ParamGroup<T, TOptions> group in _groups)
            StepGroup(group, scale);
    }

    private void StepGroup(ParamGroup<T, TOptions> group, T scale)
    {
        Parameter[] members = group.ParameterArray;
        // A parameter without a gradient (PyTorch's grad None) is skipped: no update, no state, no step count.
        if (!Array.TrueForAll(members, p => p.HasGrad))
        {
            members = Array.FindAll(members, p => p.HasGrad);
            if (members.Length == 0)
                return;
        }
        // Tensors that share a step count and per-tensor state run as one multi-tensor call: the common case is one
        // batch per group (every tensor stepped together since it was added).
        int first = _indexOf[members[0]];
        bool uniform = true;
        for (int k = 1; k < members.Length && uniform; k++)
            uniform = _slots[_indexOf[members[k]]].SameKey(_slots[first]) && members[k].ElementType == members[0].ElementType;
        if (uniform)
        {
            RunBatch(group, scale, members.Select(p => _indexOf[p]).ToArray());
            return;
        }
        var batches = new List<List<int>>();
        foreach (Parameter p in members)
        {
            int index = _indexOf[p];
            // One storage type per batch: the step runs one instantiation of the rule's kernel over it.
            List<int>? batch = batches.FirstOrDefault(b => _slots[b[0]].SameKey(_slots[index]) && _parameters[b[0]].ElementType == p.ElementType);
            if (batch is null)
                batches.Add(batch = new List<int>());
            batch.Add(index);
        }
        foreach (List<int> batch in batches)
            RunBatch(group, scale, batch.ToArray());
    }

    private void RunBatch(ParamGroup<T, TOptions> group, T scale, int[] indices)
    {
        Slot slot = _slots[indices[0]];
        long step = slot.Step + 1;
        long total = 0;
        foreach (int index in indices)
            total += _parameters[index].Length;
        int threads = StepOptions.ThreadCountFor((int)Math.Min(total, int.MaxValue), ParallelStep.ChunkAlignment);

        bool quantized = false;
        foreach (int index in indices)
            quantized |= StatePrecision.Quantizes(_parameters[index].Length);
        _batch.Reset(step, scale, threads, indices.Length, StateBufferNames.Length, TensorStateNames.Length, quantized);
        Type storage = _parameters[indices[0]].ElementType;
        if (storage != typeof(T))
        {
            // 16-bit parameters: rounded to nearest, stochastically (keyed by seed, step, element index), through fp32
            // master copies, or with a compensation buffer.
            bool master = ParameterPrecision.MasterWeights;
            StochasticRounding rounding = !master && ParameterPrecision.Rounding == ParameterRounding.Stochastic && storage == typeof(BFloat16)
                ? new StochasticRounding(ParameterPrecision.Seed, (ulong)step)
                : default;
            _batch.SetStorage(storage, rounding, master, ParameterPrecision.Compensation);
        }
        try
        {
            for (int k = 0; k < indices.Length; k++)
            {
                Parameter p = _parameters[indices[k]];
                if (p is Parameter<T> typed)
                    _batch.Set(k, indices[k], typed.Data, typed.Grad, _slots[indices[k]].Buffers);
                else
                    _batch.Set(k, indices[k], p, _offsets[indices[k]], _slots[indices[k]].Buffers, _slots[indices[k]].Master, _slots[indices[k]].Compensation);
            }
            double[] before = slot.Step == 0 ? InitialTensorStates(group.Options) : slot.TensorState;
            _batch.SetTensorStateBefore(before);

            StepTensors(group.Options, _batch);

            // The step ran: count it and keep the per-tensor values the rule carried.
            double[] after = _batch.TensorStateValues;
            foreach (int index in indices)
            {
                Slot s = _slots[index];
                s.Step = step;
                for (int j = 0; j < after.Length; j++)
                    s.TensorState[j] = _batch.TensorStateWritten(j) ? after[j] : before[j];
            }
        }
        finally
        {
            _batch.Clear();
        }
    }

    private T TakeGradScale(out bool skip)
    {
        if (SkipNonFiniteSteps && !HasPendingClip && !HasPendingUnscale)
            CheckFiniteGradients();
        ClearPendingClip();
        double scale = TakePendingScale(out skip);
        return typeof(T) == typeof(float) ? (T)(object)(float)scale : (T)(object)scale;
    }

    private protected override double GradientNorm(double normType)
    {
        Parameter[] present = _parameters.Where(p => p.HasGrad).ToArray();
        if (Array.TrueForAll(present, p => p is Parameter<T>))
        {
            ReadOnlyMemory<T>[] grads = present.Select(p => (ReadOnlyMemory<T>)((Parameter<T>)p).Grad).ToArray();
            return typeof(T) == typeof(float)
                ? GradientClipping.GlobalNorm((ReadOnlyMemory<float>[])(object)grads, normType, StepOptions)
                : GradientClipping.GlobalNorm((ReadOnlyMemory<double>[])(object)grads, normType, StepOptions);
        }
        // 16-bit gradients (a float rule): every bf16 and fp16 value is exact in float, so the norm is that of the widened
        // gradients, reduced in double a block at a time; the parts combine as the norm's kind says.
        return LowPrecisionNorm.Of(present, normType, StepOptions);
    }

    private protected override double ClipCoefficient(double total, double maxNorm) =>
        typeof(T) == typeof(float) ? GradientClipping.ClipCoefficient(total, maxNorm) : GradientClipping.ClipCoefficientDouble(total, maxNorm);

    private double[] InitialTensorStates(TOptions options)
    {
        var values = new double[TensorStateNames.Length];
        for (int j = 0; j < values.Length; j++)
            values[j] = InitialTensorState(j, options);
        return values;
    }

    private Memory<T> AllocateState(int index, int buffer)
    {
        Slot slot = _slots[index];
        if (slot.Buffers[buffer].IsEmpty)
        {
            Memory<T> data = AllocateAligned(_parameters[index].Length);
            T initial = InitialStateValue(buffer, GroupOf(index).Options);
            if (!initial.Equals(default(T)))
                data.Span.Fill(initial);
            slot.Buffers[buffer] = data;
        }
        return slot.Buffers[buffer];
    }

    /// <summary>The fp32 master copy of 16-bit parameter <paramref name="index"/>, taken from its values on first use (exactly: widening is exact).</summary>
    private Memory<T> AllocateMaster(int index)
    {
        Slot slot = _slots[index];
        if (slot.Master.IsEmpty)
        {
            Parameter p = _parameters[index];
            Memory<T> master = AllocateAligned(p.Length);
            Span<float> values = System.Runtime.InteropServices.MemoryMarshal.Cast<T, float>(master.Span);
            if (p is Parameter<BFloat16> b)
                BFloat16Conversions.ToSingle(b.Data.Span, values);
            else if (p is Parameter<Half> h)
                HalfConversions.ToSingle(h.Data.Span, values);
            slot.Master = master;
        }
        return slot.Master;
    }

    /// <summary>The compensation buffer of 16-bit parameter <paramref name="index"/>: zeros of its own type, on first use.</summary>
    private Array AllocateCompensation(int index)
    {
        Slot slot = _slots[index];
        slot.Compensation ??= _parameters[index] switch
        {
            Parameter<BFloat16> b => new BFloat16[b.Length],
            Parameter<Half> h => new Half[h.Length],
            Parameter p => throw new InvalidOperationException($"Parameter '{p.Name}' is not 16-bit: it has no compensation."),
        };
        return slot.Compensation;
    }

    private QuantizedState? QuantizedStateOf(int index, int buffer)
    {
        if (!StatePrecision.Quantizes(_parameters[index].Length))
            return null;
        Slot slot = _slots[index];
        if (slot.Quantized[buffer] is null)
        {
            var state = new QuantizedState(_parameters[index].Length, IsStateNonNegative(buffer));
            state.Fill((float)(object)InitialStateValue(buffer, GroupOf(index).Options));
            slot.Quantized[buffer] = state;
        }
        return slot.Quantized[buffer];
    }

    /// <summary>
    /// A zeroed state buffer whose first element is 64-byte aligned (a cache line, one Vector512), on the pinned object
    /// heap so it stays there: the fused loop's full-width loads and stores then never straddle two cache lines.
    /// </summary>
    private static unsafe Memory<T> AllocateAligned(int length)
    {
        int pad = 64 / sizeof(T);
        T[] array = GC.AllocateArray<T>(length + pad, pinned: true);
        nint address = (nint)System.Runtime.CompilerServices.Unsafe.AsPointer(ref array[0]);
        int offset = (int)((64 - (address & 63)) & 63) / sizeof(T);
        return array.AsMemory(offset, length);
    }

    private ParamGroup<T, TOptions> GroupOf(int index) => _groupOf[index];

    // ---- State dict -------------------------------------------------------------------------------

    /// <summary>The key of an 8-bit buffer's block scales in a state dict: the buffer's name and this suffix.</summary>
    public const string AbsMaxSuffix = ".absmax";

    /// <inheritdoc/>
    public override OptimizerMemoryReport MemoryReport()
    {
        var rows = new List<ParameterMemory>();
        for (int index = 0; index < _parameters.Count; index++)
        {
            Slot slot = _slots[index];
            long bytes = 0;
            for (int b = 0; b < slot.Buffers.Length; b++)
                bytes += slot.Quantized[b]?.Bytes ?? (long)slot.Buffers[b].Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            bytes += (long)slot.Master.Length * System.Runtime.CompilerServices.Unsafe.SizeOf<T>();
            bytes += (long)(slot.Compensation?.Length ?? 0) * 2;
            Parameter p = _parameters[index];
            StateStorage storage = StatePrecision.Quantizes(p.Length) ? StateStorage.Blockwise8Bit : StateStorage.Full;
            rows.Add(new ParameterMemory(p.Name, p.Length, (long)p.Length * ElementSize(p.ElementType), bytes, storage));
        }
        return new OptimizerMemoryReport(rows);
    }

    private static int ElementSize(Type type) =>
        type == typeof(double) ? sizeof(double) : type == typeof(float) ? sizeof(float) : 2;

    /// <inheritdoc/>
    public override OptimizerStateDict StateDict()
    {
        var groups = new List<ParamGroupState>();
        foreach (ParamGroup<T, TOptions> group in _groups)
        {
            var values = new Dictionary<string, double>(StringComparer.Ordinal);
            foreach (string name in group.Options.Names)
                values[name] = group.Options[name];
            groups.Add(new ParamGroupState(values, group.ParameterArray.Select(p => _indexOf[p]).ToArray()));
        }
        var state = new List<ParameterState?>();
        for (int index = 0; index < _slots.Count; index++)
        {
            Slot slot = _slots[index];
            if (slot.Step == 0 && slot.Buffers.All(b => b.IsEmpty) && slot.Quantized.All(q => q is null) && slot.Master.IsEmpty && slot.Compensation is null)
            {
                state.Add(null);
                continue;
            }
            var buffers = new Dictionary<string, Array>(StringComparer.Ordinal);
            for (int b = 0; b < slot.Buffers.Length; b++)
            {
                if (slot.Quantized[b] is { } q)
                {
                    buffers[StateBufferNames[b]] = q.Codes.ToArray();
                    buffers[StateBufferNames[b] + AbsMaxSuffix] = q.AbsMax.ToArray();
                }
                else if (!slot.Buffers[b].IsEmpty)
                {
                    buffers[StateBufferNames[b]] = slot.Buffers[b].ToArray();
                }
            }
            if (!slot.Master.IsEmpty)
                buffers[ParameterPrecision.MasterStateName] = slot.Master.ToArray();
            if (slot.Compensation is not null)
                buffers[ParameterPrecision.CompensationStateName] = (Array)slot.Compensation.Clone();
            var tensorState = new Dictionary<string, double>(StringComparer.Ordinal);
            double[] values = slot.Step == 0 ? InitialTensorStates(GroupOf(index).Options) : slot.TensorState;
            for (int j = 0; j < values.Length; j++)
                tensorState[TensorStateNames[j]] = values[j];
            state.Add(new ParameterState(slot.Step, buffers, tensorState));
        }
        return new OptimizerStateDict
        {
            Optimizer = RuleName,
            Parameters = _parameters.Select(p => new ParameterDescription(p.Name, p.Shape.ToArray(), p.ElementType)).ToArray(),
            ParamGroups = groups,
            State = state,
        };
    }

    /// <inheritdoc/>
    public override void LoadStateDict(OptimizerStateDict stateDict)
    {
        ArgumentNullException.ThrowIfNull(stateDict);
        const string arg = nameof(stateDict);
        // Everything is checked before anything changes.
        if (stateDict.Optimizer != RuleName)
            throw new ArgumentException($"The state is of optimizer '{stateDict.Optimizer}', not '{RuleName}'.", arg);
        if (stateDict.Parameters is null || stateDict.ParamGroups is null || stateDict.State is null)
            throw new ArgumentException("The state dict is incomplete.", arg);
        if (stateDict.Parameters.Count != _parameters.Count)
            throw new ArgumentException($"The state holds {stateDict.Parameters.Count} parameters; this optimizer has {_parameters.Count}.", arg);
        if (stateDict.State.Count != _parameters.Count)
            throw new ArgumentException($"The state holds state for {stateDict.State.Count} parameters; this optimizer has {_parameters.Count}.", arg);
        for (int i = 0; i < _parameters.Count; i++)
        {
            ParameterDescription d = stateDict.Parameters[i];
            Parameter p = _parameters[i];
            if (d.Name != p.Name)
                throw new ArgumentException($"Parameter {i} is '{d.Name}' in the state and '{p.Name}' here.", arg);
            if (!d.Shape.SequenceEqual(p.Shape))
                throw new ArgumentException($"Parameter '{p.Name}' has shape [{string.Join(", ", d.Shape)}] in the state and [{string.Join(", ", p.Shape)}] here.", arg);
            if (d.ElementType != p.ElementType)
                throw new ArgumentException($"Parameter '{p.Name}' is {d.ElementType.Name} in the state and {p.ElementType.Name} here.", arg);
        }
        if (stateDict.ParamGroups.Count != _groups.Count)
            throw new ArgumentException($"The state holds {stateDict.ParamGroups.Count} parameter groups; this optimizer has {_groups.Count}.", arg);
        for (int g = 0; g < _groups.Count; g++)
        {
            ParamGroupState s = stateDict.ParamGroups[g];
            int[] mine = _groups[g].ParameterArray.Select(p => _indexOf[p]).ToArray();
            if (!s.Parameters.SequenceEqual(mine))
                throw new ArgumentException($"Group {g} holds parameters [{string.Join(", ", s.Parameters)}] in the state and [{string.Join(", ", mine)}] here.", arg);
            foreach (string name in s.Hyperparameters.Keys)
            {
                if (!_groups[g].Options.Contains(name))
                    throw new ArgumentException($"Group {g}'s hyperparameter '{name}' is not one of this optimizer's ({string.Join(", ", _groups[g].Options.Names)}).", arg);
            }
        }
        var loaded = new Slot[_parameters.Count];
        for (int i = 0; i < _parameters.Count; i++)
        {
            ParameterState? s = stateDict.State[i];
            var slot = new Slot(StateBufferNames.Length, TensorStateNames.Length);
            loaded[i] = slot;
            if (s is null)
                continue;
            if (s.Step < 0)
                throw new ArgumentException($"Parameter '{_parameters[i].Name}' has a negative step count ({s.Step}).", arg);
            slot.Step = s.Step;
            foreach ((string name, Array data) in s.Buffers)
            {
                if (name.EndsWith(AbsMaxSuffix, StringComparison.Ordinal) && Array.IndexOf(StateBufferNames, name[..^AbsMaxSuffix.Length]) >= 0)
                {
                    if (!s.Buffers.TryGetValue(name[..^AbsMaxSuffix.Length], out Array? codes) || codes is not byte[])
                        throw new ArgumentException($"Parameter '{_parameters[i].Name}' has block scales '{name}' without the 8-bit codes they scale.", arg);
                    continue;   // read with its codes
                }
                if (name == ParameterPrecision.MasterStateName && Array.IndexOf(StateBufferNames, name) < 0)
                {
                    if (!ParameterPrecision.MasterWeights || _parameters[i].ElementType == typeof(T))
                        throw new ArgumentException($"Parameter '{_parameters[i].Name}' has an fp32 master copy, which this optimizer does not keep (its ParameterPrecision has no master weights, or the parameter is not 16-bit).", arg);
                    if (data is not T[] master || master.Length != _parameters[i].Length)
                        throw new ArgumentException($"The master copy of parameter '{_parameters[i].Name}' is not a {typeof(T).Name}[] of {_parameters[i].Length} elements.", arg);
                    Memory<T> masterCopy = AllocateAligned(master.Length);
                    master.CopyTo(masterCopy);
                    slot.Master = masterCopy;
                    continue;
                }
                if (name == ParameterPrecision.CompensationStateName && Array.IndexOf(StateBufferNames, name) < 0)
                {
                    Parameter p = _parameters[i];
                    if (!ParameterPrecision.Compensation || p.ElementType == typeof(T))
                        throw new ArgumentException($"Parameter '{p.Name}' has a compensation buffer, which this optimizer does not keep (its ParameterPrecision has no compensation, or the parameter is not 16-bit).", arg);
                    if (data.GetType().GetElementType() != p.ElementType || data.Rank != 1 || data.Length != p.Length)
                        throw new ArgumentException($"The compensation of parameter '{p.Name}' is not a {p.ElementType.Name}[] of {p.Length} elements.", arg);
                    slot.Compensation = (Array)data.Clone();
                    continue;
                }
                int b = Array.IndexOf(StateBufferNames, name);
                if (b < 0)
                    throw new ArgumentException($"Parameter '{_parameters[i].Name}' has state '{name}', which this optimizer does not keep ({string.Join(", ", StateBufferNames)}).", arg);
                if (data.Length != _parameters[i].Length)
                    throw new ArgumentException($"State '{name}' of parameter '{_parameters[i].Name}' holds {data.Length} elements; the parameter has {_parameters[i].Length}.", arg);
                bool quantizes = StatePrecision.Quantizes(_parameters[i].Length);
                if (data is byte[] codes8)
                {
                    // 8-bit state (codes + one absmax per block): kept bit-exactly when this optimizer stores it in 8 bits too,
                    // dequantized otherwise.
                    if (typeof(T) != typeof(float))
                        throw new ArgumentException($"State '{name}' of parameter '{_parameters[i].Name}' is 8-bit; this rule computes in {typeof(T).Name}.", arg);
                    if (!s.Buffers.TryGetValue(name + AbsMaxSuffix, out Array? scales) || scales is not float[] absMax)
                        throw new ArgumentException($"State '{name}' of parameter '{_parameters[i].Name}' is 8-bit but its block scales '{name}{AbsMaxSuffix}' (float[]) are missing.", arg);
                    if (absMax.Length != Precision.BlockwiseQuantizer.BlockCount(codes8.Length))
                        throw new ArgumentException($"State '{name}{AbsMaxSuffix}' of parameter '{_parameters[i].Name}' holds {absMax.Length} block scales; {Precision.BlockwiseQuantizer.BlockCount(codes8.Length)} expected.", arg);
                    QuantizedState q = QuantizedState.From(codes8, absMax, IsStateNonNegative(b));
                    if (quantizes)
                    {
                        slot.Quantized[b] = q;
                    }
                    else
                    {
                        Memory<T> full = AllocateAligned(codes8.Length);
                        ((T[])(object)q.Dequantize()).CopyTo(full);
                        slot.Buffers[b] = full;
                    }
                    continue;
                }
                if (data is not T[] values)
                    throw new ArgumentException($"State '{name}' of parameter '{_parameters[i].Name}' is {data.GetType().Name}, not {typeof(T).Name}[] (or 8-bit codes).", arg);
                if (quantizes)
                {
                    slot.Quantized[b] = QuantizedState.From((float[])(object)values, IsStateNonNegative(b));
                    continue;
                }
                Memory<T> copy = AllocateAligned(values.Length);
                values.CopyTo(copy);
                slot.Buffers[b] = copy;
            }
            double[] initial = InitialTensorStates(GroupOf(i).Options);
            for (int j = 0; j < initial.Length; j++)
                slot.TensorState[j] = initial[j];
            foreach ((string name, double value) in s.TensorState)
            {
                int j = Array.IndexOf(TensorStateNames, name);
                if (j < 0)
                    throw new ArgumentException($"Parameter '{_parameters[i].Name}' has per-tensor state '{name}', which this optimizer does not keep.", arg);
                slot.TensorState[j] = value;
            }
        }
        // Hyperparameter values are checked by a trial on copies (an int must get a whole number).
        var options = new List<TOptions>();
        for (int g = 0; g < _groups.Count; g++)
        {
            var copy = (TOptions)_groups[g].Options.Copy();
            foreach ((string name, double value) in stateDict.ParamGroups[g].Hyperparameters)
                copy[name] = value;
            options.Add(copy);
        }

        // Commit.
        for (int g = 0; g < _groups.Count; g++)
        {
            foreach ((string name, double value) in stateDict.ParamGroups[g].Hyperparameters)
                _groups[g].Options[name] = value;
        }
        for (int i = 0; i < loaded.Length; i++)
            _slots[i] = loaded[i];
    }

    /// <summary>One parameter's state: step count, state buffers (empty until first used), per-tensor values.</summary>
    private sealed class Slot
    {
        public Slot(int buffers, int tensorStates)
        {
            Buffers = new Memory<T>[buffers];
            Quantized = new QuantizedState?[buffers];
            TensorState = new double[tensorStates];
        }

        public long Step;
        public Memory<T> Master;   // the fp32 copy of a 16-bit parameter (ParameterPrecision.MasterWeights), empty until its first step
        public Array? Compensation;   // the compensation of a 16-bit parameter, of its type (ParameterPrecision.Compensation), null until its first step
        public readonly Memory<T>[] Buffers;
        public readonly QuantizedState?[] Quantized;   // the 8-bit buffers (then Buffers[b] stays empty)
        public readonly double[] TensorState;

        public bool SameKey(Slot other)
        {
            if (Step != other.Step)
                return false;
            if (Step == 0)
                return true;
            for (int j = 0; j < TensorState.Length; j++)
            {
                if (BitConverter.DoubleToInt64Bits(TensorState[j]) != BitConverter.DoubleToInt64Bits(other.TensorState[j]))
                    return false;
            }
            return true;
        }
    }
}
