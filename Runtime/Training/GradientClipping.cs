// TEMPORARY (replaced by the ckpt branch's implementation at merge).
using System;
using System.Collections.Generic;

namespace Kernels.Training;

/// <summary>Temporary.</summary>
public readonly record struct ClipResult(double TotalNorm, float Coefficient, bool IsFinite);

/// <summary>Temporary.</summary>
public static class GradientClipping
{
    /// <summary>Temporary.</summary>
    public static double GlobalNorm(IReadOnlyList<ReadOnlyMemory<float>> grads, double normType = 2, StepOptions options = default)
    {
        double acc = 0;
        foreach (var g in grads)
            foreach (float x in g.Span)
                acc = double.IsPositiveInfinity(normType) ? (double.IsNaN(x) ? double.NaN : Math.Max(acc, Math.Abs(x))) : acc + (double)x * x;
        return double.IsPositiveInfinity(normType) ? acc : Math.Sqrt(acc);
    }

    /// <summary>Temporary.</summary>
    public static double GlobalNorm(IReadOnlyList<ReadOnlyMemory<double>> grads, double normType = 2, StepOptions options = default)
    {
        double acc = 0;
        foreach (var g in grads)
            foreach (double x in g.Span)
                acc = double.IsPositiveInfinity(normType) ? (double.IsNaN(x) ? double.NaN : Math.Max(acc, Math.Abs(x))) : acc + x * x;
        return double.IsPositiveInfinity(normType) ? acc : Math.Sqrt(acc);
    }

    /// <summary>Temporary.</summary>
    public static ClipResult ClipGradNorm(IReadOnlyList<ReadOnlyMemory<float>> grads, double maxNorm, double normType = 2, bool errorIfNonfinite = false, StepOptions options = default)
    {
        double total = GlobalNorm(grads, normType, options);
        float coef = Math.Min((float)maxNorm / ((float)total + 1e-6f), 1f);
        return new ClipResult(total, coef, double.IsFinite(total));
    }

    /// <summary>Temporary.</summary>
    public static ClipResult ClipGradNorm(IReadOnlyList<ReadOnlyMemory<double>> grads, double maxNorm, double normType = 2, bool errorIfNonfinite = false, StepOptions options = default)
    {
        double total = GlobalNorm(grads, normType, options);
        float coef = (float)Math.Min(maxNorm / (total + 1e-6), 1);
        return new ClipResult(total, coef, double.IsFinite(total));
    }
}
