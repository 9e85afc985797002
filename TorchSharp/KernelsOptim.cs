using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Training;
using KO = Kernels.Optimizers;
using TorchParameter = TorchSharp.Modules.Parameter;

namespace Kernels.Torch;

/// <summary>
/// Kernels optimizers for TorchSharp models, spelled as <c>torch.optim</c>'s factories: replace
/// <c>torch.optim.AdamW(model.parameters(), lr: 1e-3)</c> with <c>KernelsOptim.AdamW(model.parameters(), lr: 1e-3)</c>
/// and the rest of the training loop (<c>step()</c>, <c>zero_grad()</c>, <c>torch.optim.lr_scheduler</c>) stays.
/// </summary>
/// <remarks>
/// The defaults are TorchSharp's (AdamW's <c>weight_decay</c> is 0 there, not PyTorch's 0.01), so the one changed line
/// changes nothing else. The parameters must be CPU float32 contiguous tensors that require grad; anything else throws
/// an <see cref="ArgumentException"/> naming the parameter. Any other generated optimizer:
/// <see cref="Create{TOptions}(IEnumerable{TorchParameter}, Func{IEnumerable{Parameter{float}}, Optimizer{float, TOptions}})"/>.
/// </remarks>
public static class KernelsOptim
{
    /// <summary>AdamW (<c>torch.optim.AdamW</c>): the fused <see cref="KO.AdamW"/> rule, bit-identical to PyTorch's single-tensor CPU step.</summary>
    /// <param name="parameters">The parameters to optimize (<c>module.parameters()</c>), named by index in state dicts.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="beta2">Second-moment decay.</param>
    /// <param name="eps">Added to the denominator.</param>
    /// <param name="weight_decay">Decoupled weight decay (TorchSharp's default 0).</param>
    /// <param name="amsgrad">Use the running maximum of the second moment.</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    /// <param name="stepOptions">Threading of the fused step (by default all cores for large steps).</param>
    /// <returns>The optimizer.</returns>
    public static KernelsOptimizer<KO.AdamW.Options> AdamW(IEnumerable<TorchParameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weight_decay = 0, bool amsgrad = false, bool maximize = false, StepOptions stepOptions = default) =>
        Create(parameters, ps => new KO.AdamW.Optimizer(ps, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, stepOptions));

    /// <summary>AdamW over named parameters (<c>module.named_parameters()</c>): the names key state dicts and checkpoints.</summary>
    /// <inheritdoc cref="AdamW(IEnumerable{TorchParameter}, double, double, double, double, double, bool, bool, StepOptions)"/>
    public static KernelsOptimizer<KO.AdamW.Options> AdamW(IEnumerable<(string name, TorchParameter parameter)> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weight_decay = 0, bool amsgrad = false, bool maximize = false, StepOptions stepOptions = default) =>
        Create(parameters, ps => new KO.AdamW.Optimizer(ps, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, stepOptions));

    /// <summary>Adam (<c>torch.optim.Adam</c>): the fused <see cref="KO.Adam"/> rule (L2 weight decay added to the gradient).</summary>
    /// <param name="parameters">The parameters to optimize (<c>module.parameters()</c>), named by index in state dicts.</param>
    /// <param name="lr">Learning rate.</param>
    /// <param name="beta1">First-moment decay.</param>
    /// <param name="beta2">Second-moment decay.</param>
    /// <param name="eps">Added to the denominator.</param>
    /// <param name="weight_decay">L2 penalty added to the gradient.</param>
    /// <param name="amsgrad">Use the running maximum of the second moment.</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    /// <param name="stepOptions">Threading of the fused step.</param>
    /// <returns>The optimizer.</returns>
    public static KernelsOptimizer<KO.Adam.Options> Adam(IEnumerable<TorchParameter> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weight_decay = 0, bool amsgrad = false, bool maximize = false, StepOptions stepOptions = default) =>
        Create(parameters, ps => new KO.Adam.Optimizer(ps, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, stepOptions));

