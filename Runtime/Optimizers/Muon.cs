using System;
using System.Collections.Generic;
using Kernels.CompilerServices;
using Kernels.Matrices;
using Kernels.Training;

namespace Kernels.Optimizers;

/// <summary>
/// Muon, MomentUm Orthogonalized by Newton–Schulz (Keller Jordan 2024; torch.optim.Muon): SGD momentum whose update,
/// a 2-D matrix, is orthogonalized by <see cref="NewtonSchulz"/> before it is applied, with decoupled
/// weight decay and a learning rate scaled by the matrix's shape.
/// </summary>
/// <remarks>
/// <para>
/// A step is three passes per matrix: <see cref="UpdateMomentum(ref float, in float, ref float, double, bool)"/> (element-wise), the
/// Newton–Schulz iteration on the whole update (matrix products, <see cref="Gemm"/>), and
/// <see cref="ApplyUpdate(ref float, in float, double, double, double)"/> (element-wise). The two element-wise rules are generated
/// like every other rule; the optimizer object <see cref="Optimizer"/> runs all three, per tensor, as PyTorch's
/// single-tensor Muon does:
/// </para>
/// <code>
/// buf.lerp_(grad, 1 - momentum)
/// update = grad.lerp(buf, momentum) if nesterov else buf
/// update = zeropower_via_newtonschulz(update, ns_coefficients, ns_steps, eps)
/// param.mul_(1 - lr * weight_decay)
/// param.add_(update, alpha=-adjusted_lr)
/// </code>
/// <para>
/// Muon is meant for the 2-D weights of hidden layers; embeddings, output heads, biases and gains belong with AdamW:
/// <see cref="HybridOptimizer"/> runs both in one optimizer (one <c>Step()</c>, one state dict, one checkpoint).
/// </para>
/// </remarks>
public static partial class Muon
{
    /// <summary>
    /// Muon's momentum for one element: <c>buf.lerp_(grad, 1 - momentum)</c>, then the update to orthogonalize,
    /// <c>grad.lerp(buf, momentum)</c> (Nesterov) or <c>buf</c>.
    /// </summary>
    /// <param name="momentumBuffer">PyTorch's <c>momentum_buffer</c>, initially 0; updated in place.</param>
    /// <param name="grad">The gradient.</param>
    /// <param name="update">Receives the update (only written).</param>
    /// <param name="momentum">Momentum factor (PyTorch's default 0.95).</param>
    /// <param name="nesterov">Nesterov momentum: blend the gradient towards the buffer instead of using the buffer.</param>
    [UpdateRule(GenerateOptimizer = false)]
    public static void UpdateMomentum(ref float momentumBuffer, in float grad, ref float update, double momentum = 0.95, bool nesterov = true)
    {
        // buf.lerp_(grad, 1 - momentum): ATen's lerp is one fused multiply-add, in the form its weight selects.
        float bufferWeight = (float)(1 - momentum);
        momentumBuffer = MathF.Abs(bufferWeight) < 0.5f
            ? MathF.FusedMultiplyAdd(bufferWeight, grad - momentumBuffer, momentumBuffer)
            : MathF.FusedMultiplyAdd(bufferWeight - 1, grad - momentumBuffer, grad);
        if (nesterov)
        {
            // grad.lerp(buf, momentum)
            float nesterovWeight = (float)momentum;
            update = MathF.Abs(nesterovWeight) < 0.5f
                ? MathF.FusedMultiplyAdd(nesterovWeight, momentumBuffer - grad, grad)
                : MathF.FusedMultiplyAdd(nesterovWeight - 1, momentumBuffer - grad, momentumBuffer);
        }
        else
        {
            update = momentumBuffer;
        }
    }

