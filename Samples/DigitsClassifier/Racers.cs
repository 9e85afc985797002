using System;
using System.Collections.Generic;
using System.Linq;
using Kernels.Optimizers;
using Kernels.Precision;
using Kernels.Training;

namespace DigitsClassifier;

/// <summary>
/// One entrant: a name and how to build its optimizer over the model's weights and biases. Everything else in the
/// training loop (schedule, clipping, data, seeds) is the same for every entrant.
/// </summary>
/// <param name="Name">The name in the table and the plots' legends.</param>
/// <param name="Create">Builds the optimizer from the weights (decayed where the optimizer decays) and the biases (never decayed).</param>
/// <param name="Storage">
/// How the optimizer's parameters and gradients are stored: <see cref="float"/> (the model's own), or
/// <see cref="BFloat16"/> / <see cref="Half"/> (16-bit copies the optimizer updates; the model computes in float on their
/// widened values, and its float gradients are rounded into the 16-bit gradients).
/// </param>
/// <param name="LossScaling">Train with a <see cref="GradScaler"/> (dynamic loss scaling, for fp16).</param>
public sealed record Racer(string Name, Func<IReadOnlyList<Parameter>, IReadOnlyList<Parameter>, Optimizer> Create, Type? Storage = null, bool LossScaling = false)
{
    /// <summary>
    /// The race, one line per optimizer: swapping optimizers is changing that line. Where an optimizer has weight decay,
    /// the biases go into a second group without it (<c>AddParamGroup</c>, PyTorch's <c>add_param_group</c>).
    /// Learning rates are each family's usual ones for a small MLP; every entrant gets the same warmup + cosine schedule.
    /// </summary>
    public static IReadOnlyList<Racer> All { get; } =
    [
        new("SGD", (w, b) => new SGD.Optimizer(w, lr: 0.2, weightDecay: 5e-4).With(o => o.AddParamGroup(b, g => g.WeightDecay = 0))),
        new("SGD, momentum 0.9", (w, b) => new SGD.Optimizer(w, lr: 0.05, momentum: 0.9, weightDecay: 5e-4).With(o => o.AddParamGroup(b, g => g.WeightDecay = 0))),
        new("SGD, Nesterov 0.9", (w, b) => new SGD.Optimizer(w, lr: 0.05, momentum: 0.9, nesterov: true, weightDecay: 5e-4).With(o => o.AddParamGroup(b, g => g.WeightDecay = 0))),
        new("Adam", (w, b) => new Adam.Optimizer([.. w, .. b], lr: 3e-3)),
        new("AdamW", (w, b) => new AdamW.Optimizer(w, lr: 3e-3, weightDecay: 0.05).With(o => o.AddParamGroup(b, g => g.WeightDecay = 0))),
        new("Lion", (w, b) => new Lion.Optimizer(w, lr: 1e-3, weightDecay: 0.15).With(o => o.AddParamGroup(b, g => g.WeightDecay = 0))),
        new("AdaBelief (user rule)", (w, b) => new AdaBelief.UpdateOptimizer([.. w, .. b], lr: 3e-3f)),
        // Muon on the hidden matrix (fc1), AdamW on the output layer (the "head") and on the biases without decay.
        new("Muon/AdamW hybrid", (w, b) => new Muon.HybridOptimizer(w.Cast<Parameter<float>>(), useMuon: p => p == w[0], lr: 0.02, adamLr: 3e-3, adamWeightDecay: 0.05).With(o => o.AddAdamWGroup(b.Cast<Parameter<float>>(), g => g.WeightDecay = 0))),
    ];

    /// <summary>
    /// The memory race (<c>--memory</c>): the same AdamW with its two state buffers in float (8 bytes per parameter) and in
    /// 8 bits, blockwise (about 2.03 bytes: a code per element and a float scale per 256); then with the parameters and
    /// gradients themselves in 16 bits: bfloat16 with stochastic rounding (float state), bfloat16 with 8-bit state (2 + 2 +
    /// 2.03 bytes per parameter for values, gradient and state, against 4 + 4 + 8) rounded stochastically, through fp32
    /// master weights (+4) or with a bf16 compensation (+2), and fp16 with dynamic loss scaling.
    /// This MLP's largest tensor has 2,048 elements, under bitsandbytes' usual 4,096-element threshold, so the threshold is
    /// 0 here: every tensor's state is quantized, biases included.
    /// </summary>
    public static IReadOnlyList<Racer> Memory { get; } =
    [
        new("AdamW, float32 state", (w, b) => new AdamW.Optimizer(w, lr: 3e-3, weightDecay: 0.05).With(o => o.AddParamGroup(b, g => g.WeightDecay = 0))),
        new("AdamW, 8-bit state", (w, b) => new AdamW.Optimizer(w, lr: 3e-3, weightDecay: 0.05, statePrecision: StatePrecision.Blockwise8Bit(minElements: 0)).With(o => o.AddParamGroup(b, g => g.WeightDecay = 0))),
        new("AdamW, bf16 params, stochastic rounding", (w, b) => new AdamW.Optimizer(w, lr: 3e-3, weightDecay: 0.05, parameterPrecision: ParameterPrecision.Stochastic(seed: 1)).With(o => o.AddParamGroup(b, g => g.WeightDecay = 0)),
            Storage: typeof(BFloat16)),
        new("AdamW, bf16 params + 8-bit state, stochastic", (w, b) => new AdamW.Optimizer(w, lr: 3e-3, weightDecay: 0.05, statePrecision: StatePrecision.Blockwise8Bit(minElements: 0), parameterPrecision: ParameterPrecision.Stochastic(seed: 1)).With(o => o.AddParamGroup(b, g => g.WeightDecay = 0)),
            Storage: typeof(BFloat16)),
        new("AdamW, bf16 params + 8-bit state, fp32 master", (w, b) => new AdamW.Optimizer(w, lr: 3e-3, weightDecay: 0.05, statePrecision: StatePrecision.Blockwise8Bit(minElements: 0), parameterPrecision: ParameterPrecision.Fp32MasterWeights).With(o => o.AddParamGroup(b, g => g.WeightDecay = 0)),
            Storage: typeof(BFloat16)),
        new("AdamW, bf16 params + 8-bit state, compensated", (w, b) => new AdamW.Optimizer(w, lr: 3e-3, weightDecay: 0.05, statePrecision: StatePrecision.Blockwise8Bit(minElements: 0), parameterPrecision: ParameterPrecision.Compensated).With(o => o.AddParamGroup(b, g => g.WeightDecay = 0)),
            Storage: typeof(BFloat16)),
        new("AdamW, fp16 params, GradScaler", (w, b) => new AdamW.Optimizer(w, lr: 3e-3, weightDecay: 0.05).With(o => o.AddParamGroup(b, g => g.WeightDecay = 0)),
            Storage: typeof(Half), LossScaling: true),
    ];
}

/// <summary>Lets an optimizer be built and configured in one expression.</summary>
internal static class ConfigureExtensions
{
    /// <summary>Runs <paramref name="configure"/> on <paramref name="value"/> and returns it.</summary>
    public static T With<T>(this T value, Action<T> configure)
    {
        configure(value);
        return value;
    }
}
