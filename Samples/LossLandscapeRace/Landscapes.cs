using System;

namespace LossLandscapeRace;

/// <summary>A 2-D loss with its gradient.</summary>
public sealed record Landscape(string Name, float StartX, float StartY, float Threshold, Func<float, float, float> Loss, Func<float, float, (float Dx, float Dy)> Gradient)
{
    /// <summary>
    /// An ill-conditioned quadratic ravine, f = (x² + 100 y²) / 2: the walls (y) are 100× steeper
    /// than the floor (x). Plain gradient descent must keep lr below 2/100 or it diverges across the
    /// walls, so it crawls along the floor while bouncing from wall to wall.
    /// </summary>
    public static Landscape Ravine { get; } = new(
        "ravine (κ = 100)", -5f, 1f, 1e-4f,
        (x, y) => 0.5f * (x * x + 100f * y * y),
        (x, y) => (x, 100f * y));

    /// <summary>Rosenbrock's banana, f = (1 - x)² + 100 (y - x²)², minimum 0 at (1, 1): a curved, narrow valley.</summary>
    public static Landscape Rosenbrock { get; } = new(
        "Rosenbrock", -1.2f, 1f, 1e-4f,
        (x, y) => (1 - x) * (1 - x) + 100f * (y - x * x) * (y - x * x),
        (x, y) => (-2f * (1 - x) - 400f * x * (y - x * x), 200f * (y - x * x)));
}
