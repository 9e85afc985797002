using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static TorchSharp.torch;

namespace Kernels.Tests.Parity.Harness;

/// <summary>One implementation of an optimizer over one parameter tensor, driven step by step.</summary>
public interface IStepper : IDisposable
{
    /// <summary>Runs step <paramref name="step"/> (1 on the first) with gradient <paramref name="grad"/>.</summary>
    void Step(int step, float[] grad);

    /// <summary>Copies the current values of <c>"param"</c> or of a named state buffer, widened to double, into <paramref name="destination"/>.</summary>
    void Read(string name, double[] destination);
}

/// <summary>The kernel under test: float arrays updated by a built-in rule.</summary>
/// <remarks>
/// The step delegate receives the step count, the gradient and this stepper (for <c>"param"</c> and the state
/// buffers); each test calls either the generated span overload or the scalar rule element by element.
/// </remarks>
public sealed class KernelStepper : IStepper
{
    private readonly Dictionary<string, float[]> _buffers;
    private readonly Action<int, float[], KernelStepper> _step;

    /// <summary>Creates the stepper with the initial parameter and zero-filled (or <paramref name="initial"/>-filled) state buffers.</summary>
    public KernelStepper(float[] param, IEnumerable<string> state, Action<int, float[], KernelStepper> step, IReadOnlyDictionary<string, float>? initial = null)
    {
        _buffers = new Dictionary<string, float[]> { ["param"] = (float[])param.Clone() };
        foreach (string name in state)
        {
            var buffer = new float[param.Length];
            if (initial is not null && initial.TryGetValue(name, out float value))
                Array.Fill(buffer, value);
            _buffers[name] = buffer;
        }
        _step = step;
    }

    /// <summary>A buffer by name (<c>"param"</c> or a state buffer).</summary>
    public float[] this[string name] => _buffers[name];

    /// <summary>Number of elements.</summary>
    public int Length => _buffers["param"].Length;

    /// <inheritdoc/>
    public void Step(int step, float[] grad) => _step(step, grad, this);

    /// <inheritdoc/>
    public void Read(string name, double[] destination)
    {
        float[] buffer = _buffers[name];
        for (int i = 0; i < buffer.Length; i++)
            destination[i] = buffer[i];
    }

    /// <inheritdoc/>
    public void Dispose() { }
}

/// <summary>
/// A reference written with libtorch tensor operations through TorchSharp: PyTorch's own CPU kernels, called in the
/// order of the single-tensor implementation in <c>torch/optim/*.py</c> (the one PyTorch runs for CPU tensors).
/// </summary>
public sealed class TorchStepper : IStepper
{
    private readonly Dictionary<string, Tensor> _tensors;
    private readonly Action<int, Tensor, TorchStepper> _step;

    /// <summary>Creates the stepper with the initial parameter and zero-filled (or <paramref name="initial"/>-filled) state tensors.</summary>
    public TorchStepper(float[] param, IEnumerable<string> state, Action<int, Tensor, TorchStepper> step, IReadOnlyDictionary<string, float>? initial = null)
    {
        _tensors = new Dictionary<string, Tensor> { ["param"] = tensor(param) };
        foreach (string name in state)
        {
            float value = initial is not null && initial.TryGetValue(name, out float v) ? v : 0f;
            _tensors[name] = full(param.Length, value, dtype: ScalarType.Float32);
        }
        _step = step;
    }

    /// <summary>A tensor by name (<c>"param"</c> or a state tensor).</summary>
    public Tensor this[string name] => _tensors[name];

    /// <summary>Per-tensor scalar state that PyTorch keeps as 0-dim tensors or Python floats.</summary>
    public Dictionary<string, object> Scalars { get; } = new();

    /// <inheritdoc/>
    public void Step(int step, float[] grad)
    {
        using var scope = NewDisposeScope();
        using var g = tensor(grad);
        _step(step, g, this);
    }

    /// <inheritdoc/>
    public void Read(string name, double[] destination) => CopyTo(_tensors[name], destination);

    /// <summary>Copies a float32 tensor into <paramref name="destination"/>, widened to double.</summary>
    internal static void CopyTo(Tensor t, double[] destination)
    {
        float[] values = t.data<float>().ToArray();
        for (int i = 0; i < values.Length; i++)
            destination[i] = values[i];
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var t in _tensors.Values)
            t.Dispose();
        foreach (var s in Scalars.Values.OfType<IDisposable>())
            s.Dispose();
    }
}

