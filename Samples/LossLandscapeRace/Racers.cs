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

    public static Racer[] All(double scale) => new Racer[]
    {
        new SgdRacer("SGD", 0.012 * scale, momentum: 0, nesterov: false),
        new SgdRacer("SGD + momentum 0.9", 0.012 * scale, momentum: 0.9, nesterov: false),
        new SgdRacer("Nesterov 0.9", 0.012 * scale, momentum: 0.9, nesterov: true),
        new AdamRacer("Adam", 0.05 * scale, decoupled: false),
        new AdamRacer("AdamW (wd 0.01)", 0.05 * scale, decoupled: true),
        new LionRacer("Lion", 0.005 * scale),
        new AdaBeliefRacer("AdaBelief (user rule)", 0.05 * scale),
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
