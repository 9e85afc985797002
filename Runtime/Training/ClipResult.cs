namespace Kernels.Training;

/// <summary>What gradient-norm clipping computed: the total norm and the factor the gradients are (or are to be) scaled by.</summary>
/// <param name="TotalNorm">
/// The norm of all gradients together, as if concatenated into one vector (PyTorch's return value of
/// <c>clip_grad_norm_</c>; computed in double, see <see cref="GradientClipping.GlobalNorm(System.ReadOnlySpan{System.ReadOnlyMemory{float}}, double, StepOptions)"/>).
/// </param>
/// <param name="Coefficient">
/// PyTorch's <c>clip_coef_clamped = min(max_norm / (total + 1e-6), 1)</c>. For <see cref="float"/> gradients it is a
/// <see cref="float"/> value computed in float arithmetic as PyTorch does (<see cref="GradientClipping.ClipCoefficient"/>),
/// so casting it to <see cref="float"/> is exact; for <see cref="double"/> gradients it is computed in double
/// (<see cref="GradientClipping.ClipCoefficientDouble"/>). NaN when the norm is NaN; 0 when it is infinite.
/// </param>
public readonly record struct ClipResult(double TotalNorm, double Coefficient)
{
    /// <summary>Whether <see cref="TotalNorm"/> is finite (neither NaN nor infinite).</summary>
    public bool IsFinite => double.IsFinite(TotalNorm);

    /// <summary>Whether scaling by <see cref="Coefficient"/> changes the gradients (it is not exactly 1).</summary>
    public bool Clips => Coefficient != 1;
}
