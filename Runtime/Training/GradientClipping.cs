using System;
using System.Globalization;
using Kernels.CompilerServices;

namespace Kernels.Training;

/// <summary>
/// Gradient clipping with PyTorch's semantics (<c>torch.nn.utils.clip_grad_norm_</c> and <c>clip_grad_value_</c>):
/// the norm of all gradients together, the clipping coefficient, and in-place scaling and clamping.
/// </summary>
/// <remarks>
/// <para>
/// The fused form for an optimizer: <see cref="ClipGradNorm(ReadOnlySpan{ReadOnlyMemory{float}}, double, double, bool, StepOptions)"/>
/// reads the gradients once and returns the coefficient, which the optimizer's step applies where it reads the
/// gradient — no pass rewrites them. <see cref="ClipGradNormInPlace(ReadOnlySpan{Memory{float}}, double, double, bool, StepOptions)"/>
/// rewrites them as PyTorch does, for code that wants exactly that.
/// </para>
/// <para>
/// <b>Reproducibility.</b> <see cref="GlobalNorm(ReadOnlySpan{ReadOnlyMemory{float}}, double, StepOptions)"/> returns the
/// same bits for any thread count, any vector width (512, 256, 128 bits or none) and any split of the same values
/// into tensors, because its summation order is fixed:
/// </para>
/// <list type="number">
/// <item>The gradients, concatenated in list order, are cut into blocks of <see cref="BlockLength"/> elements (the
/// last may be shorter), whatever the number of threads.</item>
/// <item>Within a block, element <c>i</c> (counted from the block's start) is converted to <see cref="double"/>,
/// squared (norm 2) or made absolute (norm 1), and added to accumulator <c>i % 64</c> of 64 double accumulators
/// that start at +0, in increasing <c>i</c> — a multiply and an add, each rounded, never fused. The 512-bit path
/// keeps these 64 accumulators in eight registers (eight independent add chains: the loop runs at memory speed);
/// the 256-bit, 128-bit and scalar paths keep them in memory; the sums are the same.</item>
/// <item>The block's partial folds the accumulators in halves, exactly: <c>s[k] = a[k] + a[k + 32]</c> for k &lt; 32,
/// then <c>s[k] + s[k + 16]</c> for k &lt; 16, then <c>+ s[k + 8]</c>, <c>+ s[k + 4]</c>, <c>+ s[k + 2]</c>, then
/// <c>s[0] + s[1]</c>.</item>
/// <item>The partials are added in block order, starting from +0; norm 2 takes the square root of that sum.</item>
/// </list>
/// <para>
/// Norm ∞ is the largest <c>|g|</c> (exact, so order does not matter). Any NaN gradient makes the norm NaN, as in
/// PyTorch; an infinite one (and no NaN) makes it +∞.
/// </para>
/// <para>
/// <b>Parity with PyTorch</b> is within a tolerance, not bitwise: PyTorch computes per-tensor norms of
/// <see cref="float"/> gradients in float32 and then the norm of those norms; here squares are summed in double,
/// which is more accurate (a relative error near 1e-16 plus the final rounding, against PyTorch's ~1e-7). The
/// coefficient is computed as PyTorch's Python code does from the float32 total, so it agrees bit for bit given the
/// same total and to within an ulp or so otherwise.
/// </para>
/// </remarks>
public static partial class GradientClipping
{
    /// <summary>Elements per block of the fixed summation order (independent of the thread count).</summary>
    public const int BlockLength = 16_384;

    /// <summary>The number of double accumulators per block (element <c>i</c> of a block goes to accumulator <c>i % 64</c>).</summary>
    public const int AccumulatorCount = 64;

    /// <summary>The norm of all gradients together, as if they were concatenated into one vector (PyTorch's <c>total_norm</c>).</summary>
    /// <param name="grads">The gradients; tensors may be empty. An empty list has norm 0, as in PyTorch.</param>
    /// <param name="normType">2 (the square root of the sum of squares), 1 (the sum of absolute values) or <see cref="double.PositiveInfinity"/> (the largest absolute value).</param>
    /// <param name="options">How many threads may share the work (the result does not depend on it).</param>
    /// <returns>The norm, computed in double in the fixed order described in the remarks of <see cref="GradientClipping"/>; NaN if any gradient is NaN.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="normType"/> is not 1, 2 or +∞.</exception>
    public static double GlobalNorm(ReadOnlySpan<ReadOnlyMemory<float>> grads, double normType = 2, StepOptions options = default) =>
        Reduce(grads, CheckNormType(normType), options);

    /// <inheritdoc cref="GlobalNorm(ReadOnlySpan{ReadOnlyMemory{float}}, double, StepOptions)"/>
    public static double GlobalNorm(ReadOnlySpan<ReadOnlyMemory<double>> grads, double normType = 2, StepOptions options = default) =>
        Reduce(grads, CheckNormType(normType), options);

