using System;
using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Threading.Tasks;
using Kernels.CompilerServices;

namespace Kernels.Training;

public static partial class GradientClipping
{
    private enum NormKind { One, Two, Infinity }

    /// <summary>Elementwise passes hand threads ranges that are multiples of this many elements.</summary>
    private const int ElementwiseAlignment = ParallelStep.ChunkAlignment;

    // ---- The reduction: blocks of BlockLength elements of the concatenation, 64 accumulators per block. ----

    private static double Reduce<T>(ReadOnlySpan<ReadOnlyMemory<T>> grads, NormKind kind, StepOptions options)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        ReadOnlyMemory<T>[] tensors = grads.ToArray();
        var starts = new long[tensors.Length + 1];
        for (int k = 0; k < tensors.Length; k++)
            starts[k + 1] = starts[k] + tensors[k].Length;
        long total = starts[^1];
        if (total == 0)
            return 0;

        long blocks = (total + BlockLength - 1) / BlockLength;
        int threads = (int)Math.Min(options.ThreadCountFor((int)Math.Min(total, int.MaxValue), BlockLength), blocks);
        double sum = 0;
        if (threads <= 1)
        {
            for (long b = 0; b < blocks; b++)
                sum = Combine(kind, sum, BlockPartial(tensors, starts, b, kind));
        }
        else
        {
            // Each thread fills the partials of a contiguous range of blocks; they are combined below in block order,
            // so the thread count changes who computes a partial, never its value or the order of the sum.
            var partials = new double[blocks];
            Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
            {
                long from = blocks * t / threads, to = blocks * (t + 1) / threads;
                for (long b = from; b < to; b++)
                    partials[b] = BlockPartial(tensors, starts, b, kind);
            });
            foreach (double partial in partials)
                sum = Combine(kind, sum, partial);
        }
        return kind == NormKind.Two ? Math.Sqrt(sum) : sum;
    }

    // Math.Max propagates NaN.
    private static double Combine(NormKind kind, double sum, double partial) => kind == NormKind.Infinity ? Math.Max(sum, partial) : sum + partial;

    private static double BlockPartial<T>(ReadOnlyMemory<T>[] tensors, long[] starts, long block, NormKind kind)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        long from = block * BlockLength, to = Math.Min(starts[^1], from + BlockLength);
        // The tensor holding element `from` (empty tensors share their start with the next one: skipped below).
        int k = Array.BinarySearch(starts, from);
        k = k >= 0 ? k : ~k - 1;
        Span<double> acc = stackalloc double[AccumulatorCount];
        acc.Clear();
        double max = 0;
        for (long position = from; position < to; k++)
        {
            long end = Math.Min(to, starts[k + 1]);
            if (end <= position)
                continue;
            ReadOnlySpan<T> x = tensors[k].Span.Slice((int)(position - starts[k]), (int)(end - position));
            int offset = (int)(position - from);
            switch (kind)
            {
                case NormKind.Two: Accumulate<T, Square>(x, offset, acc); break;
                case NormKind.One: Accumulate<T, Absolute>(x, offset, acc); break;
                default: max = Math.Max(max, MaxAbs(x)); break;
            }
            position = end;
        }
        return kind == NormKind.Infinity ? max : Tree(acc);
    }

    /// <summary>
    /// Σ x² over one block of at most <see cref="BlockLength"/> values in the reduction's fixed order (value j into
    /// accumulator j % 64, then the tree): the same result at every vector width. For optimizers that need a tensor's
    /// squared norm block by block (LAMB's trust ratio), combining the blocks' partials in block order.
    /// </summary>
    internal static double BlockSumOfSquares(ReadOnlySpan<float> x)
    {
        Span<double> acc = stackalloc double[AccumulatorCount];
        acc.Clear();
        Accumulate<float, Square>(x, 0, acc);
        return Tree(acc);
    }

    /// <summary>The fixed tree over the 64 accumulators: a[k] + a[k+32], then + [k+16], + [k+8], + [k+4], + [k+2], then [0] + [1].</summary>
    internal static double Tree(Span<double> a)
    {
        for (int width = AccumulatorCount / 2; width >= 1; width /= 2)
        {
            for (int k = 0; k < width; k++)
                a[k] += a[k + width];
        }
        return a[0];
    }

    /// <summary>Adds op(x[j]) to accumulator (offset + j) % 64, in increasing j; <paramref name="offset"/> is x's position in its block.</summary>
    internal static void Accumulate<T, TOp>(ReadOnlySpan<T> x, int offset, Span<double> acc)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TOp : struct, IElementOp
    {
        int n = x.Length, i = 0;
        int lead = Math.Min((AccumulatorCount - (offset & (AccumulatorCount - 1))) & (AccumulatorCount - 1), n);
        for (; i < lead; i++)
            acc[(offset + i) & (AccumulatorCount - 1)] += TOp.Apply(ToDouble(x[i]));

        // From here element i goes to accumulator (i - lead) % 64: element j of each 64-element group to accumulator j.
        int body = (n - i) & ~(AccumulatorCount - 1);
        if (body > 0)
        {
            if (Vector512.IsHardwareAccelerated)
                Body512<T, TOp>(x.Slice(i, body), acc);
            else if (Vector256.IsHardwareAccelerated)
                Body256<T, TOp>(x.Slice(i, body), acc);
            else if (Vector128.IsHardwareAccelerated)
                Body128<T, TOp>(x.Slice(i, body), acc);
            else
                body = 0; // the scalar loop below does it all, in the same order
            i += body;
        }
        for (; i < n; i++)
            acc[(offset + i) & (AccumulatorCount - 1)] += TOp.Apply(ToDouble(x[i]));
    }

    // Accumulator j of the block is lane j % W of vector j / W (W = lanes per vector): 8 Vector512, 16 Vector256 or 32
    // Vector128 accumulators, independent add chains, so the loop runs at memory speed rather than add latency.

    private static void Body512<T, TOp>(ReadOnlySpan<T> x, Span<double> acc) where T : unmanaged where TOp : struct, IElementOp
    {
        ref double a = ref MemoryMarshal.GetReference(acc);
        Vector512<double> a0 = Vector512.LoadUnsafe(ref a), a1 = Vector512.LoadUnsafe(ref a, 8);
        Vector512<double> a2 = Vector512.LoadUnsafe(ref a, 16), a3 = Vector512.LoadUnsafe(ref a, 24);
        Vector512<double> a4 = Vector512.LoadUnsafe(ref a, 32), a5 = Vector512.LoadUnsafe(ref a, 40);
        Vector512<double> a6 = Vector512.LoadUnsafe(ref a, 48), a7 = Vector512.LoadUnsafe(ref a, 56);
        nuint n = (nuint)x.Length;
        if (typeof(T) == typeof(float))
        {
            ref float p = ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(x));
            for (nuint j = 0; j < n; j += AccumulatorCount)
            {
                (Vector512<double> l0, Vector512<double> h0) = Vector512.Widen(Vector512.LoadUnsafe(ref p, j));
                (Vector512<double> l1, Vector512<double> h1) = Vector512.Widen(Vector512.LoadUnsafe(ref p, j + 16));
                (Vector512<double> l2, Vector512<double> h2) = Vector512.Widen(Vector512.LoadUnsafe(ref p, j + 32));
                (Vector512<double> l3, Vector512<double> h3) = Vector512.Widen(Vector512.LoadUnsafe(ref p, j + 48));
                a0 += TOp.Apply(l0);
                a1 += TOp.Apply(h0);
                a2 += TOp.Apply(l1);
                a3 += TOp.Apply(h1);
                a4 += TOp.Apply(l2);
                a5 += TOp.Apply(h2);
                a6 += TOp.Apply(l3);
                a7 += TOp.Apply(h3);
            }
        }
        else
        {
            ref double p = ref Unsafe.As<T, double>(ref MemoryMarshal.GetReference(x));
            for (nuint j = 0; j < n; j += AccumulatorCount)
            {
                a0 += TOp.Apply(Vector512.LoadUnsafe(ref p, j));
                a1 += TOp.Apply(Vector512.LoadUnsafe(ref p, j + 8));
                a2 += TOp.Apply(Vector512.LoadUnsafe(ref p, j + 16));
                a3 += TOp.Apply(Vector512.LoadUnsafe(ref p, j + 24));
                a4 += TOp.Apply(Vector512.LoadUnsafe(ref p, j + 32));
                a5 += TOp.Apply(Vector512.LoadUnsafe(ref p, j + 40));
                a6 += TOp.Apply(Vector512.LoadUnsafe(ref p, j + 48));
                a7 += TOp.Apply(Vector512.LoadUnsafe(ref p, j + 56));
            }
        }
        a0.StoreUnsafe(ref a);
        a1.StoreUnsafe(ref a, 8);
        a2.StoreUnsafe(ref a, 16);
        a3.StoreUnsafe(ref a, 24);
        a4.StoreUnsafe(ref a, 32);
        a5.StoreUnsafe(ref a, 40);
        a6.StoreUnsafe(ref a, 48);
        a7.StoreUnsafe(ref a, 56);
    }

    /// <summary>The 256-bit form: the accumulators stay in <paramref name="acc"/> (16 vectors; a fallback path, not the fast one).</summary>
    private static void Body256<T, TOp>(ReadOnlySpan<T> x, Span<double> acc) where T : unmanaged where TOp : struct, IElementOp
    {
        ref double a = ref MemoryMarshal.GetReference(acc);
        nuint n = (nuint)x.Length;
        for (nuint j = 0; j < n; j += AccumulatorCount)
        {
            for (nuint v = 0; v < AccumulatorCount; v += 8)
            {
                Vector256<double> lo, hi;
                if (typeof(T) == typeof(float))
                    (lo, hi) = Vector256.Widen(Vector256.LoadUnsafe(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(x)), j + v));
                else
                {
                    ref double p = ref Unsafe.As<T, double>(ref MemoryMarshal.GetReference(x));
                    (lo, hi) = (Vector256.LoadUnsafe(ref p, j + v), Vector256.LoadUnsafe(ref p, j + v + 4));
                }
                (Vector256.LoadUnsafe(ref a, v) + TOp.Apply(lo)).StoreUnsafe(ref a, v);
                (Vector256.LoadUnsafe(ref a, v + 4) + TOp.Apply(hi)).StoreUnsafe(ref a, v + 4);
            }
        }
    }

    /// <summary>The 128-bit form: the accumulators stay in <paramref name="acc"/> (32 vectors; a fallback path, not the fast one).</summary>
    private static void Body128<T, TOp>(ReadOnlySpan<T> x, Span<double> acc) where T : unmanaged where TOp : struct, IElementOp
    {
        ref double a = ref MemoryMarshal.GetReference(acc);
        nuint n = (nuint)x.Length;
        for (nuint j = 0; j < n; j += AccumulatorCount)
        {
            for (nuint v = 0; v < AccumulatorCount; v += 4)
            {
                Vector128<double> lo, hi;
                if (typeof(T) == typeof(float))
                    (lo, hi) = Vector128.Widen(Vector128.LoadUnsafe(ref Unsafe.As<T, float>(ref MemoryMarshal.GetReference(x)), j + v));
                else
                {
                    ref double p = ref Unsafe.As<T, double>(ref MemoryMarshal.GetReference(x));
                    (lo, hi) = (Vector128.LoadUnsafe(ref p, j + v), Vector128.LoadUnsafe(ref p, j + v + 2));
                }
                (Vector128.LoadUnsafe(ref a, v) + TOp.Apply(lo)).StoreUnsafe(ref a, v);
                (Vector128.LoadUnsafe(ref a, v + 2) + TOp.Apply(hi)).StoreUnsafe(ref a, v + 2);
            }
        }
    }

    /// <summary>The largest |x| (exact, so any order gives it), or NaN if any element is NaN; 0 for an empty span.</summary>
    private static double MaxAbs<T>(ReadOnlySpan<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T max = T.Zero;
        bool nan = false;
        int i = 0;
        ref T p = ref MemoryMarshal.GetReference(x);
        // MaxNative's NaN behaviour differs by platform; NaNs are tracked apart, so it never decides the result.
        if (Vector512.IsHardwareAccelerated && x.Length >= Vector512<T>.Count)
        {
            Vector512<T> m = Vector512<T>.Zero, bad = Vector512<T>.Zero;
            for (; i <= x.Length - Vector512<T>.Count; i += Vector512<T>.Count)
            {
                Vector512<T> v = Vector512.Abs(Vector512.LoadUnsafe(ref p, (nuint)i));
                bad |= ~Vector512.Equals(v, v);
                m = Vector512.MaxNative(m, v);
            }
            nan = bad != Vector512<T>.Zero;
            for (int j = 0; j < Vector512<T>.Count; j++)
                max = T.Max(max, m[j]);
        }
        else if (Vector256.IsHardwareAccelerated && x.Length >= Vector256<T>.Count)
        {
            Vector256<T> m = Vector256<T>.Zero, bad = Vector256<T>.Zero;
            for (; i <= x.Length - Vector256<T>.Count; i += Vector256<T>.Count)
            {
                Vector256<T> v = Vector256.Abs(Vector256.LoadUnsafe(ref p, (nuint)i));
                bad |= ~Vector256.Equals(v, v);
                m = Vector256.MaxNative(m, v);
            }
            nan = bad != Vector256<T>.Zero;
            for (int j = 0; j < Vector256<T>.Count; j++)
                max = T.Max(max, m[j]);
        }
        else if (Vector128.IsHardwareAccelerated && x.Length >= Vector128<T>.Count)
        {
            Vector128<T> m = Vector128<T>.Zero, bad = Vector128<T>.Zero;
            for (; i <= x.Length - Vector128<T>.Count; i += Vector128<T>.Count)
            {
                Vector128<T> v = Vector128.Abs(Vector128.LoadUnsafe(ref p, (nuint)i));
                bad |= ~Vector128.Equals(v, v);
                m = Vector128.MaxNative(m, v);
            }
            nan = bad != Vector128<T>.Zero;
            for (int j = 0; j < Vector128<T>.Count; j++)
                max = T.Max(max, m[j]);
        }
        for (; i < x.Length; i++)
        {
            T v = T.Abs(x[i]);
            nan |= T.IsNaN(v);
            max = T.Max(max, v);
        }
        return nan ? double.NaN : ToDouble(max);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static double ToDouble<T>(T x) where T : unmanaged =>
        typeof(T) == typeof(float) ? Unsafe.As<T, float>(ref x) : Unsafe.As<T, double>(ref x);

    /// <summary>What is summed per element: its square (norm 2) or its absolute value (norm 1), in double.</summary>
    internal interface IElementOp
    {
        static abstract double Apply(double x);
        static abstract Vector128<double> Apply(Vector128<double> x);
        static abstract Vector256<double> Apply(Vector256<double> x);
        static abstract Vector512<double> Apply(Vector512<double> x);
    }

    /// <summary>x itself: the fixed-order sum of a rule's <see cref="Kernels.Reduce.Sum(float)"/>.</summary>
    internal readonly struct Identity : IElementOp
    {
        public static double Apply(double x) => x;
        public static Vector128<double> Apply(Vector128<double> x) => x;
        public static Vector256<double> Apply(Vector256<double> x) => x;
        public static Vector512<double> Apply(Vector512<double> x) => x;
    }

    private readonly struct Square : IElementOp
    {
        public static double Apply(double x) => x * x;
        public static Vector128<double> Apply(Vector128<double> x) => x * x;
        public static Vector256<double> Apply(Vector256<double> x) => x * x;
        public static Vector512<double> Apply(Vector512<double> x) => x * x;
    }

    private readonly struct Absolute : IElementOp
    {
        public static double Apply(double x) => Math.Abs(x);
        public static Vector128<double> Apply(Vector128<double> x) => Vector128.Abs(x);
        public static Vector256<double> Apply(Vector256<double> x) => Vector256.Abs(x);
        public static Vector512<double> Apply(Vector512<double> x) => Vector512.Abs(x);
    }

    // ---- Elementwise, in place: scaling and clamping (the same bits at any width: one rounding per element). ----

    private static void RunElementwise<T, TKernel>(ReadOnlySpan<Memory<T>> grads, TKernel kernel, StepOptions options)
        where T : unmanaged
        where TKernel : struct, IChunkKernel<T>
    {
        ReadOnlySpan<ReadOnlyMemory<T>> tensors = MultiTensorStep.AsReadOnly(grads);
        long total = MultiTensorStep.TotalLength(tensors);
        if (total == 0)
            return;
        int threads = options.ThreadCountFor((int)Math.Min(total, int.MaxValue), ElementwiseAlignment);
        MultiTensorStep.Run<T, TKernel>(kernel, threads, ElementwiseAlignment, tensors);
    }

    private readonly struct ScaleKernel<T>(T coefficient) : IChunkKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Execute(in PinnedBuffers<T> buffers, int start, int length)
        {
            Span<T> x = buffers.Slice(0, start, length);
            ref T p = ref MemoryMarshal.GetReference(x);
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<T> c = Vector512.Create(coefficient);
                for (; i <= x.Length - Vector512<T>.Count; i += Vector512<T>.Count)
                    (Vector512.LoadUnsafe(ref p, (nuint)i) * c).StoreUnsafe(ref p, (nuint)i);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Vector256<T> c = Vector256.Create(coefficient);
                for (; i <= x.Length - Vector256<T>.Count; i += Vector256<T>.Count)
                    (Vector256.LoadUnsafe(ref p, (nuint)i) * c).StoreUnsafe(ref p, (nuint)i);
            }
            else if (Vector128.IsHardwareAccelerated)
            {
                Vector128<T> c = Vector128.Create(coefficient);
                for (; i <= x.Length - Vector128<T>.Count; i += Vector128<T>.Count)
                    (Vector128.LoadUnsafe(ref p, (nuint)i) * c).StoreUnsafe(ref p, (nuint)i);
            }
            for (; i < x.Length; i++)
                x[i] *= coefficient;
        }
    }

    /// <summary>min(max(x, lo), hi) with IEEE 754-2019 maximum/minimum (NaN propagates), as <c>torch.clamp</c>.</summary>
    private readonly struct ClampKernel<T>(T lo, T hi) : IChunkKernel<T> where T : unmanaged, IFloatingPointIeee754<T>
    {
        public void Execute(in PinnedBuffers<T> buffers, int start, int length)
        {
            Span<T> x = buffers.Slice(0, start, length);
            ref T p = ref MemoryMarshal.GetReference(x);
            int i = 0;
            if (Vector512.IsHardwareAccelerated)
            {
                Vector512<T> l = Vector512.Create(lo), h = Vector512.Create(hi);
                for (; i <= x.Length - Vector512<T>.Count; i += Vector512<T>.Count)
                    Vector512.Min(Vector512.Max(Vector512.LoadUnsafe(ref p, (nuint)i), l), h).StoreUnsafe(ref p, (nuint)i);
            }
            else if (Vector256.IsHardwareAccelerated)
            {
                Vector256<T> l = Vector256.Create(lo), h = Vector256.Create(hi);
                for (; i <= x.Length - Vector256<T>.Count; i += Vector256<T>.Count)
                    Vector256.Min(Vector256.Max(Vector256.LoadUnsafe(ref p, (nuint)i), l), h).StoreUnsafe(ref p, (nuint)i);
            }
            else if (Vector128.IsHardwareAccelerated)
            {
                Vector128<T> l = Vector128.Create(lo), h = Vector128.Create(hi);
                for (; i <= x.Length - Vector128<T>.Count; i += Vector128<T>.Count)
                    Vector128.Min(Vector128.Max(Vector128.LoadUnsafe(ref p, (nuint)i), l), h).StoreUnsafe(ref p, (nuint)i);
            }
            for (; i < x.Length; i++)
                x[i] = T.Min(T.Max(x[i], lo), hi);
        }
    }
}
