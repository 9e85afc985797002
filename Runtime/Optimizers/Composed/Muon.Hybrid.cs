using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.CompilerServices;
using Kernels.Matrices;
using Kernels.Training;

namespace Kernels.Optimizers;

public static partial class Muon
{
    /// <summary>
    /// Whether the hybrid optimizer gives <paramref name="parameter"/> to Muon by default: a matrix (rank 2) whose name
    /// does not mark it as an embedding or an output head (it contains none of <c>embed</c>, <c>head</c>, <c>wte</c>,
    /// <c>wpe</c>, <c>classifier</c>, ignoring case). Everything else — embeddings, heads, biases, gains, convolution
    /// kernels not viewed as 2-D — goes to AdamW, as the Muon authors and PyTorch's documentation advise.
    /// </summary>
    /// <param name="parameter">The parameter.</param>
    /// <returns><see langword="true"/> for a hidden 2-D weight.</returns>
    public static bool IsHiddenMatrix(Parameter parameter)
    {
        ArgumentNullException.ThrowIfNull(parameter);
        if (parameter.Shape.Count != 2)
            return false;
        foreach (string marker in s_notHidden)
        {
            if (parameter.Name.Contains(marker, StringComparison.OrdinalIgnoreCase))
                return false;
        }
        return true;
    }

    private static readonly string[] s_notHidden = { "embed", "head", "wte", "wpe", "classifier" };

    /// <summary>
    /// The hyperparameters of one group of <see cref="HybridOptimizer"/>: <see cref="UseMuon"/> says which optimizer
    /// the group runs; <see cref="Lr"/> and <see cref="WeightDecay"/> are shared names (so one schedule drives every
    /// group), the others belong to Muon (<c>momentum</c> … <c>adjustLrFn</c>) or to AdamW (<c>beta1</c>, <c>beta2</c>,
    /// <c>eps</c>, <c>amsgrad</c>) and are ignored by the other kind.
    /// </summary>
    /// <remarks>
    /// By name: <c>useMuon</c>, <c>lr</c>, <c>weightDecay</c>, <c>momentum</c>, <c>nesterov</c>, <c>nsCoefficientA</c>,
    /// <c>nsCoefficientB</c>, <c>nsCoefficientC</c>, <c>nsEps</c>, <c>nsSteps</c>, <c>adjustLrFn</c>, <c>beta1</c>,
    /// <c>beta2</c>, <c>eps</c>, <c>amsgrad</c>, <c>nsPrecision</c> (0 float32, 1 bfloat16). Muon's <c>eps</c> (the Newton–Schulz norm floor) is <c>nsEps</c> here,
    /// as AdamW's <c>eps</c> keeps its name.
    /// </remarks>
    public sealed class HybridOptions : Hyperparameters
    {
        private static readonly string[] s_names =
        {
            "useMuon", "lr", "weightDecay", "momentum", "nesterov", "nsCoefficientA", "nsCoefficientB", "nsCoefficientC", "nsEps",
            "nsSteps", "adjustLrFn", "beta1", "beta2", "eps", "amsgrad",
            "nsPrecision",
        };

        internal HybridOptions()
        {
        }

        /// <summary>Run Muon on this group's parameters (each must be 2-D); otherwise AdamW.</summary>
        public bool UseMuon { get; set; }

        /// <summary>Learning rate (Muon's is then scaled per matrix by <see cref="AdjustLrFn"/>).</summary>
        public double Lr { get; set; }

        /// <summary>Decoupled weight decay, <c>param *= 1 - lr * weightDecay</c>, for both kinds.</summary>
        public double WeightDecay { get; set; }

        /// <summary>Muon's momentum factor.</summary>
        public double Momentum { get; set; }

        /// <summary>Muon's Nesterov momentum.</summary>
        public bool Nesterov { get; set; }

        /// <summary>Muon's Newton–Schulz coefficients (a, b, c).</summary>
        public (double A, double B, double C) NsCoefficients { get; set; }

        /// <summary>Muon's floor of the norm the update is divided by (torch.optim.Muon's <c>eps</c>).</summary>
        public double NsEps { get; set; }

        /// <summary>Muon's Newton–Schulz iterations, 0 to 99.</summary>
        public int NsSteps { get; set; }

