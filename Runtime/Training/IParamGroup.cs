using System.Collections.Generic;

namespace Kernels.Training;

/// <summary>
/// One parameter group of an optimizer, as schedules and checkpoints see it: its parameters and its hyperparameters by
/// name (PyTorch's <c>optimizer.param_groups[i]["lr"]</c>). The optimizer's own group type adds them strongly typed.
/// </summary>
/// <remarks>
/// Names are the update rule's parameter names (<c>lr</c>, <c>weightDecay</c>, <c>beta1</c>); PyTorch's snake_case
/// spelling (<c>weight_decay</c>) is accepted too. A <see cref="bool"/> hyperparameter reads as 0 or 1 and is set by any
/// non-zero value; an integer one must be set to a whole number.
/// </remarks>
public interface IParamGroup
{
    /// <summary>The group's parameters, in the order they were added.</summary>
    IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>The names of the hyperparameters this group holds (the rule's, as declared).</summary>
    IReadOnlyList<string> HyperparameterNames { get; }

    /// <summary>Whether the group holds a hyperparameter named <paramref name="name"/>.</summary>
    bool Contains(string name);

    /// <summary>Gets or sets a hyperparameter by name.</summary>
    /// <exception cref="System.ArgumentException">The group has no hyperparameter of that name, or the value does not fit its type.</exception>
    double this[string name] { get; set; }
}

/// <summary>What a schedule or checkpoint needs of an optimizer.</summary>
public interface IOptimizer
{
    /// <summary>The parameter groups, in the order they were added.</summary>
    IReadOnlyList<IParamGroup> ParamGroups { get; }

    /// <summary>Runs one update of every parameter from its gradient.</summary>
    void Step();

    /// <summary>Sets every parameter's gradient to zero.</summary>
    void ZeroGrad();
}
