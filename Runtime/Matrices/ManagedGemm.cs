using System;
using System.Buffers;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.Arm;
using System.Runtime.Intrinsics.X86;
using System.Threading.Tasks;

namespace Kernels.Matrices;

/// <summary>
/// The managed <c>sgemm</c>: the GotoBLAS scheme. For each block of <see cref="KBlock"/> steps of the inner dimension,
/// op(B)'s rows in the block are packed into panels <c>nr</c> columns wide (two vectors); each block of rows of C
/// (one per task, spread over the cores) packs its rows of op(A) into panels of <see cref="MR"/> rows and runs a
/// register-blocked micro-kernel of MR × nr accumulators, one fused multiply-add per element per step. Edges are
/// zero-padded in the packed copies and written back element by element.
/// </summary>
/// <remarks>
/// Every element of C is summed in the same order whatever the thread count and wherever its tile falls (inner
/// dimension in order, one block of <see cref="KBlock"/> at a time, each block's sum added to C with
/// <c>C + alpha · sum</c> as one fused multiply-add), so the result is deterministic on a given instruction set.
/// </remarks>
internal static unsafe class ManagedGemm
{
    /// <summary>Rows of a micro-kernel tile.</summary>
    private const int MR = 6;

    /// <summary>Inner-dimension steps per block: a packed B panel slice (KBlock × nr floats, 32 KiB for Vector512) stays in L1.</summary>
    private const int KBlock = 256;

    /// <summary>Most rows per task: the packed A block (MaxRowBlock × KBlock floats, 120 KiB) stays in L2.</summary>
    private const int MaxRowBlock = 120;

    /// <summary>Products smaller than this many multiply-adds run on the calling thread.</summary>
    private const long ParallelThreshold = 1L << 21;

    private enum Isa
    {
        Scalar,
        V128,
        V256,
        V512,
    }

    private static Isa Width =>
        Vector512.IsHardwareAccelerated ? Isa.V512
        : Vector256.IsHardwareAccelerated && Fma.IsSupported ? Isa.V256
        : Vector128.IsHardwareAccelerated && (Fma.IsSupported || AdvSimd.IsSupported) ? Isa.V128
        : Isa.Scalar;

    /// <summary>Columns of a micro-kernel tile: two vectors (8 for the scalar kernel).</summary>
    private static int NR(Isa isa) => isa switch
    {
        Isa.V512 => 32,
        Isa.V256 => 16,
        _ => 8,
    };