    /// <summary>
    /// PyTorch's clipping coefficient for <see cref="float"/> gradients, <c>min(max_norm / (total + 1e-6), 1)</c>, computed
    /// as <c>torch.nn.utils.clip_grad_norm_</c> does in float32: the total rounded to float, <c>1e-6</c> added in float,
    /// then (Python's <c>scalar / tensor</c> being <c>tensor.reciprocal() * scalar</c>) the reciprocal times
    /// <c>(float)maxNorm</c>, then clamped to at most 1.
    /// </summary>
    /// <remarks>
    /// The C++ API (<c>torch::nn::utils::clip_grad_norm_</c>, which TorchSharp calls) divides instead; the two can differ
    /// in the last bit.
    /// </remarks>
    /// <param name="totalNorm">The total norm (<see cref="GlobalNorm(ReadOnlySpan{ReadOnlyMemory{float}}, double, StepOptions)"/>); NaN gives NaN, +∞ gives 0.</param>
    /// <param name="maxNorm">The largest norm allowed; not negative.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is negative or NaN, or <paramref name="totalNorm"/> is negative.</exception>
    public static float ClipCoefficient(double totalNorm, double maxNorm)
    {
        CheckMaxNorm(maxNorm);
        CheckTotalNorm(totalNorm);
        float total = (float)totalNorm;
        float coefficient = 1f / (total + (float)1e-6) * (float)maxNorm;
        return MathF.Min(coefficient, 1f);
    }

    /// <summary>
    /// PyTorch's clipping coefficient for <see cref="double"/> gradients, <c>min(max_norm / (total + 1e-6), 1)</c>, computed
    /// in double as <c>(1 / (total + 1e-6)) * max_norm</c> (see <see cref="ClipCoefficient"/>).
    /// </summary>
    /// <param name="totalNorm">The total norm; NaN gives NaN, +∞ gives 0.</param>
    /// <param name="maxNorm">The largest norm allowed; not negative.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is negative or NaN, or <paramref name="totalNorm"/> is negative.</exception>
    public static double ClipCoefficientDouble(double totalNorm, double maxNorm)
    {
        CheckMaxNorm(maxNorm);
        CheckTotalNorm(totalNorm);
        double coefficient = 1.0 / (totalNorm + 1e-6) * maxNorm;
        return Math.Min(coefficient, 1.0);
    }

    /// <summary>
    /// Computes the total norm and the clipping coefficient without touching the gradients — the fused form: the
    /// optimizer multiplies each gradient by <see cref="ClipResult.Coefficient"/> where its step reads it.
    /// </summary>
    /// <param name="grads">The gradients.</param>
    /// <param name="maxNorm">The largest norm allowed; not negative.</param>
    /// <param name="normType">2, 1 or <see cref="double.PositiveInfinity"/>.</param>
    /// <param name="errorIfNonfinite">Throw if the total norm is NaN or infinite (PyTorch raises a <c>RuntimeError</c>).</param>
    /// <param name="options">How many threads may share the work (the result does not depend on it).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxNorm"/> is negative or NaN, or <paramref name="normType"/> is not 1, 2 or +∞.</exception>
    /// <exception cref="NotFiniteNumberException"><paramref name="errorIfNonfinite"/> is set and the total norm is NaN or infinite (<see cref="NotFiniteNumberException.OffendingNumber"/> holds it).</exception>
    public static ClipResult ClipGradNorm(ReadOnlySpan<ReadOnlyMemory<float>> grads, double maxNorm, double normType = 2, bool errorIfNonfinite = false, StepOptions options = default)
    {
        CheckMaxNorm(maxNorm);
        double total = GlobalNorm(grads, normType, options);
        CheckFinite(total, normType, errorIfNonfinite);
        return new ClipResult(total, ClipCoefficient(total, maxNorm));
    }

    /// <inheritdoc cref="ClipGradNorm(ReadOnlySpan{ReadOnlyMemory{float}}, double, double, bool, StepOptions)"/>
    public static ClipResult ClipGradNorm(ReadOnlySpan<ReadOnlyMemory<double>> grads, double maxNorm, double normType = 2, bool errorIfNonfinite = false, StepOptions options = default)
    {
        CheckMaxNorm(maxNorm);
        double total = GlobalNorm(grads, normType, options);
        CheckFinite(total, normType, errorIfNonfinite);
        return new ClipResult(total, ClipCoefficientDouble(total, maxNorm));
    }