    /// <summary>
    /// Muon's parameter update for one element, once the update is orthogonalized: decoupled weight decay
    /// <c>param.mul_(1 - lr * weight_decay)</c> (with the plain learning rate), then <c>param.add_(update, alpha=-adjusted_lr)</c>.
    /// </summary>
    /// <param name="param">The parameter, updated in place.</param>
    /// <param name="update">The orthogonalized update.</param>
    /// <param name="lr">Learning rate (PyTorch's default 1e-3); the weight decay uses it unadjusted.</param>
    /// <param name="adjustedLr">The learning rate scaled for the matrix's shape (<see cref="AdjustLr"/>).</param>
    /// <param name="weightDecay">Decoupled weight decay (PyTorch's default 0.1).</param>
    [UpdateRule(GenerateOptimizer = false)]
    public static void ApplyUpdate(ref float param, in float update, double lr, double adjustedLr, double weightDecay = 0.1)
    {
        // param.mul_(1 - lr * weight_decay): a factor of 1 when there is no decay, so skipping it changes no bit.
        if (weightDecay != 0)
            param = param * (float)(1 - lr * weightDecay);
        // param.add_(update, alpha=-adjusted_lr)
        param = MathF.FusedMultiplyAdd(update, (float)(-adjustedLr), param);
    }

    /// <summary>How the learning rate is scaled for a matrix's shape (PyTorch's <c>adjust_lr_fn</c>).</summary>
    public enum LrAdjustment
    {
        /// <summary>Keller Jordan's scaling, <c>lr · sqrt(max(1, rows / cols))</c> (PyTorch's <c>"original"</c>, and its default <c>None</c>).</summary>
        Original = 0,

        /// <summary>Moonshot's scaling, <c>lr · 0.2 · sqrt(max(rows, cols))</c>, which matches the update RMS of AdamW so its lr and weight decay carry over (PyTorch's <c>"match_rms_adamw"</c>).</summary>
        MatchRmsAdamW = 1,
    }

    /// <summary>The learning rate a <paramref name="rows"/>×<paramref name="cols"/> matrix's update is applied with (PyTorch's <c>_adjust_lr</c>, in the same double-precision operations).</summary>
    /// <param name="lr">The group's learning rate.</param>
    /// <param name="rows">The parameter's first dimension.</param>
    /// <param name="cols">Its second dimension.</param>
    /// <param name="adjustment">The scaling.</param>
    /// <returns><c>lr · ratio</c>.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="adjustment"/> is not a defined value.</exception>
    public static double AdjustLr(double lr, int rows, int cols, LrAdjustment adjustment = LrAdjustment.Original)
    {
        double ratio = adjustment switch
        {
            LrAdjustment.Original => Math.Sqrt(Math.Max(1, (double)rows / cols)),
            LrAdjustment.MatchRmsAdamW => 0.2 * Math.Sqrt(Math.Max(rows, cols)),
            _ => throw new ArgumentOutOfRangeException(nameof(adjustment), adjustment, "Not a Muon.LrAdjustment."),
        };
        return lr * ratio;
    }

    /// <summary>The hyperparameters of one parameter group of <see cref="Optimizer"/>, with torch.optim.Muon's defaults.</summary>
    /// <remarks>
    /// By name (schedules, state dicts): <c>lr</c>, <c>weightDecay</c>, <c>momentum</c>, <c>nesterov</c>,
    /// <c>nsCoefficientA</c>, <c>nsCoefficientB</c>, <c>nsCoefficientC</c>, <c>eps</c>, <c>nsSteps</c> and
    /// <c>adjustLrFn</c> (the <see cref="LrAdjustment"/> value as a number: 0 original, 1 match_rms_adamw) and
    /// <c>nsPrecision</c> (the <see cref="NewtonSchulzPrecision"/> as a number: 0 float32, 1 bfloat16).
    /// </remarks>
    public sealed class Options : Hyperparameters
    {
        private static readonly string[] s_names =
        {
            "lr", "weightDecay", "momentum", "nesterov", "nsCoefficientA", "nsCoefficientB", "nsCoefficientC", "eps", "nsSteps", "adjustLrFn",
            "nsPrecision",
        };

        internal Options()
        {
        }

        /// <summary>Learning rate. Default: <c>1e-3</c>.</summary>
        public double Lr { get; set; } = 1e-3;

        /// <summary>Decoupled weight decay: <c>param *= 1 - lr * weightDecay</c> (the unadjusted lr) before the update. Default: <c>0.1</c>.</summary>
        public double WeightDecay { get; set; } = 0.1;

        /// <summary>Momentum factor. Default: <c>0.95</c>.</summary>
        public double Momentum { get; set; } = 0.95;

        /// <summary>Nesterov momentum. Default: <c>true</c>.</summary>
        public bool Nesterov { get; set; } = true;