        /// <summary>Muon's learning-rate scaling for each matrix's shape.</summary>
        public LrAdjustment AdjustLrFn { get; set; }

        /// <summary>AdamW's first-moment decay.</summary>
        public double Beta1 { get; set; }

        /// <summary>AdamW's second-moment decay.</summary>
        public double Beta2 { get; set; }

        /// <summary>AdamW's denominator term.</summary>
        public double Eps { get; set; }

        /// <summary>AdamW's AMSGrad variant.</summary>
        public bool Amsgrad { get; set; }

        /// <summary>The precision of Muon's Newton–Schulz iteration (<see cref="NewtonSchulzPrecision"/>).</summary>
        public NewtonSchulzPrecision NsPrecision { get; set; }

        /// <inheritdoc/>
        public override IReadOnlyList<string> Names => s_names;

        /// <inheritdoc/>
        protected override double GetValue(int index) => index switch
        {
            0 => UseMuon ? 1 : 0,
            1 => Lr,
            2 => WeightDecay,
            3 => Momentum,
            4 => Nesterov ? 1 : 0,
            5 => NsCoefficients.A,
            6 => NsCoefficients.B,
            7 => NsCoefficients.C,
            8 => NsEps,
            9 => NsSteps,
            10 => (double)AdjustLrFn,
            11 => Beta1,
            12 => Beta2,
            13 => Eps,
            14 => Amsgrad ? 1 : 0,
            15 => (double)NsPrecision,
            _ => throw new ArgumentOutOfRangeException(nameof(index)),
        };

        /// <inheritdoc/>
        protected override void SetValue(int index, double value)
        {
            switch (index)
            {
                case 0: UseMuon = value != 0; break;
                case 1: Lr = value; break;
                case 2: WeightDecay = value; break;
                case 3: Momentum = value; break;
                case 4: Nesterov = value != 0; break;
                case 5: NsCoefficients = NsCoefficients with { A = value }; break;
                case 6: NsCoefficients = NsCoefficients with { B = value }; break;
                case 7: NsCoefficients = NsCoefficients with { C = value }; break;
                case 8: NsEps = value; break;
                case 9: NsSteps = ToInt32(index, value); break;
                case 10:
                    int code = ToInt32(index, value);
                    if (!Enum.IsDefined((LrAdjustment)code))
                        throw new ArgumentException($"Hyperparameter 'adjustLrFn' is 0 (original) or 1 (match_rms_adamw), not {value}.", nameof(value));
                    AdjustLrFn = (LrAdjustment)code;
                    break;
                case 11: Beta1 = value; break;
                case 12: Beta2 = value; break;
                case 13: Eps = value; break;
                case 14: Amsgrad = value != 0; break;
                case 15:
                    int precision = ToInt32(index, value);
                    if (!Enum.IsDefined((NewtonSchulzPrecision)precision))
                        throw new ArgumentException($"Hyperparameter 'nsPrecision' is 0 (float32) or 1 (bfloat16), not {value}.", nameof(value));
                    NsPrecision = (NewtonSchulzPrecision)precision;
                    break;
                default: throw new ArgumentOutOfRangeException(nameof(index));
            }
        }

        /// <summary>Throws on a value the step cannot run with (checked for every group before any is stepped).</summary>
        internal void CheckStep(int group)
        {
            if (!UseMuon)
                return;
            if (NsSteps < 0 || NsSteps >= NewtonSchulz.MaxSteps)
                throw new ArgumentOutOfRangeException(nameof(NsSteps), NsSteps, $"Group {group}: Muon's number of Newton-Schulz steps must be in [0, {NewtonSchulz.MaxSteps}).");
            if (!Enum.IsDefined(AdjustLrFn))
                throw new ArgumentOutOfRangeException(nameof(AdjustLrFn), AdjustLrFn, $"Group {group}: not a Muon.LrAdjustment.");
            if (!Enum.IsDefined(NsPrecision))
                throw new ArgumentOutOfRangeException(nameof(NsPrecision), NsPrecision, $"Group {group}: not a NewtonSchulzPrecision.");
        }
    }