    /// <summary>
    /// PyTorch's <c>clip_grad_norm_</c>: computes the total norm and multiplies every gradient by the coefficient, in place.
    /// </summary>
    /// <remarks>
    /// PyTorch multiplies even when the coefficient is 1; here that no-op pass is skipped (the only visible difference:
    /// a signaling NaN stays signaling). When <paramref name="errorIfNonfinite"/> throws, no gradient has been written.
    /// </remarks>
    /// <inheritdoc cref="ClipGradNorm(ReadOnlySpan{ReadOnlyMemory{float}}, double, double, bool, StepOptions)"/>
    public static ClipResult ClipGradNormInPlace(ReadOnlySpan<Memory<float>> grads, double maxNorm, double normType = 2, bool errorIfNonfinite = false, StepOptions options = default)
    {
        ClipResult result = ClipGradNorm(MultiTensorStep.AsReadOnly(grads), maxNorm, normType, errorIfNonfinite, options);
        Scale(grads, (float)result.Coefficient, options);
        return result;
    }

    /// <inheritdoc cref="ClipGradNormInPlace(ReadOnlySpan{Memory{float}}, double, double, bool, StepOptions)"/>
    public static ClipResult ClipGradNormInPlace(ReadOnlySpan<Memory<double>> grads, double maxNorm, double normType = 2, bool errorIfNonfinite = false, StepOptions options = default)
    {
        ClipResult result = ClipGradNorm(MultiTensorStep.AsReadOnly(grads), maxNorm, normType, errorIfNonfinite, options);
        Scale(grads, result.Coefficient, options);
        return result;
    }

    /// <summary>Multiplies every gradient element by <paramref name="coefficient"/> in place (PyTorch's <c>g.mul_(clip_coef_clamped)</c>); nothing is written when it is exactly 1.</summary>
    /// <param name="grads">The gradients.</param>
    /// <param name="coefficient">The factor (for example <see cref="ClipResult.Coefficient"/>).</param>
    /// <param name="options">How many threads may share the work.</param>
    public static void Scale(ReadOnlySpan<Memory<float>> grads, float coefficient, StepOptions options = default)
    {
        if (coefficient != 1f)
            RunElementwise(grads, new ScaleKernel<float>(coefficient), options);
    }

    /// <inheritdoc cref="Scale(ReadOnlySpan{Memory{float}}, float, StepOptions)"/>
    public static void Scale(ReadOnlySpan<Memory<double>> grads, double coefficient, StepOptions options = default)
    {
        if (coefficient != 1.0)
            RunElementwise(grads, new ScaleKernel<double>(coefficient), options);
    }

    /// <summary>
    /// PyTorch's <c>clip_grad_value_</c>: clamps every gradient element to <c>[-clipValue, clipValue]</c> in place
    /// (<c>torch.clamp</c>: NaN stays NaN). For <see cref="float"/> gradients the bound is <c>(float)clipValue</c>.
    /// </summary>
    /// <param name="grads">The gradients.</param>
    /// <param name="clipValue">The bound; not negative (PyTorch accepts a negative one and sets every element to it).</param>
    /// <param name="options">How many threads may share the work.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="clipValue"/> is negative or NaN.</exception>
    public static void ClipGradValue(ReadOnlySpan<Memory<float>> grads, double clipValue, StepOptions options = default)
    {
        CheckClipValue(clipValue);
        float bound = (float)clipValue;
        RunElementwise(grads, new ClampKernel<float>(-bound, bound), options);
    }

    /// <inheritdoc cref="ClipGradValue(ReadOnlySpan{Memory{float}}, double, StepOptions)"/>
    public static void ClipGradValue(ReadOnlySpan<Memory<double>> grads, double clipValue, StepOptions options = default)
    {
        CheckClipValue(clipValue);
        RunElementwise(grads, new ClampKernel<double>(-clipValue, clipValue), options);
    }

    private static NormKind CheckNormType(double normType) => normType switch
    {
        2 => NormKind.Two,
        1 => NormKind.One,
        double.PositiveInfinity => NormKind.Infinity,
        _ => throw new ArgumentOutOfRangeException(nameof(normType), normType, "Supported norm types: 2, 1 and +infinity."),
    };

    private static void CheckMaxNorm(double maxNorm)
    {
        if (!(maxNorm >= 0))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "Must be zero or positive (and not NaN).");
    }

    private static void CheckTotalNorm(double totalNorm)
    {
        if (totalNorm < 0)
            throw new ArgumentOutOfRangeException(nameof(totalNorm), totalNorm, "A norm is never negative.");
    }

    private static void CheckClipValue(double clipValue)
    {
        if (!(clipValue >= 0))
            throw new ArgumentOutOfRangeException(nameof(clipValue), clipValue, "Must be zero or positive (and not NaN).");
    }

    private static void CheckFinite(double total, double normType, bool errorIfNonfinite)
    {
        if (errorIfNonfinite && !double.IsFinite(total))
        {
            string order = double.IsPositiveInfinity(normType) ? "inf" : normType.ToString(CultureInfo.InvariantCulture);
            throw new NotFiniteNumberException(
                $"The total norm of order {order} of the gradients is non-finite ({total.ToString(CultureInfo.InvariantCulture)}), so it cannot be clipped. " +
                "To scale the gradients by the non-finite norm anyway, pass errorIfNonfinite: false.", total);
        }
    }
}
