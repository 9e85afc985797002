using System;
using System.ComponentModel;
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
    private int[] _index = Array.Empty<int>();
    private Memory<T>[] _params = Array.Empty<Memory<T>>();
    private ReadOnlyMemory<T>[] _grads = Array.Empty<ReadOnlyMemory<T>>();
    private Memory<T>[][] _state = Array.Empty<Memory<T>[]>();
    private double[] _tensorState = Array.Empty<double>();
    private bool[] _tensorStateWritten = Array.Empty<bool>();
    private int _count;

    /// <param name="stateOf">Allocates state buffer (second argument) of the optimizer's parameter (first argument, its index).</param>
    /// <param name="quantizedOf">The 8-bit state buffer (allocated on first use) of a parameter whose state is quantized, else null.</param>
    internal OptimizerBatch(Func<int, int, Memory<T>> stateOf, Func<int, int, QuantizedState?>? quantizedOf = null)
    {
        _stateOf = stateOf;
        _quantizedOf = quantizedOf;
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
            if (list[k].IsEmpty && !_params[k].IsEmpty)
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
        if (list[k].IsEmpty && !_params[k].IsEmpty)
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

    internal void Set(int k, int index, Memory<T> param, ReadOnlyMemory<T> grad, Memory<T>[] state)
    {
        _index[k] = index;
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
        foreach (Memory<T>[] list in _state)
            Array.Clear(list, 0, Math.Min(_count, list.Length));
        _count = 0;
    }
}
