using System;
using System.Collections.Generic;
using System.Linq;
using TorchSharp;
using static Kernels.Tests.Parity.Harness.TorchOps;
using static TorchSharp.torch;
using TSParameter = TorchSharp.Modules.Parameter;

namespace Kernels.Tests.Parity.Training;

/// <summary>One parameter's state in <see cref="TorchReferenceOptimizer"/>: what <c>optimizer.state[p]</c> holds in PyTorch.</summary>
public sealed class ReferenceParameterState : IDisposable
{
    /// <summary>Steps taken (PyTorch's <c>state["step"]</c>, a float32 tensor there: exact for these counts).</summary>
    public long Step { get; set; }

    /// <summary>State tensors by PyTorch's names (<c>exp_avg</c>, <c>momentum_buffer</c>, ...), created when PyTorch creates them.</summary>
    public Dictionary<string, Tensor> Buffers { get; } = new(StringComparer.Ordinal);

    /// <summary>0-dim float32 state (NAdam's <c>mu_product</c>, ASGD's <c>eta</c> and <c>mu</c>).</summary>
    public Dictionary<string, Tensor> Scalars { get; } = new(StringComparer.Ordinal);

    /// <summary>The buffer <paramref name="name"/>, created by <paramref name="create"/> on first use (kept beyond the step's dispose scope).</summary>
    public Tensor Buffer(string name, Func<Tensor> create)
    {
        if (!Buffers.TryGetValue(name, out Tensor? t))
            Buffers[name] = t = create().DetachFromDisposeScope();
        return t;
    }

    /// <summary>The 0-dim float32 scalar <paramref name="name"/>, created with <paramref name="initial"/> on first use.</summary>
    public Tensor Scalar(string name, double initial)
    {
        if (!Scalars.TryGetValue(name, out Tensor? t))
            Scalars[name] = t = tensor((float)initial).DetachFromDisposeScope();
        return t;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (Tensor t in Buffers.Values.Concat(Scalars.Values))
            t.Dispose();
    }
}

/// <summary>One tensor's update in the reference: PyTorch's <c>_single_tensor_*</c> body for one parameter.</summary>
/// <param name="param">The parameter (updated in place, under no_grad).</param>
/// <param name="grad">Its gradient, after clipping.</param>
/// <param name="state">Its state.</param>
/// <param name="h">Its group's hyperparameters by PyTorch's names (booleans as 0/1).</param>
/// <param name="step">The step count after this step's increment, as the Python float PyTorch reads from its float32 step tensor.</param>
public delegate void ReferenceStep(Tensor param, Tensor grad, ReferenceParameterState state, IReadOnlyDictionary<string, double> h, double step);

/// <summary>
/// <c>torch.optim.X</c> over parameter groups, written with libtorch operations: each group's hyperparameters in a
/// dictionary (what <c>optimizer.param_groups[i]</c> holds), state created on the first step as PyTorch creates it,
/// and per tensor the single-tensor step (<see cref="ReferenceStep"/>), the implementation PyTorch runs for CPU
/// tensors when <c>foreach</c> is off; the foreach implementation computes the same values.
/// </summary>
public sealed class TorchReferenceOptimizer : IDisposable
{
    private readonly ReferenceStep _step;
    private readonly Dictionary<TSParameter, ReferenceParameterState> _state = new(ReferenceEqualityComparer.Instance);

    /// <summary>Creates the optimizer over <paramref name="groups"/> (parameters and their hyperparameters, copied).</summary>
    public TorchReferenceOptimizer(IEnumerable<(TSParameter[] Parameters, IReadOnlyDictionary<string, double> Hyperparameters)> groups, ReferenceStep step)
    {
        _step = step;
        foreach (var (parameters, h) in groups)
            Groups.Add(new ReferenceGroup(parameters, new Dictionary<string, double>(h, StringComparer.Ordinal)));
        foreach (TSParameter p in Parameters)
            _state.Add(p, new ReferenceParameterState());
    }

