using System;
using Kernels.Optimizers;

namespace LossLandscapeRace;

/// <summary>One optimizer with its state, stepping a 2-element parameter span through the generated span overloads.</summary>
public abstract class Racer
{
    protected Racer(string name, double lr)
    {
        Name = name;
        Lr = lr;
    }

    public string Name { get; }

    public double Lr { get; }

    /// <summary>One step on <paramref name="param"/> given its gradient; <paramref name="step"/> starts at 1.</summary>
    public abstract void Step(Span<float> param, ReadOnlySpan<float> grad, int step);

    /// <param name="sgdScale">Scales the SGD family's learning rates (bounded by the landscape's sharpest curvature).</param>
    /// <param name="adaptiveScale">Scales the per-coordinate (Adam family, Lion) learning rates.</param>
    public static Racer[] All(double sgdScale, double adaptiveScale) => new Racer[]
    {
        // Momentum runs at lr (1 - momentum) so that all three take the same effective step along a
        // consistent gradient (lr / (1 - momentum)): any difference is how they handle the walls.
        new SgdRacer("SGD", 0.019 * sgdScale, momentum: 0, nesterov: false),
        new SgdRacer("SGD + momentum 0.9", 0.0019 * sgdScale, momentum: 0.9, nesterov: false),
        new SgdRacer("Nesterov 0.9", 0.0019 * sgdScale, momentum: 0.9, nesterov: true),
        new AdamRacer("Adam", 0.05 * adaptiveScale, decoupled: false),
        new AdamRacer("AdamW (wd 0.01)", 0.05 * adaptiveScale, decoupled: true),
        new LionRacer("Lion", 0.005 * adaptiveScale),
        new AdaBeliefRacer("AdaBelief (user rule)", 0.05 * adaptiveScale),
    };

    private sealed class SgdRacer(string name, double lr, double momentum, bool nesterov) : Racer(name, lr)
    {
        private readonly float[] _buffer = new float[2];

        public override void Step(Span<float> param, ReadOnlySpan<float> grad, int step) =>
            SGD.Step(param, grad, momentum == 0 ? Span<float>.Empty : _buffer, Lr, step, momentum, nesterov: nesterov);
    }

    private sealed class AdamRacer(string name, double lr, bool decoupled) : Racer(name, lr)
    {
        private readonly float[] _m = new float[2], _v = new float[2];

        public override void Step(Span<float> param, ReadOnlySpan<float> grad, int step)
        {
            if (decoupled)
                AdamW.Step(param, grad, _m, _v, Span<float>.Empty, step, Lr);
            else
                Adam.Step(param, grad, _m, _v, Span<float>.Empty, step, Lr);
        }
    }

    private sealed class LionRacer(string name, double lr) : Racer(name, lr)
    {
        private readonly float[] _m = new float[2];

        public override void Step(Span<float> param, ReadOnlySpan<float> grad, int step) => Lion.Step(param, grad, _m, Lr);
    }

    private sealed class AdaBeliefRacer(string name, double lr) : Racer(name, lr)
    {
        private readonly float[] _m = new float[2], _s = new float[2];

        public override void Step(Span<float> param, ReadOnlySpan<float> grad, int step) =>
            AdaBelief.Update(param, grad, _m, _s, (float)Lr, step: step);
    }
}