    public static void Multiply(bool transposeA, bool transposeB, int m, int n, int k,
        float alpha, ReadOnlySpan<float> a, int lda, ReadOnlySpan<float> b, int ldb,
        float beta, Span<float> c, int ldc)
    {
        Isa isa = Width;
        int nr = NR(isa);
        int panels = (n + nr - 1) / nr;
        int threads = (long)m * n * k < ParallelThreshold ? 1 : Environment.ProcessorCount;
        // Row blocks: a multiple of MR, at most MaxRowBlock, and enough of them to keep every thread busy.
        int perTask = (m + 2 * threads - 1) / (2 * threads);
        int rowBlock = Math.Clamp((perTask + MR - 1) / MR * MR, MR, MaxRowBlock);
        int rowBlocks = (m + rowBlock - 1) / rowBlock;
        if (rowBlocks == 1)
            threads = 1;

        float[] packedB = ArrayPool<float>.Shared.Rent(panels * Math.Min(k, KBlock) * nr);
        try
        {
            fixed (float* pa = a)
            fixed (float* pb = b)
            fixed (float* pc = c)
            fixed (float* pbp = packedB)
            {
                var job = new Job
                {
                    Isa = isa, Nr = nr, TransposeA = transposeA, M = m, N = n, Alpha = alpha, Beta = beta,
                    A = pa, Lda = lda, C = pc, Ldc = ldc, PackedB = pbp, Panels = panels, RowBlock = rowBlock,
                };
                for (int p0 = 0; p0 < k; p0 += KBlock)
                {
                    int kc = Math.Min(KBlock, k - p0);
                    PackB(transposeB, pb, ldb, p0, kc, n, nr, pbp);
                    job.P0 = p0;
                    job.Kc = kc;
                    if (threads == 1)
                    {
                        for (int block = 0; block < rowBlocks; block++)
                            job.RunRowBlock(block);
                    }
                    else
                    {
                        Job shared = job;
                        Parallel.For(0, rowBlocks, new ParallelOptions { MaxDegreeOfParallelism = threads }, block => shared.RunRowBlock(block));
                    }
                }
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(packedB);
        }
    }

    /// <summary>Packs rows [p0, p0 + kc) of op(B) into panels of <paramref name="nr"/> columns: panel j holds kc rows of nr floats, zero beyond column n.</summary>
    private static void PackB(bool transposeB, float* b, int ldb, int p0, int kc, int n, int nr, float* packed)
    {
        int panels = (n + nr - 1) / nr;
        for (int jp = 0; jp < panels; jp++)
        {
            float* dst = packed + (long)jp * kc * nr;
            int j0 = jp * nr;
            int cols = Math.Min(nr, n - j0);
            if (!transposeB)
            {
                for (int p = 0; p < kc; p++)
                {
                    float* src = b + (long)(p0 + p) * ldb + j0;
                    float* row = dst + p * nr;
                    new ReadOnlySpan<float>(src, cols).CopyTo(new Span<float>(row, cols));
                    if (cols < nr)
                        new Span<float>(row + cols, nr - cols).Clear();
                }
            }
            else
            {
                // op(B)[p, j] = B[j, p]: read B's rows (contiguous in p), write the panel's columns.
                if (cols < nr)
                    new Span<float>(dst, kc * nr).Clear();
                for (int jj = 0; jj < cols; jj++)
                {
                    float* src = b + (long)(j0 + jj) * ldb + p0;
                    for (int p = 0; p < kc; p++)
                        dst[p * nr + jj] = src[p];
                }
            }
        }
    }

    /// <summary>One call's shared values; each row block is independent of the others.</summary>
    private struct Job
    {
        public Isa Isa;
        public int Nr;
        public bool TransposeA;
        public int M, N, P0, Kc, Panels, RowBlock;
        public float Alpha, Beta;
        public float* A;
        public int Lda;
        public float* C;
        public int Ldc;
        public float* PackedB;

        public readonly void RunRowBlock(int block)
        {
            int i0 = block * RowBlock;
            int rows = Math.Min(RowBlock, M - i0);
            if (P0 == 0 && Beta != 1)
            {
                for (int i = i0; i < i0 + rows; i++)
                    Gemm.ScaleC(1, N, Beta, new Span<float>(C + (long)i * Ldc, N), Ldc);
            }
            int rowPanels = (rows + MR - 1) / MR;
            float[] packedA = ArrayPool<float>.Shared.Rent(rowPanels * MR * Kc);
            try
            {
                fixed (float* pap = packedA)
                {
                    PackA(i0, rows, pap);
                    for (int jp = 0; jp < Panels; jp++)
                    {
                        float* bp = PackedB + (long)jp * Kc * Nr;
                        int cols = Math.Min(Nr, N - jp * Nr);
                        for (int ip = 0; ip < rowPanels; ip++)
                        {
                            int tileRows = Math.Min(MR, rows - ip * MR);
                            float* ap = pap + (long)ip * MR * Kc;
                            float* cTile = C + (long)(i0 + ip * MR) * Ldc + jp * Nr;
                            switch (Isa)
                            {
                                case Isa.V512: Kernel512(Kc, ap, bp, cTile, Ldc, Alpha, tileRows, cols); break;
                                case Isa.V256: Kernel256(Kc, ap, bp, cTile, Ldc, Alpha, tileRows, cols); break;
                                case Isa.V128: Kernel128(Kc, ap, bp, cTile, Ldc, Alpha, tileRows, cols); break;
                                default: KernelScalar(Kc, ap, bp, cTile, Ldc, Alpha, tileRows, cols); break;
                            }
                        }
                    }
                }
            }
            finally
            {
                ArrayPool<float>.Shared.Return(packedA);
            }
        }

        /// <summary>Packs rows [i0, i0 + rows) × columns [P0, P0 + Kc) of op(A) into panels of MR rows: panel i holds Kc steps of MR floats, zero beyond the last row.</summary>
        private readonly void PackA(int i0, int rows, float* packed)
        {
            int rowPanels = (rows + MR - 1) / MR;
            for (int ip = 0; ip < rowPanels; ip++)
            {
                float* dst = packed + (long)ip * MR * Kc;
                int first = i0 + ip * MR;
                int count = Math.Min(MR, rows - ip * MR);
                if (count < MR)
                    new Span<float>(dst, MR * Kc).Clear();
                if (TransposeA)
                {
                    // op(A)[i, p] = A[p, i]: each step reads `count` contiguous elements of A's row p.
                    for (int p = 0; p < Kc; p++)
                    {
                        float* src = A + (long)(P0 + p) * Lda + first;
                        for (int r = 0; r < count; r++)
                            dst[p * MR + r] = src[r];
                    }
                }
                else
                {
                    for (int r = 0; r < count; r++)
                    {
                        float* src = A + (long)(first + r) * Lda + P0;
                        for (int p = 0; p < Kc; p++)
                            dst[p * MR + r] = src[p];
                    }
                }
            }
        }
    }

    /// <summary>Writes a finished tile: C += alpha · sum, one fused multiply-add per element (full tiles by vector, edges element by element, same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void StoreEdge(float* sums, int nr, float* c, int ldc, float alpha, int rows, int cols)
    {
        for (int r = 0; r < rows; r++)
        {
            for (int j = 0; j < cols; j++)
                c[(long)r * ldc + j] = MathF.FusedMultiplyAdd(alpha, sums[r * nr + j], c[(long)r * ldc + j]);
        }
    }

    private static void Kernel512(int kc, float* a, float* b, float* c, int ldc, float alpha, int rows, int cols)
    {
        Vector512<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector512<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector512<float> b0 = Vector512.Load(b), b1 = Vector512.Load(b + 16);
            Vector512<float> x = Vector512.Create(a[0]);
            c00 = Vector512.FusedMultiplyAdd(x, b0, c00); c01 = Vector512.FusedMultiplyAdd(x, b1, c01);
            x = Vector512.Create(a[1]);
            c10 = Vector512.FusedMultiplyAdd(x, b0, c10); c11 = Vector512.FusedMultiplyAdd(x, b1, c11);
            x = Vector512.Create(a[2]);
            c20 = Vector512.FusedMultiplyAdd(x, b0, c20); c21 = Vector512.FusedMultiplyAdd(x, b1, c21);
            x = Vector512.Create(a[3]);
            c30 = Vector512.FusedMultiplyAdd(x, b0, c30); c31 = Vector512.FusedMultiplyAdd(x, b1, c31);
            x = Vector512.Create(a[4]);
            c40 = Vector512.FusedMultiplyAdd(x, b0, c40); c41 = Vector512.FusedMultiplyAdd(x, b1, c41);
            x = Vector512.Create(a[5]);
            c50 = Vector512.FusedMultiplyAdd(x, b0, c50); c51 = Vector512.FusedMultiplyAdd(x, b1, c51);
            a += MR;
            b += 32;
        }
        if (rows == MR && cols == 32)
        {
            Vector512<float> s = Vector512.Create(alpha);
            Store(c, s, c00, c01); Store(c + ldc, s, c10, c11); Store(c + 2L * ldc, s, c20, c21);
            Store(c + 3L * ldc, s, c30, c31); Store(c + 4L * ldc, s, c40, c41); Store(c + 5L * ldc, s, c50, c51);
            return;
        }
        float* sums = stackalloc float[MR * 32];
        c00.Store(sums); c01.Store(sums + 16); c10.Store(sums + 32); c11.Store(sums + 48);
        c20.Store(sums + 64); c21.Store(sums + 80); c30.Store(sums + 96); c31.Store(sums + 112);
        c40.Store(sums + 128); c41.Store(sums + 144); c50.Store(sums + 160); c51.Store(sums + 176);
        StoreEdge(sums, 32, c, ldc, alpha, rows, cols);

        static void Store(float* row, Vector512<float> alpha, Vector512<float> s0, Vector512<float> s1)
        {
            Vector512.FusedMultiplyAdd(alpha, s0, Vector512.Load(row)).Store(row);
            Vector512.FusedMultiplyAdd(alpha, s1, Vector512.Load(row + 16)).Store(row + 16);
        }
    }

