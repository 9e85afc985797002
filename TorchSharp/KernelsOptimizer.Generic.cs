using System;
using System.Collections.Generic;
using System.Linq;
using System.Reflection;
using Kernels.Training;
using static TorchSharp.torch.optim;
using TorchOptions = TorchSharp.Modules.OptimizerOptions;
using TorchParamGroup = TorchSharp.Modules.ParamGroup;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace Kernels.Torch;

/// <summary>A <see cref="KernelsOptimizer"/> over a generated optimizer with hyperparameters <typeparamref name="TOptions"/> (e.g. <c>AdamW.Options</c>).</summary>
/// <typeparam name="TOptions">The rule's generated hyperparameter class.</typeparam>
public class KernelsOptimizer<TOptions> : KernelsOptimizer
    where TOptions : Hyperparameters
{
    private readonly Optimizer<float, TOptions> _inner;

    private protected KernelsOptimizer(List<TensorBinding> bindings, Optimizer<float, TOptions> inner)
    {
        _inner = inner;
        _bindings.AddRange(bindings);
        _groups.Add(KernelsParamGroup.Create(inner.ParamGroups[0], bindings.Select(b => b.Tensor).ToArray()));
    }

    /// <summary>The Kernels optimizer that runs the step, strongly typed (its <c>Defaults</c>, <c>Groups[i].Options</c>).</summary>
    public override Optimizer<float, TOptions> Inner => _inner;

    /// <summary>
    /// Builds the optimizer: wraps <paramref name="parameters"/> (checked) as Kernels parameters, gives them to
    /// <paramref name="factory"/>, and picks the class that implements TorchSharp's <see cref="IMomentum"/> /
    /// <see cref="IBetas"/> when the rule has those hyperparameters.
    /// </summary>
    internal static KernelsOptimizer<TOptions> Create(IEnumerable<(string Name, TorchParameter Parameter)> parameters, Func<IEnumerable<Parameter<float>>, Optimizer<float, TOptions>> factory)
    {
        ArgumentNullException.ThrowIfNull(factory);
        List<TensorBinding> bindings = BindAll(parameters, Array.Empty<TensorBinding>());
        Optimizer<float, TOptions> inner = factory(bindings.Select(b => b.Parameter).ToArray())
            ?? throw new ArgumentException("The factory returned null.", nameof(factory));
        if (inner.ParamGroups.Count != 1 || !inner.Parameters.SequenceEqual(bindings.Select(b => (Parameter)b.Parameter)))
            throw new ArgumentException("The factory must build the optimizer with one group over exactly the parameters it is given, in order (add groups with add_param_group).", nameof(factory));
        bool momentum = inner.Defaults.Contains("momentum");
        bool betas = inner.Defaults.Contains("beta1") && inner.Defaults.Contains("beta2");
        return (momentum, betas) switch
        {
            (true, true) => new MomentumAndBetas(bindings, inner),
            (true, false) => new WithMomentum(bindings, inner),
            (false, true) => new WithBetas(bindings, inner),
            _ => new KernelsOptimizer<TOptions>(bindings, inner),
        };
    }

    /// <summary>
    /// Adds a parameter group (PyTorch's <c>add_param_group</c>): its hyperparameters start as a copy of the optimizer's
    /// defaults, then <paramref name="configure"/> changes what differs, e.g. <c>g =&gt; g.WeightDecay = 0</c>.
    /// </summary>
    /// <param name="parameters">The group's parameters (checked as the constructor checks them), named by their index.</param>
    /// <param name="configure">Changes to the group's hyperparameters.</param>
    /// <returns>The new group.</returns>
    public KernelsParamGroup add_param_group(IEnumerable<TorchParameter> parameters, Action<TOptions>? configure = null) =>
        AddGroup(Indexed(parameters), configure);

    /// <summary>Adds a parameter group of named parameters (<c>named_parameters()</c>); see <see cref="add_param_group(IEnumerable{TorchParameter}, Action{TOptions})"/>.</summary>
    /// <param name="parameters">The group's parameters with their names (unique in the optimizer).</param>
    /// <param name="configure">Changes to the group's hyperparameters.</param>
    /// <returns>The new group.</returns>
    public KernelsParamGroup add_param_group(IEnumerable<(string name, TorchParameter parameter)> parameters, Action<TOptions>? configure = null) =>
        AddGroup(parameters.Select(p => (p.name, p.parameter)), configure);

    /// <summary>
    /// Adds a TorchSharp parameter group (e.g. <c>new AdamW.ParamGroup(parameters, weight_decay: 0)</c>): its
    /// <c>LearningRate</c> and every other option that is set (public fields and properties of its options class, such as
    /// <c>weight_decay</c>) are given by name to the new group; the rest come from the optimizer's defaults.
    /// </summary>
    /// <param name="param_group">The group.</param>
    /// <exception cref="ArgumentException">An option the rule has no hyperparameter for, or a bad parameter.</exception>
    public override void add_param_group(TorchParamGroup param_group)
    {
        ArgumentNullException.ThrowIfNull(param_group);
        ArgumentNullException.ThrowIfNull(param_group.Parameters, nameof(param_group) + ".Parameters");
        List<(string Name, double Value)> values = OptionValues(param_group.Options);
        foreach ((string name, _) in values)
        {
            if (!_inner.Defaults.Contains(name))
                throw new ArgumentException($"The group sets '{name}', which {_inner.RuleName} has no hyperparameter for ({string.Join(", ", _inner.Defaults.Names)}).", nameof(param_group));
        }
        AddGroup(Indexed(param_group.Parameters), options =>
        {
            foreach ((string name, double value) in values)
                options[name] = value;
        });
    }

    private KernelsParamGroup AddGroup(IEnumerable<(string, TorchParameter)> parameters, Action<TOptions>? configure)
    {
        List<TensorBinding> bindings = Bind(parameters);
        ParamGroup<float, TOptions> group = _inner.AddParamGroup(bindings.Select(b => b.Parameter), configure);
        _bindings.AddRange(bindings);
        var added = KernelsParamGroup.Create(group, bindings.Select(b => b.Tensor).ToArray());
        _groups.Add(added);
        return added;
    }

    /// <summary>The options a TorchSharp group sets: <c>LearningRate</c> as <c>lr</c>, then every set numeric or boolean field and property.</summary>
    private static List<(string, double)> OptionValues(TorchOptions? options)
    {
        var values = new List<(string, double)>();
        if (options is null)
            return values;
        if (options.LearningRate is double lr)
            values.Add(("lr", lr));
        const BindingFlags Public = BindingFlags.Public | BindingFlags.Instance;
        IEnumerable<(string Name, object? Value)> members = options.GetType().GetFields(Public)
            .Select(f => (f.Name, f.GetValue(options)))
            .Concat(options.GetType().GetProperties(Public)
                .Where(p => p.GetIndexParameters().Length == 0 && p.CanRead
                    && p.Name is not (nameof(TorchOptions.LearningRate) or nameof(TorchOptions.InitialLearningRate)))
                .Select(p => (p.Name, p.GetValue(options))));
        foreach ((string name, object? value) in members)
        {
            switch (value)
            {
                case null:
                    break;
                case double d:
                    values.Add((name, d));
                    break;
                case float f:
                    values.Add((name, f));
                    break;
                case int i:
                    values.Add((name, i));
                    break;
                case long l:
                    values.Add((name, l));
                    break;
                case bool b:
                    values.Add((name, b ? 1 : 0));
                    break;
                default:
                    throw new ArgumentException($"Option '{name}' of the group is a {value.GetType().Name}; only numbers and booleans map to hyperparameters.", "param_group");
            }
        }
        return values;
    }

    private sealed class WithMomentum(List<TensorBinding> bindings, Optimizer<float, TOptions> inner)
        : KernelsOptimizer<TOptions>(bindings, inner), IMomentum
    {
        public double Momentum
        {
            get => Inner.Defaults["momentum"];
            set => Inner.Defaults["momentum"] = value;
        }
    }

    private sealed class WithBetas(List<TensorBinding> bindings, Optimizer<float, TOptions> inner)
        : KernelsOptimizer<TOptions>(bindings, inner), IBetas
    {
        public (double, double) Betas
        {
            get => (Inner.Defaults["beta1"], Inner.Defaults["beta2"]);
            set
            {
                Inner.Defaults["beta1"] = value.Item1;
                Inner.Defaults["beta2"] = value.Item2;
            }
        }
    }

    private sealed class MomentumAndBetas(List<TensorBinding> bindings, Optimizer<float, TOptions> inner)
        : KernelsOptimizer<TOptions>(bindings, inner), IMomentum, IBetas
    {
        public double Momentum
        {
            get => Inner.Defaults["momentum"];
            set => Inner.Defaults["momentum"] = value;
        }

        public (double, double) Betas
        {
            get => (Inner.Defaults["beta1"], Inner.Defaults["beta2"]);
            set
            {
                Inner.Defaults["beta1"] = value.Item1;
                Inner.Defaults["beta2"] = value.Item2;
            }
        }
    }
}
