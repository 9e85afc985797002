using System;
using System.Collections.Generic;
using Kernels.Optimizers;
using Kernels.Training;

namespace DigitsClassifier;

/// <summary>
/// One entrant: a name and how to build its optimizer over the model's weights and biases. Everything else in the
/// training loop (schedule, clipping, data, seeds) is the same for every entrant.
/// </summary>
/// <param name="Name">The name in the table and the plots' legends.</param>
/// <param name="Create">Builds the optimizer from the weights (decayed where the optimizer decays) and the biases (never decayed).</param>
public sealed record Racer(string Name, Func<IReadOnlyList<Parameter<float>>, IReadOnlyList<Parameter<float>>, Optimizer> Create)
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
        new("Muon/AdamW hybrid", (w, b) => new Muon.HybridOptimizer(w, useMuon: p => p == w[0], lr: 0.02, adamLr: 3e-3, adamWeightDecay: 0.05).With(o => o.AddAdamWGroup(b, g => g.WeightDecay = 0))),
    ];

    /// <summary>
    /// The memory race (<c>--memory</c>): the same AdamW with its two state buffers in float (8 bytes per parameter) and in
    /// 8 bits, blockwise (about 2.03 bytes: a code per element and a float scale per 256). This MLP's largest tensor has
    /// 2,048 elements, under bitsandbytes' usual 4,096-element threshold, so the threshold is 0 here: every tensor's state
    /// is quantized, biases included.
    /// </summary>
    public static IReadOnlyList<Racer> Memory { get; } =
    [
        new("AdamW, float32 state", (w, b) => new AdamW.Optimizer(w, lr: 3e-3, weightDecay: 0.05).With(o => o.AddParamGroup(b, g => g.WeightDecay = 0))),
        new("AdamW, 8-bit state", (w, b) => new AdamW.Optimizer(w, lr: 3e-3, weightDecay: 0.05, statePrecision: StatePrecision.Blockwise8Bit(minElements: 0)).With(o => o.AddParamGroup(b, g => g.WeightDecay = 0))),
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
