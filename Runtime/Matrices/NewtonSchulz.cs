using System;
using System.Buffers;
using Kernels.Precision;

namespace Kernels.Matrices;

/// <summary>The precision <see cref="NewtonSchulz"/> iterates in.</summary>
public enum NewtonSchulzPrecision
{
    /// <summary>float32 throughout (the default): every product and sum rounded to float.</summary>
    Float32 = 0,

    /// <summary>
    /// bfloat16, as PyTorch's Muon (<c>X = G.bfloat16()</c>, then bfloat16 matmuls): the input, the norm, the
    /// normalized <c>X</c> and the output of every product (<c>X Xᵀ</c>, <c>b·A + c·A·A</c>, <c>a·X + B·X</c>) are
    /// rounded to the nearest bfloat16 (ties to even); each product multiplies bfloat16 values (exactly, in float32)
    /// and accumulates in float32 before that one rounding. The result holds bfloat16 values, stored as floats.
    /// </summary>
    BFloat16 = 1,
}

/// <summary>
/// The quintic Newton–Schulz iteration that Muon uses to orthogonalize an update (PyTorch's
/// <c>torch.optim._muon._zeropower_via_newtonschulz</c>, after Keller Jordan's <c>zeropower_via_newtonschulz5</c>):
/// it maps <c>G = U S Vᵀ</c> to about <c>U S' Vᵀ</c> with every singular value <c>S'ᵢᵢ</c> pushed towards 1
/// (with the default coefficients and 5 steps, into roughly [0.68, 1.13] for the singular values that started above
/// a few thousandths of the largest).
/// </summary>
/// <remarks>
/// <para>
/// In the wide orientation (<c>X</c> with no more rows than columns; a tall input is worked on as its transpose and
/// transposed back): <c>X = G / max(‖G‖_F, eps)</c>, then <c>steps</c> times
/// <c>A = X Xᵀ; B = b·A + c·A·A; X = a·X + B·X</c>. Each step is three <see cref="Gemm"/> calls (the transposes are
/// GEMM flags, not copies), on whichever <see cref="Gemm.Backend"/> is selected.
/// </para>
/// <para>
/// Precision: float32 throughout by default. The Frobenius norm is accumulated in double and rounded to float once.
/// With <see cref="NewtonSchulzPrecision.BFloat16"/> (what PyTorch's Muon runs), the iterate is rounded to bfloat16
/// wherever PyTorch's bfloat16 tensors would round it: see <see cref="NewtonSchulzPrecision.BFloat16"/>.
/// </para>
/// </remarks>
public static class NewtonSchulz
{
    /// <summary>The first coefficient, <c>a</c> (PyTorch's <c>DEFAULT_A</c>).</summary>
    public const double DefaultA = 3.4445;

    /// <summary>The second coefficient, <c>b</c> (PyTorch's <c>DEFAULT_B</c>).</summary>
    public const double DefaultB = -4.7750;

    /// <summary>The third coefficient, <c>c</c> (PyTorch's <c>DEFAULT_C</c>).</summary>
    public const double DefaultC = 2.0315;

    /// <summary>Iterations (PyTorch's <c>DEFAULT_NS_STEPS</c>).</summary>
    public const int DefaultSteps = 5;

    /// <summary>The floor of the norm the input is divided by (PyTorch's <c>EPS</c>).</summary>
    public const double DefaultEps = 1e-7;

    /// <summary>Iterations must be fewer than this (PyTorch raises at 100 "for computational efficiency").</summary>
    public const int MaxSteps = 100;