        /// <summary>The Newton–Schulz coefficients (a, b, c). Default: <c>(3.4445, -4.7750, 2.0315)</c>.</summary>
        public (double A, double B, double C) NsCoefficients { get; set; } = (NewtonSchulz.DefaultA, NewtonSchulz.DefaultB, NewtonSchulz.DefaultC);

        /// <summary>The floor of the norm the update is divided by before the iteration. Default: <c>1e-7</c>.</summary>
        public double Eps { get; set; } = NewtonSchulz.DefaultEps;

        /// <summary>Newton–Schulz iterations, 0 to 99. Default: <c>5</c>.</summary>
        public int NsSteps { get; set; } = NewtonSchulz.DefaultSteps;

        /// <summary>The learning-rate scaling for the matrix's shape. Default: <see cref="LrAdjustment.Original"/>.</summary>
        public LrAdjustment AdjustLrFn { get; set; } = LrAdjustment.Original;

        /// <summary>
        /// The precision of the Newton–Schulz iteration. Default: <see cref="NewtonSchulzPrecision.Float32"/>;
        /// <see cref="NewtonSchulzPrecision.BFloat16"/> is what torch.optim.Muon runs.
        /// </summary>
        public NewtonSchulzPrecision NsPrecision { get; set; } = NewtonSchulzPrecision.Float32;

        /// <inheritdoc/>
        public override IReadOnlyList<string> Names => s_names;

        /// <inheritdoc/>
        protected override double GetValue(int index) => index switch
        {
            0 => Lr,
            1 => WeightDecay,
            2 => Momentum,
            3 => Nesterov ? 1 : 0,
            4 => NsCoefficients.A,
            5 => NsCoefficients.B,
            6 => NsCoefficients.C,
            7 => Eps,
            8 => NsSteps,
            9 => (double)AdjustLrFn,
            10 => (double)NsPrecision,
            _ => throw new ArgumentOutOfRangeException(nameof(index)),
        };

        /// <inheritdoc/>
        protected override void SetValue(int index, double value)
        {
            switch (index)
            {
                case 0: Lr = value; break;
                case 1: WeightDecay = value; break;
                case 2: Momentum = value; break;
                case 3: Nesterov = value != 0; break;
                case 4: NsCoefficients = NsCoefficients with { A = value }; break;
                case 5: NsCoefficients = NsCoefficients with { B = value }; break;
                case 6: NsCoefficients = NsCoefficients with { C = value }; break;
                case 7: Eps = value; break;
                case 8: NsSteps = ToInt32(index, value); break;
                case 9:
                    int code = ToInt32(index, value);
                    if (!Enum.IsDefined((LrAdjustment)code))
                        throw new ArgumentException($"Hyperparameter 'adjustLrFn' is 0 (original) or 1 (match_rms_adamw), not {value}.", nameof(value));
                    AdjustLrFn = (LrAdjustment)code;
                    break;
                case 10:
                    int precision = ToInt32(index, value);
                    if (!Enum.IsDefined((NewtonSchulzPrecision)precision))
                        throw new ArgumentException($"Hyperparameter 'nsPrecision' is 0 (float32) or 1 (bfloat16), not {value}.", nameof(value));
                    NsPrecision = (NewtonSchulzPrecision)precision;
                    break;
                default: throw new ArgumentOutOfRangeException(nameof(index));
            }
        }

        /// <summary>Throws on a value the step cannot run with (checked before any element of the group is written).</summary>
        internal void CheckStep()
        {
            if (NsSteps < 0 || NsSteps >= NewtonSchulz.MaxSteps)
                throw new ArgumentOutOfRangeException(nameof(NsSteps), NsSteps, $"Muon's number of Newton-Schulz steps must be in [0, {NewtonSchulz.MaxSteps}).");
            if (!Enum.IsDefined(AdjustLrFn))
                throw new ArgumentOutOfRangeException(nameof(AdjustLrFn), AdjustLrFn, "Not a Muon.LrAdjustment.");
            if (!Enum.IsDefined(NsPrecision))
                throw new ArgumentOutOfRangeException(nameof(NsPrecision), NsPrecision, "Not a NewtonSchulzPrecision.");
        }
    }

