using System.Collections.Generic;
using Kernels.Training;
using static TorchSharp.torch.optim;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace Kernels.Torch;

/// <summary>
/// One parameter group of a <see cref="KernelsOptimizer"/>, as TorchSharp's LR schedulers see it
/// (<see cref="ILearningRateController"/>) and as PyTorch code reads it (<c>param_groups[i]["lr"]</c>).
/// </summary>
/// <remarks>
/// A group whose rule has a <c>momentum</c> hyperparameter also implements <see cref="IMomentum"/>, and one with
/// <c>beta1</c> and <c>beta2</c> implements <see cref="IBetas"/>, so that <c>CyclicLR</c> and <c>OneCycleLR</c> with
/// <c>cycle_momentum</c> drive them as they drive TorchSharp's own SGD and Adam groups.
/// </remarks>
public class KernelsParamGroup : ILearningRateController
{
    private protected KernelsParamGroup(IParamGroup group, IReadOnlyList<TorchParameter> parameters)
    {
        Group = group;
        Parameters = parameters;
        InitialLearningRate = group.Contains("lr") ? group["lr"] : 0;
    }

    /// <summary>The group's TorchSharp parameters, in the order they were given.</summary>
    public IReadOnlyList<TorchParameter> Parameters { get; }

    /// <summary>The Kernels optimizer's group: its hyperparameters by name and its <see cref="Parameter"/> views.</summary>
    public IParamGroup Group { get; }

    /// <summary>A hyperparameter by name, in the rule's or PyTorch's spelling (<c>weight_decay</c>, <c>weightDecay</c>); booleans read 0 or 1.</summary>
    /// <exception cref="System.ArgumentException">The rule has no hyperparameter of that name, or the value does not fit it.</exception>
    public double this[string name]
    {
        get => Group[name];
        set => Group[name] = value;
    }

    /// <summary>The group's learning rate (its <c>lr</c> hyperparameter), which LR schedulers set.</summary>
    public double LearningRate
    {
        get => Group["lr"];
        set => Group["lr"] = value;
    }

    /// <summary>The learning rate the group started with (a scheduler's base rate), as TorchSharp's groups keep it.</summary>
    public double InitialLearningRate { get; set; }

    /// <summary>A group of the kind the rule's hyperparameters call for (with <see cref="IMomentum"/>, <see cref="IBetas"/>, both or neither).</summary>
    internal static KernelsParamGroup Create(IParamGroup group, IReadOnlyList<TorchParameter> parameters)
    {
        bool momentum = group.Contains("momentum");
        bool betas = group.Contains("beta1") && group.Contains("beta2");
        return (momentum, betas) switch
        {
            (true, true) => new MomentumAndBetas(group, parameters),
            (true, false) => new WithMomentum(group, parameters),
            (false, true) => new WithBetas(group, parameters),
            _ => new KernelsParamGroup(group, parameters),
        };
    }

    private sealed class WithMomentum(IParamGroup group, IReadOnlyList<TorchParameter> parameters)
        : KernelsParamGroup(group, parameters), IMomentum
    {
        public double Momentum
        {
            get => Group["momentum"];
            set => Group["momentum"] = value;
        }
    }

    private sealed class WithBetas(IParamGroup group, IReadOnlyList<TorchParameter> parameters)
        : KernelsParamGroup(group, parameters), IBetas
    {
        public (double, double) Betas
        {
            get => (Group["beta1"], Group["beta2"]);
            set
            {
                Group["beta1"] = value.Item1;
                Group["beta2"] = value.Item2;
            }
        }
    }

    private sealed class MomentumAndBetas(IParamGroup group, IReadOnlyList<TorchParameter> parameters)
        : KernelsParamGroup(group, parameters), IMomentum, IBetas
    {
        public double Momentum
        {
            get => Group["momentum"];
            set => Group["momentum"] = value;
        }

        public (double, double) Betas
        {
            get => (Group["beta1"], Group["beta2"]);
            set
            {
                Group["beta1"] = value.Item1;
                Group["beta2"] = value.Item2;
            }
        }
    }
}
