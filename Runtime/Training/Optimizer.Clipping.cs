using System;

namespace Kernels.Training;

public abstract partial class Optimizer
{
    private protected bool HasPendingClip { get; private set; }

    /// <summary>
    /// Clips the gradients of every parameter by their global norm, as <c>torch.nn.utils.clip_grad_norm_</c>, fused into
    /// the next <see cref="Step"/>: the norm is computed now (one read of the gradients), and the coefficient
    /// <c>min(maxNorm / (norm + 1e-6), 1)</c> is applied to each gradient element as the step loads it, so no pass
    /// rewrites the gradients (they keep their unclipped values). Call it after the backward pass, before <see cref="Step"/>.
    /// </summary>
    /// <param name="maxNorm">The largest norm the gradients may have.</param>
    /// <param name="normType">2 (Euclidean), 1, or <see cref="double.PositiveInfinity"/> (largest magnitude).</param>
    /// <param name="errorIfNonfinite">Throw when the norm is NaN or infinite (PyTorch's <c>error_if_nonfinite</c>).</param>
    /// <returns>The total norm of the gradients before clipping.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is negative or NaN, or <paramref name="normType"/> is not 1, 2 or +∞.</exception>
    /// <exception cref="InvalidOperationException">The norm is not finite and <paramref name="errorIfNonfinite"/> is set.</exception>
    public double ClipGradNorm(double maxNorm, double normType = 2, bool errorIfNonfinite = false)
    {
        if (!(maxNorm >= 0))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "The largest norm must be 0 or more.");
        if (normType is not (1 or 2) && !double.IsPositiveInfinity(normType))
            throw new ArgumentOutOfRangeException(nameof(normType), normType, "Supported norms: 1, 2 and +Infinity.");
        // After GradScaler.Unscale the gradients still hold the loss scale: the norm of the unscaled ones is the norm
        // of the stored ones times its inverse (exact for the power-of-two scales GradScaler uses, barring overflow).
        double total = GradientNorm(normType) * PendingUnscale;
        double coefficient = ClipCoefficient(total, maxNorm);
        bool finite = double.IsFinite(total);
        if (!finite && errorIfNonfinite)
            throw new InvalidOperationException($"The total norm of order {normType} of the gradients is {total}; it must be finite (errorIfNonfinite is set).");
        SetPending(coefficient, skip: SkipNonFiniteSteps && !finite);
        HasPendingClip = true;
        return total;
    }

    /// <summary>The norm of every gradient of a parameter that has one (see <see cref="Parameter.HasGrad"/>), as stored.</summary>
    private protected abstract double GradientNorm(double normType);

    /// <summary>PyTorch's clip coefficient for <paramref name="total"/>, computed in the rule's precision.</summary>
    private protected abstract double ClipCoefficient(double total, double maxNorm);

    /// <summary>Whether every gradient element of every parameter that has a gradient is finite (one read of them).</summary>
    internal bool GradientsAreFinite() => double.IsFinite(GradientNorm(double.PositiveInfinity));

    /// <summary>Arms the pending step's skip when a gradient is not finite (no clip was requested).</summary>
    private protected void CheckFiniteGradients()
    {
        if (!GradientsAreFinite())
            SetPending(1, skip: true);
    }

    private protected void ClearPendingClip() => HasPendingClip = false;
}