    /// <summary>
    /// Muon on the hidden 2-D weights and AdamW on everything else, in one optimizer: one <c>Step()</c>, one
    /// <c>ClipGradNorm</c> over all gradients, one state dict and checkpoint — the recipe of the Muon authors' and
    /// Moonshot's training runs (Keller Jordan's <c>MuonWithAuxAdam</c>: groups flagged <c>use_muon</c>).
    /// </summary>
    /// <remarks>
    /// <para>
    /// The constructor splits the parameters with <c>useMuon</c> (default <see cref="IsHiddenMatrix"/>) into a Muon group
    /// (first, when not empty) and an AdamW group. Each group is stepped exactly as <see cref="Optimizer"/> and
    /// <see cref="AdamW.Optimizer"/> step theirs — the same kernels, the same bits. More groups:
    /// <see cref="AddMuonGroup"/> and <see cref="AddAdamWGroup"/> start from the constructor's values of that kind.
    /// </para>
    /// <para>
    /// State per parameter: <c>momentumBuffer</c> (Muon) or <c>expAvg</c>, <c>expAvgSq</c> and, with AMSGrad,
    /// <c>maxExpAvgSq</c> (AdamW), allocated on first use; the step count per parameter (AdamW's bias correction).
    /// </para>
    /// </remarks>
    public sealed class HybridOptimizer : Optimizer<float, HybridOptions>
    {
        private const int MomentumBuffer = 0, ExpAvg = 1, ExpAvgSq = 2, MaxExpAvgSq = 3;
        private static readonly string[] s_state = { "momentumBuffer", "expAvg", "expAvgSq", "maxExpAvgSq" };

        private readonly HybridOptions _adamDefaults;
        private float[] _update = Array.Empty<float>();

        /// <summary>Creates the optimizer: a Muon group and an AdamW group, split by <paramref name="useMuon"/>.</summary>
        /// <param name="parameters">Every parameter to optimize.</param>
        /// <param name="useMuon">Which parameters Muon optimizes (each must be 2-D); <see langword="null"/>: <see cref="IsHiddenMatrix"/>.</param>
        /// <param name="lr">Muon's learning rate (torch.optim.Muon's default 1e-3).</param>
        /// <param name="weightDecay">Muon's decoupled weight decay (default 0.1).</param>
        /// <param name="momentum">Muon's momentum factor (default 0.95).</param>
        /// <param name="nesterov">Muon's Nesterov momentum (default on).</param>
        /// <param name="nsCoefficients">Newton–Schulz (a, b, c); <see langword="null"/>: (3.4445, -4.7750, 2.0315).</param>
        /// <param name="nsEps">The floor of the norm the update is divided by (default 1e-7).</param>
        /// <param name="nsSteps">Newton–Schulz iterations, 0 to 99 (default 5).</param>
        /// <param name="adjustLrFn">Muon's learning-rate scaling per matrix shape (default <see cref="LrAdjustment.Original"/>).</param>
        /// <param name="adamLr">AdamW's learning rate (torch.optim.AdamW's default 1e-3).</param>
        /// <param name="beta1">AdamW's first-moment decay (default 0.9).</param>
        /// <param name="beta2">AdamW's second-moment decay (default 0.999).</param>
        /// <param name="eps">AdamW's denominator term (default 1e-8).</param>
        /// <param name="adamWeightDecay">AdamW's decoupled weight decay (default 1e-2).</param>
        /// <param name="amsgrad">AdamW's AMSGrad variant.</param>
        /// <param name="stepOptions">Threading of the element-wise passes.</param>
        /// <param name="nsPrecision">The precision of Muon's Newton–Schulz iteration (float32 by default; bfloat16 as torch.optim.Muon).</param>
        /// <exception cref="ArgumentException">No parameters, a duplicate, or <paramref name="useMuon"/> chose a parameter that is not 2-D.</exception>
        /// <exception cref="ArgumentOutOfRangeException">A hyperparameter is out of range.</exception>
        public HybridOptimizer(
            IEnumerable<Parameter<float>> parameters, Func<Parameter, bool>? useMuon = null,
            double lr = 1e-3, double weightDecay = 0.1, double momentum = 0.95, bool nesterov = true,
            (double A, double B, double C)? nsCoefficients = null, double nsEps = NewtonSchulz.DefaultEps,
            int nsSteps = NewtonSchulz.DefaultSteps, LrAdjustment adjustLrFn = LrAdjustment.Original,
            double adamLr = 1e-3, double beta1 = 0.9, double beta2 = 0.999, double eps = 1e-8, double adamWeightDecay = 1e-2,
            bool amsgrad = false, StepOptions stepOptions = default, NewtonSchulzPrecision nsPrecision = NewtonSchulzPrecision.Float32)
            : base(CreateDefaults(lr, weightDecay, momentum, nesterov, nsCoefficients, nsEps, nsSteps, adjustLrFn, beta1, beta2, eps, amsgrad, nsPrecision), stepOptions)
        {
            ArgumentNullException.ThrowIfNull(parameters);
            CheckAdam(adamLr, beta1, beta2, eps, adamWeightDecay);
            _adamDefaults = (HybridOptions)Defaults.Copy();
            _adamDefaults.UseMuon = false;
            _adamDefaults.Lr = adamLr;
            _adamDefaults.WeightDecay = adamWeightDecay;

            useMuon ??= IsHiddenMatrix;
            Parameter<float>[] list = parameters.ToArray();
            if (list.Length == 0)
                throw new ArgumentException("The optimizer needs at least one parameter.", nameof(parameters));
            var matrices = new List<Parameter<float>>();
            var others = new List<Parameter<float>>();
            foreach (Parameter<float>? p in list)
            {
                if (p is null)
                    throw new ArgumentException("The list holds a null parameter.", nameof(parameters));
                if (useMuon(p))
                {
                    if (p.Shape.Count != 2)
                        throw new ArgumentException(
                            $"useMuon chose '{p.Name}' of shape [{string.Join(", ", p.Shape)}]; Muon only supports 2-D parameters.", nameof(useMuon));
                    matrices.Add(p);
                }
                else
                {
                    others.Add(p);
                }
            }
            if (matrices.Count > 0)
                AddMuonGroup(matrices);
            if (others.Count > 0)
                AddAdamWGroup(others);
        }