    /// <summary>Adam over named parameters (<c>module.named_parameters()</c>).</summary>
    /// <inheritdoc cref="Adam(IEnumerable{TorchParameter}, double, double, double, double, double, bool, bool, StepOptions)"/>
    public static KernelsOptimizer<KO.Adam.Options> Adam(IEnumerable<(string name, TorchParameter parameter)> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999,
        double eps = 1e-8, double weight_decay = 0, bool amsgrad = false, bool maximize = false, StepOptions stepOptions = default) =>
        Create(parameters, ps => new KO.Adam.Optimizer(ps, lr, beta1, beta2, eps, weight_decay, amsgrad, maximize, stepOptions));

    /// <summary>SGD (<c>torch.optim.SGD</c>): the fused <see cref="KO.SGD"/> rule, with momentum, dampening, Nesterov and L2 weight decay.</summary>
    /// <param name="parameters">The parameters to optimize (<c>module.parameters()</c>), named by index in state dicts.</param>
    /// <param name="lr">Learning rate (required, as in TorchSharp).</param>
    /// <param name="momentum">Momentum factor.</param>
    /// <param name="dampening">Dampening for momentum.</param>
    /// <param name="weight_decay">L2 penalty added to the gradient.</param>
    /// <param name="nesterov">Nesterov momentum.</param>
    /// <param name="maximize">Maximize the objective instead of minimizing it.</param>
    /// <param name="stepOptions">Threading of the fused step.</param>
    /// <returns>The optimizer.</returns>
    public static KernelsOptimizer<KO.SGD.Options> SGD(IEnumerable<TorchParameter> parameters, double lr, double momentum = 0, double dampening = 0,
        double weight_decay = 0, bool nesterov = false, bool maximize = false, StepOptions stepOptions = default) =>
        Create(parameters, ps => new KO.SGD.Optimizer(ps, lr, momentum, dampening, weight_decay, nesterov, maximize, stepOptions));

    /// <summary>SGD over named parameters (<c>module.named_parameters()</c>).</summary>
    /// <inheritdoc cref="SGD(IEnumerable{TorchParameter}, double, double, double, double, bool, bool, StepOptions)"/>
    public static KernelsOptimizer<KO.SGD.Options> SGD(IEnumerable<(string name, TorchParameter parameter)> parameters, double lr, double momentum = 0, double dampening = 0,
        double weight_decay = 0, bool nesterov = false, bool maximize = false, StepOptions stepOptions = default) =>
        Create(parameters, ps => new KO.SGD.Optimizer(ps, lr, momentum, dampening, weight_decay, nesterov, maximize, stepOptions));

    /// <summary>
    /// Any generated optimizer (a built-in such as <c>Lion</c>, or one of your own <c>[UpdateRule]</c>s) over TorchSharp
    /// parameters: <c>KernelsOptim.Create(model.parameters(), ps =&gt; new Lion.Optimizer(ps, lr: 1e-4))</c>.
    /// </summary>
    /// <typeparam name="TOptions">The rule's hyperparameter class (inferred from the factory).</typeparam>
    /// <param name="parameters">The parameters to optimize, named by index.</param>
    /// <param name="factory">Builds the optimizer, with one group, over exactly the Kernels parameters it is given.</param>
    /// <returns>The optimizer.</returns>
    /// <exception cref="ArgumentException">A parameter is not a CPU float32 contiguous tensor that requires grad, or is given twice; or the factory built its optimizer over other parameters.</exception>
    public static KernelsOptimizer<TOptions> Create<TOptions>(IEnumerable<TorchParameter> parameters, Func<IEnumerable<Parameter<float>>, Optimizer<float, TOptions>> factory)
        where TOptions : Hyperparameters =>
        KernelsOptimizer<TOptions>.Create(KernelsOptimizer.Indexed(parameters, 0), factory);

    /// <summary>Any generated optimizer over named parameters (<c>module.named_parameters()</c>): the names key state dicts and checkpoints.</summary>
    /// <inheritdoc cref="Create{TOptions}(IEnumerable{TorchParameter}, Func{IEnumerable{Parameter{float}}, Optimizer{float, TOptions}})"/>
    public static KernelsOptimizer<TOptions> Create<TOptions>(IEnumerable<(string name, TorchParameter parameter)> parameters, Func<IEnumerable<Parameter<float>>, Optimizer<float, TOptions>> factory)
        where TOptions : Hyperparameters
    {
        ArgumentNullException.ThrowIfNull(parameters);
        return KernelsOptimizer<TOptions>.Create(parameters.Select(p => (p.name, p.parameter)), factory);
    }
}
