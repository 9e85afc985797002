using System;
using System.Collections.Generic;

namespace Kernels.Training;

/// <summary>
/// An optimizer's state in PyTorch's shape (<c>optimizer.state_dict()</c>): per-parameter state keyed by the
/// parameter's index across all groups, and each group's hyperparameters with the indices of its parameters.
/// Buffers are copies: changing the optimizer afterwards does not change a state dict, nor the reverse.
/// </summary>
public sealed class OptimizerStateDict
{
    /// <summary>The optimizer it came from (the rule's type and method, e.g. <c>Kernels.Optimizers.AdamW.Step</c>).</summary>
    public required string Optimizer { get; init; }

    /// <summary>Every parameter in index order: name, shape, element type.</summary>
    public required IReadOnlyList<ParameterDescription> Parameters { get; init; }

    /// <summary>Each group's hyperparameters (by the rule's names) and parameter indices.</summary>
    public required IReadOnlyList<ParamGroupState> ParamGroups { get; init; }

    /// <summary>Per-parameter state in index order; <see langword="null"/> for a parameter not stepped yet.</summary>
    public required IReadOnlyList<ParameterState?> State { get; init; }
}

/// <summary>What identifies a parameter in a state dict.</summary>
/// <param name="Name">Its name.</param>
/// <param name="Shape">Its dimensions.</param>
/// <param name="ElementType">Its element type.</param>
public sealed record ParameterDescription(string Name, IReadOnlyList<int> Shape, Type ElementType);

/// <summary>One group in a state dict.</summary>
/// <param name="Hyperparameters">Every hyperparameter visible by name, by the rule's names.</param>
/// <param name="Parameters">The indices of the group's parameters.</param>
public sealed record ParamGroupState(IReadOnlyDictionary<string, double> Hyperparameters, IReadOnlyList<int> Parameters);

/// <summary>One parameter's state in a state dict.</summary>
/// <param name="Step">Its step count (steps taken).</param>
/// <param name="Buffers">
/// Its allocated state buffers by the rule's names (a buffer its configuration never used is absent), each a
/// <c>float[]</c> or <c>double[]</c>; an 8-bit buffer (<see cref="StateStorage.Blockwise8Bit"/>) is its codes, a
/// <c>byte[]</c>, with its block scales, a <c>float[]</c> under the name plus <c>".absmax"</c>.
/// </param>
/// <param name="TensorState">Its per-tensor values carried across steps (e.g. NAdam's <c>muProduct</c>).</param>
public sealed record ParameterState(long Step, IReadOnlyDictionary<string, Array> Buffers, IReadOnlyDictionary<string, double> TensorState);
