using System;
using ILGPU;
using ILGPU.Runtime;
using Kernels.Matrices;

namespace Kernels.Gpu;

/// <summary>
/// Muon's Newton–Schulz orthogonalization on the GPU: <c>Kernels.Matrices.NewtonSchulz.Orthogonalize</c> with views
/// instead of spans, on <see cref="GpuGemm"/>. Holds its scratch buffers (grown as needed, reused): one instance per
/// accelerator, used from one stream at a time.
/// </summary>
/// <remarks>
/// <para>
/// The same operations as the CPU iteration, in the same order: <c>X = G / max(‖G‖_F, eps)</c>, a tall input worked on
/// as its transpose through GEMM flags, then per step <c>A = X Xᵀ</c>, <c>B = b·A + c·A·A</c>, <c>X = a·X + B·X</c>,
/// and the bfloat16 variant's roundings at the same places (<see cref="NewtonSchulzPrecision"/>). The products are
/// summed in the managed CPU GEMM's order (<see cref="GpuGemm"/>), so the result is bit-identical to the CPU iteration
/// on the managed backend whenever the norm is: the squares are summed in double in chunks of
/// <see cref="NormChunk"/> elements and the chunks' sums added in order, where the CPU adds them all in one sequence;
/// the two double sums differ by a few units in their last place, which changes the float norm only when the sum lies
/// that close to a rounding boundary of float (about one matrix in 10⁷).
/// </para>
/// </remarks>
public sealed class GpuNewtonSchulz : IDisposable
{
    /// <summary>Elements per partial sum of the Frobenius norm.</summary>
    public const int NormChunk = 4096;

    private static readonly GpuKernelCache<Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<double>, int, int>> s_partials =
        new(typeof(GpuNewtonSchulz).GetMethod(nameof(SumSquaresKernel))!);

    private static readonly GpuKernelCache<Action<AcceleratorStream, Index1D, ArrayView<double>, ArrayView<float>, int, float, int>> s_norm =
        new(typeof(GpuNewtonSchulz).GetMethod(nameof(NormKernel))!);

    private static readonly GpuKernelCache<Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, int>> s_scale =
        new(typeof(GpuNewtonSchulz).GetMethod(nameof(ScaleKernel))!);

    private readonly Accelerator _accelerator;
    private MemoryBuffer1D<float, Stride1D.Dense>? _gram, _update, _next, _norm;
    private MemoryBuffer1D<double, Stride1D.Dense>? _partials;

    /// <summary>Creates the workspace for <paramref name="accelerator"/> (buffers are allocated on first use).</summary>
    /// <param name="accelerator">Where the matrices live.</param>
    public GpuNewtonSchulz(Accelerator accelerator) => _accelerator = accelerator ?? throw new ArgumentNullException(nameof(accelerator));

