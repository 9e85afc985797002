using System;
using System.Collections.Generic;
using System.Threading.Tasks;
using Kernels.CompilerServices;
using Kernels.Training;

namespace Kernels.Optimizers;

public static partial class Lamb
{
    /// <summary>The hyperparameters of one parameter group of <see cref="Optimizer"/>, with apex <c>FusedLAMB</c>'s defaults.</summary>
    /// <remarks>By name: <c>lr</c>, <c>beta1</c>, <c>beta2</c>, <c>eps</c>, <c>weightDecay</c>, <c>biasCorrection</c>.</remarks>
    public sealed class Options : Hyperparameters
    {
        private static readonly string[] s_names = { "lr", "beta1", "beta2", "eps", "weightDecay", "biasCorrection" };

        internal Options()
        {
        }

        /// <summary>Learning rate. Default: <c>1e-3</c>.</summary>
        public double Lr { get; set; } = 1e-3;

        /// <summary>First-moment decay. Default: <c>0.9</c>.</summary>
        public double Beta1 { get; set; } = 0.9;

        /// <summary>Second-moment decay. Default: <c>0.999</c>.</summary>
        public double Beta2 { get; set; } = 0.999;

        /// <summary>Denominator term. Default: <c>1e-6</c>.</summary>
        public double Eps { get; set; } = 1e-6;

        /// <summary>Decoupled weight decay inside the update (so the trust ratio sees it). Default: <c>0.01</c>.</summary>
        public double WeightDecay { get; set; } = 0.01;

        /// <summary>Divide the moments by <c>1 − beta^step</c>. Default: <see langword="true"/>.</summary>
        public bool BiasCorrection { get; set; } = true;

        /// <inheritdoc/>
        public override IReadOnlyList<string> Names => s_names;

        /// <inheritdoc/>
        protected override double GetValue(int index) => index switch
        {
            0 => Lr,
            1 => Beta1,
            2 => Beta2,
            3 => Eps,
            4 => WeightDecay,
            5 => BiasCorrection ? 1 : 0,
            _ => throw new ArgumentOutOfRangeException(nameof(index)),
        };

        /// <inheritdoc/>
        protected override void SetValue(int index, double value)
        {
            switch (index)
            {
                case 0: Lr = value; break;
                case 1: Beta1 = value; break;
                case 2: Beta2 = value; break;
                case 3: Eps = value; break;
                case 4: WeightDecay = value; break;
                case 5: BiasCorrection = value != 0; break;
                default: throw new ArgumentOutOfRangeException(nameof(index));
            }
        }
    }

    /// <summary>
    /// LAMB over parameter groups of float parameters: per tensor, pass 1 (<c>UpdateMoments</c>, fused, block by block
    /// with ‖p‖² and ‖u‖² summed in a fixed order while the block is in cache), the trust ratio, pass 2
    /// (<c>ApplyUpdate</c>). State: <c>expAvg</c>, <c>expAvgSq</c>; the step count per parameter. Groups,
    /// <c>ClipGradNorm</c> (apex's global clip; its coefficient scales each gradient element as pass 1 loads it),
    /// state dicts and checkpoints as every optimizer object.
    /// </summary>
    public sealed class Optimizer : Optimizer<float, Options>
    {
        private static readonly string[] s_state = { "expAvg", "expAvgSq" };

        /// <summary>Creates the optimizer with one parameter group (add more with <c>AddParamGroup</c>).</summary>
        /// <param name="parameters">The first group's parameters.</param>
        /// <param name="lr">Learning rate (at least 0).</param>
        /// <param name="beta1">First-moment decay, in [0, 1).</param>
        /// <param name="beta2">Second-moment decay, in [0, 1).</param>
        /// <param name="eps">Denominator term (at least 0).</param>
        /// <param name="weightDecay">Decoupled weight decay inside the update (at least 0).</param>
        /// <param name="biasCorrection">Divide the moments by <c>1 − beta^step</c>.</param>
        /// <param name="stepOptions">Threading of both passes.</param>
        /// <exception cref="ArgumentOutOfRangeException">A hyperparameter is out of range.</exception>
        public Optimizer(
            IEnumerable<Parameter<float>> parameters, double lr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-6,
            double weightDecay = 0.01, bool biasCorrection = true, StepOptions stepOptions = default)
            : base(parameters, CreateDefaults(lr, beta1, beta2, eps, weightDecay, biasCorrection), stepOptions)
        {
        }

        /// <inheritdoc/>
        public override string RuleName => "Kernels.Optimizers.Lamb";

        /// <inheritdoc/>
        protected override string[] StateBufferNames => s_state;

        /// <inheritdoc/>
        protected override void StepTensors(Options options, OptimizerBatch<float> batch)
        {
            // The generated two-pass kernel of Lamb.Step: per tensor, the norms in the fixed order, then the update.
            StepKernel kernel = StepKernel.Prepare(checked((int)batch.Step), options.Lr, options.Beta1, options.Beta2, options.Eps, options.WeightDecay, options.BiasCorrection)
                .WithGradScale(batch.GradScale);
            ReadOnlySpan<Memory<float>> expAvg = batch.State(0, true), expAvgSq = batch.State(1, true);
            for (int k = 0; k < batch.Count; k++)
            {
                Span<float> param = batch.Params[k].Span;
                kernel.RunTensor(param, batch.Grads[k].Span, expAvg[k].Span, expAvgSq[k].Span, param.Length, StepOptions.ThreadCountFor(param.Length, ParallelStep.ChunkAlignment));
            }
        }

        private static Options CreateDefaults(double lr, double beta1, double beta2, double eps, double weightDecay, bool biasCorrection)
        {
            if (!(lr >= 0))
                throw new ArgumentOutOfRangeException(nameof(lr), lr, "The learning rate must be 0 or more.");
            if (!(beta1 >= 0 && beta1 < 1))
                throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1).");
            if (!(beta2 >= 0 && beta2 < 1))
                throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1).");
            if (!(eps >= 0))
                throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must be 0 or more.");
            if (!(weightDecay >= 0))
                throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "The weight decay must be 0 or more.");
            return new Options { Lr = lr, Beta1 = beta1, Beta2 = beta2, Eps = eps, WeightDecay = weightDecay, BiasCorrection = biasCorrection };
        }
    }
}