        /// <inheritdoc/>
        public override string RuleName => "Kernels.Optimizers.Muon.Hybrid";

        /// <inheritdoc/>
        protected override string[] StateBufferNames => s_state;

        /// <summary>Adds a Muon group: its hyperparameters start from the constructor's Muon values, then <paramref name="configure"/>.</summary>
        /// <returns>The new group.</returns>
        /// <exception cref="ArgumentException">No parameters, one already in a group, a name already used, or a parameter that is not 2-D.</exception>
        public ParamGroup<float, HybridOptions> AddMuonGroup(IEnumerable<Parameter<float>> parameters, Action<HybridOptions>? configure = null)
        {
            ArgumentNullException.ThrowIfNull(parameters);
            Parameter<float>[] list = parameters.ToArray();
            foreach (Parameter<float>? p in list)
            {
                if (p is not null && p.Shape.Count != 2)
                    throw new ArgumentException($"Muon only supports 2-D parameters; '{p.Name}' has shape [{string.Join(", ", p.Shape)}].", nameof(parameters));
            }
            return AddParamGroup(list, o =>
            {
                o.UseMuon = true;
                configure?.Invoke(o);
            });
        }

        /// <summary>Adds an AdamW group: its hyperparameters start from the constructor's AdamW values, then <paramref name="configure"/>.</summary>
        /// <returns>The new group.</returns>
        /// <exception cref="ArgumentException">No parameters, one already in a group, or a name already used.</exception>
        public ParamGroup<float, HybridOptions> AddAdamWGroup(IEnumerable<Parameter<float>> parameters, Action<HybridOptions>? configure = null)
        {
            HybridOptions adam = _adamDefaults;
            return AddParamGroup(parameters, o =>
            {
                foreach (string name in adam.Names)
                    o[name] = adam[name];
                o.NsCoefficients = adam.NsCoefficients;
                configure?.Invoke(o);
            });
        }