    /// <summary>
    /// torch.optim.Muon over parameter groups of 2-D float parameters: per parameter, the momentum and Nesterov blend
    /// (<see cref="UpdateMomentum(ref float, in float, ref float, double, bool)"/>, fused and vectorized), the Newton–Schulz
    /// orthogonalization of the update (<see cref="NewtonSchulz"/> on <see cref="Gemm"/>: OpenBLAS when loadable, else
    /// the managed kernel), then decoupled weight decay and the update with the shape-adjusted learning rate
    /// (<see cref="ApplyUpdate(ref float, in float, double, double, double)"/>). State: <c>momentumBuffer</c> per parameter.
    /// </summary>
    /// <remarks>
    /// As with the generated optimizers: groups (<c>AddParamGroup</c>), <c>ClipGradNorm</c> (its coefficient scales each
    /// gradient element as the momentum pass loads it), <c>SkipNonFiniteSteps</c>, <c>StateDict</c>/<c>LoadStateDict</c>
    /// and checkpoints. Every parameter must be a matrix (shape of rank 2); put the others (embeddings, heads, biases,
    /// gains) in an AdamW optimizer, as PyTorch's documentation advises. The Newton–Schulz iteration is float32 by
    /// default; <c>nsPrecision: NewtonSchulzPrecision.BFloat16</c> runs it in bfloat16, as PyTorch does.
    /// </remarks>
    public sealed class Optimizer : Optimizer<float, Options>
    {
        private static readonly string[] s_state = { "momentumBuffer" };

        /// <summary>The update of the tensor being stepped (as long as the largest parameter; reused).</summary>
        private float[] _update = Array.Empty<float>();

        /// <summary>Creates the optimizer with one parameter group (add more with <c>AddParamGroup</c>).</summary>
        /// <param name="parameters">The parameters of the first group: 2-D matrices.</param>
        /// <param name="lr">Learning rate (at least 0).</param>
        /// <param name="weightDecay">Decoupled weight decay (at least 0).</param>
        /// <param name="momentum">Momentum factor (at least 0).</param>
        /// <param name="nesterov">Nesterov momentum.</param>
        /// <param name="nsCoefficients">The Newton–Schulz coefficients (a, b, c); <see langword="null"/>: (3.4445, -4.7750, 2.0315).</param>
        /// <param name="eps">The floor of the norm the update is divided by.</param>
        /// <param name="nsSteps">Newton–Schulz iterations, 0 to 99.</param>
        /// <param name="adjustLrFn">The learning-rate scaling for each matrix's shape.</param>
        /// <param name="stepOptions">Threading of the element-wise passes (the matrix products use their backend's threads).</param>
        /// <param name="nsPrecision">The precision of the Newton–Schulz iteration (float32 by default; bfloat16 as torch.optim.Muon).</param>
        /// <exception cref="ArgumentException">A parameter is not 2-D (the message names it), or the group is otherwise invalid.</exception>
        /// <exception cref="ArgumentOutOfRangeException">A hyperparameter is out of range.</exception>
        public Optimizer(
            IEnumerable<Parameter<float>> parameters, double lr = 1e-3, double weightDecay = 0.1, double momentum = 0.95,
            bool nesterov = true, (double A, double B, double C)? nsCoefficients = null, double eps = NewtonSchulz.DefaultEps,
            int nsSteps = NewtonSchulz.DefaultSteps, LrAdjustment adjustLrFn = LrAdjustment.Original, StepOptions stepOptions = default,
            NewtonSchulzPrecision nsPrecision = NewtonSchulzPrecision.Float32)
            : base(parameters, CreateDefaults(lr, weightDecay, momentum, nesterov, nsCoefficients, eps, nsSteps, adjustLrFn, nsPrecision), stepOptions)
        {
        }

        /// <inheritdoc/>
        public override string RuleName => "Kernels.Optimizers.Muon";

        /// <inheritdoc/>
        protected override string[] StateBufferNames => s_state;

        /// <inheritdoc/>
        protected override void CheckParameter(Parameter parameter)
        {
            if (parameter.Shape.Count != 2)
                throw new ArgumentException(
                    $"Muon only supports 2-D parameters; '{parameter.Name}' has shape [{string.Join(", ", parameter.Shape)}]. " +
                    "Optimize it with another optimizer (e.g. AdamW).", "parameters");
        }

        /// <inheritdoc/>
        protected override void StepTensors(Options options, OptimizerBatch<float> batch)
        {
            options.CheckStep();
            StepMatrices(batch, 0, Parameters, StepOptions, ref _update, options.Lr, options.WeightDecay, options.Momentum, options.Nesterov,
                options.NsCoefficients, options.Eps, options.NsSteps, options.AdjustLrFn, options.NsPrecision);
        }