    /// <summary>The groups, in order (a schedule writes <c>Hyperparameters["lr"]</c>).</summary>
    public List<ReferenceGroup> Groups { get; } = new();

    /// <summary>Every parameter in group order (the order of state dicts).</summary>
    public IEnumerable<TSParameter> Parameters => Groups.SelectMany(g => g.Parameters);

    /// <summary>The state of parameter <paramref name="index"/> (in <see cref="Parameters"/> order).</summary>
    public ReferenceParameterState StateOf(int index) => _state[Parameters.ElementAt(index)];

    /// <summary><c>optimizer.step()</c>.</summary>
    public void Step()
    {
        using var noGrad = torch.no_grad();
        foreach (ReferenceGroup group in Groups)
        {
            foreach (TSParameter p in group.Parameters)
            {
                using var scope = NewDisposeScope();
                Tensor? grad = p.grad;
                if (grad is null)
                    continue;
                ReferenceParameterState state = _state[p];
                state.Step++;
                _step(p, grad, state, group.Hyperparameters, (float)state.Step);
            }
        }
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (ReferenceParameterState s in _state.Values)
            s.Dispose();
    }
}

/// <summary>One group of <see cref="TorchReferenceOptimizer"/>.</summary>
public sealed record ReferenceGroup(TSParameter[] Parameters, Dictionary<string, double> Hyperparameters);

/// <summary>
/// PyTorch 2.10's single-tensor steps (<c>torch/optim/*.py</c>, <c>_single_tensor_*</c>), spelled with libtorch
/// operations in PyTorch's order, with every hyperparameter read from the group, so that a schedule's <c>lr</c> and
/// per-group values apply. The same operations as the single-optimizer references in the *ParityTests.cs files, which
/// match the kernels bit for bit once libtorch's sqrt is replaced by a correctly rounded one.
/// </summary>
public static class TorchReferenceRules
{
    private static bool On(IReadOnlyDictionary<string, double> h, string name) => h[name] != 0;

    /// <summary>torch/optim/sgd.py. <c>momentum_buffer</c> exists only with momentum; on its first step it is a clone of the gradient.</summary>
    public static void Sgd(Tensor param, Tensor grad, ReferenceParameterState s, IReadOnlyDictionary<string, double> h, double step)
    {
        double lr = h["lr"], momentum = h["momentum"], dampening = h["dampening"], weightDecay = h["weight_decay"];
        grad = MaybeNegate(grad, On(h, "maximize"));
        if (weightDecay != 0)
            grad = grad.add(param, alpha: weightDecay);
        if (momentum != 0)
        {
            if (s.Buffers.TryGetValue("momentum_buffer", out Tensor? buf))
                buf.mul_(momentum).add_(grad, alpha: 1 - dampening);
            else
                buf = s.Buffer("momentum_buffer", () => grad.clone().detach());
            grad = On(h, "nesterov") ? grad.add(buf, alpha: momentum) : buf;
        }
        param.add_(grad, alpha: -lr);
    }

    /// <summary>torch/optim/adam.py (AdamW: <c>decoupled_weight_decay=True</c>). <c>max_exp_avg_sq</c> exists only under AMSGrad.</summary>
    public static ReferenceStep Adam(bool decoupled) => (param, grad, s, h, step) =>
    {
        double lr = h["lr"], beta1 = h["beta1"], beta2 = h["beta2"], eps = h["eps"], weightDecay = h["weight_decay"];
        bool amsgrad = On(h, "amsgrad");
        Tensor expAvg = s.Buffer("exp_avg", () => zeros_like(param));
        Tensor expAvgSq = s.Buffer("exp_avg_sq", () => zeros_like(param));
        Tensor? maxExpAvgSq = amsgrad ? s.Buffer("max_exp_avg_sq", () => zeros_like(param)) : null;
        grad = MaybeNegate(grad, On(h, "maximize"));
        if (weightDecay != 0)
        {
            if (decoupled)
                param.mul_(1 - lr * weightDecay);
            else
                grad = grad.add(param, alpha: weightDecay);
        }
        Lerp_(expAvg, grad, 1 - beta1);
        expAvgSq.mul_(beta2).addcmul_(grad, grad, value: 1 - beta2);
        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2Sqrt = Math.Pow(1 - Math.Pow(beta2, step), 0.5);
        Tensor denom;
        if (maxExpAvgSq is not null)
        {
            maxExpAvgSq.copy_(torch.maximum(maxExpAvgSq, expAvgSq));
            denom = Sqrt(maxExpAvgSq).div(biasCorrection2Sqrt).add_(eps);
        }
        else
        {
            denom = Sqrt(expAvgSq).div(biasCorrection2Sqrt).add_(eps);
        }
        param.addcdiv_(expAvg, denom, value: -(lr / biasCorrection1));
    };

