using System;
using System.Collections.Generic;

namespace Kernels.Training;

/// <summary>
/// An optimizer over parameter groups, as <c>torch.optim.Optimizer</c>: <see cref="Step"/>, <see cref="ZeroGrad"/>,
/// per-group hyperparameters, state allocated on first use, <see cref="StateDict"/> / <see cref="LoadStateDict"/>.
/// Every <c>[UpdateRule]</c> gets a sealed subclass from the generator (e.g. <c>AdamW.Optimizer</c>).
/// </summary>
public abstract partial class Optimizer : IOptimizer
{
    private protected Optimizer()
    {
    }

    /// <summary>The parameter groups as schedules see them (hyperparameters by name).</summary>
    public abstract IReadOnlyList<IParamGroup> ParamGroups { get; }

    /// <summary>Every parameter of every group, in index order (the order of state dicts and checkpoints).</summary>
    public abstract IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Threading of the fused step (by default, all cores for steps of at least <see cref="StepOptions.DefaultParallelThreshold"/> elements).</summary>
    public StepOptions StepOptions { get; set; }

    /// <summary>The update rule this optimizer runs (its type and method, e.g. <c>Kernels.Optimizers.AdamW.Step</c>): the key checked when loading state.</summary>
    public abstract string RuleName { get; }

    /// <summary>The names of the rule's state buffers (its <c>ref</c> parameters after the parameter itself), as state dicts key them.</summary>
    public abstract IReadOnlyList<string> StateNames { get; }

    /// <summary>Runs one update of every parameter of every group from its gradient (a parameter without one, see <see cref="Parameter.HasGrad"/>, is skipped).</summary>
    public abstract void Step();

    /// <summary>Sets every parameter's gradient to zero (PyTorch's <c>zero_grad(set_to_none=False)</c>); a parameter without one (<see cref="Parameter.HasGrad"/>) is skipped.</summary>
    public void ZeroGrad()
    {
        foreach (Parameter p in Parameters)
        {
            if (p.HasGrad)
                p.ZeroGrad();
        }
    }

    /// <summary>Bytes of state per parameter and in total (allocated state only: buffers are created at the first step).</summary>
    public abstract OptimizerMemoryReport MemoryReport();

    /// <summary>A copy of the optimizer's state (PyTorch's <c>state_dict()</c>).</summary>
    public abstract OptimizerStateDict StateDict();

    /// <summary>
    /// Replaces the optimizer's state and hyperparameters with <paramref name="stateDict"/>'s (PyTorch's
    /// <c>load_state_dict</c>). Everything is checked first: on any mismatch (another rule, other parameters or shapes,
    /// unknown buffers) an <see cref="ArgumentException"/> says what, and the optimizer is left as it was.
    /// </summary>
    public abstract void LoadStateDict(OptimizerStateDict stateDict);
}