        private static Options CreateDefaults(
            double lr, double weightDecay, double momentum, bool nesterov, (double A, double B, double C)? nsCoefficients,
            double eps, int nsSteps, LrAdjustment adjustLrFn, NewtonSchulzPrecision nsPrecision)
        {
            // torch.optim.Muon's constructor checks.
            if (!(lr >= 0))
                throw new ArgumentOutOfRangeException(nameof(lr), lr, "The learning rate must be 0 or more.");
            if (!(momentum >= 0))
                throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "The momentum must be 0 or more.");
            if (!(weightDecay >= 0))
                throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "The weight decay must be 0 or more.");
            var options = new Options
            {
                Lr = lr,
                WeightDecay = weightDecay,
                Momentum = momentum,
                Nesterov = nesterov,
                NsCoefficients = nsCoefficients ?? (NewtonSchulz.DefaultA, NewtonSchulz.DefaultB, NewtonSchulz.DefaultC),
                Eps = eps,
                NsSteps = nsSteps,
                AdjustLrFn = adjustLrFn,
                NsPrecision = nsPrecision,
            };
            options.CheckStep();
            return options;
        }
    }

    /// <summary>
    /// One Muon step of every matrix of <paramref name="batch"/> (its momentum buffers are state buffer
    /// <paramref name="momentumBuffer"/>): momentum, Newton–Schulz, weight decay and update, one tensor at a time.
    /// </summary>
    /// <remarks>
    /// The hyperparameters are those of <see cref="Options"/>; <paramref name="parameters"/> are the optimizer's (for the
    /// shapes), <paramref name="update"/> is scratch for one tensor's update, grown as needed and kept for the next step.
    /// </remarks>
    private static void StepMatrices(
        OptimizerBatch<float> batch, int momentumBuffer, IReadOnlyList<Parameter> parameters, StepOptions stepOptions, ref float[] update,
        double lr, double weightDecay, double momentum, bool nesterov, (double A, double B, double C) nsCoefficients, double eps, int nsSteps,
        LrAdjustment adjustLrFn, NewtonSchulzPrecision nsPrecision)
    {
        UpdateMomentumKernel momentumKernel = UpdateMomentumKernel.Prepare(momentum, nesterov).WithGradScale(batch.GradScale);
        ReadOnlySpan<Memory<float>> buffers = batch.State(momentumBuffer, true);
        (double a, double b, double c) = nsCoefficients;
        for (int k = 0; k < batch.Count; k++)
        {
            Parameter parameter = parameters[batch.ParameterIndex(k)];
            int rows = parameter.Shape[0], cols = parameter.Shape[1];
            int length = parameter.Length;
            if (length == 0)
                continue;
            if (update.Length < length)
                update = new float[length];
            Span<float> u = update.AsSpan(0, length);
            Span<float> param = batch.Params[k].Span;
            ReadOnlySpan<float> grad = batch.Grads[k].Span;
            Span<float> buffer = buffers[k].Span;
            int threads = stepOptions.ThreadCountFor(length, ParallelStep.ChunkAlignment);

            // buf.lerp_(grad, 1 - momentum); update = grad.lerp(buf, momentum) if nesterov else buf
            if (threads <= 1)
                momentumKernel.Run(buffer, grad, u);
            else
                ParallelStep.Run<float, UpdateMomentumKernel>(momentumKernel, length, threads, ParallelStep.ChunkAlignment, buffer, grad, u);

            // update = zeropower_via_newtonschulz(update, ns_coefficients, ns_steps, eps), in place
            NewtonSchulz.Orthogonalize(u, u, rows, cols, nsSteps, a, b, c, eps, nsPrecision);

            // param.mul_(1 - lr * weight_decay); param.add_(update, alpha=-adjusted_lr)
            ApplyUpdateKernel apply = ApplyUpdateKernel.Prepare(lr, AdjustLr(lr, rows, cols, adjustLrFn), weightDecay);
            if (threads <= 1)
                apply.Run(param, u);
            else
                ParallelStep.Run<float, ApplyUpdateKernel>(apply, length, threads, ParallelStep.ChunkAlignment, param, u);
        }
    }
}
