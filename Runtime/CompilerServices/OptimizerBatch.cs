using System;
using System.ComponentModel;
using System.Runtime.InteropServices;
using System.Threading.Tasks;
using Kernels.Precision;
using Kernels.Training;

namespace Kernels.CompilerServices;

/// <summary>
/// The tensors of one optimizer step that share a step count and per-tensor state: what a generated optimizer's
/// <c>StepTensors</c> runs its rule over in one multi-tensor call. Used by generated code; not meant to be called by hand.
/// </summary>
/// <typeparam name="T">The element type.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public sealed class OptimizerBatch<T> where T : unmanaged
{
    private readonly Func<int, int, Memory<T>> _stateOf;
    private readonly Func<int, int, QuantizedState?>? _quantizedOf;
    private readonly Func<int, Memory<T>>? _masterOf;
    private readonly Func<int, Array>? _compensationOf;
    private int[] _index = Array.Empty<int>();
    private int[] _length = Array.Empty<int>();
    private long[] _position = Array.Empty<long>();
    private Parameter?[] _storageParams = Array.Empty<Parameter?>();
    private Memory<T>[] _master = Array.Empty<Memory<T>>();
    private Array?[] _compensation = Array.Empty<Array?>();
    private Array? _typedCompensation;
    private Array? _typedParams, _typedGrads;
    private Memory<T>[] _params = Array.Empty<Memory<T>>();
    private ReadOnlyMemory<T>[] _grads = Array.Empty<ReadOnlyMemory<T>>();
    private Memory<T>[][] _state = Array.Empty<Memory<T>[]>();
    private double[] _tensorState = Array.Empty<double>();
    private bool[] _tensorStateWritten = Array.Empty<bool>();
    private int _count;

    /// <param name="stateOf">Allocates state buffer (second argument) of the optimizer's parameter (first argument, its index).</param>
    /// <param name="quantizedOf">The 8-bit state buffer (allocated on first use) of a parameter whose state is quantized, else null.</param>
    /// <param name="masterOf">The fp32 master copy (allocated on first use) of a 16-bit parameter (its index).</param>
    /// <param name="compensationOf">The compensation buffer (allocated on first use, an array of the parameter's 16-bit type) of a 16-bit parameter (its index).</param>
    internal OptimizerBatch(Func<int, int, Memory<T>> stateOf, Func<int, int, QuantizedState?>? quantizedOf = null, Func<int, Memory<T>>? masterOf = null,
        Func<int, Array>? compensationOf = null)
    {
        _stateOf = stateOf;
        _quantizedOf = quantizedOf;
        _masterOf = masterOf;
        _compensationOf = compensationOf;
    }

    /// <summary>
    /// How every parameter of the batch is stored: <typeparamref name="T"/> (then <see cref="Params"/> and
    /// <see cref="Grads"/> hold them), or <see cref="BFloat16"/> or <see cref="Half"/> for a float rule (then
    /// <see cref="ParamsOf{TStorage}"/> and <see cref="GradsOf{TStorage}"/> do, and the generated step runs its storage kernel).
    /// </summary>
    public Type ParameterType { get; private set; } = typeof(T);

    /// <summary>How the 16-bit parameters of the batch are rounded: <c>default</c> to nearest, else stochastically (element index: <see cref="Positions"/>).</summary>
    public StochasticRounding Rounding { get; private set; }

    /// <summary>Whether the 16-bit parameters of the batch are updated through fp32 master copies (<see cref="MasterWeights"/>).</summary>
    public bool HasMasterWeights { get; private set; }

    /// <summary>Whether the 16-bit parameters of the batch carry a compensation buffer each (<see cref="CompensationOf{TStorage}"/>; <c>ParameterPrecision.Compensation</c>).</summary>
    public bool HasCompensation { get; private set; }

    /// <summary>Each 16-bit tensor's compensation buffer (zero from its first step), as <typeparamref name="TStorage"/>, when <see cref="HasCompensation"/>.</summary>
    /// <typeparam name="TStorage">The batch's parameter type.</typeparam>
    public ReadOnlySpan<Memory<TStorage>> CompensationOf<TStorage>() where TStorage : unmanaged
    {
        if (_typedCompensation is not Memory<TStorage>[] list || list.Length < _count)
            _typedCompensation = list = new Memory<TStorage>[Math.Max(_count, _params.Length)];
        for (int k = 0; k < _count; k++)
        {
            _compensation[k] ??= _compensationOf!(_index[k]);
            list[k] = (TStorage[])_compensation[k]!;
        }
        return list.AsSpan(0, _count);
    }

    /// <summary>The element index (in the random stream of <see cref="Rounding"/>) of each tensor's first element: its offset among all the optimizer's parameters.</summary>
    public ReadOnlySpan<long> Positions => _position.AsSpan(0, _count);

    /// <summary>Each 16-bit tensor's values, as <typeparamref name="TStorage"/> (<see cref="ParameterType"/>).</summary>
    /// <typeparam name="TStorage">The batch's parameter type.</typeparam>
    public ReadOnlySpan<Memory<TStorage>> ParamsOf<TStorage>() where TStorage : unmanaged
    {
        if (_typedParams is not Memory<TStorage>[] list || list.Length < _count)
            _typedParams = list = new Memory<TStorage>[Math.Max(_count, _params.Length)];
        for (int k = 0; k < _count; k++)
            list[k] = ((Parameter<TStorage>)_storageParams[k]!).Data;
        return list.AsSpan(0, _count);
    }

    /// <summary>Each 16-bit tensor's gradient, as <typeparamref name="TStorage"/> (<see cref="ParameterType"/>).</summary>
    /// <typeparam name="TStorage">The batch's parameter type.</typeparam>
    public ReadOnlySpan<ReadOnlyMemory<TStorage>> GradsOf<TStorage>() where TStorage : unmanaged
    {
        if (_typedGrads is not ReadOnlyMemory<TStorage>[] list || list.Length < _count)
            _typedGrads = list = new ReadOnlyMemory<TStorage>[Math.Max(_count, _params.Length)];
        for (int k = 0; k < _count; k++)
            list[k] = ((Parameter<TStorage>)_storageParams[k]!).Grad;
        return list.AsSpan(0, _count);
    }

    /// <summary>Each 16-bit tensor's fp32 master copy (allocated from its values on first use), when <see cref="HasMasterWeights"/>.</summary>
    public ReadOnlySpan<Memory<T>> MasterWeights
    {
        get
        {
            for (int k = 0; k < _count; k++)
            {
                if (_master[k].IsEmpty && _length[k] > 0)
                    _master[k] = _masterOf!(_index[k]);
            }
            return _master.AsSpan(0, _count);
        }
    }

    /// <summary>
    /// Writes every master copy back into its 16-bit parameter, rounded to nearest (ties to even): the end of a step with
    /// master weights. Threads take whole tensors' pieces of 16,384 elements; the bits do not depend on them.
    /// </summary>
    /// <typeparam name="TStorage">The batch's parameter type.</typeparam>
    public void StoreMasterWeights<TStorage>() where TStorage : unmanaged
    {
        const int Piece = 1 << 14;
        ReadOnlySpan<Memory<T>> masters = MasterWeights;
        var pieces = new System.Collections.Generic.List<(Memory<float> From, Memory<TStorage> To)>();
        for (int k = 0; k < _count; k++)
        {
            Memory<float> master = MemoryMarshal.AsMemory((ReadOnlyMemory<float>)(object)(ReadOnlyMemory<T>)masters[k]);
            Memory<TStorage> data = ((Parameter<TStorage>)_storageParams[k]!).Data;
            for (int start = 0; start < data.Length; start += Piece)
            {
                int n = Math.Min(Piece, data.Length - start);
                pieces.Add((master.Slice(start, n), data.Slice(start, n)));
            }
        }
        static void Narrow((Memory<float> From, Memory<TStorage> To) piece)
        {
            if (typeof(TStorage) == typeof(BFloat16))
                BFloat16Conversions.FromSingle(piece.From.Span, MemoryMarshal.Cast<TStorage, BFloat16>(piece.To.Span));
            else if (typeof(TStorage) == typeof(Half))
                HalfConversions.FromSingle(piece.From.Span, MemoryMarshal.Cast<TStorage, Half>(piece.To.Span));
            else
                throw new NotSupportedException($"Master weights of {typeof(TStorage).Name} parameters.");
        }
        if (Threads <= 1 || pieces.Count == 1)
        {
            foreach (var piece in pieces)
                Narrow(piece);
            return;
        }
        Parallel.ForEach(pieces, new ParallelOptions { MaxDegreeOfParallelism = Threads }, Narrow);
    }

    /// <summary>
    /// Whether some tensor of the batch keeps its state in 8 bits (<see cref="StateStorage.Blockwise8Bit"/>): the
    /// generated step then runs through <see cref="BlockwiseStep"/> instead of <see cref="State"/> lists.
    /// </summary>
    public bool HasQuantizedState { get; private set; }

    /// <summary>The step count of every tensor of the batch, 1 on the first step.</summary>
    public long Step { get; private set; }

    /// <summary>The factor every gradient element is multiplied by as it is loaded (a clip coefficient; 1 when not clipping).</summary>
    public T GradScale { get; private set; }

    /// <summary>How many threads the step may use.</summary>
    public int Threads { get; private set; }

    /// <summary>The number of tensors.</summary>
    public int Count => _count;

    /// <summary>Each tensor's values.</summary>
    public ReadOnlySpan<Memory<T>> Params => _params.AsSpan(0, _count);

    /// <summary>Each tensor's gradient.</summary>
    public ReadOnlySpan<ReadOnlyMemory<T>> Grads => _grads.AsSpan(0, _count);

    /// <summary>
    /// Each tensor's state buffer <paramref name="buffer"/> (the rule's state parameters in order), allocated with its
    /// initial value on first use; an empty list when <paramref name="used"/> is false (this configuration never touches it).
    /// </summary>
    public ReadOnlySpan<Memory<T>> State(int buffer, bool used)
    {
        if (!used)
            return default;
        Memory<T>[] list = _state[buffer];
        for (int k = 0; k < _count; k++)
        {
            if (list[k].IsEmpty && _length[k] > 0)
                list[k] = _stateOf(_index[k], buffer);
        }
        return list.AsSpan(0, _count);
    }

    /// <summary>Tensor <paramref name="k"/>'s state buffer <paramref name="buffer"/> when it is 8-bit (allocated on first use), else null.</summary>
    internal QuantizedState? QuantizedBuffer(int k, int buffer) => _quantizedOf?.Invoke(_index[k], buffer);

    /// <summary>Tensor <paramref name="k"/>'s full-precision state buffer <paramref name="buffer"/> (allocated on first use).</summary>
    internal Memory<T> FullState(int k, int buffer)
    {
        Memory<T>[] list = _state[buffer];
        if (list[k].IsEmpty && _length[k] > 0)
            list[k] = _stateOf(_index[k], buffer);
        return list[k];
    }

    /// <summary>The optimizer's index of tensor <paramref name="k"/> of the batch (its position in <c>Optimizer.Parameters</c>: a hand-written optimizer reads the shape there).</summary>
    public int ParameterIndex(int k) => _index[k];

    /// <summary>The batch's value of per-tensor state <paramref name="index"/> before this step (every tensor of the batch holds the same).</summary>
    public double GetTensorState(int index) => _tensorState[index];

    /// <summary>Sets per-tensor state <paramref name="index"/> of every tensor of the batch (kept once the step succeeds).</summary>
    public void SetTensorState(int index, double value)
    {
        _tensorState[index] = value;
        _tensorStateWritten[index] = true;
    }

    internal double[] TensorStateValues => _tensorState;

    internal void Reset(long step, T gradScale, int threads, int count, int stateBuffers, int tensorStates, bool hasQuantizedState = false)
    {
        HasQuantizedState = hasQuantizedState;
        ParameterType = typeof(T);
        Rounding = default;
        HasMasterWeights = false;
        HasCompensation = false;
        Step = step;
        GradScale = gradScale;
        Threads = threads;
        _count = count;
        if (_params.Length < count)
        {
            int capacity = Math.Max(count, _params.Length * 2);
            _params = new Memory<T>[capacity];
            _grads = new ReadOnlyMemory<T>[capacity];
            _index = new int[capacity];
            _length = new int[capacity];
            _position = new long[capacity];
            _storageParams = new Parameter?[capacity];
            _master = new Memory<T>[capacity];
            _compensation = new Array?[capacity];
        }
        if (_state.Length != stateBuffers || (stateBuffers > 0 && _state[0].Length < count))
        {
            _state = new Memory<T>[stateBuffers][];
            for (int b = 0; b < stateBuffers; b++)
                _state[b] = new Memory<T>[_params.Length];
        }
        if (_tensorState.Length != tensorStates)
        {
            _tensorState = new double[tensorStates];
            _tensorStateWritten = new bool[tensorStates];
        }
        Array.Clear(_tensorStateWritten);
    }

    /// <summary>The batch's parameters are stored as <paramref name="parameterType"/> (16-bit), rounded so, with or without master copies or compensation.</summary>
    internal void SetStorage(Type parameterType, StochasticRounding rounding, bool masterWeights, bool compensation)
    {
        ParameterType = parameterType;
        Rounding = rounding;
        HasMasterWeights = masterWeights;
        HasCompensation = compensation;
    }

    internal void Set(int k, int index, Parameter parameter, long position, Memory<T>[] state, Memory<T> master, Array? compensation)
    {
        Set(k, index, default, default, state);
        _storageParams[k] = parameter;
        _length[k] = parameter.Length;
        _position[k] = position;
        _master[k] = master;
        _compensation[k] = compensation;
    }

    internal void Set(int k, int index, Memory<T> param, ReadOnlyMemory<T> grad, Memory<T>[] state)
    {
        _index[k] = index;
        _length[k] = param.Length;
        _position[k] = 0;
        _storageParams[k] = null;
        _master[k] = default;
        _compensation[k] = null;
        _params[k] = param;
        _grads[k] = grad;
        for (int b = 0; b < _state.Length; b++)
            _state[b][k] = b < state.Length ? state[b] : default;
    }

    internal void SetTensorStateBefore(double[] values) => values.AsSpan().CopyTo(_tensorState);

    internal bool TensorStateWritten(int index) => _tensorStateWritten[index];

    /// <summary>Drops the references to the tensors (the optimizer's lists must not keep memory alive between steps).</summary>
    internal void Clear()
    {
        Array.Clear(_params, 0, _count);
        Array.Clear(_grads, 0, _count);
        Array.Clear(_storageParams, 0, _count);
        Array.Clear(_master, 0, _count);
        Array.Clear(_compensation, 0, _count);
        if (_typedCompensation is not null)
            Array.Clear(_typedCompensation, 0, Math.Min(_count, _typedCompensation.Length));
        if (_typedParams is not null)
            Array.Clear(_typedParams, 0, Math.Min(_count, _typedParams.Length));
        if (_typedGrads is not null)
            Array.Clear(_typedGrads, 0, Math.Min(_count, _typedGrads.Length));
        foreach (Memory<T>[] list in _state)
            Array.Clear(list, 0, Math.Min(_count, list.Length));
        _count = 0;
    }
}
