using System;
using System.Numerics;
using System.Runtime.InteropServices;

namespace Kernels.Matrices;

/// <summary>Which implementation <see cref="Gemm"/> runs.</summary>
public enum GemmBackend
{
    /// <summary>The managed kernel: blocked and packed, Vector512/256/128 fused multiply-adds, rows spread over the cores.</summary>
    Managed,

    /// <summary>OpenBLAS's <c>cblas_sgemm</c>, loaded at run time (libopenblas.so.0 on Linux).</summary>
    OpenBlas,
}

/// <summary>
/// Single-precision matrix multiplication on row-major matrices, as BLAS's <c>sgemm</c>:
/// <c>C = alpha · op(A) · op(B) + beta · C</c>, where <c>op(X)</c> is <c>X</c> or its transpose.
/// </summary>
/// <remarks>
/// <para>
/// OpenBLAS is used when the process can load it (<see cref="NativeLibrary.TryLoad(string, out IntPtr)"/> on
/// <c>libopenblas.so.0</c>, <c>libopenblas.so</c>, <c>libopenblas.dylib</c> or <c>libopenblas.dll</c>; on Debian and
/// Ubuntu the package <c>libopenblas0-pthread</c>); otherwise the managed kernel runs. <see cref="Backend"/> says which.
/// Set <see cref="ForceManaged"/>, or the environment variable <c>KERNELS_GEMM=managed</c> before first use, to run
/// the managed kernel even where OpenBLAS is present.
/// </para>
/// <para>
/// As in BLAS, when <c>beta</c> is 0 the previous contents of <c>C</c> are not read (NaN there does not propagate),
/// and the two backends sum in different orders, so their results agree to rounding, not bit for bit. The managed
/// kernel gives the same bits on any number of threads.
/// </para>
/// </remarks>
public static class Gemm
{
    /// <summary>The environment variable read on first use: <c>managed</c> sets <see cref="ForceManaged"/>.</summary>
    public const string EnvironmentVariable = "KERNELS_GEMM";

    private static volatile bool s_forceManaged =
        string.Equals(Environment.GetEnvironmentVariable(EnvironmentVariable), "managed", StringComparison.OrdinalIgnoreCase);

    /// <summary>Whether OpenBLAS's <c>cblas_sgemm</c> could be loaded in this process.</summary>
    public static bool IsOpenBlasAvailable => OpenBlas.IsAvailable;

    /// <summary>The OpenBLAS library that was loaded (a name or path as given to the loader), or <see langword="null"/>.</summary>
    public static string? OpenBlasLibrary => OpenBlas.LibraryName;

    /// <summary>
    /// Run the managed kernel even where OpenBLAS is available (for tests and comparisons). Starts as
    /// <see langword="true"/> when <c>KERNELS_GEMM=managed</c> is set in the environment. Process-wide.
    /// </summary>
    public static bool ForceManaged
    {
        get => s_forceManaged;
        set => s_forceManaged = value;
    }

    /// <summary>The backend <see cref="Multiply(bool, bool, int, int, int, float, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, float, Span{float}, int)"/> runs: OpenBLAS when loaded and not <see cref="ForceManaged"/>.</summary>
    public static GemmBackend Backend => !s_forceManaged && OpenBlas.IsAvailable ? GemmBackend.OpenBlas : GemmBackend.Managed;