        /// <summary>
        /// One step of every group. Each Muon group's parameters are checked to be 2-D and its values to be in range
        /// before any group is stepped, so a group switched to Muon with a vector in it fails with nothing written.
        /// </summary>
        /// <exception cref="InvalidOperationException">A Muon group holds a parameter that is not 2-D.</exception>
        /// <exception cref="ArgumentOutOfRangeException">A Muon group's Newton–Schulz steps or lr scaling is out of range.</exception>
        public override void Step()
        {
            for (int g = 0; g < Groups.Count; g++)
            {
                ParamGroup<float, HybridOptions> group = Groups[g];
                group.Options.CheckStep(g);
                if (!group.Options.UseMuon)
                    continue;
                foreach (Parameter p in group.Parameters)
                {
                    if (p.Shape.Count != 2)
                        throw new InvalidOperationException(
                            $"Group {g} runs Muon, but its parameter '{p.Name}' has shape [{string.Join(", ", p.Shape)}]; Muon only supports 2-D parameters.");
                }
            }
            base.Step();
        }

        /// <inheritdoc/>
        protected override void StepTensors(HybridOptions options, OptimizerBatch<float> batch)
        {
            if (options.UseMuon)
            {
                StepMatrices(batch, MomentumBuffer, Parameters, StepOptions, ref _update, options.Lr, options.WeightDecay, options.Momentum,
                    options.Nesterov, options.NsCoefficients, options.NsEps, options.NsSteps, options.AdjustLrFn, options.NsPrecision);
                return;
            }
            AdamW.StepBatch(batch, ExpAvg, ExpAvgSq, MaxExpAvgSq, options.Lr, options.Beta1, options.Beta2, options.Eps,
                options.WeightDecay, options.Amsgrad, maximize: false);
        }

        private static HybridOptions CreateDefaults(
            double lr, double weightDecay, double momentum, bool nesterov, (double A, double B, double C)? nsCoefficients,
            double nsEps, int nsSteps, LrAdjustment adjustLrFn, double beta1, double beta2, double eps, bool amsgrad,
            NewtonSchulzPrecision nsPrecision)
        {
            // torch.optim.Muon's constructor checks.
            if (!(lr >= 0))
                throw new ArgumentOutOfRangeException(nameof(lr), lr, "Muon's learning rate must be 0 or more.");
            if (!(momentum >= 0))
                throw new ArgumentOutOfRangeException(nameof(momentum), momentum, "Muon's momentum must be 0 or more.");
            if (!(weightDecay >= 0))
                throw new ArgumentOutOfRangeException(nameof(weightDecay), weightDecay, "Muon's weight decay must be 0 or more.");
            var options = new HybridOptions
            {
                UseMuon = true,
                Lr = lr,
                WeightDecay = weightDecay,
                Momentum = momentum,
                Nesterov = nesterov,
                NsCoefficients = nsCoefficients ?? (NewtonSchulz.DefaultA, NewtonSchulz.DefaultB, NewtonSchulz.DefaultC),
                NsEps = nsEps,
                NsSteps = nsSteps,
                AdjustLrFn = adjustLrFn,
                Beta1 = beta1,
                Beta2 = beta2,
                Eps = eps,
                Amsgrad = amsgrad,
                NsPrecision = nsPrecision,
            };
            options.CheckStep(0);
            return options;
        }

        private static void CheckAdam(double adamLr, double beta1, double beta2, double eps, double adamWeightDecay)
        {
            // torch.optim.AdamW's constructor checks.
            if (!(adamLr >= 0))
                throw new ArgumentOutOfRangeException(nameof(adamLr), adamLr, "AdamW's learning rate must be 0 or more.");
            if (!(eps >= 0))
                throw new ArgumentOutOfRangeException(nameof(eps), eps, "AdamW's epsilon must be 0 or more.");
            if (!(beta1 >= 0 && beta1 < 1))
                throw new ArgumentOutOfRangeException(nameof(beta1), beta1, "beta1 must be in [0, 1).");
            if (!(beta2 >= 0 && beta2 < 1))
                throw new ArgumentOutOfRangeException(nameof(beta2), beta2, "beta2 must be in [0, 1).");
            if (!(adamWeightDecay >= 0))
                throw new ArgumentOutOfRangeException(nameof(adamWeightDecay), adamWeightDecay, "AdamW's weight decay must be 0 or more.");
        }
    }
}
