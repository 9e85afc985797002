using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Training;
using TorchSharp;
using static TorchSharp.torch;
using static TorchSharp.torch.optim;
using TorchOptimizer = TorchSharp.torch.optim.Optimizer;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace Kernels.Torch;

/// <summary>
/// A Kernels optimizer where TorchSharp expects a <see cref="TorchOptimizer">torch.optim.Optimizer</see>: <c>step()</c>,
/// <c>zero_grad()</c>, <c>parameters()</c> and <see cref="ParamGroups"/>, so that every
/// <c>torch.optim.lr_scheduler</c> drives it. Its step is the generated fused kernel, run in place on the storage of the
/// parameters and of their gradients (CPU float32 tensors, no copies).
/// </summary>
/// <remarks>
/// Create one with <see cref="KernelsOptim"/>. Each step re-reads every parameter's and gradient's address and checks
/// them (CPU, float32, contiguous), so a gradient that autograd reallocated (after <c>zero_grad(set_to_none: true)</c>,
/// or on the first backward pass) is followed; a parameter without a gradient is skipped for that step, as PyTorch skips
/// a parameter whose <c>grad</c> is <c>None</c>.
/// </remarks>
public abstract class KernelsOptimizer : TorchOptimizer
{
    private protected readonly List<TensorBinding> _bindings = new();
    private protected readonly List<KernelsParamGroup> _groups = new();
    private Tensor?[] _held = Array.Empty<Tensor?>();

    private protected KernelsOptimizer()
        : base(IntPtr.Zero)
    {
    }

    /// <summary>
    /// The Kernels optimizer that runs the step: its <c>ClipGradNorm</c>, <c>SkipNonFiniteSteps</c>,
    /// <c>StepOptions</c> (threading) and state dicts. Its parameters are views of the tensors' storage whose gradients
    /// are bound only during this object's calls: use <see cref="step"/>, <see cref="clip_grad_norm"/> and
    /// <see cref="zero_grad()"/> here rather than the inner optimizer's <c>Step()</c>.
    /// </summary>
    public abstract Training.Optimizer Inner { get; }

    /// <summary>The parameter groups, in the order they were added (PyTorch's <c>param_groups</c>).</summary>
    public IReadOnlyList<KernelsParamGroup> param_groups => _groups;

    /// <summary>The parameter groups as TorchSharp's LR schedulers use them.</summary>
    public override IEnumerable<ILearningRateController> ParamGroups => _groups;

    /// <summary>Every parameter of every group, in order.</summary>
    public override IEnumerable<TorchParameter> parameters() => _bindings.Select(b => b.Tensor);

    /// <summary>
    /// One update of every parameter that has a gradient, by the rule's fused kernel, in place on the tensors' storage.
    /// A parameter whose <c>grad</c> is null is left alone (values, state, step count), as in PyTorch.
    /// </summary>
    /// <param name="closure">Re-evaluates the model and returns the loss (run with gradients enabled, before the update); optional.</param>
    /// <returns>The closure's loss, or <see langword="null"/> without a closure.</returns>
    /// <exception cref="InvalidOperationException">A parameter or its gradient no longer is a contiguous CPU float32 tensor of its shape.</exception>
    public override Tensor? step(Func<Tensor>? closure = null)
    {
        Tensor? loss = null;
        if (closure is not null)
        {
            using (torch.enable_grad())
                loss = closure();
        }
        WithGradients(Inner.Step);
        return loss;
    }

    /// <summary>Zeroes every gradient in place, as TorchSharp's own optimizers do (PyTorch's <c>zero_grad(set_to_none=False)</c>).</summary>
    public override void zero_grad() => zero_grad(set_to_none: false);

    /// <summary>Zeroes every gradient in place, or sets it to null (PyTorch's <c>set_to_none</c>: autograd then allocates a new one).</summary>
    /// <param name="set_to_none">Drop the gradient tensors instead of zeroing them.</param>
    public void zero_grad(bool set_to_none)
    {
        using var noGrad = torch.no_grad();
        foreach (TensorBinding binding in _bindings)
        {
            using Tensor? grad = binding.Tensor.grad;
            if (grad is null)
                continue;
            if (set_to_none)
                binding.Tensor.grad = null;
            else
                grad.zero_();
        }
    }

