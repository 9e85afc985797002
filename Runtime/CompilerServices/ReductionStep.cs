using System;
using System.ComponentModel;
using System.Numerics;
using System.Threading.Tasks;
using Kernels.Training;

namespace Kernels.CompilerServices;

/// <summary>
/// The first pass of a rule that calls <see cref="Reduce"/>: writes, for the elements <c>[start, start + length)</c>,
/// each reduction's argument into its output buffer (positions <c>[0, length)</c>), and nothing else.
/// </summary>
/// <typeparam name="T">The rule's element type.</typeparam>
[EditorBrowsable(EditorBrowsableState.Never)]
public interface IReductionKernel<T> where T : unmanaged
{
    /// <summary>Runs the reduction pass over one segment.</summary>
    void ExecuteReduction(in PinnedBuffers<T> buffers, int start, int length, in PinnedBuffers<T> outputs);
}

/// <summary>
/// Drives the reduction pass of a generated rule in the fixed order documented on <see cref="Reduce"/>: blocks of
/// <see cref="GradientClipping.BlockLength"/> elements, each run in cache-resident segments whose values are summed
/// into the block's 64 accumulators; threads take contiguous ranges of blocks, and the block partials are combined in
/// block order, so the thread count never changes a bit of the result.
/// </summary>
[EditorBrowsable(EditorBrowsableState.Never)]
public static class ReductionStep
{
    /// <summary>Elements per segment: the argument values of one segment stay in L1 between the kernel and the sum.</summary>
    public const int SegmentLength = 1024;

    /// <summary>The most reductions one rule may make (the outputs share the buffer slots with the rule's buffers).</summary>
    public const int MaxReductions = 4;

    /// <summary>
    /// Runs the reduction pass of <paramref name="kernel"/> over <paramref name="length"/> elements and writes each
    /// reduction's value to <paramref name="results"/> (as double; the caller rounds it to the rule's type once).
    /// </summary>
    /// <param name="kernel">The generated reduction kernel.</param>
    /// <param name="length">The tensor's length.</param>
    /// <param name="threads">How many threads may share the blocks.</param>
    /// <param name="maxMask">Bit <c>r</c> set: reduction <c>r</c> is a maximum; clear: a sum.</param>
    /// <param name="results">One slot per reduction.</param>
    /// <param name="b0">The rule's first buffer, as its kernel takes it.</param>
    /// <param name="b1">The second (empty where the rule has fewer buffers).</param>
    /// <param name="b2">The third.</param>
    /// <param name="b3">The fourth.</param>
    /// <param name="b4">The fifth.</param>
    /// <param name="b5">The sixth.</param>
    /// <param name="b6">The seventh.</param>
    /// <param name="b7">The eighth.</param>
    public static unsafe void Run<T, TKernel>(
        TKernel kernel, int length, int threads, int maxMask, Span<double> results,
        ReadOnlySpan<T> b0, ReadOnlySpan<T> b1 = default, ReadOnlySpan<T> b2 = default, ReadOnlySpan<T> b3 = default,
        ReadOnlySpan<T> b4 = default, ReadOnlySpan<T> b5 = default, ReadOnlySpan<T> b6 = default, ReadOnlySpan<T> b7 = default)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IReductionKernel<T>
    {
        int count = results.Length;
        if (count is < 1 or > MaxReductions)
            throw new ArgumentOutOfRangeException(nameof(results), $"A rule makes 1 to {MaxReductions} reductions, not {count}.");
        long blocks = ((long)length + GradientClipping.BlockLength - 1) / GradientClipping.BlockLength;
        var partials = new double[blocks * count];
        fixed (T* p0 = b0) fixed (T* p1 = b1) fixed (T* p2 = b2) fixed (T* p3 = b3)
        fixed (T* p4 = b4) fixed (T* p5 = b5) fixed (T* p6 = b6) fixed (T* p7 = b7)
        {
            var buffers = new PinnedBuffers<T>(p0, p1, p2, p3, p4, p5, p6, p7);
            threads = (int)Math.Max(1, Math.Min(threads, blocks));
            if (threads <= 1)
                Blocks(kernel, buffers, length, 0, blocks, count, maxMask, partials);
            else
            {
                var fault = new FirstFault();
                Parallel.For(0, threads, new ParallelOptions { MaxDegreeOfParallelism = threads }, t =>
                {
                    long from = blocks * t / threads, to = blocks * (t + 1) / threads;
                    try
                    {
                        Blocks(kernel, buffers, length, from, to, count, maxMask, partials);
                    }
                    catch (Exception e)
                    {
                        // A thread stops at its first fault; the lowest range's is the one the scalar reading meets first.
                        fault.Record(t, e);
                    }
                });
                fault.ThrowIfAny();
            }
        }
        for (int r = 0; r < count; r++)
        {
            bool max = (maxMask & (1 << r)) != 0;
            double total = max ? double.NegativeInfinity : 0;
            for (long b = 0; b < blocks; b++)
                total = max ? Math.Max(total, partials[b * count + r]) : total + partials[b * count + r];
            results[r] = total;
        }
    }

    private static unsafe void Blocks<T, TKernel>(TKernel kernel, PinnedBuffers<T> buffers, int length, long from, long to, int count, int maxMask, double[] partials)
        where T : unmanaged, IFloatingPointIeee754<T>
        where TKernel : struct, IReductionKernel<T>
    {
        T* scratch = stackalloc T[MaxReductions * SegmentLength];
        var outputs = new PinnedBuffers<T>(scratch, scratch + SegmentLength, scratch + 2 * SegmentLength, scratch + 3 * SegmentLength, null, null, null, null);
        Span<double> acc = stackalloc double[MaxReductions * GradientClipping.AccumulatorCount];
        Span<double> max = stackalloc double[MaxReductions];
        for (long b = from; b < to; b++)
        {
            int start = (int)(b * GradientClipping.BlockLength);
            int blockLength = Math.Min(GradientClipping.BlockLength, length - start);
            acc.Clear();
            max.Fill(double.NegativeInfinity);
            for (int segment = 0; segment < blockLength; segment += SegmentLength)
            {
                int n = Math.Min(SegmentLength, blockLength - segment);
                kernel.ExecuteReduction(buffers, start + segment, n, outputs);
                for (int r = 0; r < count; r++)
                {
                    ReadOnlySpan<T> values = new(scratch + r * SegmentLength, n);
                    if ((maxMask & (1 << r)) != 0)
                        max[r] = MaxOf(values, max[r]);
                    else
                        GradientClipping.Accumulate<T, GradientClipping.Identity>(values, segment, acc.Slice(r * GradientClipping.AccumulatorCount, GradientClipping.AccumulatorCount));
                }
            }
            for (int r = 0; r < count; r++)
            {
                partials[b * count + r] = (maxMask & (1 << r)) != 0
                    ? max[r]
                    : GradientClipping.Tree(acc.Slice(r * GradientClipping.AccumulatorCount, GradientClipping.AccumulatorCount));
            }
        }
    }

    // Math.Max propagates NaN and orders -0 below +0, so the result does not depend on the order of the values.
    private static double MaxOf<T>(ReadOnlySpan<T> values, double max) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (T v in values)
            max = Math.Max(max, double.CreateTruncating(v));
        return max;
    }
}