    /// <summary>
    /// Orthogonalizes the <paramref name="rows"/>×<paramref name="cols"/> row-major matrix <paramref name="matrix"/> into
    /// <paramref name="result"/> on <paramref name="stream"/> (asynchronous; the arguments of the CPU
    /// <c>NewtonSchulz.Orthogonalize</c>).
    /// </summary>
    /// <param name="stream">A stream of this workspace's accelerator.</param>
    /// <param name="matrix">The input, row-major.</param>
    /// <param name="result">The output; may be the same view as <paramref name="matrix"/> (in place), not partly overlapping it.</param>
    /// <param name="rows">Rows.</param>
    /// <param name="cols">Columns.</param>
    /// <param name="steps">Iterations, 0 to 99.</param>
    /// <param name="a">Coefficient of <c>X</c>.</param>
    /// <param name="b">Coefficient of <c>X Xᵀ X</c>.</param>
    /// <param name="c">Coefficient of <c>(X Xᵀ)² X</c>.</param>
    /// <param name="eps">The floor of the norm.</param>
    /// <param name="precision">float32 (default) or bfloat16 iterates.</param>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative, <paramref name="steps"/> is outside [0, 100), or <paramref name="precision"/> is not defined.</exception>
    /// <exception cref="ArgumentException">A view does not hold rows × cols elements, is not on the stream's accelerator, or the two partly overlap.</exception>
    public void Orthogonalize(
        AcceleratorStream stream, ArrayView<float> matrix, ArrayView<float> result, int rows, int cols,
        int steps = NewtonSchulz.DefaultSteps, double a = NewtonSchulz.DefaultA, double b = NewtonSchulz.DefaultB,
        double c = NewtonSchulz.DefaultC, double eps = NewtonSchulz.DefaultEps, NewtonSchulzPrecision precision = NewtonSchulzPrecision.Float32)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        if (steps < 0 || steps >= NewtonSchulz.MaxSteps)
            throw new ArgumentOutOfRangeException(nameof(steps), steps, $"The number of Newton-Schulz steps must be in [0, {NewtonSchulz.MaxSteps}).");
        if (precision is not (NewtonSchulzPrecision.Float32 or NewtonSchulzPrecision.BFloat16))
            throw new ArgumentOutOfRangeException(nameof(precision), precision, "Not a NewtonSchulzPrecision.");
        long length = (long)rows * cols;
        if (length > int.MaxValue)
            throw new ArgumentException($"A {rows}x{cols} matrix has more than {int.MaxValue} elements.", nameof(matrix));
        if (matrix.Length != length)
            throw new ArgumentException($"'{nameof(matrix)}' holds {matrix.Length} elements; a {rows}x{cols} matrix has {length}.", nameof(matrix));
        if (result.Length != length)
            throw new ArgumentException($"'{nameof(result)}' holds {result.Length} elements; a {rows}x{cols} matrix has {length}.", nameof(result));
        if (length == 0)
            return;
        if (!ReferenceEquals(stream.Accelerator, _accelerator))
            throw new ArgumentException("The stream belongs to another accelerator than this workspace's.", nameof(stream));
        GpuChecks.RequireOn(_accelerator, matrix, nameof(matrix));
        GpuChecks.RequireOn(_accelerator, result, nameof(result));
        bool sameView = matrix.LoadEffectiveAddressAsPtr() == result.LoadEffectiveAddressAsPtr();
        if (!sameView && GpuChecks.Overlaps(matrix, result))
            throw new ArgumentException($"'{nameof(result)}' partly overlaps '{nameof(matrix)}'; pass the same memory (in place) or separate memory.", nameof(result));

        int n = (int)length;
        int bf16 = precision == NewtonSchulzPrecision.BFloat16 ? 1 : 0;
        int chunks = (n + NormChunk - 1) / NormChunk;
        int m = Math.Min(rows, cols), wide = Math.Max(rows, cols);
        Ensure(ref _partials, chunks);
        Ensure(ref _norm, 1);

        // X = G / max(||G||_F, eps)   (bfloat16: X = bf16(bf16(G) / bf16(max(bf16(||bf16(G)||), eps))))
        s_partials.For(_accelerator)(stream, chunks, matrix, _partials!.View.SubView(0, chunks), n, bf16);
        s_norm.For(_accelerator)(stream, 1, _partials.View.SubView(0, chunks), _norm!.View, chunks, (float)eps, bf16);
        s_scale.For(_accelerator)(stream, n, matrix, result, _norm.View, bf16);
        if (steps == 0)
            return;