    /// <summary>torch/optim/adagrad.py. PyTorch fills <c>sum</c> with <c>initial_accumulator_value</c> in the constructor.</summary>
    public static void Adagrad(Tensor param, Tensor grad, ReferenceParameterState s, IReadOnlyDictionary<string, double> h, double step)
    {
        Tensor sum = s.Buffer("sum", () => full_like(param, h["initial_accumulator_value"]));
        grad = MaybeNegate(grad, On(h, "maximize"));
        if (h["weight_decay"] != 0)
            grad = grad.add(param, alpha: h["weight_decay"]);
        double clr = h["lr"] / (1 + (step - 1) * h["lr_decay"]);
        sum.addcmul_(grad, grad, value: 1);
        Tensor std = Sqrt(sum).add_(h["eps"]);
        param.addcdiv_(grad, std, value: -clr);
    }

    /// <summary>torch/optim/rmsprop.py. <c>momentum_buffer</c> only with momentum, <c>grad_avg</c> only when centered.</summary>
    public static void RMSprop(Tensor param, Tensor grad, ReferenceParameterState s, IReadOnlyDictionary<string, double> h, double step)
    {
        double lr = h["lr"], alpha = h["alpha"], eps = h["eps"], momentum = h["momentum"];
        bool centered = On(h, "centered");
        Tensor squareAvg = s.Buffer("square_avg", () => zeros_like(param));
        Tensor? buf = momentum > 0 ? s.Buffer("momentum_buffer", () => zeros_like(param)) : null;
        Tensor? gradAvg = centered ? s.Buffer("grad_avg", () => zeros_like(param)) : null;
        grad = MaybeNegate(grad, On(h, "maximize"));
        if (h["weight_decay"] != 0)
            grad = grad.add(param, alpha: h["weight_decay"]);
        squareAvg.mul_(alpha).addcmul_(grad, grad, value: 1 - alpha);
        Tensor avg;
        if (gradAvg is not null)
        {
            Lerp_(gradAvg, grad, 1 - alpha);
            avg = Sqrt_(squareAvg.addcmul(gradAvg, gradAvg, value: -1));
        }
        else
        {
            avg = Sqrt(squareAvg);
        }
        avg = avg.add_(eps);
        if (buf is not null)
        {
            buf.mul_(momentum).addcdiv_(grad, avg);
            param.add_(buf, alpha: -lr);
        }
        else
        {
            param.addcdiv_(grad, avg, value: -lr);
        }
    }

    /// <summary>torch/optim/adadelta.py.</summary>
    public static void Adadelta(Tensor param, Tensor grad, ReferenceParameterState s, IReadOnlyDictionary<string, double> h, double step)
    {
        double rho = h["rho"], eps = h["eps"];
        Tensor squareAvg = s.Buffer("square_avg", () => zeros_like(param));
        Tensor accDelta = s.Buffer("acc_delta", () => zeros_like(param));
        grad = MaybeNegate(grad, On(h, "maximize"));
        if (h["weight_decay"] != 0)
            grad = grad.add(param, alpha: h["weight_decay"]);
        squareAvg.mul_(rho).addcmul_(grad, grad, value: 1 - rho);
        Tensor std = Sqrt_(squareAvg.add(eps));
        Tensor delta = Sqrt_(accDelta.add(eps));
        delta.div_(std).mul_(grad);
        accDelta.mul_(rho).addcmul_(delta, delta, value: 1 - rho);
        param.add_(delta, alpha: -h["lr"]);
    }

