using System;
using Kernels.Optimizers;
using Kernels.Training;

namespace LossLandscapeRace;

/// <summary>One contestant: a 2-element parameter (x, y) and the optimizer object that moves it.</summary>
public sealed class Racer
{
    private Racer(string name, double lr, Func<Parameter<float>, Optimizer> create)
    {
        Name = name;
        Lr = lr;
        Optimizer = create(Position);
    }

    public string Name { get; }

    public double Lr { get; }

    /// <summary>The point on the landscape: <c>Data</c> = (x, y), <c>Grad</c> = the loss's gradient there.</summary>
    public Parameter<float> Position { get; } = new("xy", 2);

    /// <summary>A generated optimizer object (built-in or the user's AdaBelief rule): it keeps the state and the step count.</summary>
    public Optimizer Optimizer { get; }

    /// <param name="sgdScale">Scales the SGD family's learning rates (bounded by the landscape's sharpest curvature).</param>
    /// <param name="adaptiveScale">Scales the per-coordinate (Adam family, Lion) learning rates.</param>
    public static Racer[] All(double sgdScale, double adaptiveScale)
    {
        // Momentum runs at lr (1 - momentum) so that all three take the same effective step along a
        // consistent gradient (lr / (1 - momentum)): any difference is how they handle the walls.
        double sgd = 0.019 * sgdScale, heavy = 0.0019 * sgdScale, adam = 0.05 * adaptiveScale, lion = 0.005 * adaptiveScale;
        return new Racer[]
        {
            new("SGD", sgd, p => new SGD.Optimizer([p], lr: sgd)),
            new("SGD + momentum 0.9", heavy, p => new SGD.Optimizer([p], lr: heavy, momentum: 0.9)),
            new("Nesterov 0.9", heavy, p => new SGD.Optimizer([p], lr: heavy, momentum: 0.9, nesterov: true)),
            new("Adam", adam, p => new Adam.Optimizer([p], lr: adam)),
            new("AdamW (wd 0.01)", adam, p => new AdamW.Optimizer([p], lr: adam)),
            new("Lion", lion, p => new Lion.Optimizer([p], lr: lion)),
            new("AdaBelief (user rule)", adam, p => new AdaBelief.UpdateOptimizer([p], lr: (float)adam)),
        };
    }
}