        bool tall = rows > cols;
        bool round = bf16 != 0;
        float fa = (float)a, fb = (float)b, fc = (float)c;
        Ensure(ref _gram, m * m);
        Ensure(ref _update, m * m);
        Ensure(ref _next, n);
        ArrayView<float> gramA = _gram!.View.SubView(0, m * m), gramB = _update!.View.SubView(0, m * m);
        ArrayView<float> x = result, x2 = _next!.View.SubView(0, n);
        bool inResult = true;
        for (int step = 0; step < steps; step++)
        {
            // A = X Xᵀ (m x m)
            if (tall)
                GpuGemm.Multiply(stream, true, false, m, m, wide, 1f, x, m, x, m, 0f, gramA, m, round);
            else
                GpuGemm.Multiply(stream, false, true, m, m, wide, 1f, x, wide, x, wide, 0f, gramA, m, round);
            // B = b·A + c·(A A)
            gramA.CopyTo(stream, gramB);
            GpuGemm.Multiply(stream, false, false, m, m, m, fc, gramA, m, gramA, m, fb, gramB, m, round);
            // X' = a·X + B X   (tall: Y' = a·Y + Y Bᵀ)
            x.CopyTo(stream, x2);
            if (tall)
                GpuGemm.Multiply(stream, false, true, wide, m, m, 1f, x, m, gramB, m, fa, x2, m, round);
            else
                GpuGemm.Multiply(stream, false, false, m, wide, m, 1f, gramB, m, x, wide, fa, x2, wide, round);
            (x, x2) = (x2, x);
            inResult = !inResult;
        }
        if (!inResult)
            x.CopyTo(stream, result);
    }

    /// <summary>Frees the scratch buffers.</summary>
    public void Dispose()
    {
        _gram?.Dispose();
        _update?.Dispose();
        _next?.Dispose();
        _norm?.Dispose();
        _partials?.Dispose();
        _gram = _update = _next = _norm = null;
        _partials = null;
    }

    private void Ensure<T>(ref MemoryBuffer1D<T, Stride1D.Dense>? buffer, long length) where T : unmanaged
    {
        if (buffer is not null && buffer.Length >= length)
            return;
        buffer?.Dispose();
        buffer = _accelerator.Allocate1D<T>(length);
    }

    /// <summary>Chunk <paramref name="index"/>'s sum of squares, in double, in element order (bfloat16: of the rounded elements).</summary>
    /// <param name="index">The chunk.</param>
    /// <param name="matrix">The input.</param>
    /// <param name="partials">One sum per chunk.</param>
    /// <param name="length">Elements of the input.</param>
    /// <param name="bf16">1: square <c>bf16(G)</c>.</param>
    public static void SumSquaresKernel(Index1D index, ArrayView<float> matrix, ArrayView<double> partials, int length, int bf16)
    {
        int start = index * NormChunk;
        int end = length - start < NormChunk ? length : start + NormChunk;
        double sum = 0;
        for (int i = start; i < end; i++)
        {
            float v = bf16 != 0 ? GpuGemm.RoundToBFloat16(matrix[i]) : matrix[i];
            sum += (double)v * v;
        }
        partials[index] = sum;
    }

    /// <summary>One thread: the chunks' sums in order, then the clamped float norm (bfloat16: rounded as PyTorch's bfloat16 norm and clamp are).</summary>
    /// <param name="index">0.</param>
    /// <param name="partials">The chunks' sums.</param>
    /// <param name="norm">Receives the norm.</param>
    /// <param name="chunks">How many chunks.</param>
    /// <param name="eps">The floor.</param>
    /// <param name="bf16">1: bfloat16 rounding.</param>
    public static void NormKernel(Index1D index, ArrayView<double> partials, ArrayView<float> norm, int chunks, float eps, int bf16)
    {
        double sum = 0;
        for (int i = 0; i < chunks; i++)
            sum += partials[i];
        float value = (float)Math.Sqrt(sum);
        norm[0] = bf16 != 0
            ? GpuGemm.RoundToBFloat16(GpuMath.Max(GpuGemm.RoundToBFloat16(value), eps))
            : GpuMath.Max(value, eps);
    }

    /// <summary><c>result = matrix / norm</c> (bfloat16: <c>bf16(bf16(matrix) / norm)</c>).</summary>
    /// <param name="index">The element.</param>
    /// <param name="matrix">The input.</param>
    /// <param name="result">The output (may be the input).</param>
    /// <param name="norm">The norm, one element.</param>
    /// <param name="bf16">1: bfloat16 rounding.</param>
    public static void ScaleKernel(Index1D index, ArrayView<float> matrix, ArrayView<float> result, ArrayView<float> norm, int bf16)
    {
        float v = matrix[index];
        result[index] = bf16 != 0 ? GpuGemm.RoundToBFloat16(GpuGemm.RoundToBFloat16(v) / norm[0]) : v / norm[0];
    }
}