    /// <summary>torch/optim/adamax.py.</summary>
    public static void Adamax(Tensor param, Tensor grad, ReferenceParameterState s, IReadOnlyDictionary<string, double> h, double step)
    {
        double beta1 = h["beta1"], beta2 = h["beta2"];
        Tensor expAvg = s.Buffer("exp_avg", () => zeros_like(param));
        Tensor expInf = s.Buffer("exp_inf", () => zeros_like(param));
        grad = MaybeNegate(grad, On(h, "maximize"));
        if (h["weight_decay"] != 0)
            grad = grad.add(param, alpha: h["weight_decay"]);
        Lerp_(expAvg, grad, 1 - beta1);
        expInf.copy_(torch.maximum(expInf.mul_(beta2), grad.abs().add_(h["eps"])));
        double clr = h["lr"] / (1 - Math.Pow(beta1, step));
        param.addcdiv_(expAvg, expInf, value: -clr);
    }

    /// <summary>torch/optim/nadam.py; <c>mu_product</c> is a float32 0-dim tensor there.</summary>
    public static void NAdam(Tensor param, Tensor grad, ReferenceParameterState s, IReadOnlyDictionary<string, double> h, double step)
    {
        double lr = h["lr"], beta1 = h["beta1"], beta2 = h["beta2"], weightDecay = h["weight_decay"], psi = h["momentum_decay"];
        Tensor muProduct = s.Scalar("mu_product", 1.0);
        Tensor expAvg = s.Buffer("exp_avg", () => zeros_like(param));
        Tensor expAvgSq = s.Buffer("exp_avg_sq", () => zeros_like(param));
        grad = MaybeNegate(grad, On(h, "maximize"));
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        if (weightDecay != 0)
        {
            if (On(h, "decoupled_weight_decay"))
                param.mul_(1 - lr * weightDecay);
            else
                grad = grad.add(param, alpha: weightDecay);
        }
        double mu = beta1 * (1.0 - 0.5 * Math.Pow(0.96, step * psi));
        double muNext = beta1 * (1.0 - 0.5 * Math.Pow(0.96, (step + 1) * psi));
        muProduct.mul_(mu);
        Lerp_(expAvg, grad, 1 - beta1);
        expAvgSq.mul_(beta2).addcmul_(grad, grad, value: 1 - beta2);
        Tensor denom = Sqrt(expAvgSq.div(biasCorrection2));
        double product = muProduct.item<float>();
        double productNext = product * muNext;
        denom.add_(h["eps"]);
        param.addcdiv_(grad, denom, value: -lr * (1.0 - mu) / (1.0 - product));
        param.addcdiv_(expAvg, denom, value: (-lr * muNext) / (1.0 - productNext));
    }

    /// <summary>torch/optim/radam.py. Steps with rho_t &lt;= 5 (the first five) take the unrectified branch.</summary>
    public static void RAdam(Tensor param, Tensor grad, ReferenceParameterState s, IReadOnlyDictionary<string, double> h, double step)
    {
        double lr = h["lr"], beta1 = h["beta1"], beta2 = h["beta2"], weightDecay = h["weight_decay"];
        Tensor expAvg = s.Buffer("exp_avg", () => zeros_like(param));
        Tensor expAvgSq = s.Buffer("exp_avg_sq", () => zeros_like(param));
        grad = MaybeNegate(grad, On(h, "maximize"));
        if (weightDecay != 0)
        {
            if (On(h, "decoupled_weight_decay"))
                param.mul_(1 - lr * weightDecay);
            else
                grad = grad.add(param, alpha: weightDecay);
        }
        Lerp_(expAvg, grad, 1 - beta1);
        expAvgSq.mul_(beta2).addcmul_(grad, grad, value: 1 - beta2);
        double biasCorrection1 = 1 - Math.Pow(beta1, step);
        double biasCorrection2 = 1 - Math.Pow(beta2, step);
        Tensor biasCorrectedExpAvg = expAvg.div(biasCorrection1);
        double rhoInf = 2 / (1 - beta2) - 1;
        double rhoT = rhoInf - 2 * step * Math.Pow(beta2, step) / biasCorrection2;
        if (rhoT > 5.0)
        {
            double rect = Math.Pow((rhoT - 4) * (rhoT - 2) * rhoInf / ((rhoInf - 4) * (rhoInf - 2) * rhoT), 0.5);
            // (bias_correction2 ** 0.5) / tensor is Tensor.__rtruediv__: tensor.reciprocal() * scalar
            Tensor adaptiveLr = Sqrt(expAvgSq).add_(h["eps"]).reciprocal().mul(Math.Pow(biasCorrection2, 0.5));
            param.add_(biasCorrectedExpAvg.mul(lr).mul(adaptiveLr).mul(rect), alpha: -1.0);
        }
        else
        {
            param.add_(biasCorrectedExpAvg.mul(lr), alpha: -1.0);
        }
    }

