namespace Kernels.Training;

public abstract partial class Optimizer
{
    private double _pendingScale = 1;
    private bool _pendingSkip;

    /// <summary>How many calls of <see cref="Step"/> skipped the update because a gradient was not finite (see <see cref="SkipNonFiniteSteps"/>).</summary>
    public long SkippedSteps { get; private set; }

    /// <summary>Whether the last call of <see cref="Step"/> skipped the update.</summary>
    public bool LastStepSkipped { get; private set; }

    /// <summary>
    /// Skip the whole update when a gradient holds NaN or ±Inf (as AMP's <c>GradScaler</c> does on overflow): found by
    /// <see cref="ClipGradNorm"/>'s reduction when it was called, otherwise by one read of the gradients in <see cref="Step"/>.
    /// </summary>
    public bool SkipNonFiniteSteps { get; set; }

    /// <summary>Arms the next step with a gradient scale (applied as gradients are loaded) or a skip.</summary>
    private protected void SetPending(double scale, bool skip)
    {
        _pendingScale = scale;
        _pendingSkip = skip;
    }

    /// <summary>The scale the step about to run applies to every gradient element (then reset to 1), and whether it must be skipped.</summary>
    private protected double TakePendingScale(out bool skip)
    {
        double scale = _pendingScale;
        skip = _pendingSkip;
        _pendingScale = 1;
        _pendingSkip = false;
        LastStepSkipped = skip;
        if (skip)
            SkippedSteps++;
        return scale;
    }
}