/// <summary>TorchSharp's own optimizer class (torch.optim.X in TorchSharp), its state read back after every step.</summary>
public sealed class TorchSharpOptimizerStepper : IStepper
{
    private readonly TorchSharp.Modules.Parameter _param;
    private readonly TorchSharp.Modules.OptimizerHelper _optimizer;
    private readonly Func<TorchSharp.Modules.OptimizerHelper, string, Tensor?> _state;

    /// <summary>Creates the parameter and the optimizer (<paramref name="create"/>); <paramref name="state"/> reads a named buffer from the optimizer.</summary>
    public TorchSharpOptimizerStepper(float[] param, Func<TorchSharp.Modules.Parameter, TorchSharp.Modules.OptimizerHelper> create, Func<TorchSharp.Modules.OptimizerHelper, string, Tensor?> state)
    {
        _param = new TorchSharp.Modules.Parameter(tensor(param));
        _optimizer = create(_param);
        _state = state;
    }

    /// <summary>The optimizer's state record for the single parameter.</summary>
    public static T StateOf<T>(TorchSharp.Modules.OptimizerHelper optimizer) where T : class => (T)(object)optimizer.state_dict().State[0];

    /// <inheritdoc/>
    public void Step(int step, float[] grad)
    {
        using var scope = NewDisposeScope();
        _param.grad = tensor(grad);
        _optimizer.step();
    }

    /// <inheritdoc/>
    public void Read(string name, double[] destination)
    {
        Tensor? t = name == "param" ? _param : _state(_optimizer, name);
        if (t is null)
            throw new InvalidOperationException($"TorchSharp's optimizer has no state '{name}'.");
        TorchStepper.CopyTo(t, destination);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _optimizer.Dispose();
        _param.Dispose();
    }
}

/// <summary>A double-precision reference written in plain C# (for optimizers with no PyTorch kernel).</summary>
/// <remarks>
/// Each step is computed in double from the current state; the parameter and state are then rounded to float32,
/// as the reference implementations keep them in float32 tensors. Without that rounding the comparison would
/// measure float32 storage (half an ulp of the parameter per step, accumulated over the run) rather than the
/// kernel's arithmetic.
/// </remarks>
public sealed class DoubleStepper : IStepper
{
    private readonly Dictionary<string, double[]> _buffers;
    private readonly Action<int, float[], DoubleStepper> _step;

    /// <summary>Creates the stepper with the initial parameter and zero state.</summary>
    public DoubleStepper(float[] param, IEnumerable<string> state, Action<int, float[], DoubleStepper> step)
    {
        _buffers = new Dictionary<string, double[]> { ["param"] = param.Select(v => (double)v).ToArray() };
        foreach (string name in state)
            _buffers[name] = new double[param.Length];
        _step = step;
    }

    /// <summary>A buffer by name.</summary>
    public double[] this[string name] => _buffers[name];

    /// <summary>A hyperparameter as a float32 tensor operation sees it (torch rounds a Python float to the tensor's dtype).</summary>
    public static double F(double value) => (float)value;

    /// <inheritdoc/>
    public void Step(int step, float[] grad)
    {
        _step(step, grad, this);
        foreach (double[] buffer in _buffers.Values)
        {
            for (int i = 0; i < buffer.Length; i++)
                buffer[i] = (float)buffer[i];
        }
    }

    /// <inheritdoc/>
    public void Read(string name, double[] destination) => _buffers[name].CopyTo(destination, 0);

    /// <inheritdoc/>
    public void Dispose() { }
}

/// <summary>
/// Runs a whole parity case with the garbage collector held off. TorchSharp 0.107 turns every double passed as a
/// <c>Scalar</c> into a native handle owned by a finalizable object and does not keep that object alive across the
/// native call, so a collection in that window can free the handle while libtorch reads it ("Expected false to be
/// true" from c10::Scalar::toFloat, seen intermittently in TorchSharp's own optimizer classes and in the references).
/// No collection, no race. The steppers allocate little per step, tests run one at a time (xunit.runner.json), and
/// one region per case costs one collection.
/// </summary>
internal static class NoGc
{
    private static readonly long[] s_budgets = [240L << 20, 128L << 20, 64L << 20];

    public static void Run(Action action)
    {
        bool started = false;
        foreach (long budget in s_budgets)
        {
            try
            {
                if (System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion)
                    break;
                started = GC.TryStartNoGCRegion(budget);
                break;
            }
            catch (ArgumentOutOfRangeException)
            {
                // budget larger than this GC allows: try a smaller one
            }
        }
        try
        {
            action();
        }
        finally
        {
            if (started && System.Runtime.GCSettings.LatencyMode == System.Runtime.GCLatencyMode.NoGCRegion)
                GC.EndNoGCRegion();
        }
    }
}