    /// <summary>
    /// torch/optim/asgd.py. <c>eta</c> and <c>mu</c> are float32 0-dim state tensors: <c>eta = lr</c> when the state
    /// is created (the first step), and at the end of every step <c>eta = lr / (1 + lambd * lr * step) ** alpha</c>
    /// with the group's lr of that step, <c>mu = 1 / max(1, step - t0)</c>: step t uses the lr of step t - 1.
    /// </summary>
    public static void Asgd(Tensor param, Tensor grad, ReferenceParameterState s, IReadOnlyDictionary<string, double> h, double step)
    {
        double lr = h["lr"], lambd = h["lambd"], alpha = h["alpha"], t0 = h["t0"];
        Tensor eta = s.Scalar("eta", lr);
        Tensor mu = s.Scalar("mu", 1.0);
        Tensor ax = s.Buffer("ax", () => zeros_like(param));
        grad = MaybeNegate(grad, On(h, "maximize"));
        if (h["weight_decay"] != 0)
            grad = grad.add(param, alpha: h["weight_decay"]);
        double etaValue = eta.item<float>();
        param.mul_(1 - lambd * etaValue);
        param.add_(grad, alpha: -etaValue);
        if (mu.item<float>() != 1)
            ax.add_(param.sub(ax).mul_(mu));
        else
            ax.copy_(param);
        using var newEta = tensor(lr / Math.Pow(1 + lambd * lr * step, alpha));
        eta.copy_(newEta);
        using var newMu = tensor(1 / Math.Max(1, step - t0));
        mu.copy_(newMu);
    }

    /// <summary>
    /// torch/optim/rprop.py. <c>step_size</c> is <c>full_like(grad, lr)</c> when the state is created (the first
    /// step): a later lr changes nothing, as in PyTorch. PyTorch's <c>etas</c> and <c>step_sizes</c> tuples are
    /// <c>eta_minus</c>/<c>eta_plus</c> and <c>step_size_min</c>/<c>step_size_max</c> here (the rule's names).
    /// </summary>
    public static void Rprop(Tensor param, Tensor grad, ReferenceParameterState s, IReadOnlyDictionary<string, double> h, double step)
    {
        double etaMinus = h["eta_minus"], etaPlus = h["eta_plus"];
        Tensor prev = s.Buffer("prev", () => zeros_like(param));
        Tensor stepSize = s.Buffer("step_size", () => full_like(grad, h["lr"]));
        grad = MaybeNegate(grad, On(h, "maximize"));
        Tensor sign = grad.mul(prev).sign();
        sign.masked_fill_(sign.gt(0), etaPlus);
        sign.masked_fill_(sign.lt(0), etaMinus);
        sign.masked_fill_(sign.eq(0), 1);
        stepSize.mul_(sign).clamp_(h["step_size_min"], h["step_size_max"]);
        grad = grad.clone();
        grad.masked_fill_(sign.eq(etaMinus), 0);
        param.addcmul_(grad.sign(), stepSize, value: -1);
        prev.copy_(grad);
    }
}
