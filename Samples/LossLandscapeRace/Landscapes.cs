using System;

namespace LossLandscapeRace;

/// <summary>A 2-D loss with its gradient.</summary>
/// <param name="FileStem">Starts the names of the landscape's figures (<c>ravine-paths.png</c>, …).</param>
/// <param name="MinimumX">Where the loss is lowest (marked on the contour figure).</param>
/// <param name="View">The part of the plane the contour figure shows: the start, the minimum and the paths between.</param>
public sealed record Landscape(string Name, string FileStem, float StartX, float StartY, float Threshold, Func<float, float, float> Loss, Func<float, float, (float Dx, float Dy)> Gradient,
    float MinimumX, float MinimumY, (double Left, double Right, double Bottom, double Top) View)
{
    /// <summary>
    /// An ill-conditioned quadratic ravine, f = (x² + 100 y²) / 2: the walls (y) are 100× steeper
    /// than the floor (x). Plain gradient descent must keep lr below 2/100 or it diverges across the
    /// walls, so it crawls along the floor while bouncing from wall to wall.
    /// </summary>
    public static Landscape Ravine { get; } = new(
        "ravine (κ = 100)", "ravine", -5f, 1f, 1e-4f,
        (x, y) => 0.5f * (x * x + 100f * y * y),
        (x, y) => (x, 100f * y),
        0f, 0f, (-5.5, 1, -1.25, 1.25));

    /// <summary>Rosenbrock's banana, f = (1 - x)² + 100 (y - x²)², minimum 0 at (1, 1): a curved, narrow valley.</summary>
    public static Landscape Rosenbrock { get; } = new(
        "Rosenbrock", "rosenbrock", -1.2f, 1f, 1e-4f,
        (x, y) => (1 - x) * (1 - x) + 100f * (y - x * x) * (y - x * x),
        (x, y) => (-2f * (1 - x) - 400f * x * (y - x * x), 200f * (y - x * x)),
        1f, 1f, (-1.6, 1.6, -0.4, 1.6));
}
