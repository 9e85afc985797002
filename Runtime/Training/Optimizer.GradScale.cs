namespace Kernels.Training;

public abstract partial class Optimizer
{
    private double _pendingScale = 1;
    private bool _pendingSkip;
    private double _pendingUnscale = 1;
    private bool _pendingUnscaleSkip;

    /// <summary>How many calls of <see cref="Step"/> skipped the update because a gradient was not finite (see <see cref="SkipNonFiniteSteps"/>).</summary>
    public long SkippedSteps { get; private set; }

    /// <summary>Whether the last call of <see cref="Step"/> skipped the update.</summary>
    public bool LastStepSkipped { get; private set; }

    /// <summary>
    /// Skip the whole update when a gradient holds NaN or ±Inf (as AMP's <c>GradScaler</c> does on overflow): found by
    /// <see cref="ClipGradNorm"/>'s reduction when it was called, otherwise by one read of the gradients in <see cref="Step"/>.
    /// </summary>
    public bool SkipNonFiniteSteps { get; set; }

    /// <summary>Whether a <see cref="GradScaler"/> has armed the next step with the inverse of its loss scale.</summary>
    private protected bool HasPendingUnscale { get; private set; }

    /// <summary>Arms the next step with a gradient scale (applied as gradients are loaded) or a skip.</summary>
    private protected void SetPending(double scale, bool skip)
    {
        _pendingScale = scale;
        _pendingSkip = skip;
    }

    /// <summary>
    /// Arms the next step with the inverse of a loss scale (<see cref="GradScaler.Unscale"/>): multiplied into the gradient
    /// scale as gradients are loaded, and into the norm <see cref="ClipGradNorm"/> computes, so clipping sees the unscaled
    /// gradients without a pass rewriting them; <paramref name="skip"/> when a gradient was not finite.
    /// </summary>
    internal void SetPendingUnscale(double inverseScale, bool skip)
    {
        _pendingUnscale = inverseScale;
        _pendingUnscaleSkip = skip;
        HasPendingUnscale = true;
    }

    /// <summary>The inverse loss scale armed by <see cref="SetPendingUnscale"/> (1 when none).</summary>
    private protected double PendingUnscale => _pendingUnscale;

    /// <summary>
    /// The scale the step about to run applies to every gradient element (the clip coefficient times the inverse loss
    /// scale; then reset to 1), and whether it must be skipped.
    /// </summary>
    private protected double TakePendingScale(out bool skip)
    {
        double scale = _pendingScale * _pendingUnscale;
        skip = _pendingSkip || _pendingUnscaleSkip;
        _pendingScale = 1;
        _pendingSkip = false;
        _pendingUnscale = 1;
        _pendingUnscaleSkip = false;
        HasPendingUnscale = false;
        LastStepSkipped = skip;
        if (skip)
            SkippedSteps++;
        return scale;
    }
}
