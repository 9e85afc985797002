using System;
using ILGPU;
using ILGPU.Runtime;

namespace Kernels.Gpu;

/// <summary>
/// Single-precision matrix multiplication on the GPU, row-major, as <c>Kernels.Matrices.Gemm</c>:
/// <c>C = alpha · op(A) · op(B) + beta · C</c>. An ILGPU kernel (one thread per element of C), so it runs on every
/// accelerator ILGPU targets, the CPU accelerator included.
/// </summary>
/// <remarks>
/// <para>
/// Every element is summed in the managed CPU kernel's order: <c>beta · C</c> first (C is not read when beta is 0),
/// then for each block of 256 steps of the inner dimension, in order, a sum of fused multiply-adds started from +0,
/// added to C as <c>fma(alpha, sum, C)</c>. So on the CPU accelerator (and on CUDA, where <c>GpuMath.FusedMultiplyAdd</c>
/// is <c>fma.rn</c> and the loader forbids contraction) the result is bit-identical to
/// <c>Gemm.Multiply(GemmBackend.Managed, …)</c>; against OpenBLAS it agrees to rounding only, as the CPU backends do
/// with each other.
/// </para>
/// <para>
/// It is a plain kernel (no shared-memory tiling, no tensor cores): correct and deterministic, not fast. It has not been
/// timed on a GPU (docs/Gpu.md).
/// </para>
/// </remarks>
public static class GpuGemm
{
    /// <summary>Inner-dimension steps per partial sum: <c>ManagedGemm.KBlock</c>, which fixes the summation order.</summary>
    public const int KBlock = 256;

    /// <summary>The shape and scalars of one product (the kernel's uniform argument).</summary>
    public struct Arguments
    {
        /// <summary>Dimensions: op(A) is M×K, op(B) K×N, C M×N.</summary>
        public int M, N, K;

        /// <summary>Row strides.</summary>
        public int Lda, Ldb, Ldc;

        /// <summary>1: use the transpose.</summary>
        public int TransposeA, TransposeB;

        /// <summary>1: round each result to the nearest bfloat16 (ties to even) before storing it.</summary>
        public int RoundToBFloat16;

        /// <summary>The scalars.</summary>
        public float Alpha, Beta;
    }

    private static readonly GpuKernelCache<Action<AcceleratorStream, Index1D, ArrayView<float>, ArrayView<float>, ArrayView<float>, Arguments>> s_kernel =
        new(typeof(GpuGemm).GetMethod(nameof(Kernel))!);

    /// <summary>
    /// <c>C = alpha · op(A) · op(B) + beta · C</c> on <paramref name="stream"/> (asynchronous), with the arguments of
    /// <c>Kernels.Matrices.Gemm.Multiply</c>.
    /// </summary>
    /// <param name="stream">The stream to launch on; the views must live on its accelerator.</param>
    /// <param name="transposeA">Use Aᵀ: <paramref name="a"/> then holds a k×m matrix.</param>
    /// <param name="transposeB">Use Bᵀ: <paramref name="b"/> then holds an n×k matrix.</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A), rows of op(B).</param>
    /// <param name="alpha">Scales the product.</param>
    /// <param name="a">A, row-major, row stride <paramref name="lda"/>.</param>
    /// <param name="lda">Elements between rows of A.</param>
    /// <param name="b">B, row-major, row stride <paramref name="ldb"/>.</param>
    /// <param name="ldb">Elements between rows of B.</param>
    /// <param name="beta">Scales C before the product is added; 0: C is only written.</param>
    /// <param name="c">C, row-major, row stride <paramref name="ldc"/>; must not overlap A or B.</param>
    /// <param name="ldc">Elements between rows of C.</param>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative or a stride too small.</exception>
    /// <exception cref="ArgumentException">A view is too short, not on the stream's accelerator, or C overlaps A or B.</exception>
    public static void Multiply(
        AcceleratorStream stream, bool transposeA, bool transposeB, int m, int n, int k,
        float alpha, ArrayView<float> a, int lda, ArrayView<float> b, int ldb, float beta, ArrayView<float> c, int ldc)
        => Multiply(stream, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc, roundToBFloat16: false);