    /// <summary>
    /// <c>C = alpha · op(A) · op(B) + beta · C</c> on row-major matrices, with <see cref="Backend"/>.
    /// <c>op(A)</c> is m×k, <c>op(B)</c> is k×n, <c>C</c> is m×n.
    /// </summary>
    /// <param name="transposeA">Use Aᵀ: <paramref name="a"/> then holds a k×m matrix.</param>
    /// <param name="transposeB">Use Bᵀ: <paramref name="b"/> then holds an n×k matrix.</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A), rows of op(B).</param>
    /// <param name="alpha">Scales the product.</param>
    /// <param name="a">A, row-major, row stride <paramref name="lda"/>.</param>
    /// <param name="lda">Elements between rows of A (at least its column count: k, or m when transposed).</param>
    /// <param name="b">B, row-major, row stride <paramref name="ldb"/>.</param>
    /// <param name="ldb">Elements between rows of B (at least its column count: n, or k when transposed).</param>
    /// <param name="beta">Scales C before the product is added; 0: C is only written.</param>
    /// <param name="c">C, row-major, row stride <paramref name="ldc"/>; must not share memory with A or B.</param>
    /// <param name="ldc">Elements between rows of C (at least n).</param>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative or a stride too small.</exception>
    /// <exception cref="ArgumentException">A span is too short for its matrix, or C overlaps A or B.</exception>
    public static void Multiply(
        bool transposeA, bool transposeB, int m, int n, int k,
        float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        float beta, Span<float> c, int ldc)
        => Multiply(Backend, transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

    /// <summary>
    /// <c>C = alpha · op(A) · op(B) + beta · C</c> with the given <paramref name="backend"/> (see
    /// <see cref="Multiply(bool, bool, int, int, int, float, ReadOnlySpan{float}, int, ReadOnlySpan{float}, int, float, Span{float}, int)"/>
    /// for the other parameters).
    /// </summary>
    /// <param name="backend">The implementation to run.</param>
    /// <param name="transposeA">Use Aᵀ.</param>
    /// <param name="transposeB">Use Bᵀ.</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A), rows of op(B).</param>
    /// <param name="alpha">Scales the product.</param>
    /// <param name="a">A, row-major.</param>
    /// <param name="lda">Row stride of A.</param>
    /// <param name="b">B, row-major.</param>
    /// <param name="ldb">Row stride of B.</param>
    /// <param name="beta">Scales C before the product is added.</param>
    /// <param name="c">C, row-major.</param>
    /// <param name="ldc">Row stride of C.</param>
    /// <exception cref="NotSupportedException"><paramref name="backend"/> is <see cref="GemmBackend.OpenBlas"/> and OpenBLAS could not be loaded.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A dimension is negative or a stride too small.</exception>
    /// <exception cref="ArgumentException">A span is too short for its matrix, or C overlaps A or B.</exception>
    public static void Multiply(
        GemmBackend backend, bool transposeA, bool transposeB, int m, int n, int k,
        float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        float beta, Span<float> c, int ldc)
    {
        if (backend == GemmBackend.OpenBlas && !OpenBlas.IsAvailable)
            throw new NotSupportedException("OpenBLAS (cblas_sgemm) could not be loaded in this process; install it (Debian/Ubuntu: libopenblas0-pthread) or use GemmBackend.Managed.");
        if (backend is not (GemmBackend.Managed or GemmBackend.OpenBlas))
            throw new ArgumentOutOfRangeException(nameof(backend), backend, "Not a GemmBackend.");
        ArgumentOutOfRangeException.ThrowIfNegative(m);
        ArgumentOutOfRangeException.ThrowIfNegative(n);
        ArgumentOutOfRangeException.ThrowIfNegative(k);
        CheckMatrix(a.Length, transposeA ? k : m, transposeA ? m : k, lda, nameof(a), nameof(lda));
        CheckMatrix(b.Length, transposeB ? n : k, transposeB ? k : n, ldb, nameof(b), nameof(ldb));
        CheckMatrix(c.Length, m, n, ldc, nameof(c), nameof(ldc));
        if (m == 0 || n == 0)
            return;
        int usedC = (m - 1) * ldc + n;
        Span<float> cUsed = c[..usedC];
        if (k > 0 && (cUsed.Overlaps(Used(a, transposeA ? k : m, transposeA ? m : k, lda)) || cUsed.Overlaps(Used(b, transposeB ? n : k, transposeB ? k : n, ldb))))
            throw new ArgumentException("C shares memory with A or B; the product cannot be written over its inputs.", nameof(c));

        if (k == 0 || alpha == 0)
        {
            ScaleC(m, n, beta, c, ldc);
            return;
        }
        if (backend == GemmBackend.OpenBlas)
            OpenBlas.Sgemm(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
        else
            ManagedGemm.Multiply(transposeA, transposeB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    }

    /// <summary>C = beta · C (zeros when beta is 0: BLAS does not read C then).</summary>
    internal static void ScaleC(int m, int n, float beta, Span<float> c, int ldc)
    {
        if (beta == 1)
            return;
        for (int i = 0; i < m; i++)
        {
            Span<float> row = c.Slice(i * ldc, n);
            if (beta == 0)
            {
                row.Clear();
                continue;
            }
            int j = 0;
            if (Vector.IsHardwareAccelerated)
            {
                Span<Vector<float>> vectors = MemoryMarshal.Cast<float, Vector<float>>(row);
                for (; j < vectors.Length; j++)
                    vectors[j] *= beta;
                j *= Vector<float>.Count;
            }
            for (; j < row.Length; j++)
                row[j] *= beta;
        }
    }

    private static void CheckMatrix(int length, int rows, int cols, int stride, string name, string strideName)
    {
        if (stride < Math.Max(1, cols))
            throw new ArgumentOutOfRangeException(strideName, stride, $"The row stride of '{name}' must be at least its column count ({cols}) and at least 1.");
        if (rows > 0 && cols > 0 && length < (long)(rows - 1) * stride + cols)
            throw new ArgumentException($"'{name}' holds {length} elements; a {rows}x{cols} matrix with row stride {stride} needs {(long)(rows - 1) * stride + cols}.", name);
    }

    private static ReadOnlySpan<float> Used(ReadOnlySpan<float> span, int rows, int cols, int stride)
        => rows == 0 || cols == 0 ? default : span[..((rows - 1) * stride + cols)];
}