    /// <summary>
    /// Orthogonalizes the <paramref name="rows"/>×<paramref name="cols"/> row-major matrix <paramref name="matrix"/>
    /// into <paramref name="result"/> (same shape and orientation).
    /// </summary>
    /// <param name="matrix">The input, row-major.</param>
    /// <param name="result">The output, row-major, rows × cols; may be the same memory as <paramref name="matrix"/> (in place), not partly overlapping it.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="cols">Columns.</param>
    /// <param name="steps">Iterations, 0 to 99 (0: only the normalization).</param>
    /// <param name="a">Coefficient of <c>X</c>.</param>
    /// <param name="b">Coefficient of <c>X Xᵀ X</c>.</param>
    /// <param name="c">Coefficient of <c>(X Xᵀ)² X</c>.</param>
    /// <param name="eps">The norm is clamped to at least this (rounded to float), so a zero matrix stays zero.</param>
    /// <param name="precision">float32 (default) or bfloat16 iterates (<see cref="NewtonSchulzPrecision"/>).</param>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative, <paramref name="steps"/> is outside [0, 100), or <paramref name="precision"/> is not defined.</exception>
    /// <exception cref="ArgumentException">A span does not hold rows × cols elements, or the two partly overlap.</exception>
    public static void Orthogonalize(
        ReadOnlySpan<float> matrix, Span<float> result, int rows, int cols,
        int steps = DefaultSteps, double a = DefaultA, double b = DefaultB, double c = DefaultC, double eps = DefaultEps,
        NewtonSchulzPrecision precision = NewtonSchulzPrecision.Float32)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        if (steps < 0 || steps >= MaxSteps)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, $"The number of Newton-Schulz steps must be in [0, {MaxSteps}).");
        if (precision is not (NewtonSchulzPrecision.Float32 or NewtonSchulzPrecision.BFloat16))
            throw new ArgumentOutOfRangeException(nameof(precision), precision, "Not a NewtonSchulzPrecision.");
        long length = (long)rows * cols;
        if (length > int.MaxValue)
            throw new ArgumentException($"A {rows}x{cols} matrix has more than {int.MaxValue} elements.", nameof(matrix));
        if (matrix.Length != length)
            throw new ArgumentException($"'{nameof(matrix)}' holds {matrix.Length} elements; a {rows}x{cols} matrix has {length}.", nameof(matrix));
        if (result.Length != length)
            throw new ArgumentException($"'{nameof(result)}' holds {result.Length} elements; a {rows}x{cols} matrix has {length}.", nameof(result));
        if (matrix.Overlaps((ReadOnlySpan<float>)result, out int offset) && offset != 0)
            throw new ArgumentException($"'{nameof(result)}' partly overlaps '{nameof(matrix)}'; pass the same memory (in place) or separate memory.", nameof(result));
        if (length == 0)
            return;

        bool bf16 = precision == NewtonSchulzPrecision.BFloat16;
        if (bf16)
        {
            // X = G.bfloat16(); X.div_(X.norm().clamp(min=eps)): every bfloat16 tensor op rounds its result to bfloat16.
            for (int i = 0; i < matrix.Length; i++)
                result[i] = RoundToBFloat16(matrix[i]);
            double sumBf16 = 0;
            foreach (float v in result)
                sumBf16 += (double)v * v;
            float normBf16 = RoundToBFloat16(MathF.Max(RoundToBFloat16((float)Math.Sqrt(sumBf16)), (float)eps));
            for (int i = 0; i < result.Length; i++)
                result[i] = RoundToBFloat16(result[i] / normBf16);
        }
        else
        {
            // X = G / max(||G||_F, eps), with the norm rounded to float as PyTorch's float32 norm() is.
            double sum = 0;
            foreach (float v in matrix)
                sum += (double)v * v;
            float norm = MathF.Max((float)Math.Sqrt(sum), (float)eps);   // NaN stays NaN, as clamp keeps it
            for (int i = 0; i < matrix.Length; i++)
                result[i] = matrix[i] / norm;
        }
        if (steps == 0)
            return;

        // The wide orientation has m = min(rows, cols) rows and n = max(rows, cols) columns. A tall input (rows > cols)
        // is kept as stored, Y = Xᵀ, and every product is written for Y with GEMM's transpose flags:
        //   A = X Xᵀ = Yᵀ Y,   X' = a·X + B·X  <=>  Y' = a·Y + Y·Bᵀ.
        bool tall = rows > cols;
        int m = Math.Min(rows, cols), n = Math.Max(rows, cols);
        float fa = (float)a, fb = (float)b, fc = (float)c;
        float[] gram = ArrayPool<float>.Shared.Rent(m * m);
        float[] update = ArrayPool<float>.Shared.Rent(m * m);
        float[] next = ArrayPool<float>.Shared.Rent((int)length);
        try
        {
            Span<float> gramA = gram.AsSpan(0, m * m), gramB = update.AsSpan(0, m * m);
            Span<float> x = result, x2 = next.AsSpan(0, (int)length);
            bool inResult = true;
            for (int step = 0; step < steps; step++)
            {
                // A = X Xᵀ (m x m)
                if (tall)
                    Gemm.Multiply(true, false, m, m, n, 1f, x, m, x, m, 0f, gramA, m);
                else
                    Gemm.Multiply(false, true, m, m, n, 1f, x, n, x, n, 0f, gramA, m);
                if (bf16)
                    RoundToBFloat16(gramA);
                // B = b·A + c·(A A)
                gramA.CopyTo(gramB);
                Gemm.Multiply(false, false, m, m, m, fc, gramA, m, gramA, m, fb, gramB, m);
                if (bf16)
                    RoundToBFloat16(gramB);
                // X' = a·X + B X   (tall: Y' = a·Y + Y Bᵀ)
                x.CopyTo(x2);
                if (tall)
                    Gemm.Multiply(false, true, n, m, m, 1f, x, m, gramB, m, fa, x2, m);
                else
                    Gemm.Multiply(false, false, m, n, m, 1f, gramB, m, x, n, fa, x2, n);
                if (bf16)
                    RoundToBFloat16(x2);
                Span<float> t = x;
                x = x2;
                x2 = t;
                inResult = !inResult;
            }
            if (!inResult)
                x.CopyTo(result);
        }
        finally
        {
            ArrayPool<float>.Shared.Return(gram);
            ArrayPool<float>.Shared.Return(update);
            ArrayPool<float>.Shared.Return(next);
        }
    }

    /// <summary>The nearest bfloat16 (ties to even), as a float.</summary>
    private static float RoundToBFloat16(float value) => (float)(BFloat16)value;

    /// <summary>Rounds every element to the nearest bfloat16 (ties to even), in place.</summary>
    private static void RoundToBFloat16(Span<float> values)
    {
        for (int i = 0; i < values.Length; i++)
            values[i] = RoundToBFloat16(values[i]);
    }
}