    private static void Kernel256(int kc, float* a, float* b, float* c, int ldc, float alpha, int rows, int cols)
    {
        Vector256<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector256<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector256<float> b0 = Vector256.Load(b), b1 = Vector256.Load(b + 8);
            Vector256<float> x = Vector256.Create(a[0]);
            c00 = Vector256.FusedMultiplyAdd(x, b0, c00); c01 = Vector256.FusedMultiplyAdd(x, b1, c01);
            x = Vector256.Create(a[1]);
            c10 = Vector256.FusedMultiplyAdd(x, b0, c10); c11 = Vector256.FusedMultiplyAdd(x, b1, c11);
            x = Vector256.Create(a[2]);
            c20 = Vector256.FusedMultiplyAdd(x, b0, c20); c21 = Vector256.FusedMultiplyAdd(x, b1, c21);
            x = Vector256.Create(a[3]);
            c30 = Vector256.FusedMultiplyAdd(x, b0, c30); c31 = Vector256.FusedMultiplyAdd(x, b1, c31);
            x = Vector256.Create(a[4]);
            c40 = Vector256.FusedMultiplyAdd(x, b0, c40); c41 = Vector256.FusedMultiplyAdd(x, b1, c41);
            x = Vector256.Create(a[5]);
            c50 = Vector256.FusedMultiplyAdd(x, b0, c50); c51 = Vector256.FusedMultiplyAdd(x, b1, c51);
            a += MR;
            b += 16;
        }
        if (rows == MR && cols == 16)
        {
            Vector256<float> s = Vector256.Create(alpha);
            Store(c, s, c00, c01); Store(c + ldc, s, c10, c11); Store(c + 2L * ldc, s, c20, c21);
            Store(c + 3L * ldc, s, c30, c31); Store(c + 4L * ldc, s, c40, c41); Store(c + 5L * ldc, s, c50, c51);
            return;
        }
        float* sums = stackalloc float[MR * 16];
        c00.Store(sums); c01.Store(sums + 8); c10.Store(sums + 16); c11.Store(sums + 24);
        c20.Store(sums + 32); c21.Store(sums + 40); c30.Store(sums + 48); c31.Store(sums + 56);
        c40.Store(sums + 64); c41.Store(sums + 72); c50.Store(sums + 80); c51.Store(sums + 88);
        StoreEdge(sums, 16, c, ldc, alpha, rows, cols);