    /// <summary>The product, optionally rounding every element of C to bfloat16 as it is stored (a bfloat16 matmul's output).</summary>
    internal static void Multiply(
        AcceleratorStream stream, bool transposeA, bool transposeB, int m, int n, int k,
        float alpha, ArrayView<float> a, int lda, ArrayView<float> b, int ldb, float beta, ArrayView<float> c, int ldc, bool roundToBFloat16)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        CheckMatrix(a.Length, transposeA ? k : m, transposeA ? m : k, lda, nameof(a), nameof(lda));
        CheckMatrix(b.Length, transposeB ? n : k, transposeB ? k : n, ldb, nameof(b), nameof(ldb));
        CheckMatrix(c.Length, m, n, ldc, nameof(c), nameof(ldc));
        if (m == 0 || n == 0)
            return;
        Accelerator accelerator = stream.Accelerator;
        GpuChecks.RequireOn(accelerator, c, nameof(c));
        GpuChecks.RequireLaunchable((long)m * n, nameof(c));
        if (k > 0)
        {
            GpuChecks.RequireOn(accelerator, a, nameof(a));
            GpuChecks.RequireOn(accelerator, b, nameof(b));
            if (GpuChecks.Overlaps(c, a) || GpuChecks.Overlaps(c, b))
                throw new ArgumentException("C shares memory with A or B; the product cannot be written over its inputs.", nameof(c));
        }
        else
        {
            // Nothing of A or B is read; the kernel still needs valid views.
            a = c;
            b = c;
        }
        var arguments = new Arguments
        {
            M = m, N = n, K = k, Lda = lda, Ldb = ldb, Ldc = ldc,
            TransposeA = transposeA ? 1 : 0, TransposeB = transposeB ? 1 : 0, RoundToBFloat16 = roundToBFloat16 ? 1 : 0,
            Alpha = alpha, Beta = beta,
        };
        s_kernel.For(accelerator)(stream, m * n, a, b, c, arguments);
    }

    /// <summary>The kernel: element <paramref name="index"/> of C (row-major over m×n).</summary>
    /// <param name="index">Row · n + column of C.</param>
    /// <param name="a">A.</param>
    /// <param name="b">B.</param>
    /// <param name="c">C.</param>
    /// <param name="s">The shape and scalars.</param>
    public static void Kernel(Index1D index, ArrayView<float> a, ArrayView<float> b, ArrayView<float> c, Arguments s)
    {
        int i = index / s.N, j = index - i * s.N;
        long at = (long)i * s.Ldc + j;
        // beta · C, as the CPU kernel scales C before the first block (not read when beta is 0).
        float value = s.Beta == 0 ? 0f : s.Beta == 1 ? c[at] : c[at] * s.Beta;
        if (s.K > 0 && s.Alpha != 0)
        {
            for (int p0 = 0; p0 < s.K; p0 += KBlock)
            {
                int end = s.K - p0 < KBlock ? s.K : p0 + KBlock;
                float sum = 0f;
                for (int p = p0; p < end; p++)
                {
                    float x = s.TransposeA != 0 ? a[(long)p * s.Lda + i] : a[(long)i * s.Lda + p];
                    float y = s.TransposeB != 0 ? b[(long)j * s.Ldb + p] : b[(long)p * s.Ldb + j];
                    sum = GpuMath.FusedMultiplyAdd(x, y, sum);
                }
                value = GpuMath.FusedMultiplyAdd(s.Alpha, sum, value);
            }
        }
        c[at] = s.RoundToBFloat16 != 0 ? RoundToBFloat16(value) : value;
    }

    /// <summary>The nearest bfloat16 (ties to even) as a float, on bits: <c>Kernels.Precision.BFloat16</c>'s rounding (NaN stays NaN, quiet).</summary>
    /// <param name="value">Any float.</param>
    public static float RoundToBFloat16(float value)
    {
        int bits = BitConverter.SingleToInt32Bits(value);
        int rounded = (bits & 0x7FFF_FFFF) > 0x7F80_0000
            ? (int)((uint)bits & 0xFFFF_0000u) | 0x0040_0000
            : (int)(((uint)bits + 0x7FFFu + (((uint)bits >> 16) & 1u)) & 0xFFFF_0000u);
        return BitConverter.Int32BitsToSingle(rounded);
    }

    private static void CheckMatrix(long length, int rows, int cols, int stride, string name, string strideName)
    {
        if (stride < Math.Max(1, cols))
            throw new ArgumentOutOfRangeException(strideName, stride, $"The row stride of '{name}' must be at least its column count ({cols}) and at least 1.");
        if (rows > 0 && cols > 0 && length < (long)(rows - 1) * stride + cols)
            throw new ArgumentException($"'{name}' holds {length} elements; a {rows}x{cols} matrix with row stride {stride} needs {(long)(rows - 1) * stride + cols}.", name);
    }
}