    /// <summary>
    /// Clips the gradients by their global norm as <c>torch.nn.utils.clip_grad_norm_</c>, fused into the next
    /// <see cref="step"/>: the norm is computed now (one read of the gradients) and the coefficient
    /// <c>min(max_norm / (norm + 1e-6), 1)</c> is applied as the step loads each gradient element; the gradient tensors
    /// keep their values. Parameters without a gradient are left out, as in PyTorch.
    /// </summary>
    /// <param name="max_norm">The largest norm the gradients may have.</param>
    /// <param name="norm_type">2, 1 or <see cref="double.PositiveInfinity"/>.</param>
    /// <param name="error_if_nonfinite">Throw when the norm is NaN or infinite.</param>
    /// <returns>The total norm before clipping.</returns>
    public double clip_grad_norm(double max_norm, double norm_type = 2, bool error_if_nonfinite = false)
    {
        double norm = 0;
        WithGradients(() => norm = Inner.ClipGradNorm(max_norm, norm_type, error_if_nonfinite));
        return norm;
    }

    /// <summary>A copy of the optimizer's state and hyperparameters (the Kernels form of PyTorch's <c>state_dict()</c>).</summary>
    public OptimizerStateDict state_dict() => Inner.StateDict();

    /// <summary>Restores a state from <see cref="state_dict"/>; checked first, on a mismatch nothing changes.</summary>
    /// <exception cref="ArgumentException">The state is of another rule, other parameters or shapes.</exception>
    public void load_state_dict(OptimizerStateDict state_dict) => Inner.LoadStateDict(state_dict);

    /// <summary>
    /// Saves the parameters' values and the optimizer's state to a Kernels checkpoint (one safetensors file, written
    /// atomically; see <see cref="Checkpoint"/>): the weights are in it too, so it resumes a run on its own.
    /// </summary>
    /// <param name="path">The file; its directory must exist.</param>
    public void save_checkpoint(string path)
    {
        BindValues();
        Checkpoint.Save(path, Inner);
    }

    /// <summary>Restores a checkpoint written by <see cref="save_checkpoint"/>: the parameters' values (into the tensors) and the optimizer's state.</summary>
    /// <param name="path">The file.</param>
    /// <exception cref="System.IO.InvalidDataException">The file is damaged or does not fit this optimizer; nothing was changed.</exception>
    public void load_checkpoint(string path)
    {
        BindValues();
        Checkpoint.Load(path, Inner);
    }

    /// <summary>Binds every value and gradient, runs <paramref name="action"/>, then releases the gradient tensors.</summary>
    private protected void WithGradients(Action action)
    {
        if (_held.Length != _bindings.Count)
            _held = new Tensor?[_bindings.Count];
        try
        {
            for (int i = 0; i < _bindings.Count; i++)
                _held[i] = _bindings[i].Bind();
            action();
        }
        finally
        {
            for (int i = 0; i < _bindings.Count; i++)
            {
                _bindings[i].Release();
                _held[i]?.Dispose();
                _held[i] = null;
            }
        }
    }

    private void BindValues()
    {
        try
        {
            foreach (TensorBinding binding in _bindings)
                binding.Bind()?.Dispose();
        }
        finally
        {
            foreach (TensorBinding binding in _bindings)
                binding.Release();
        }
    }

    /// <summary>Wraps <paramref name="parameters"/> (checked: CPU, float32, contiguous, requires grad, not given twice) as Kernels parameters.</summary>
    private protected List<TensorBinding> Bind(IEnumerable<(string Name, TorchParameter Parameter)> parameters) => BindAll(parameters, _bindings);

    /// <summary>Names unnamed parameters by their index in the optimizer ("0", "1", …), as PyTorch's state dicts key them.</summary>
    private protected IEnumerable<(string, TorchParameter)> Indexed(IEnumerable<TorchParameter> parameters) => Indexed(parameters, _bindings.Count);

    /// <summary>Wraps <paramref name="parameters"/>, none sharing storage with each other or with <paramref name="existing"/>.</summary>
    internal static List<TensorBinding> BindAll(IEnumerable<(string Name, TorchParameter Parameter)> parameters, IEnumerable<TensorBinding> existing)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var list = new List<TensorBinding>();
        var seen = new HashSet<nint>(existing.Select(b => b.DataAddress));
        foreach ((string name, TorchParameter? parameter) in parameters)
        {
            if (parameter is null)
                throw new ArgumentException($"Parameter '{name}' is null.", nameof(parameters));
            var binding = new TensorBinding(name, parameter);
            if (binding.Parameter.Length > 0 && !seen.Add(binding.DataAddress))
                throw new ArgumentException($"Parameter '{name}' shares its storage with another parameter of this optimizer (given twice?).", nameof(parameters));
            list.Add(binding);
        }
        if (list.Count == 0)
            throw new ArgumentException("A parameter group needs at least one parameter.", nameof(parameters));
        return list;
    }

    /// <summary>Pairs each parameter with its index from <paramref name="first"/> on, as its name.</summary>
    internal static IEnumerable<(string, TorchParameter)> Indexed(IEnumerable<TorchParameter> parameters, int first)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        int index = first;
        return parameters.Select(p => ((index++).ToString(System.Globalization.CultureInfo.InvariantCulture), p));
    }
}