        static void Store(float* row, Vector256<float> alpha, Vector256<float> s0, Vector256<float> s1)
        {
            Vector256.FusedMultiplyAdd(alpha, s0, Vector256.Load(row)).Store(row);
            Vector256.FusedMultiplyAdd(alpha, s1, Vector256.Load(row + 8)).Store(row + 8);
        }
    }

    private static void Kernel128(int kc, float* a, float* b, float* c, int ldc, float alpha, int rows, int cols)
    {
        Vector128<float> c00 = default, c01 = default, c10 = default, c11 = default, c20 = default, c21 = default;
        Vector128<float> c30 = default, c31 = default, c40 = default, c41 = default, c50 = default, c51 = default;
        for (int p = 0; p < kc; p++)
        {
            Vector128<float> b0 = Vector128.Load(b), b1 = Vector128.Load(b + 4);
            Vector128<float> x = Vector128.Create(a[0]);
            c00 = Vector128.FusedMultiplyAdd(x, b0, c00); c01 = Vector128.FusedMultiplyAdd(x, b1, c01);
            x = Vector128.Create(a[1]);
            c10 = Vector128.FusedMultiplyAdd(x, b0, c10); c11 = Vector128.FusedMultiplyAdd(x, b1, c11);
            x = Vector128.Create(a[2]);
            c20 = Vector128.FusedMultiplyAdd(x, b0, c20); c21 = Vector128.FusedMultiplyAdd(x, b1, c21);
            x = Vector128.Create(a[3]);
            c30 = Vector128.FusedMultiplyAdd(x, b0, c30); c31 = Vector128.FusedMultiplyAdd(x, b1, c31);
            x = Vector128.Create(a[4]);
            c40 = Vector128.FusedMultiplyAdd(x, b0, c40); c41 = Vector128.FusedMultiplyAdd(x, b1, c41);
            x = Vector128.Create(a[5]);
            c50 = Vector128.FusedMultiplyAdd(x, b0, c50); c51 = Vector128.FusedMultiplyAdd(x, b1, c51);
            a += MR;
            b += 8;
        }
        float* sums = stackalloc float[MR * 8];
        c00.Store(sums); c01.Store(sums + 4); c10.Store(sums + 8); c11.Store(sums + 12);
        c20.Store(sums + 16); c21.Store(sums + 20); c30.Store(sums + 24); c31.Store(sums + 28);
        c40.Store(sums + 32); c41.Store(sums + 36); c50.Store(sums + 40); c51.Store(sums + 44);
        StoreEdge(sums, 8, c, ldc, alpha, rows, cols);
    }

    /// <summary>No vector unit with fused multiply-add: the same tile and order, element by element.</summary>
    private static void KernelScalar(int kc, float* a, float* b, float* c, int ldc, float alpha, int rows, int cols)
    {
        float* sums = stackalloc float[MR * 8];
        new Span<float>(sums, MR * 8).Clear();
        for (int p = 0; p < kc; p++)
        {
            for (int r = 0; r < MR; r++)
            {
                float x = a[r];
                for (int j = 0; j < 8; j++)
                    sums[r * 8 + j] = MathF.FusedMultiplyAdd(x, b[j], sums[r * 8 + j]);
            }
            a += MR;
            b += 8;
        }
        StoreEdge(sums, 8, c, ldc, alpha, rows, cols);
    }
}
